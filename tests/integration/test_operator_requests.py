"""The operator's API requests, counted by the kube-apiserver's audit log: after start-up, an
idle operator with 200 Stages reads only its watches - no LIST, no GET of an object its cache
holds - even while its periodic resync queues every object again.

This test starts its own control plane, with an audit log for the operator's user only.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from shunter.freight import freight_id
from shunter_devenv.controlplane import ControlPlane
from shunter_devenv.operator import OperatorProcess
from shunter_devenv.waiting import wait_for

HERE = Path(__file__).resolve().parent
CRD_DIR = HERE.parents[1] / "crds"
PROJECT = "requests"
STAGES = 200
FREIGHT = 20
IDLE_SECONDS = 60.0
RESYNC_SECONDS = 15
OPERATOR = "operator"
#: Kinds the operator caches: a GET of one of them means the cache was bypassed.
CACHED = {
    "projects",
    "projectconfigs",
    "warehouses",
    "stages",
    "freights",
    "promotions",
    "promotiontasks",
    "clusterpromotiontasks",
    "analysisruns",
    "secrets",
}


@pytest.fixture(scope="module")
def plane() -> Iterator[ControlPlane]:
    with ControlPlane(
        extra_users={OPERATOR: ["system:masters"]}, audit_users=[OPERATOR]
    ) as control_plane:
        control_plane.install_crds(CRD_DIR)
        yield control_plane


def _warehouse() -> str:
    """The Freight's Warehouse (the admission webhook refuses Freight of a missing one); its
    registry does not answer, so it discovers nothing."""
    return json.dumps(
        {
            "apiVersion": "kargo.akuity.io/v1alpha1",
            "kind": "Warehouse",
            "metadata": {"name": "w", "namespace": PROJECT},
            "spec": {
                "interval": "24h",
                "subscriptions": [{"image": {"repoURL": "127.0.0.1:1/app"}}],
            },
        }
    )


def _manifests() -> str:
    items: list[dict[str, Any]] = []
    for i in range(FREIGHT):
        images = [{"repoURL": "127.0.0.1:1/app", "tag": f"1.0.{i}", "digest": f"sha256:{i:064x}"}]
        items.append(
            {
                "apiVersion": "kargo.akuity.io/v1alpha1",
                "kind": "Freight",
                "metadata": {
                    "name": freight_id("Warehouse", "w", [], images, []),
                    "namespace": PROJECT,
                },
                "alias": f"freight-{i}",
                "origin": {"kind": "Warehouse", "name": "w"},
                "images": images,
            }
        )
    for i in range(STAGES):
        spec: dict[str, Any] = {
            "requestedFreight": [
                {
                    "origin": {"kind": "Warehouse", "name": "w"},
                    "sources": {"direct": True} if i < 10 else {"stages": [f"s{i % 10}"]},
                }
            ]
        }
        if i % 2:
            spec["promotionTemplate"] = {
                "spec": {"steps": [{"uses": "git-clone", "config": {"repoURL": "https://x/y"}}]}
            }
        items.append(
            {
                "apiVersion": "kargo.akuity.io/v1alpha1",
                "kind": "Stage",
                "metadata": {"name": f"s{i}", "namespace": PROJECT},
                "spec": spec,
            }
        )
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": items})


def _all_reconciled(plane: ControlPlane) -> bool:
    out = plane.kubectl("get", "stages", "-n", PROJECT, "-o", "json").stdout
    stages = json.loads(out)["items"]
    return len(stages) == STAGES and all(
        (s.get("status") or {}).get("observedGeneration") for s in stages
    )


def _describe(event: dict[str, Any]) -> str:
    ref = event.get("objectRef") or {}
    return f"{event.get('verb')} {ref.get('resource')} {event.get('requestURI')}"


def test_idle_operator_reads_only_its_watches(plane: ControlPlane, tmp_path: Path) -> None:
    plane.apply(
        json.dumps(
            {"apiVersion": "kargo.akuity.io/v1alpha1", "kind": "Project",
             "metadata": {"name": PROJECT}}
        ),
        server_side=False,
    )  # fmt: skip
    operator = OperatorProcess(
        plane.kubeconfig_for(OPERATOR),
        tmp_path / "work",
        tmp_path / "operator.log",
        # DEBUG: the resync says it ran (at INFO it is quiet).
        env={"SHUNTER_RESYNC_SECONDS": str(RESYNC_SECONDS), "SHUNTER_LOG_LEVEL": "DEBUG"},
    )
    with operator:
        wait_for(
            lambda: plane.kubectl("get", "namespace", PROJECT, check=False).returncode == 0,
            what="the project namespace",
            details=operator.log,
        )
        plane.apply(_warehouse(), server_side=False)
        manifests = _manifests()
        wait_for(  # once the webhooks' cache holds the Warehouse
            lambda: plane.kubectl("apply", "-f", "-", stdin=manifests, check=False).returncode == 0,
            what="the Freight and Stages admitted",
            details=operator.log,
        )
        wait_for(
            lambda: _all_reconciled(plane),
            timeout=120,
            what=f"all {STAGES} Stages reconciled",
            details=operator.log,
        )
        startup, offset = plane.audit_events()
        watches = {e["auditID"] for e in startup if e["verb"] == "watch"}
        assert len(watches) >= 8, Counter(e["verb"] for e in startup)  # the informers watch

        # Wait until the start-up work has settled (no write for 3 s), then observe.
        quiet_since = time.monotonic()

        def quiet_for_3s() -> bool:
            nonlocal offset, quiet_since
            events, offset = plane.audit_events(offset)
            if any(e["verb"] in ("create", "update", "patch") for e in events):
                quiet_since = time.monotonic()
            return time.monotonic() - quiet_since >= 3

        wait_for(quiet_for_3s, timeout=60, what="the start-up work to settle", details=operator.log)

        observed: list[dict[str, Any]] = []
        log_before = operator.log()
        began = time.monotonic()

        def idle_window_over() -> bool:
            nonlocal offset
            events, offset = plane.audit_events(offset)
            observed.extend(events)
            bad = [
                e
                for e in events
                if e["verb"] == "list"
                or (e["verb"] == "get" and (e.get("objectRef") or {}).get("resource") in CACHED)
            ]
            assert not bad, "idle operator bypassed its cache:\n" + "\n".join(map(_describe, bad))
            return time.monotonic() - began >= IDLE_SECONDS

        wait_for(idle_window_over, timeout=IDLE_SECONDS + 30, interval=1.0, what="the idle window")
        assert operator.running(), operator.log()
        resyncs = operator.log()[len(log_before) :].count("resync:")
    requests = {e["auditID"]: e for e in observed}.values()
    verbs = Counter(e["verb"] for e in requests)
    print(f"requests in {IDLE_SECONDS:.0f} idle seconds: {dict(verbs)}; resyncs: {resyncs}")
    assert resyncs >= 3, "the periodic resync must have run during the window"
    # No new watch either: they end after 5-10 minutes and resume from their last version.
    assert set(verbs) <= {"get"}, [_describe(e) for e in requests if e["verb"] != "get"]
