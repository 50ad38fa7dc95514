"""Freight IDs: each case writes out the exact string Kargo's algorithm hashes, then SHA-1s it.

The expected strings follow the algorithm as documented (kargo.md §1.7): per-artifact parts with
normalised URLs (git: lower case, no userinfo, no trailing ``/`` then ``.git``, SCP -> ssh://;
charts: ``oci://`` dropped, Docker Hub collapsed, classic ``https://`` folded to ``https:/`` by
Go's ``path.Join``; images verbatim), ``:subscriptionName`` suffixes, byte-order sort, ``|``
join, ``<kind>/<name>:`` prefix.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import pytest

from shunter.api.v1alpha1.common import ArtifactReference, Chart, GitCommit, Image
from shunter.api.v1alpha1.freight import Freight
from shunter.freight import freight_hash_input, freight_id, freight_id_of

SHA_A = "a" * 40
SHA_B = "b" * 40
DIGEST_1 = "sha256:" + "1" * 64
DIGEST_2 = "sha256:" + "2" * 64
SEED_REPO = "us-east1-docker.pkg.dev/container/main-containers/example-container"
GITHUB = "https://github.com/org/repo"
STABLE = "https://charts.example.com/stable/"


@dataclass(frozen=True)
class Case:
    """Artifacts (wire dicts) and the string Kargo hashes for them."""

    name: str
    expected_input: str
    commits: list[dict[str, Any]] = field(default_factory=list)
    images: list[dict[str, Any]] = field(default_factory=list)
    charts: list[dict[str, Any]] = field(default_factory=list)
    artifacts: list[dict[str, Any]] = field(default_factory=list)
    origin: str = "wh"


CASES = [
    Case(
        "https URL: upper case, .git and trailing slash",
        f"Warehouse/wh:https://github.com/org/repo:{SHA_A}",
        commits=[{"repoURL": "https://GitHub.com/Org/Repo.git/", "id": SHA_A}],
    ),
    Case(
        "userinfo is stripped from http(s) URLs",
        f"Warehouse/wh:https://github.com/org/repo:{SHA_A}",
        commits=[{"repoURL": "https://user:token@github.com/org/repo.git", "id": SHA_A}],
    ),
    Case(
        "ssh:// keeps its user, drops .git and the slash",
        f"Warehouse/wh:ssh://git@github.com:2222/org/repo:{SHA_A}",
        commits=[{"repoURL": "ssh://git@github.com:2222/org/repo.git/", "id": SHA_A}],
    ),
    Case(
        "SCP-style becomes ssh://",
        f"Warehouse/wh:ssh://git@github.com/org/repo:{SHA_A}",
        commits=[{"repoURL": "git@github.com:org/repo.git", "id": SHA_A}],
    ),
    Case(
        "a query string leaves the URL exactly as given (case too)",
        f"Warehouse/wh:https://Example.com/Repo.git?ref=Main:{SHA_A}",
        commits=[{"repoURL": "https://Example.com/Repo.git?ref=Main", "id": SHA_A}],
    ),
    Case(
        "a tagged commit hashes repo:tag:id",
        f"Warehouse/wh:https://github.com/org/repo:v1.2.3:{SHA_A}",
        commits=[{"repoURL": "https://github.com/org/repo", "id": SHA_A, "tag": "v1.2.3"}],
    ),
    Case(
        "images are hashed verbatim, tag and digest both (Docker Hub not collapsed)",
        f"Warehouse/wh:docker.io/library/nginx:1.25.3@{DIGEST_1}",
        images=[{"repoURL": "docker.io/library/nginx", "tag": "1.25.3", "digest": DIGEST_1}],
    ),
    Case(
        "an oci:// chart loses the scheme",
        "Warehouse/wh:ghcr.io/org/charts/podinfo:6.5.4",
        charts=[{"repoURL": "oci://ghcr.io/org/charts/podinfo", "version": "6.5.4"}],
    ),
    Case(
        "an oci:// chart on Docker Hub collapses to the bare repository",
        "Warehouse/wh:mychart:1.0.0",
        charts=[{"repoURL": "oci://docker.io/library/mychart", "version": "1.0.0"}],
    ),
    Case(
        "an oci:// chart on a local registry: host lower-cased, port kept",
        "Warehouse/wh:localhost:5000/charts/demo:0.1.0",
        charts=[{"repoURL": "oci://LOCALHOST:5000/Charts/Demo", "version": "0.1.0"}],
    ),
    Case(
        "a classic chart: path.Join folds https:// and the trailing slash, keeps the name's case",
        "Warehouse/wh:https:/charts.example.com/stable/Redis:18.0.0",
        charts=[
            {"repoURL": "https://charts.example.com/stable/", "name": "Redis", "version": "18.0.0"}
        ],
    ),
    Case(
        "a classic chart with an upper-case scheme and a port",
        "Warehouse/wh:http:/charts.example.com:8080/x/app:1.0.0",
        charts=[{"repoURL": "HTTP://Charts.Example.com:8080/x", "name": "app", "version": "1.0.0"}],
    ),
    Case(
        "subscription names suffix every kind of artifact",
        "Warehouse/wh:"
        + "|".join(
            sorted(
                [
                    f"https://github.com/org/repo:{SHA_A}:source",
                    f"ghcr.io/org/app:2.0.0@{DIGEST_2}:runtime",
                    "ghcr.io/org/charts/app:3.0.0:chart",
                ]
            )
        ),
        commits=[{"repoURL": GITHUB, "id": SHA_A, "subscriptionName": "source"}],
        images=[
            {
                "repoURL": "ghcr.io/org/app",
                "tag": "2.0.0",
                "digest": DIGEST_2,
                "subscriptionName": "runtime",
            }
        ],
        charts=[
            {
                "repoURL": "oci://ghcr.io/org/charts/app",
                "version": "3.0.0",
                "subscriptionName": "chart",
            }
        ],
    ),
    Case(
        "generic artifacts hash type:subscription:version",
        "Warehouse/wh:bucket-object:models:v42",
        artifacts=[
            {"artifactType": "bucket-object", "subscriptionName": "models", "version": "v42"}
        ],
    ),
    Case(
        "parts are sorted by bytes: upper case before lower case, digits first",
        f"Warehouse/release-wh:Registry.example.com/App:1@{DIGEST_1}"
        f"|git@internal?x:{SHA_B}"
        f"|https://github.com/org/repo:{SHA_A}"
        f"|ssh://git@host/team/repo:{SHA_B}",
        commits=[
            {"repoURL": "git@host:team/repo", "id": SHA_B},
            {"repoURL": "https://github.com/org/repo", "id": SHA_A},
            {"repoURL": "git@internal?x", "id": SHA_B},
        ],
        images=[{"repoURL": "Registry.example.com/App", "tag": "1", "digest": DIGEST_1}],
        origin="release-wh",
    ),
    Case(
        "the seed's image subscription",
        "Warehouse/example-container:us-east1-docker.pkg.dev/container/main-containers/"
        f"example-container:2025-01-31_1200-abc1234@{DIGEST_1}",
        images=[
            {
                "repoURL": SEED_REPO,
                "tag": "2025-01-31_1200-abc1234",
                "digest": DIGEST_1,
            }
        ],
        origin="example-container",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_freight_id(case: Case) -> None:
    text = freight_hash_input(
        "Warehouse", case.origin, case.commits, case.images, case.charts, case.artifacts
    )
    assert text == case.expected_input
    expected = hashlib.sha1(case.expected_input.encode(), usedforsecurity=False).hexdigest()
    assert (
        freight_id("Warehouse", case.origin, case.commits, case.images, case.charts, case.artifacts)
        == expected
    )


def test_api_models_and_wire_dicts_hash_alike() -> None:
    commits = [GitCommit(repo_url="git@github.com:org/repo.git", id=SHA_A, tag="v1")]
    images = [
        Image(repo_url="ghcr.io/org/app", tag="1.0.0", digest=DIGEST_1, subscription_name="img")
    ]
    charts = [Chart(repo_url="oci://ghcr.io/org/charts/app", version="1.0.0")]
    artifacts = [ArtifactReference(artifact_type="t", subscription_name="s", version="v")]
    from_models = freight_id("Warehouse", "wh", commits, images, charts, artifacts)
    from_dicts = freight_id(
        "Warehouse",
        "wh",
        [{"repoURL": "git@github.com:org/repo.git", "id": SHA_A, "tag": "v1"}],
        [
            {
                "repoURL": "ghcr.io/org/app",
                "tag": "1.0.0",
                "digest": DIGEST_1,
                "subscriptionName": "img",
            }
        ],
        [{"repoURL": "oci://ghcr.io/org/charts/app", "version": "1.0.0"}],
        [{"artifactType": "t", "subscriptionName": "s", "version": "v"}],
    )
    assert from_models == from_dicts
    expected_input = (
        "Warehouse/wh:ghcr.io/org/app:1.0.0@" + DIGEST_1 + ":img"
        "|ghcr.io/org/charts/app:1.0.0"
        f"|ssh://git@github.com/org/repo:v1:{SHA_A}"
        "|t:s:v"
    )
    assert from_models == hashlib.sha1(expected_input.encode(), usedforsecurity=False).hexdigest()


def test_freight_id_of_a_freight_object() -> None:
    freight = Freight.model_validate(
        {
            "metadata": {"name": "anything", "namespace": "p"},
            "origin": {"kind": "Warehouse", "name": "wh"},
            "images": [{"repoURL": "ghcr.io/org/app", "tag": "1.0.0", "digest": DIGEST_1}],
        }
    )
    expected = hashlib.sha1(
        f"Warehouse/wh:ghcr.io/org/app:1.0.0@{DIGEST_1}".encode(), usedforsecurity=False
    ).hexdigest()
    assert freight_id_of(freight) == expected
    assert freight_id_of(freight.model_dump(by_alias=True, exclude_none=True)) == expected


def test_known_ids_from_kargos_go_implementation() -> None:
    """Two IDs computed with Kargo's own normalisers and hash code (Go), as a cross-check."""
    assert (
        freight_id(
            "Warehouse",
            "wh",
            commits=[{"repoURL": "https://GitHub.com/Org/Repo.git/", "id": SHA_A}],
            charts=[{"repoURL": STABLE, "name": "Redis", "version": "18.0.0"}],
        )
        == KARGO_ID_COMMIT_AND_CHART
    )
    assert (
        freight_id(
            "Warehouse",
            "example-container",
            images=[
                {
                    "repoURL": SEED_REPO,
                    "tag": "2025-01-31_1200-abc1234",
                    "digest": DIGEST_1,
                }
            ],
        )
        == KARGO_ID_SEED_IMAGE
    )


# Computed by a Go program calling Kargo's urls.NormalizeGit/NormalizeChart and the body of
# api.GenerateFreightID (go-containerregistry v0.21.7, Go 1.26) on the artifacts above.
KARGO_ID_COMMIT_AND_CHART = "197771659c3705c505b64b74d83c1832320ba8c0"
KARGO_ID_SEED_IMAGE = "3f4c00215920c3a062b217aa02be2fd4b06b23e7"
