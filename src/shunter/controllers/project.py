"""The Project controller: the project namespace, and the Project's Ready condition and stats.

A Project named P owns namespace P, labelled ``kargo.akuity.io/project: "true"``. A missing
namespace is created; an existing one is adopted only if it already carries the label
(otherwise the Project is Stalled with reason ``ExistingNamespaceMissingLabel``, as in Kargo),
so a Project can never take over an unrelated namespace.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from shunter.api.v1alpha1 import Stage, Warehouse, to_wire
from shunter.api.v1alpha1 import labels as lbl
from shunter.api.v1alpha1._base import ConditionStatus
from shunter.api.v1alpha1.project import (
    ProjectStats,
    ProjectStatsCount,
    ProjectStatsKind,
    ProjectStatus,
)
from shunter.cache import PROJECTS, KargoCache
from shunter.controllers.conditions import get_condition, remove_condition, set_condition
from shunter.kube.client import ConflictError, KubeClient, NotFoundError

__all__ = ["ProjectReconciler"]

log = logging.getLogger(__name__)


class ProjectReconciler:
    """Reconciles one Project."""

    def __init__(self, kube: KubeClient, cache: KargoCache) -> None:
        self._kube = kube
        self._cache = cache

    async def reconcile(self, name: str) -> float | None:
        """One pass; returns a requeue hint in seconds."""
        project = self._cache.project(name)
        if project is None or project.metadata.deletion_timestamp:
            return None
        old = project.status or ProjectStatus()
        status = old.model_copy(deep=True)
        now = datetime.now(UTC).replace(microsecond=0)
        problem = await self._ensure_namespace(name)
        if problem is not None:
            reason, message = problem
            status.conditions = set_condition(
                status.conditions, "Stalled", True, reason, message, now=now
            )
            status.conditions = set_condition(
                status.conditions, "Ready", False, reason, message, now=now
            )
        else:
            status.conditions = remove_condition(status.conditions, "Stalled")
            status.conditions = set_condition(
                status.conditions, "Ready", True, "Synced", "Project is synced", now=now
            )
            status.stats = self._stats(name)
        if status != old:
            written = await self._kube.patch_cluster_custom(
                "projects", name, {"status": to_wire(status)}, status=True
            )
            self._cache.apply(PROJECTS, written)
        return None

    async def _ensure_namespace(self, name: str) -> tuple[str, str] | None:
        try:
            namespace = await self._kube.get_namespace(name)
        except NotFoundError:
            body: dict[str, Any] = {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": name, "labels": {lbl.PROJECT: "true"}},
            }
            try:
                await self._kube.create_namespace(body)
                log.info("created namespace %s for Project %s", name, name)
            except ConflictError:
                return await self._ensure_namespace(name)
            return None
        labels = namespace.get("metadata", {}).get("labels") or {}
        if labels.get(lbl.PROJECT) != "true":
            return (
                "ExistingNamespaceMissingLabel",
                f"namespace {name!r} exists but is not labelled {lbl.PROJECT}=true; "
                "label it to let the Project adopt it",
            )
        return None

    def _stats(self, name: str) -> ProjectStats:
        warehouses = self._cache.warehouses(name)
        stages = self._cache.stages(name)

        def healthy_warehouse(w: Warehouse) -> bool:
            cond = get_condition(w.status.conditions if w.status else None, "Healthy")
            return cond is not None and cond.status == ConditionStatus.TRUE

        def healthy_stage(s: Stage) -> bool:
            health = s.status.health if s.status else None
            return (
                health is not None
                and health.status is not None
                and health.status.value == "Healthy"
            )

        return ProjectStats(
            warehouses=ProjectStatsKind(
                count=len(warehouses),
                health=ProjectStatsCount(healthy=sum(map(healthy_warehouse, warehouses))),
            ),
            stages=ProjectStatsKind(
                count=len(stages),
                health=ProjectStatsCount(healthy=sum(map(healthy_stage, stages))),
            ),
        )
