"""Garbage collection inside the operator, as Kargo's collector does it, with N = 20 and no
minimum age (creationTimestamp cannot be set by a client; the age rule is a unit test's).

- Stage ``s``: 30 finished Promotions -> the 10 oldest are deleted.
- Warehouse ``w``: 30 Freight, none in use -> the 10 oldest (by ``discoveredAt``) are deleted.
- Warehouse ``w2``: 25 Freight whose oldest is in use by a Stage -> all kept (Kargo keeps the
  Freight in use and the N after it). That Stage belongs to a shard no operator runs here, so
  it stays exactly as the test sets it.
- A promotion work directory left by a crash goes; the git mirrors folder beside it stays.
Deletions are counted in /metrics and recorded in Events.
"""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from shunter.freight import freight_id_of
from shunter_devenv.cluster import Cluster
from shunter_devenv.operator import OperatorProcess
from shunter_devenv.waiting import wait_for

API = "kargo.akuity.io/v1alpha1"
BASE = datetime(2026, 1, 1, tzinfo=UTC)


def _kargo(kind: str, name: str, namespace: str, **fields: Any) -> dict[str, Any]:
    return {
        "apiVersion": API,
        "kind": kind,
        "metadata": {"name": name, "namespace": namespace},
        **fields,
    }


def _freight(namespace: str, warehouse: str, index: int) -> dict[str, Any]:
    body = _kargo(
        "Freight",
        "",
        namespace,
        origin={"kind": "Warehouse", "name": warehouse},
        discoveredAt=(BASE + timedelta(minutes=index)).isoformat().replace("+00:00", "Z"),
        images=[
            {
                "repoURL": "registry.invalid/app",
                "tag": f"{warehouse}-{index:02d}",
                "digest": "sha256:" + f"{index:02x}" * 32,
            }
        ],
    )
    body["metadata"]["name"] = freight_id_of(body)
    return body


def _names(kube: Cluster, kind: str, namespace: str) -> set[str]:
    out = kube.kubectl("get", kind, "-n", namespace, "-o", "json").stdout
    return {item["metadata"]["name"] for item in json.loads(out)["items"]}


def test_old_promotions_and_unused_freight_are_collected(kube: Cluster, tmp_path: Path) -> None:
    ns = f"gc-{secrets.token_hex(3)}"
    # Everything exists before the operator starts: its first pass sees it all. The Project
    # adopts the namespace made for it.
    kube.kubectl("create", "namespace", ns)
    kube.kubectl("label", "namespace", ns, "kargo.akuity.io/project=true")
    kube.apply(
        json.dumps({"apiVersion": API, "kind": "Project", "metadata": {"name": ns}}),
        server_side=False,
    )
    warehouse_spec = {
        "freightCreationPolicy": "Manual",
        "subscriptions": [{"image": {"repoURL": "127.0.0.1:1/none"}}],
    }
    request = {"origin": {"kind": "Warehouse", "name": "w"}, "sources": {"direct": True}}
    w = [_freight(ns, "w", i) for i in range(30)]
    w2 = [_freight(ns, "w2", i) for i in range(25)]
    objects: list[dict[str, Any]] = [
        _kargo("Warehouse", "w", ns, spec=warehouse_spec),
        _kargo("Warehouse", "w2", ns, spec=warehouse_spec),
        _kargo("Stage", "s", ns, spec={"requestedFreight": [request]}),
        {
            **_kargo(
                "Stage", "parked", ns, spec={"shard": "nobody", "requestedFreight": [request]}
            ),
            "metadata": {
                "name": "parked",
                "namespace": ns,
                "labels": {"kargo.akuity.io/shard": "nobody"},
            },
        },
        *w,
        *w2,
    ]
    kube.apply(
        json.dumps({"apiVersion": "v1", "kind": "List", "items": objects}), server_side=False
    )
    oldest_w2 = w2[0]["metadata"]["name"]
    in_use = {"status": {"currentlyIn": {"parked": {"since": "2026-01-02T00:00:00Z"}}}}
    kube.kubectl(
        "patch", "freight", oldest_w2, "-n", ns, "--subresource=status", "--type=merge",
        "-p", json.dumps(in_use),
    )  # fmt: skip
    for i in range(30):  # one at a time: creation order is the age order
        kube.apply(
            json.dumps(
                _kargo(
                    "Promotion",
                    f"s.{i:02d}",
                    ns,
                    spec={"stage": "s", "freight": w[-1]["metadata"]["name"]},
                )
            ),
            server_side=False,
        )
    work = tmp_path / "work"
    (work / "mirrors" / "keep").mkdir(parents=True)
    (work / "promotion-left-by-a-crash" / "src").mkdir(parents=True)
    operator = OperatorProcess(
        kube.kubeconfig_path,
        work,
        tmp_path / "operator.log",
        env={
            "SHUNTER_GC_INTERVAL": "1",
            "SHUNTER_GC_MIN_PROMOTION_DELETION_AGE": "0",
            "SHUNTER_GC_MIN_FREIGHT_DELETION_AGE": "0",
        },
        args=("--namespace", ns),
    )
    with operator:
        wait_for(
            lambda: (
                len(_names(kube, "promotions", ns)) == 20 and len(_names(kube, "freight", ns)) == 45
            ),
            what="garbage collection of 10 Promotions and 10 Freight",
            details=operator.log,
        )
        text = operator.scrape()
        events = json.loads(kube.kubectl("get", "events", "-n", ns, "-o", "json").stdout)["items"]
    assert _names(kube, "promotions", ns) == {f"s.{i:02d}" for i in range(10, 30)}
    freight = _names(kube, "freight", ns)
    assert freight >= {f["metadata"]["name"] for f in w[10:]}
    assert not freight & {f["metadata"]["name"] for f in w[:10]}
    assert freight >= {f["metadata"]["name"] for f in w2}  # the oldest is in use
    assert 'shunter_garbage_collected_total{kind="Promotion"} 10.0' in text
    assert 'shunter_garbage_collected_total{kind="Freight"} 10.0' in text
    assert 'shunter_garbage_collected_total{kind="WorkDirectory"} 1.0' in text
    collected = {
        (e["involvedObject"]["kind"], e["involvedObject"]["name"])
        for e in events
        if e["reason"] == "GarbageCollected"
    }
    assert collected == {("Stage", "s"), ("Warehouse", "w")}
    assert not (work / "promotion-left-by-a-crash").exists()
    assert (work / "mirrors" / "keep").is_dir()
