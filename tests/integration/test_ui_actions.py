"""The UI's actions and its API access against the real API server (no operator, no browser).

What each action writes, as the identity that asks; what it refuses and why; and that the API
server's refusals (403) arrive as they were said.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from shunter.ui import actions
from shunter.ui.kubeapi import ApiError, Cluster, UserApi
from shunter_devenv.cluster import Cluster as TestCluster

ORIGIN = {"kind": "Warehouse", "name": "images"}


@pytest.fixture
async def admin(kube: TestCluster) -> AsyncIterator[UserApi]:
    cluster = await Cluster.from_kubeconfig(kube.kubeconfig_path)
    api = await cluster.own_identity()
    yield api
    await cluster.close()


def _apply(kube: TestCluster, namespace: str, *docs: dict[str, Any]) -> None:
    for doc in docs:
        doc["metadata"]["namespace"] = namespace
        kube.apply(json.dumps(doc), server_side=False)


def _stage(name: str, sources: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "kargo.akuity.io/v1alpha1",
        "kind": "Stage",
        "metadata": {"name": name},
        "spec": {
            "requestedFreight": [{"origin": ORIGIN, "sources": sources}],
            "promotionTemplate": {"spec": {"steps": [{"uses": "git-clone", "config": {}}]}},
        },
    }


FREIGHT = {
    "apiVersion": "kargo.akuity.io/v1alpha1",
    "kind": "Freight",
    "metadata": {"name": "a" * 40},
    "alias": "calm-otter",
    "origin": ORIGIN,
    "images": [{"repoURL": "registry.example/app", "tag": "1.0.0"}],
}


async def test_promote_creates_what_kargo_creates_and_refuses_unavailable_freight(
    kube: TestCluster, namespace: str, admin: UserApi
) -> None:
    _apply(kube, namespace, _stage("test", {"direct": True}), _stage("prod", {"stages": ["test"]}))
    _apply(kube, namespace, dict(FREIGHT, metadata={"name": "a" * 40}))
    message = await actions.promote(admin, namespace, "test", "a" * 40, "admin")
    (promotion,) = list((await admin.list_kind("promotions", namespace))[0])
    name = promotion["metadata"]["name"]
    assert name.startswith("test.")
    assert name.endswith(".aaaaaaa")
    assert promotion["spec"] == {"stage": "test", "freight": "a" * 40}
    assert promotion["metadata"]["annotations"] == {
        "kargo.akuity.io/create-actor": "kubernetes:admin"
    }
    assert name in message
    with pytest.raises(actions.ActionError) as refused:
        await actions.promote(admin, namespace, "prod", "a" * 40, "admin")
    assert refused.value.status == 409
    assert "has not been verified in any of the upstream Stages 'test'" in refused.value.message
    assert len((await admin.list_kind("promotions", namespace))[0]) == 1


async def test_approve_makes_the_freight_available(
    kube: TestCluster, namespace: str, admin: UserApi
) -> None:
    _apply(kube, namespace, _stage("prod", {"stages": ["test"]}))
    _apply(kube, namespace, dict(FREIGHT, metadata={"name": "b" * 40}))
    await actions.approve(admin, namespace, "prod", "b" * 40)
    freight = await admin.get("freights", namespace, "b" * 40)
    assert "prod" in freight["status"]["approvedFor"]
    assert "already approved" in await actions.approve(admin, namespace, "prod", "b" * 40)
    await actions.promote(admin, namespace, "prod", "b" * 40, "")


async def test_refresh_abort_and_reverify_set_kargo_annotations(
    kube: TestCluster, namespace: str, admin: UserApi
) -> None:
    _apply(
        kube,
        namespace,
        _stage("prod", {"direct": True}),
        {
            "apiVersion": "kargo.akuity.io/v1alpha1",
            "kind": "Warehouse",
            "metadata": {"name": "images"},
            "spec": {"subscriptions": [{"image": {"repoURL": "registry.example/app"}}]},
        },
        {
            "apiVersion": "kargo.akuity.io/v1alpha1",
            "kind": "Promotion",
            "metadata": {"name": "prod.running"},
            "spec": {"stage": "prod", "freight": "c" * 40},
        },
    )
    await actions.refresh_warehouse(admin, namespace, "images")
    warehouse = await admin.get("warehouses", namespace, "images")
    assert warehouse["metadata"]["annotations"]["kargo.akuity.io/refresh"]
    await actions.abort_promotion(admin, namespace, "prod.running")
    promotion = await admin.get("promotions", namespace, "prod.running")
    assert promotion["metadata"]["annotations"]["kargo.akuity.io/abort"] == "terminate"
    with pytest.raises(actions.ActionError, match="no verification"):
        await actions.reverify(admin, namespace, "prod")
    history = [
        {"id": "c1", "items": {}, "verificationHistory": [{"id": "v-42", "phase": "Failed"}]}
    ]
    await admin.patch(
        "stages", namespace, "prod", {"status": {"freightHistory": history}}, status=True
    )
    await actions.reverify(admin, namespace, "prod", "admin")
    stage = await admin.get("stages", namespace, "prod")
    assert json.loads(stage["metadata"]["annotations"]["kargo.akuity.io/reverify"]) == {
        "id": "v-42",
        "actor": "kubernetes:admin",
    }
    await admin.patch(
        "promotions", namespace, "prod.running", {"status": {"phase": "Succeeded"}}, status=True
    )
    with pytest.raises(actions.ActionError, match="already finished"):
        await actions.abort_promotion(admin, namespace, "prod.running")


async def test_refusals_of_the_api_server_arrive_as_they_were_said(
    kube: TestCluster, namespace: str
) -> None:
    if not kube.has_test_users:
        pytest.fail("this cluster has no test users (bob)")
    cluster = await Cluster.from_kubeconfig(kube.kubeconfig_path)
    bob = cluster.for_token(kube.token_for("bob"))
    try:
        assert await bob.whoami() == "bob"
        with pytest.raises(ApiError) as listing:
            await bob.list_kind("stages", namespace)
        assert listing.value.forbidden
        assert 'User "bob" cannot list resource "stages"' in listing.value.message
        with pytest.raises(actions.ActionError) as refused:
            await actions.refresh_warehouse(bob, namespace, "images")
        assert refused.value.status == 403
        assert refused.value.message.startswith("Forbidden:")
    finally:
        await bob.close()
        await cluster.close()
