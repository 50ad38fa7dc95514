"""Which reconciles a change in the cache calls for (the operator's watch wiring).

* A Stage is queued when its spec or metadata changes (not its status: that is usually its own
  write), when one of its Promotions changes, when Freight from an origin it requests changes
  (or Freight it is in / verified in / approved for), when an upstream Stage's status changes,
  and when its project's ProjectConfig or Project changes; every Stage when the ClusterConfig
  changes (its promotion windows). A deleted Stage is forgotten by the
  Freight that named it, and the Stages downstream of it look again.
* A Promotion is queued on any change of it; a Freight on any change; a Warehouse or Project
  unless only its status changed; an AnalysisRun (of a Stage) on any change, and its Stage.
* A Project looks again when one of its Stages' or Warehouses' status changes (its stats).
* A ProjectConfig, or the ClusterConfig, has its webhook receivers published again unless only
  its status changed (usually that publication itself): key the namespace, ``""`` for the
  ClusterConfig.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from shunter.api.v1alpha1 import annotations as ann
from shunter.api.v1alpha1 import labels as lbl
from shunter.cache import (
    ANALYSIS_RUNS,
    CLUSTER_CONFIGS,
    FREIGHTS,
    PROJECT_CONFIGS,
    PROJECTS,
    PROMOTIONS,
    STAGES,
    WAREHOUSES,
    KargoCache,
)
from shunter.cache.kinds import freight_stages
from shunter.kube.informer import Kind

__all__ = ["Queues", "Triggers", "only_status_changed"]

JSON = Mapping[str, Any]
ObjectKey = tuple[str, str]


@dataclass
class Queues:
    """Where triggered work goes (the operator's work queues, as plain callables)."""

    project: Callable[[str], None]
    stage: Callable[[ObjectKey], None]
    forget_stage: Callable[[ObjectKey], None]
    promotion: Callable[[ObjectKey], None]
    freight: Callable[[ObjectKey], None]
    warehouse: Callable[[ObjectKey], None]
    analysis_run: Callable[[ObjectKey], None]
    #: Webhook receivers' publication: a project namespace, or "" for the ClusterConfig.
    config: Callable[[str], None]


def _meta(obj: JSON | None) -> Mapping[str, Any]:
    meta = (obj or {}).get("metadata")
    return meta if isinstance(meta, Mapping) else {}


def _key(obj: JSON) -> ObjectKey:
    meta = _meta(obj)
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")


def only_status_changed(old: JSON | None, new: JSON | None) -> bool:
    """Both exist and differ in nothing but ``status`` (and the resourceVersion)."""
    if old is None or new is None:
        return False
    keys = (set(old) | set(new)) - {"status", "metadata"}
    if any(old.get(k) != new.get(k) for k in keys):
        return False
    old_meta = {k: v for k, v in _meta(old).items() if k != "resourceVersion"}
    new_meta = {k: v for k, v in _meta(new).items() if k != "resourceVersion"}
    return old_meta == new_meta


def _status_changed(old: JSON | None, new: JSON | None) -> bool:
    return (old or {}).get("status") != (new or {}).get("status")


class Triggers:
    """A cache listener that queues the reconciles a change calls for."""

    def __init__(self, cache: KargoCache, queues: Queues, *, analysis: bool = True) -> None:
        self._cache = cache
        self._queues = queues
        self.analysis = analysis
        self._handlers: dict[Kind, Callable[[JSON | None, JSON | None], None]] = {
            PROJECTS: self._project,
            PROJECT_CONFIGS: self._project_config,
            CLUSTER_CONFIGS: self._cluster_config,
            STAGES: self._stage,
            PROMOTIONS: self._promotion,
            FREIGHTS: self._freight,
            WAREHOUSES: self._warehouse,
            ANALYSIS_RUNS: self._analysis_run,
        }

    def __call__(self, kind: Kind, old: JSON | None, new: JSON | None) -> None:
        handler = self._handlers.get(kind)
        if handler is not None:
            handler(old, new)

    def _stages(self, keys: Iterable[ObjectKey]) -> None:
        for key in keys:
            self._queues.stage(key)

    def _project(self, old: JSON | None, new: JSON | None) -> None:
        if new is None or only_status_changed(old, new):
            return
        name = _key(new)[1]
        self._queues.project(name)
        self._stages(self._cache.stage_keys(name))  # legacy promotion policies

    def _project_config(self, old: JSON | None, new: JSON | None) -> None:
        namespace = _key(new or old or {})[0]
        if new is not None and not only_status_changed(old, new):
            self._queues.config(namespace)
        self._stages(self._cache.stage_keys(namespace))

    def _cluster_config(self, old: JSON | None, new: JSON | None) -> None:
        if only_status_changed(old, new):
            return
        if new is not None:
            self._queues.config("")  # the webhook receivers' status
        self._stages(self._cache.keys(STAGES))  # promotion windows may have changed

    def _stage(self, old: JSON | None, new: JSON | None) -> None:
        namespace, name = _key(new or old or {})
        if new is None:
            self._queues.forget_stage((namespace, name))
        elif not only_status_changed(old, new):
            self._queues.stage((namespace, name))
        if new is None or _status_changed(old, new):
            self._stages(self._cache.stages_downstream(namespace, name))
            self._queues.project(namespace)

    def _promotion(self, old: JSON | None, new: JSON | None) -> None:
        namespace, name = _key(new or old or {})
        if new is not None:
            self._queues.promotion((namespace, name))
        for obj in (old, new):
            stage = ((obj or {}).get("spec") or {}).get("stage")
            if isinstance(stage, str) and stage:
                self._queues.stage((namespace, stage))

    def _freight(self, old: JSON | None, new: JSON | None) -> None:
        namespace, name = _key(new or old or {})
        if new is not None:
            self._queues.freight((namespace, name))
        if only_status_changed(old, new) and not _status_changed(old, new):
            return
        origins: set[str] = set()
        stages: set[str] = set()
        for obj in (old, new):
            if obj is None:
                continue
            origin = obj.get("origin") or {}
            origins.add(f"{origin.get('kind') or 'Warehouse'}/{origin.get('name') or ''}")
            stages |= freight_stages(obj)
        keys = {key for o in origins for key in self._cache.stages_requesting(namespace, o)}
        keys |= {(namespace, stage) for stage in stages}
        self._stages(sorted(keys))

    def _warehouse(self, old: JSON | None, new: JSON | None) -> None:
        if new is None:
            return
        if only_status_changed(old, new):
            if _status_changed(old, new):
                self._queues.project(_key(new)[0])
            return
        self._queues.warehouse(_key(new))

    def _analysis_run(self, old: JSON | None, new: JSON | None) -> None:
        obj = new or old or {}
        namespace, name = _key(obj)
        if new is not None and self.analysis:
            self._queues.analysis_run((namespace, name))
        meta = _meta(obj)
        stage = (meta.get("annotations") or {}).get(ann.STAGE) or (meta.get("labels") or {}).get(
            lbl.STAGE
        )
        if stage:
            self._queues.stage((namespace, stage))
