"""Helm chart discovery: a classic index.yaml repository (http.server) and an OCI repository."""

from __future__ import annotations

import asyncio
import json
import secrets
from typing import Any

import pytest

from shunter.api.v1alpha1.warehouse import ChartSubscription
from shunter.registries import (
    AuthenticationError,
    Discoverer,
    RepositoryNotFoundError,
    UnreachableError,
)
from shunter_devenv.registry import Registry
from shunter_devenv.registry_front import RegistryRequestKind

HELM_CONFIG = "application/vnd.cncf.helm.config.v1+json"
HELM_CONTENT = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"

INDEX = """apiVersion: v1
entries:
  podinfo:
  - name: podinfo
    version: 6.5.4
    urls: [podinfo-6.5.4.tgz]
  - name: podinfo
    version: 6.10.0
  - name: podinfo
    version: 6.5.10-rc.1
  - name: podinfo
    version: v6.0.0
  - name: podinfo
    version: not-a-version
  - name: podinfo
    version: "6.5"
  redis:
  - name: redis
    version: 18.0.0
generated: "2025-01-01T00:00:00Z"
"""


def chart_sub(repo_url: str, **fields: Any) -> ChartSubscription:
    return ChartSubscription.model_validate({"repoURL": repo_url, **fields})


@pytest.fixture
def classic(chart_repo: Any, credentials_for: Any) -> tuple[str, Any]:
    path = f"/charts-{secrets.token_hex(3)}"
    chart_repo.indexes[f"{path}/index.yaml"] = INDEX.encode()
    url = f"{chart_repo.base_url}{path}/"
    user, password = next(iter(chart_repo.users.items()))
    return url, credentials_for({("helm", url): (user, password)})


async def test_classic_repository_versions(
    classic: tuple[str, Any], chart_repo: Any, discoverer: Discoverer
) -> None:
    url, creds = classic

    async def versions(**fields: Any) -> list[str]:
        result = await discoverer.discover_charts(chart_sub(url, name="podinfo", **fields), creds)
        assert result.name == "podinfo"
        assert result.repo_url == url
        return result.versions or []

    assert await versions() == ["6.10.0", "6.5.10-rc.1", "6.5.4", "6.5", "v6.0.0"]
    assert await versions(semverConstraint="~6.5") == ["6.5.4", "6.5"]
    assert await versions(semverConstraint=">=6.5.0-0") == [
        "6.10.0",
        "6.5.10-rc.1",
        "6.5.4",
        "6.5",
    ]
    assert await versions(discoveryLimit=2) == ["6.10.0", "6.5.10-rc.1"]
    missing = await discoverer.discover_charts(chart_sub(url, name="absent"), creds)
    assert missing.versions == []
    # Every call above reused one download of index.yaml.
    assert chart_repo.count(f"{url.removeprefix(chart_repo.base_url)}index.yaml") == 1


async def test_classic_repository_errors(
    classic: tuple[str, Any], chart_repo: Any, discoverer: Discoverer, credentials_for: Any
) -> None:
    url, _ = classic
    password = "wrong-Chart-Password"
    wrong = credentials_for({("helm", url): ("charts", password)})
    with pytest.raises(AuthenticationError, match="refused the credentials of user 'charts'") as e:
        await discoverer.discover_charts(chart_sub(url, name="podinfo"), wrong)
    assert password not in str(e.value)
    with pytest.raises(AuthenticationError, match="refused anonymous access"):
        await discoverer.discover_charts(chart_sub(url, name="podinfo"), None)

    elsewhere = f"{chart_repo.base_url}/no-such-repo"
    creds = credentials_for({("helm", elsewhere): next(iter(chart_repo.users.items()))})
    with pytest.raises(RepositoryNotFoundError, match=r"index\.yaml not found"):
        await discoverer.discover_charts(chart_sub(elsewhere, name="podinfo"), creds)

    with pytest.raises(UnreachableError):
        await discoverer.discover_charts(chart_sub("http://127.0.0.1:9/charts", name="x"), None)


def push_chart(registry: Registry, repo: str, tag: str) -> str:
    """Push a (fake-content) Helm chart as an OCI artifact with Helm's config media type."""
    pusher = registry.pusher
    config = json.dumps({"name": repo.rsplit("/", 1)[-1], "version": tag}).encode()
    content = secrets.token_bytes(64)
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {
            "mediaType": HELM_CONFIG,
            "digest": pusher.push_blob(repo, config),
            "size": len(config),
        },
        "layers": [
            {
                "mediaType": HELM_CONTENT,
                "digest": pusher.push_blob(repo, content),
                "size": len(content),
            }
        ],
    }
    body = json.dumps(manifest, separators=(",", ":")).encode()
    return pusher.push_manifest(repo, tag, body, OCI_MANIFEST)


async def test_oci_chart_repository(
    registry: Registry, repo_name: str, discoverer: Discoverer, credentials_for: Any
) -> None:
    chart = f"{repo_name}/mychart"
    for tag in ("0.1.0", "0.2.0", "1.0.0_build.7", "1.0.0-rc.1", "latest", "1.1"):
        push_chart(registry, chart, tag)
    url = f"oci://{registry.image(chart)}"
    creds = credentials_for({("helm", url): ("reader", registry.users["reader"])})
    registry.reset_requests()

    async def versions(**fields: Any) -> list[str]:
        result = await discoverer.discover_charts(chart_sub(url, **fields), creds)
        assert result.name is None
        return result.versions or []

    assert await versions() == ["1.0.0+build.7", "1.0.0-rc.1", "0.2.0", "0.1.0"]
    assert await versions(semverConstraint="<1.0.0") == ["0.2.0", "0.1.0"]
    assert await versions(semverConstraint="^1.0.0-0", discoveryLimit=1) == ["1.0.0+build.7"]
    # Many subscriptions to the same chart share the tag listing.
    await asyncio.gather(*(versions() for _ in range(20)))
    assert registry.request_count(RegistryRequestKind.TAGS, repo=chart) == 1
