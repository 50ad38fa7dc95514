"""KubernetesCredentialsDatabase against Secrets on a real kube-apiserver.

Also one full git-clone/git-commit/git-push flow whose credentials come from a Secret.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from shunter.api.v1alpha1.common import FreightCollection, FreightReference
from shunter.api.v1alpha1.labels import CRED_TYPE
from shunter.credentials.kubernetes import KubernetesCredentialsDatabase
from shunter.credentials.types import CredentialType
from shunter.kube import KubeClient
from shunter.promotion.step import Capabilities, StepContext
from shunter.steps.git_clone import GitCloneConfig, GitCloneStep
from shunter.steps.git_commit import GitCommitConfig, GitCommitStep
from shunter.steps.git_push import GitPushConfig, GitPushStep
from shunter_devenv.cluster import Cluster
from shunter_devenv.gitserver import GitServer

GIT = CredentialType.GIT


def put_secret(
    kube: Cluster,
    namespace: str,
    name: str,
    data: dict[str, str],
    cred_type: str | None = "git",
) -> None:
    """Create a Secret with ``stringData`` (and the cred-type label unless None)."""
    labels = {} if cred_type is None else {CRED_TYPE: cred_type}
    manifest = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "stringData": data,
    }
    kube.apply(json.dumps(manifest))


@pytest.fixture
def other_namespace(kube: Cluster) -> Iterator[str]:
    name = f"test-{secrets.token_hex(4)}"
    kube.kubectl("create", "namespace", name)
    yield name
    kube.kubectl("delete", "namespace", name, "--wait=false", "--ignore-not-found")


def creds(username: str, password: str, url: str, regex: bool = False) -> dict[str, str]:
    data = {"repoURL": url, "username": username, "password": password}
    if regex:
        data["repoURLIsRegex"] = "true"
    return data


async def test_exact_match_after_normalisation(
    kube: Cluster, namespace: str, client: KubeClient
) -> None:
    put_secret(kube, namespace, "repo", creds("u1", "p1", "https://GitHub.com/Org/Repo.git/"))
    database = KubernetesCredentialsDatabase(client)
    found = await database.get(namespace, GIT, "https://github.com/org/repo")
    assert found is not None
    assert (found.username, found.password.get_secret_value()) == ("u1", "p1")
    assert await database.get(namespace, GIT, "https://github.com/org/other") is None
    assert "p1" not in repr(found)


async def test_exact_beats_regex_and_names_order_the_rest(
    kube: Cluster, namespace: str, client: KubeClient
) -> None:
    url = "https://github.com/acme/app.git"
    put_secret(
        kube, namespace, "a-regex", creds("regex-a", "pa", r"^https://github\.com/acme/", True)
    )
    put_secret(kube, namespace, "b-regex", creds("regex-b", "pb", r"github\.com/acme", True))
    put_secret(kube, namespace, "z-exact", creds("exact", "pz", url))
    database = KubernetesCredentialsDatabase(client)
    exact = await database.get(namespace, GIT, url)
    assert exact is not None
    assert exact.username == "exact"
    by_regex = await database.get(namespace, GIT, "https://github.com/acme/other")
    assert by_regex is not None
    assert by_regex.username == "regex-a"  # both regexes match; lexical order decides
    # Unanchored, as in Kargo: b-regex also matches inside a longer URL.
    elsewhere = await database.get(namespace, GIT, "https://mirror.example/github.com/acme/x")
    assert elsewhere is not None
    assert elsewhere.username == "regex-b"


async def test_type_label_and_bad_secrets(
    kube: Cluster, namespace: str, client: KubeClient
) -> None:
    url = "https://git.example.com/team/repo.git"
    put_secret(kube, namespace, "a-helm", creds("helm", "ph", url), cred_type="helm")
    put_secret(kube, namespace, "b-unlabelled", creds("none", "pn", url), cred_type=None)
    put_secret(kube, namespace, "c-bad-regex", creds("bad", "pb", "([", regex=True))
    database = KubernetesCredentialsDatabase(client)
    assert await database.get(namespace, GIT, url) is None
    helm = await database.get(namespace, CredentialType.HELM, url)
    assert helm is not None
    assert helm.username == "helm"
    put_secret(kube, namespace, "d-no-password", {"repoURL": url, "username": "x"})
    assert await database.get(namespace, GIT, url) is None


async def test_namespaces_and_shared_namespace(
    kube: Cluster, namespace: str, other_namespace: str, client: KubeClient
) -> None:
    url = "https://git.example.com/team/shared.git"
    put_secret(kube, other_namespace, "shared", creds("shared", "ps", url))
    assert await KubernetesCredentialsDatabase(client).get(namespace, GIT, url) is None
    database = KubernetesCredentialsDatabase(client, shared_namespace=other_namespace)
    shared = await database.get(namespace, GIT, url)
    assert shared is not None
    assert shared.username == "shared"
    put_secret(kube, namespace, "own", creds("own", "po", url))
    own = await database.get(namespace, GIT, url)
    assert own is not None
    assert own.username == "own"  # the project namespace is searched first


async def test_plain_http_is_refused_unless_allowed(
    kube: Cluster, namespace: str, client: KubeClient
) -> None:
    url = "http://git.example.com/team/repo.git"
    put_secret(kube, namespace, "http", creds("u", "p", url))
    assert await KubernetesCredentialsDatabase(client).get(namespace, GIT, url) is None
    allowed = KubernetesCredentialsDatabase(client, allow_credentials_over_http=True)
    assert await allowed.get(namespace, GIT, url) is not None


async def test_git_steps_with_credentials_from_a_secret(
    kube: Cluster, namespace: str, client: KubeClient, tmp_path: Path
) -> None:
    password = "secret-from-kube-" + secrets.token_hex(4)
    with GitServer(users={"promoter": password}) as server:
        url = server.create_repo("team/config", {"values.yaml": "tag: 1\n"}, branch="master")
        put_secret(
            kube,
            namespace,
            "git-creds",
            creds("promoter", password, f"^{server.base_url}/team/.*$", regex=True),
        )
        database = KubernetesCredentialsDatabase(client, allow_credentials_over_http=True)
        work = tmp_path / "promotion"
        work.mkdir()
        ctx = StepContext(
            project=namespace,
            stage="prod",
            promotion="prod.1",
            alias="step-1",
            work_dir=work,
            capabilities=Capabilities(credentials=database),
            target_freight=FreightReference(),
            freight=FreightCollection(id="fc"),
        )
        clone = GitCloneConfig.model_validate(
            {"repoURL": url, "checkout": [{"branch": "master", "path": "./src"}]}
        )
        await GitCloneStep().run(ctx, clone)
        (work / "src" / "values.yaml").write_text("tag: 2\n")
        commit = GitCommitConfig.model_validate({"path": "./src", "message": "promote tag 2"})
        await GitCommitStep().run(ctx, commit)
        result = await GitPushStep().run(ctx, GitPushConfig.model_validate({"path": "./src"}))
        assert server.log("team/config", "master")[0] == (result.output["commit"], "promote tag 2")
        assert server.read_file("team/config", "master", "values.yaml") == b"tag: 2\n"
