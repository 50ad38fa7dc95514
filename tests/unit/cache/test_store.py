"""The cache: versions, indexes, compact storage, the bounded model table and listeners."""

from __future__ import annotations

from typing import Any

from shunter.api.v1alpha1 import Freight, Stage
from shunter.cache import FREIGHTS, PROMOTIONS, STAGES, KargoCache


def stage(name: str, version: int, *, upstream: str | None = None, **status: Any) -> dict[str, Any]:
    sources: dict[str, Any] = {"stages": [upstream]} if upstream else {"direct": True}
    return {
        "apiVersion": "kargo.akuity.io/v1alpha1",
        "kind": "Stage",
        "metadata": {
            "name": name,
            "namespace": "p",
            "resourceVersion": str(version),
            "managedFields": [{"manager": "kubectl"}],
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{...}"},
        },
        "spec": {
            "requestedFreight": [{"origin": {"kind": "Warehouse", "name": "w"}, "sources": sources}]
        },
        "status": status,
    }


def freight(name: str, version: int, **status: Any) -> dict[str, Any]:
    return {
        "apiVersion": "kargo.akuity.io/v1alpha1",
        "kind": "Freight",
        "metadata": {"name": name, "namespace": "p", "resourceVersion": str(version)},
        "alias": f"alias-{name}",
        "origin": {"kind": "Warehouse", "name": "w"},
        "images": [{"repoURL": "r/app", "tag": "1", "digest": "sha256:" + "0" * 64}],
        "status": status,
    }


def test_older_versions_are_ignored_and_bulky_metadata_dropped() -> None:
    cache = KargoCache()
    cache.upsert(STAGES, stage("a", 5))
    cache.upsert(STAGES, stage("a", 4, upstream="x"))  # an older answer arriving late
    raw = cache.raw(STAGES, "p", "a")
    assert raw is not None
    assert raw["metadata"]["resourceVersion"] == "5"
    assert "managedFields" not in raw["metadata"]
    assert "annotations" not in raw["metadata"]
    assert cache.stages_downstream("p", "x") == []


def test_indexes_follow_changes_and_deletions() -> None:
    cache = KargoCache()
    cache.upsert(STAGES, stage("b", 1, upstream="a"))
    cache.upsert(FREIGHTS, freight("f1", 2, verifiedIn={"a": {}}))
    assert cache.stages_downstream("p", "a") == [("p", "b")]
    assert cache.stages_requesting("p", "Warehouse/w") == [("p", "b")]
    assert [f.metadata.name for f in cache.freight_for_stage("p", "a")] == ["f1"]
    assert cache.freight_with_alias("p", "alias-f1") == [("p", "f1")]
    cache.upsert(FREIGHTS, freight("f1", 3, currentlyIn={"b": {}}))
    assert cache.freight_for_stage("p", "a") == []
    assert [f.metadata.name for f in cache.freight_for_stage("p", "b")] == ["f1"]
    cache.delete(STAGES, "p", "b")
    assert cache.stages_downstream("p", "a") == []
    assert cache.stage_keys("p") == []
    cache.delete(FREIGHTS, "p", "f1")
    assert cache.freight_for_stage("p", "b") == []
    assert cache.freight_with_alias("p", "alias-f1") == []


def test_the_objects_of_a_namespace_share_one_namespace_string() -> None:
    cache = KargoCache()
    for name in ("a", "b"):
        body = stage(name, 1)
        body["metadata"]["namespace"] = "".join(["pro", "ject"])  # a fresh string each time
        cache.upsert(STAGES, body)
    (first, _), (second, _) = cache.stage_keys("project")
    assert first == "project"
    assert first is second


def test_models_are_parsed_once_per_version_and_the_table_is_bounded() -> None:
    cache = KargoCache(model_cache_size=2)
    for i in range(3):
        cache.upsert(FREIGHTS, freight(f"f{i}", 10 + i))
    first = cache.freight("p", "f0")
    assert isinstance(first, Freight)
    assert cache.freight("p", "f0") is first  # held
    parsed = cache.parsed
    cache.freight("p", "f1")
    cache.freight("p", "f2")  # f0 falls out of the table of two
    assert cache.parsed == parsed + 2
    again = cache.freight("p", "f0")
    assert again is not first
    assert again == first
    cache.upsert(FREIGHTS, freight("f0", 20, currentlyIn={"s": {}}))
    assert cache.freight("p", "f0") != first  # a new version is parsed anew


def test_listeners_hear_old_and_new_and_invalid_objects_are_skipped() -> None:
    cache = KargoCache()
    heard: list[tuple[str, Any, Any]] = []
    cache.listen(lambda kind, old, new: heard.append((kind.plural, old, new)))
    cache.upsert(STAGES, stage("a", 1))
    cache.upsert(STAGES, stage("a", 2, freightSummary="x"))
    cache.delete(STAGES, "p", "a")
    assert [(k, o is None, n is None) for k, o, n in heard] == [
        ("stages", True, False),
        ("stages", False, False),
        ("stages", False, True),
    ]
    assert heard[1][1]["status"] == {}
    assert heard[1][2]["status"] == {"freightSummary": "x"}
    bad = stage("bad", 1)
    bad["spec"] = {"requestedFreight": "not a list"}
    cache.upsert(STAGES, bad)
    cache.upsert(STAGES, stage("good", 1))
    assert [s.metadata.name for s in cache.stages("p")] == ["good"]
    assert isinstance(cache.stage("p", "good"), Stage)


def test_in_flight_promotions() -> None:
    cache = KargoCache()
    for name, phase in (("p1", "Running"), ("p2", "Succeeded"), ("p3", None)):
        body: dict[str, Any] = {
            "metadata": {"name": name, "namespace": "p", "resourceVersion": "1"},
            "spec": {"stage": "a"},
            "status": {"phase": phase} if phase else {},
        }
        cache.upsert(PROMOTIONS, body)
    assert cache.promotions_in_flight() == [("p", "p1"), ("p", "p3")]
