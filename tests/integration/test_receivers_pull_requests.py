"""Pull request events wake the Promotions waiting on that pull request, and only those.

The receiver server runs in the test (the real server class, over a cache its informers fill
from the real API server); its namespace is watched by no operator, so the Promotions stay
exactly as the test writes them: running and waiting in a ``git-wait-for-pr`` step (its
``pr.url`` output in ``status.state``), or finished.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from shunter.cache import CacheFeed, KargoCache
from shunter.kube.client import KubeClient
from shunter.receivers import CacheReceiverLookups, ReceiverServer, ReceiverStatusSync
from shunter_devenv.cluster import Cluster
from shunter_devenv.waiting import wait_for_async
from shunter_devenv.webhooks import provider_headers

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "receivers"
REFRESH = "kargo.akuity.io/refresh"
SECRET = "pull-request-secret"

# (receiver, sender, event, sample, the pull request it closes)
CLOSED = [
    ("github", "github", "pull_request", "github-pull-request.json",
     "https://github.example.com/acme/gitops/pull/42"),
    ("gitlab", "gitlab", "Merge Request Hook", "gitlab-merge-request.json",
     "https://gitlab.example.com/acme/gitops/-/merge_requests/7"),
    ("gitea", "gitea", "pull_request", "gitea-pull-request.json",
     "https://gitea.example.com/acme/gitops/pulls/3"),
    ("bitbucket", "bitbucket", "pullrequest:fulfilled", "bitbucket-cloud-pr-fulfilled.json",
     "https://bitbucket.org/acme/gitops/pull-requests/12"),
    ("bitbucket", "bitbucket", "pr:merged", "bitbucket-server-pr-merged.json",
     "https://bitbucket.example.com/projects/ACME/repos/gitops/pull-requests/9"),
    ("azure", "azure-devops", "", "azure-devops-pr-merged.json",
     "https://dev.azure.com/acme/Acme/_git/gitops/pullrequest/1"),
]  # fmt: skip
KEYS = {"github": "secret", "gitlab": "secret-token", "gitea": "secret", "bitbucket": "secret"}


def _promotion(name: str, phase: str, pr_url: str) -> tuple[dict[str, Any], dict[str, Any]]:
    body = {
        "apiVersion": "kargo.akuity.io/v1alpha1",
        "kind": "Promotion",
        "metadata": {"name": name},
        "spec": {
            "stage": "prod",
            "freight": "0" * 40,
            "steps": [
                {"uses": "git-open-pr", "as": "open", "config": {}},
                {"uses": "git-wait-for-pr", "as": "wait", "config": {}},
            ],
        },
    }
    status = {
        "phase": phase,
        "currentStep": 1,
        "state": {"open": {"pr": {"url": pr_url}}, "wait": {"pr": {"url": pr_url}}},
    }
    return body, status


@pytest.fixture
async def served(
    kube: Cluster, namespace: str
) -> AsyncIterator[tuple[KubeClient, str, dict[str, str]]]:
    client = KubeClient.from_kubeconfig(kube.kubeconfig_path)
    kinds = ["github", "gitlab", "gitea", "bitbucket", "azure"]
    objects: list[dict[str, Any]] = [
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": kind, "namespace": namespace},
            "stringData": {KEYS.get(kind, "secret"): SECRET},
        }
        for kind in kinds
    ]
    objects.append(
        {
            "apiVersion": "kargo.akuity.io/v1alpha1",
            "kind": "ProjectConfig",
            "metadata": {"name": namespace, "namespace": namespace},
            "spec": {
                "webhookReceivers": [
                    {"name": kind, kind: {"secretRef": {"name": kind}}} for kind in kinds
                ]
            },
        }
    )
    kube.apply("\n---\n".join(json.dumps(o) for o in objects), server_side=False)
    for index, (_, _, _, _, pr_url) in enumerate(CLOSED):
        for name, phase, url in (
            (f"waiting-{index}", "Running", pr_url),
            (f"finished-{index}", "Succeeded", pr_url),
            (f"elsewhere-{index}", "Running", pr_url + "0"),
        ):
            body, status = _promotion(name, phase, url)
            await client.create_custom(namespace, "promotions", body)
            await client.patch_custom(
                namespace, "promotions", name, {"status": status}, status=True
            )
    cache = KargoCache()
    feed = CacheFeed(client, cache, namespaces=(namespace,))
    feed.start()
    server = ReceiverServer(
        client, CacheReceiverLookups(cache), address="127.0.0.1:0", system_namespace="unused"
    )
    try:
        await feed.wait_synced()
        await wait_for_async(
            lambda: (
                len(cache.promotions(namespace)) == 3 * len(CLOSED)
                and all(p.status and p.status.phase for p in cache.promotions(namespace))
            ),
            what="the Promotions in the cache",
        )
        await server.start()
        base = f"http://127.0.0.1:{server.port}"
        sync = ReceiverStatusSync(client, cache, base_url=base, system_namespace="unused")
        await sync.project_config(namespace)
        config = cache.project_config(namespace)
        assert config is not None
        assert config.status is not None
        urls = {r.name or "": r.url or "" for r in config.status.webhook_receivers or []}
        yield client, namespace, urls
    finally:
        await server.stop()
        await feed.stop()
        await client.aclose()


async def _refreshed(client: KubeClient, namespace: str) -> set[str]:
    return {
        p["metadata"]["name"]
        for p in await client.list_custom(namespace, "promotions")
        if REFRESH in (p["metadata"].get("annotations") or {})
    }


async def test_a_closed_pull_request_wakes_the_promotions_waiting_on_it(
    served: tuple[KubeClient, str, dict[str, str]],
) -> None:
    """Each provider's closed-PR sample, in turn: exactly the Promotion waiting on that pull
    request is refreshed - not the finished one, not the one waiting on another PR."""
    client, namespace, urls = served
    expected: set[str] = set()
    async with httpx.AsyncClient(timeout=30) as http:
        for index, (receiver, sender, event, sample, _) in enumerate(CLOSED):
            body = (SAMPLES / sample).read_bytes()
            headers = provider_headers(sender, event, body, SECRET)
            response = await http.post(urls[receiver], content=body, headers=headers)
            assert response.status_code == 200, (sample, response.text)
            assert response.json() == {"msg": "refreshed 1 promotion(s)"}, sample
            expected.add(f"waiting-{index}")
            assert await _refreshed(client, namespace) == expected, sample
