"""KubeClient against a real kube-apiserver: Secrets and Kargo custom objects."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from shunter.kube import ConflictError, KubeClient, NotFoundError
from shunter_devenv.cluster import Cluster


def promotion(namespace: str, name: str) -> dict[str, Any]:
    return {
        "apiVersion": "kargo.akuity.io/v1alpha1",
        "kind": "Promotion",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "stage": "prod",
            "freight": "1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b",
            "steps": [{"uses": "git-clone", "config": {"repoURL": "https://x/y.git"}}],
        },
    }


async def test_secrets(kube: Cluster, namespace: str, client: KubeClient) -> None:
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s1", "namespace": namespace, "labels": {"team": "a"}},
        "stringData": {"k": "v"},
    }
    kube.apply(json.dumps(secret))
    listed = await client.list_secrets(namespace, label_selector="team=a")
    assert [s["metadata"]["name"] for s in listed] == ["s1"]
    assert listed[0]["data"] == {"k": "dg=="}  # base64, as the API server sends it
    assert await client.list_secrets(namespace, label_selector="team=b") == []
    got = await client.get_secret(namespace, "s1")
    assert got["metadata"]["labels"] == {"team": "a"}
    with pytest.raises(NotFoundError, match="404"):
        await client.get_secret(namespace, "absent")


async def test_custom_objects(namespace: str, client: KubeClient) -> None:
    created = await client.create_custom(namespace, "promotions", promotion(namespace, "p1"))
    assert created["metadata"]["uid"]
    with pytest.raises(ConflictError):
        await client.create_custom(namespace, "promotions", promotion(namespace, "p1"))
    got = await client.get_custom(namespace, "promotions", "p1")
    assert got["spec"]["stage"] == "prod"
    patched = await client.patch_custom(
        namespace, "promotions", "p1", {"metadata": {"labels": {"x": "1"}}}
    )
    assert patched["metadata"]["labels"] == {"x": "1"}
    status = await client.patch_custom(
        namespace, "promotions", "p1", {"status": {"phase": "Running"}}, status=True
    )
    assert status["status"]["phase"] == "Running"
    listed, none = await asyncio.gather(
        client.list_custom(namespace, "promotions", label_selector="x=1"),
        client.list_custom(namespace, "promotions", label_selector="x=2"),
    )
    assert [p["metadata"]["name"] for p in listed] == ["p1"]
    assert none == []
    with pytest.raises(NotFoundError):
        await client.get_custom(namespace, "promotions", "absent")
