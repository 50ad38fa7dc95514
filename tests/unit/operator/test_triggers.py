"""Which reconciles a cache change queues."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from shunter.cache import (
    CLUSTER_CONFIGS,
    FREIGHTS,
    PROJECT_CONFIGS,
    PROMOTIONS,
    STAGES,
    KargoCache,
)
from shunter.operator.triggers import Queues, Triggers, only_status_changed


def obj(name: str, version: int = 1, **fields: Any) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "p", "resourceVersion": str(version)}, **fields}


def request(upstream: str | None = None) -> dict[str, Any]:
    sources: dict[str, Any] = {"stages": [upstream]} if upstream else {"direct": True}
    return {
        "requestedFreight": [{"origin": {"kind": "Warehouse", "name": "w"}, "sources": sources}]
    }


def wired() -> tuple[KargoCache, dict[str, list[Any]]]:
    cache = KargoCache()
    queued: dict[str, list[Any]] = defaultdict(list)

    def into(name: str) -> Any:
        return queued[name].append

    queues = Queues(
        project=into("project"),
        stage=into("stage"),
        forget_stage=into("forget"),
        promotion=into("promotion"),
        freight=into("freight"),
        warehouse=into("warehouse"),
        analysis_run=into("analysis"),
        config=into("config"),
    )
    cache.upsert(STAGES, obj("up", spec=request()))
    cache.upsert(STAGES, obj("down", spec=request("up")))
    cache.upsert(STAGES, obj("other", spec={"requestedFreight": []}))
    cache.listen(Triggers(cache, queues))
    return cache, queued


def test_only_status_changed() -> None:
    assert only_status_changed(
        obj("a", 1, spec={}, status={}), obj("a", 2, spec={}, status={"x": 1})
    )
    assert not only_status_changed(obj("a", 1, spec={}), obj("a", 2, spec={"y": 1}))
    assert not only_status_changed(None, obj("a"))


def test_a_stages_own_status_write_does_not_queue_it_but_wakes_downstream() -> None:
    cache, queued = wired()
    cache.upsert(STAGES, obj("up", 2, spec=request(), status={"freightSummary": "f"}))
    assert queued["stage"] == [("p", "down")]
    assert queued["project"] == ["p"]
    cache.upsert(STAGES, obj("up", 3, spec=request("x"), status={"freightSummary": "f"}))
    assert ("p", "up") in queued["stage"]


def test_freight_wakes_the_stages_of_its_origin_and_those_it_names() -> None:
    cache, queued = wired()
    origin = {"kind": "Warehouse", "name": "w"}
    cache.upsert(FREIGHTS, obj("f", origin=origin))
    assert sorted(queued["stage"]) == [("p", "down"), ("p", "up")]
    assert queued["freight"] == [("p", "f")]
    for keys in queued.values():
        keys.clear()
    cache.upsert(
        FREIGHTS,
        obj("f", 2, origin={"kind": "Warehouse", "name": "elsewhere"},
            status={"currentlyIn": {"other": {}}}),
    )  # fmt: skip
    assert sorted(queued["stage"]) == [("p", "down"), ("p", "other"), ("p", "up")]


def test_promotions_wake_their_stage_and_deleted_stages_are_forgotten() -> None:
    cache, queued = wired()
    cache.upsert(PROMOTIONS, obj("pr", spec={"stage": "up"}))
    assert queued["promotion"] == [("p", "pr")]
    assert queued["stage"] == [("p", "up")]
    cache.delete(STAGES, "p", "up")
    assert queued["forget"] == [("p", "up")]
    assert ("p", "down") in queued["stage"]


def test_a_project_config_wakes_every_stage_of_the_project() -> None:
    cache, queued = wired()
    cache.upsert(PROJECT_CONFIGS, obj("p"))
    assert sorted(queued["stage"]) == [("p", "down"), ("p", "other"), ("p", "up")]


def test_config_changes_publish_receivers_but_their_own_status_writes_do_not() -> None:
    cache, queued = wired()
    cache.upsert(PROJECT_CONFIGS, obj("p", 1, spec={"webhookReceivers": []}))
    cache.upsert(PROJECT_CONFIGS, obj("p", 2, spec={"webhookReceivers": []}, status={"x": 1}))
    assert queued["config"] == ["p"]
    cluster = {"metadata": {"name": "cluster", "resourceVersion": "1"}, "spec": {}}
    cache.upsert(CLUSTER_CONFIGS, cluster)
    cache.upsert(
        CLUSTER_CONFIGS,
        {**cluster, "metadata": {"name": "cluster", "resourceVersion": "2"}, "status": {}},
    )
    assert queued["config"] == ["p", ""]


def test_the_cluster_config_wakes_every_stage_unless_only_its_status_changed() -> None:
    cache, queued = wired()
    cluster = {"metadata": {"name": "cluster", "resourceVersion": "1"}, "spec": {}}
    cache.upsert(CLUSTER_CONFIGS, cluster)
    assert sorted(queued["stage"]) == [("p", "down"), ("p", "other"), ("p", "up")]
    queued.clear()
    cache.upsert(CLUSTER_CONFIGS, {**cluster, "status": {"conditions": []}})
    assert queued["stage"] == []
