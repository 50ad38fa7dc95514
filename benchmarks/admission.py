"""What the admission webhooks cost a write: creating Freight and Promotions through them,
next to the same creates in a namespace no webhook serves (the bare limit), in one run.

Starts the local control plane with the CRDs and two project namespaces holding the same
Warehouse and Stage; serves the webhooks in this process (``AdmissionService``, as the
operator does, under the control plane's operator identity) for one of the namespaces only;
then, as the administrator (a user, so the ``promote`` SubjectAccessReview runs), creates N
Freight and N Promotions in each namespace, one at a time, and prints the median and 90th
percentile latency per create and the ratios. No operator runs: only admission is measured.

Measured (2 cores shared with other work, N=40): see docs/performance.md#admission.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from typing import Any

from shunter.admission import AdmissionService, AdmissionSettings, CacheLookups
from shunter.cache import CacheFeed, KargoCache
from shunter.kube.client import KubeClient
from shunter_devenv.binaries import repo_root
from shunter_devenv.controlplane import ControlPlane
from shunter_devenv.processes import free_port

N = int(sys.argv[1]) if len(sys.argv) > 1 else 40
GROUP = "kargo.akuity.io/v1alpha1"
IMAGE = "registry.example.com/bench/app"


def _objects(ns: str) -> list[tuple[str, dict[str, Any]]]:
    warehouse = {
        "apiVersion": GROUP,
        "kind": "Warehouse",
        "metadata": {"name": "app", "namespace": ns},
        "spec": {
            "freightCreationPolicy": "Manual",
            "subscriptions": [{"image": {"repoURL": IMAGE}}],
        },
    }
    stage = {
        "apiVersion": GROUP,
        "kind": "Stage",
        "metadata": {"name": "prod", "namespace": ns},
        "spec": {
            "requestedFreight": [
                {"origin": {"kind": "Warehouse", "name": "app"}, "sources": {"direct": True}}
            ],
            "promotionTemplate": {"spec": {"steps": [{"uses": "compose-output", "as": "out"}]}},
        },
    }
    return [("warehouses", warehouse), ("stages", stage)]


def _freight(ns: str, i: int) -> dict[str, Any]:
    return {
        "apiVersion": GROUP,
        "kind": "Freight",
        "metadata": {"name": f"f-{i}", "namespace": ns},
        "origin": {"kind": "Warehouse", "name": "app"},
        "images": [{"repoURL": IMAGE, "tag": f"v{i}", "digest": "sha256:" + f"{i:064x}"}],
    }


async def _timed(kube: KubeClient, ns: str, plural: str, body: dict[str, Any]) -> tuple[float, str]:
    began = time.perf_counter()
    created = await kube.create_custom(ns, plural, body)
    return time.perf_counter() - began, created["metadata"]["name"]


async def _measure(kube: KubeClient, ns: str) -> dict[str, list[float]]:
    freight_times, promotion_times = [], []
    for i in range(N):
        seconds, name = await _timed(kube, ns, "freights", _freight(ns, i))
        freight_times.append(seconds)
        promotion = {
            "apiVersion": GROUP,
            "kind": "Promotion",
            "metadata": {"name": f"p-{i}", "namespace": ns},
            "spec": {"stage": "prod", "freight": name},
        }
        seconds, _ = await _timed(kube, ns, "promotions", promotion)
        promotion_times.append(seconds)
    return {"Freight": freight_times, "Promotion": promotion_times}


def _p90(values: list[float]) -> float:
    return sorted(values)[int(0.9 * (len(values) - 1))]


async def main(plane: ControlPlane) -> None:
    admin = KubeClient.from_kubeconfig(plane.kubeconfig_path)
    operator = KubeClient.from_kubeconfig(plane.operator_kubeconfig_path)
    served, bare = "bench-served", "bench-bare"
    for ns in (served, bare):
        await admin.create_namespace(
            {"metadata": {"name": ns, "labels": {"kargo.akuity.io/project": "true"}}}
        )
        for plural, body in _objects(ns):
            await admin.create_custom(ns, plural, body)
    port = free_port()
    settings = AdmissionSettings(
        address=f"127.0.0.1:{port}",
        namespaces=(served,),
        webhook_name="bench",
        register_url=f"https://127.0.0.1:{port}",
    )
    cache = KargoCache()
    feed = CacheFeed(operator, cache, namespaces=(served,))
    feed.start()
    await feed.wait_synced()
    service = AdmissionService(operator, CacheLookups(cache, operator), settings)
    await service.start()
    try:
        while True:  # until the API server calls the webhooks
            probe = _freight(served, 10_000)
            answer = await admin.create_custom(served, "freights", probe)
            await admin.delete_custom(served, "freights", answer["metadata"]["name"])
            if answer["metadata"]["name"] != "f-10000":
                break
            await asyncio.sleep(0.2)
        results = {"webhooks": await _measure(admin, served), "bare": await _measure(admin, bare)}
    finally:
        await service.stop()
        await feed.stop()
        await admin.aclose()
        await operator.aclose()
    print(f"{N} creates of each kind, one at a time (seconds per create)")
    for kind in ("Freight", "Promotion"):
        hooked, plain = results["webhooks"][kind], results["bare"][kind]
        m_hooked, m_plain = statistics.median(hooked), statistics.median(plain)
        print(
            f"{kind:10} webhooks median {m_hooked * 1000:6.1f} ms p90 {_p90(hooked) * 1000:6.1f} ms"
            f" | bare median {m_plain * 1000:6.1f} ms p90 {_p90(plain) * 1000:6.1f} ms"
            f" | ratio {m_hooked / m_plain:.1f}x"
        )


if __name__ == "__main__":
    with ControlPlane() as control_plane:
        control_plane.install_crds(repo_root() / "crds")
        asyncio.run(main(control_plane))
