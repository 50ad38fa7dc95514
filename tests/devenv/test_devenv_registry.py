"""The private docker-registry behind its counting front: pushes, auth modes, TLS, counters."""

from __future__ import annotations

import datetime as dt
import json
import secrets
import ssl
from pathlib import Path

import httpx
import pytest

from shunter_devenv.ocipush import (
    MANIFEST_ACCEPT,
    OCI_INDEX,
    OCI_MANIFEST,
    ChallengeAuth,
    parse_challenge,
)
from shunter_devenv.registry import (
    TOKEN_SERVICE,
    Registry,
    RegistryNotInstalledError,
    find_registry_binary,
)
from shunter_devenv.registry_front import RegistryRequestKind, classify

NOW = dt.datetime(2025, 6, 1, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def repo() -> str:
    return f"team/app-{secrets.token_hex(4)}"


def test_push_tags_and_an_index_then_read_them_back(registry: Registry, repo: str) -> None:
    digests = {
        tag: registry.push_image(repo, tag, NOW - dt.timedelta(days=days), labels={"tag": tag})
        for tag, days in (("v1.0.0", 3), ("v1.1.0", 2), ("v1.2.0", 1))
    }
    index_digest = registry.push_index(repo, "v2.0.0", ["linux/amd64", "linux/arm64/v8"], NOW)
    assert len(set(digests.values())) == 3

    auth = (registry.username, registry.password)
    tags = httpx.get(f"{registry.base_url}/v2/{repo}/tags/list", auth=auth)
    assert tags.status_code == 200
    assert tags.json() == {"name": repo, "tags": ["v1.0.0", "v1.1.0", "v1.2.0", "v2.0.0"]}

    manifest = httpx.get(
        f"{registry.base_url}/v2/{repo}/manifests/v1.1.0",
        auth=auth,
        headers={"Accept": MANIFEST_ACCEPT},
    )
    assert manifest.status_code == 200
    assert manifest.headers["Content-Type"] == OCI_MANIFEST
    assert manifest.headers["Docker-Content-Digest"] == digests["v1.1.0"]
    body = manifest.json()
    assert body["layers"][0]["mediaType"] == "application/vnd.oci.image.layer.v1.tar+gzip"
    config = httpx.get(
        f"{registry.base_url}/v2/{repo}/blobs/{body['config']['digest']}",
        auth=auth,
        follow_redirects=True,
    ).json()
    assert config["created"] == "2025-05-30T12:00:00Z"
    assert (config["os"], config["architecture"]) == ("linux", "amd64")
    assert config["config"]["Labels"] == {"tag": "v1.1.0"}

    index = registry.get_manifest(repo, "v2.0.0")
    assert (index.media_type, index.digest) == (OCI_INDEX, index_digest)
    platforms = [m["platform"] for m in index.json()["manifests"]]
    assert platforms == [
        {"os": "linux", "architecture": "amd64"},
        {"os": "linux", "architecture": "arm64", "variant": "v8"},
    ]
    arm = index.json()["manifests"][1]
    arm_config_digest = registry.get_manifest(repo, arm["digest"]).json()["config"]["digest"]
    arm_config = json.loads(registry.pusher.get_blob(repo, arm_config_digest))
    assert (arm_config["architecture"], arm_config["variant"]) == ("arm64", "v8")


def test_anonymous_and_wrong_credentials_get_401(registry: Registry, repo: str) -> None:
    registry.push_image(repo, "v1", NOW)
    anonymous = httpx.get(f"{registry.base_url}/v2/{repo}/tags/list")
    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"] == 'Basic realm="shunter-test-registry"'
    wrong = httpx.get(f"{registry.base_url}/v2/{repo}/tags/list", auth=(registry.username, "x"))
    assert wrong.status_code == 401
    other_user = httpx.get(
        f"{registry.base_url}/v2/{repo}/tags/list", auth=("reader", registry.users["reader"])
    )
    assert other_user.status_code == 200


def test_the_front_counts_tag_listings(registry: Registry, repo: str) -> None:
    registry.push_image(repo, "v1", NOW)
    registry.push_image(repo, "v2", NOW)
    assert registry.request_count(RegistryRequestKind.TAGS, repo=repo) == 0  # set-up not counted
    assert registry.request_count(repo=repo, include_devenv=True) > 0

    with httpx.Client(base_url=registry.base_url) as client:
        for _ in range(4):
            client.get(f"/v2/{repo}/tags/list", auth=(registry.username, registry.password))
        client.get(f"/v2/{repo}/tags/list")  # anonymous: 401, still a request
        client.head(
            f"/v2/{repo}/manifests/v1",
            auth=(registry.username, registry.password),
            headers={"Accept": MANIFEST_ACCEPT},
        )

    assert registry.request_count(RegistryRequestKind.TAGS, method="GET", repo=repo) == 5
    assert registry.request_count("tags", repo=repo, status=200) == 4
    assert registry.request_count("tags", repo=repo, status=401) == 1
    assert registry.request_count(RegistryRequestKind.MANIFEST, method="HEAD", repo=repo) == 1
    assert registry.request_counts()[("GET", "tags")] >= 5


def test_retag_list_and_delete(registry: Registry, repo: str) -> None:
    digest = registry.push_image(repo, "v1", NOW)
    assert registry.tag_existing(repo, "v1", "latest") == digest
    assert registry.list_tags(repo) == ["latest", "v1"]
    registry.delete_manifest(repo, digest)
    with httpx.Client(base_url=registry.base_url) as client:
        gone = client.get(f"/v2/{repo}/manifests/v1", auth=(registry.username, registry.password))
    assert gone.status_code == 404


def test_bearer_token_mode(tmp_path: Path) -> None:
    with Registry(auth="token", users={"ci": "ci-secret"}, workdir=tmp_path) as reg:
        repo = "team/app"
        reg.push_image(repo, "v1", NOW)
        challenge = httpx.get(f"{reg.base_url}/v2/{repo}/tags/list")
        assert challenge.status_code == 401
        scheme, params = parse_challenge(challenge.headers["WWW-Authenticate"])
        assert scheme == "bearer"
        assert params == {
            "realm": reg.token_realm,
            "service": TOKEN_SERVICE,
            "scope": f"repository:{repo}:pull",
        }

        token_url = params["realm"]
        query = {"service": params["service"], "scope": params["scope"]}
        refused = httpx.get(token_url, params=query, auth=("ci", "wrong"))
        assert refused.status_code == 401
        token = httpx.get(token_url, params=query, auth=("ci", "ci-secret")).json()["token"]
        tags = httpx.get(
            f"{reg.base_url}/v2/{repo}/tags/list", headers={"Authorization": f"Bearer {token}"}
        )
        assert tags.status_code == 200
        assert tags.json()["tags"] == ["v1"]

        # Anonymous callers get a token without access, as on Docker Hub's private repos.
        with httpx.Client(auth=ChallengeAuth(None, None)) as anonymous:
            assert anonymous.get(f"{reg.base_url}/v2/{repo}/tags/list").status_code == 401
        # A real client's challenge-response flow.
        with httpx.Client(auth=ChallengeAuth("ci", "ci-secret")) as client:
            assert client.get(f"{reg.base_url}/v2/{repo}/tags/list").status_code == 200

        assert reg.request_count(RegistryRequestKind.TOKEN, status=401) == 1
        assert reg.request_count(RegistryRequestKind.TOKEN, status=200) == 3
        assert reg.request_count(RegistryRequestKind.TAGS, status=200) == 2


def test_bearer_token_mode_with_anonymous_pull(tmp_path: Path) -> None:
    with Registry(auth="token", anonymous_pull=True, workdir=tmp_path) as reg:
        reg.push_image("public/app", "v1", NOW)
        with httpx.Client(auth=ChallengeAuth(None, None)) as anonymous:
            assert anonymous.get(f"{reg.base_url}/v2/public/app/tags/list").status_code == 200
            push = anonymous.post(f"{reg.base_url}/v2/public/app/blobs/uploads/")
            assert push.status_code == 401


def test_tls_registry_with_the_ca_file(tmp_path: Path) -> None:
    with Registry(tls=True, workdir=tmp_path) as reg:
        assert reg.base_url.startswith("https://127.0.0.1:")
        assert reg.ca_file is not None
        digest = reg.push_image("team/app", "v1", NOW)
        verify = ssl.create_default_context(cafile=str(reg.ca_file))
        with httpx.Client(verify=verify, auth=(reg.username, reg.password)) as client:
            response = client.get(
                f"{reg.base_url}/v2/team/app/manifests/v1", headers={"Accept": MANIFEST_ACCEPT}
            )
            assert response.headers["Docker-Content-Digest"] == digest
            # Upload locations name the front with its https scheme.
            started = client.post(f"{reg.base_url}/v2/team/app/blobs/uploads/")
            assert started.status_code == 202
            assert started.headers["Location"].startswith(f"{reg.base_url}/v2/team/app/")
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{reg.base_url}/v2/")


def test_anonymous_mode(tmp_path: Path) -> None:
    with Registry(auth="none", workdir=tmp_path) as reg:
        reg.push_image("open/app", "v1", NOW)
        assert httpx.get(f"{reg.base_url}/v2/open/app/tags/list").json()["tags"] == ["v1"]
        assert reg.image("open/app", "v1") == f"{reg.host}/open/app:v1"
        assert reg.start_seconds is not None
        assert reg.start_seconds < 30


def test_missing_binary_names_the_apt_package(tmp_path: Path) -> None:
    with pytest.raises(RegistryNotInstalledError, match="apt-get install -y docker-registry"):
        find_registry_binary(path=str(tmp_path), candidates=())


@pytest.mark.parametrize(
    ("path", "kind", "repo"),
    [
        ("/v2/", RegistryRequestKind.BASE, None),
        ("/v2/_catalog", RegistryRequestKind.CATALOG, None),
        ("/v2/a/b/tags/list", RegistryRequestKind.TAGS, "a/b"),
        ("/v2/a/manifests/v1", RegistryRequestKind.MANIFEST, "a"),
        ("/v2/a/blobs/sha256:00", RegistryRequestKind.BLOB, "a"),
        ("/v2/a/b/blobs/uploads/", RegistryRequestKind.BLOB_UPLOAD, "a/b"),
        ("/v2/a/blobs/uploads/1234-uuid", RegistryRequestKind.BLOB_UPLOAD, "a"),
        ("/v2/a/referrers/sha256:00", RegistryRequestKind.REFERRERS, "a"),
        ("/token", RegistryRequestKind.TOKEN, None),
        ("/metrics", RegistryRequestKind.OTHER, None),
    ],
)
def test_request_classification(path: str, kind: RegistryRequestKind, repo: str | None) -> None:
    assert classify(path) == (kind, repo)
