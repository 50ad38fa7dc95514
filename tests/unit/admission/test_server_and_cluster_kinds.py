"""The webhook server over TLS (real aiohttp server, real TLS, a certificate the client
verifies), and the handlers of cluster-scoped kinds, which read nothing."""

from __future__ import annotations

import datetime as dt
import ssl
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from kubernetes_asyncio.client import Configuration

from shunter.admission.certificates import issue_serving, needs_renewal, new_ca
from shunter.admission.context import AdmissionContext
from shunter.admission.identity import Authorizer, ControlPlane
from shunter.admission.lookups import CacheLookups
from shunter.admission.server import AdmissionServer
from shunter.admission.tls import EphemeralCertificates, ServingCertificate
from shunter.admission.webhooks import WEBHOOKS
from shunter.cache import KargoCache
from shunter.kube.client import KubeClient


def _review(kind: str, obj: dict[str, Any], operation: str = "CREATE") -> dict[str, Any]:
    return {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "r1",
            "kind": {"kind": kind},
            "operation": operation,
            "name": obj["metadata"]["name"],
            "userInfo": {"username": "alice"},
            "object": obj,
        },
    }


@pytest.fixture
async def served() -> AsyncIterator[tuple[str, ssl.SSLContext, AdmissionServer]]:
    kube = KubeClient.from_configuration(Configuration())  # never called by these handlers
    lookups = CacheLookups(KargoCache(), kube)
    ctx = AdmissionContext(lookups, ControlPlane(frozenset({"op"})), Authorizer(kube))
    source = EphemeralCertificates(["127.0.0.1"])
    certificate = await source.current()
    server = AdmissionServer(ctx, WEBHOOKS, "127.0.0.1", 0, certificate)
    await server.start()
    trust = ssl.create_default_context(cadata=certificate.ca_bundle.decode())
    try:
        yield f"https://127.0.0.1:{server.port}", trust, server
    finally:
        await server.stop()
        await kube.aclose()


async def test_cluster_promotion_task_aliases_are_checked(
    served: tuple[str, ssl.SSLContext, AdmissionServer],
) -> None:
    url, trust, _ = served
    task = {
        "metadata": {"name": "shared"},
        "spec": {"steps": [{"uses": "git-clone", "as": "a"}, {"uses": "git-push", "as": "a"}]},
    }
    async with httpx.AsyncClient(verify=trust) as http:
        answer = await http.post(
            f"{url}/validate-kargo-akuity-io-v1alpha1-clusterpromotiontask",
            json=_review("ClusterPromotionTask", task),
        )
        assert answer.status_code == 200
        response = answer.json()["response"]
        assert response["uid"] == "r1"
        assert response["allowed"] is False
        assert response["status"]["message"] == (
            'ClusterPromotionTask "shared" is invalid: spec.steps[1].as: step alias duplicates '
            "that of steps[0]"
        )
        # Annotating one admitted before the webhooks served is not refused for its old spec.
        relabelled = _review("ClusterPromotionTask", task, operation="UPDATE")
        relabelled["request"]["oldObject"] = task
        answer = await http.post(
            f"{url}/validate-kargo-akuity-io-v1alpha1-clusterpromotiontask", json=relabelled
        )
        assert answer.json()["response"]["allowed"] is True
        task["spec"]["steps"][1]["as"] = "b"
        answer = await http.post(
            f"{url}/validate-kargo-akuity-io-v1alpha1-clusterpromotiontask",
            json=_review("ClusterPromotionTask", task),
        )
        assert answer.json()["response"] == {"uid": "r1", "allowed": True}
        config = {
            "metadata": {"name": "cluster"},
            "spec": {"webhookReceivers": [{"name": "r", "github": {}, "quay": {}}, {"name": "r"}]},
        }
        answer = await http.post(
            f"{url}/validate-kargo-akuity-io-v1alpha1-clusterconfig",
            json=_review("ClusterConfig", config),
        )
        message = answer.json()["response"]["status"]["message"]
        assert "more than one type, found 2: github, quay" in message
        assert "spec.webhookReceivers[1].name" in message
        bad = await http.post(
            f"{url}/validate-kargo-akuity-io-v1alpha1-clusterconfig", content=b"{"
        )
        assert bad.status_code == 400


async def test_a_renewed_certificate_is_served_to_new_connections(
    served: tuple[str, ssl.SSLContext, AdmissionServer],
) -> None:
    url, trust, server = served
    ca = new_ca()
    leaf = issue_serving(ca, ["127.0.0.1"])
    server.use_certificate(ServingCertificate(leaf.cert_pem, leaf.key_pem, ca.cert_pem))
    with pytest.raises(httpx.ConnectError):  # the old CA no longer verifies it
        async with httpx.AsyncClient(verify=trust) as http:
            await http.post(f"{url}/validate-kargo-akuity-io-v1alpha1-project", json={})


def test_renewal_is_due_with_a_third_of_the_life_left() -> None:
    ca = new_ca(valid=dt.timedelta(days=30))
    now = dt.datetime.now(dt.UTC)
    assert not needs_renewal(ca.cert_pem, now + dt.timedelta(days=15))
    assert needs_renewal(ca.cert_pem, now + dt.timedelta(days=21))
    assert needs_renewal(b"not a certificate")
