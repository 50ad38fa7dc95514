"""The Project controller: the project namespace, the operator's access to it, the Project's
Ready condition and stats, and what happens when the Project is deleted.

A Project named P owns namespace P, labelled ``kargo.akuity.io/project: "true"``. A missing
namespace is created; an existing one is adopted only if it already carries the label
(otherwise the Project is Stalled with reason ``ExistingNamespaceMissingLabel``, as in Kargo),
so a Project can never take over an unrelated namespace.

Access, as Kargo's management controller grants it: in every namespace it creates or adopts,
the operator binds the ClusterRole the chart installs for project resources (reading Secrets
and ConfigMaps) to its own ServiceAccount, in a RoleBinding of that ClusterRole's name. So a new
Project's credentials are readable with no chart change, and Secrets of namespaces that are not
Projects stay out of reach. A failure is reported as Ready false with reason
``EnsuringSystemPermissionsFailed`` and tried again.

Deletion: the Project carries the finalizer ``kargo.akuity.io/finalizer``. When it is deleted,
its namespace (and everything in it) is deleted too, unless the Project or the namespace is
annotated ``kargo.akuity.io/keep-namespace: "true"`` (then the operator's RoleBinding there is
removed), or the namespace was never the Project's (it lacks the project label); then the
finalizer is removed.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shunter.api.v1alpha1 import Project, Stage, Warehouse, to_wire
from shunter.api.v1alpha1 import annotations as ann
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
from shunter.kube.client import ConflictError, KubeClient, KubeError, NotFoundError

__all__ = ["FINALIZER", "ProjectAccess", "ProjectReconciler"]

log = logging.getLogger(__name__)

#: Kargo's finalizer (Projects, Stages, ...).
FINALIZER = "kargo.akuity.io/finalizer"
_RBAC_GROUP = "rbac.authorization.k8s.io"
#: How soon a failed grant is tried again (seconds).
_RETRY = 15.0
#: How often, and how far apart, a new grant is checked before the Project is Ready.
_GRANT_CHECKS = 50
_GRANT_INTERVAL = 0.1


@dataclass(frozen=True)
class ProjectAccess:
    """The ClusterRole to bind in each project namespace, and to whom (the operator)."""

    cluster_role: str
    service_account: str
    namespace: str

    def role_binding(self, project: str) -> dict[str, Any]:
        """The RoleBinding granting the ClusterRole in the project namespace."""
        return {
            "apiVersion": f"{_RBAC_GROUP}/v1",
            "kind": "RoleBinding",
            "metadata": {
                "name": self.cluster_role,
                "namespace": project,
                "labels": {"app.kubernetes.io/managed-by": "shunter"},
            },
            "roleRef": {"apiGroup": _RBAC_GROUP, "kind": "ClusterRole", "name": self.cluster_role},
            "subjects": [
                {
                    "kind": "ServiceAccount",
                    "name": self.service_account,
                    "namespace": self.namespace,
                }
            ],
        }


class ProjectReconciler:
    """Reconciles one Project."""

    def __init__(
        self, kube: KubeClient, cache: KargoCache, *, access: ProjectAccess | None = None
    ) -> None:
        self._kube = kube
        self._cache = cache
        self._access = access

    async def reconcile(self, name: str) -> float | None:
        """One pass; returns a requeue hint in seconds."""
        project = self._cache.project(name)
        if project is None:
            return None
        if project.metadata.deletion_timestamp:
            await self._finalize(project)
            return None
        if FINALIZER not in (project.metadata.finalizers or []):
            await self._set_finalizers(project, [*(project.metadata.finalizers or []), FINALIZER])
            project = self._cache.project(name) or project
        old = project.status or ProjectStatus()
        status = old.model_copy(deep=True)
        now = datetime.now(UTC).replace(microsecond=0)
        requeue: float | None = None
        problem = await self._ensure_namespace(name)
        if problem is None and self._access is not None:
            problem = await self._ensure_access(name, self._access)
            requeue = _RETRY if problem is not None else None
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
        return requeue

    async def _set_finalizers(self, project: Project, finalizers: list[str]) -> None:
        """Write ``metadata.finalizers`` (guarded by the resourceVersion: a concurrent change
        is a conflict, retried by the queue)."""
        written = await self._kube.patch_cluster_custom(
            "projects",
            project.metadata.name or "",
            {
                "metadata": {
                    "finalizers": finalizers or None,
                    "resourceVersion": project.metadata.resource_version,
                }
            },
        )
        self._cache.apply(PROJECTS, written)

    async def _finalize(self, project: Project) -> None:
        """The Project is being deleted: delete its namespace (unless kept), then let go."""
        finalizers = project.metadata.finalizers or []
        if FINALIZER not in finalizers:
            return
        name = project.metadata.name or ""
        try:
            namespace: dict[str, Any] | None = await self._kube.get_namespace(name)
        except NotFoundError:
            namespace = None
        if namespace is not None:
            meta = namespace.get("metadata") or {}
            keep = "true" in (
                (project.metadata.annotations or {}).get(ann.KEEP_NAMESPACE),
                (meta.get("annotations") or {}).get(ann.KEEP_NAMESPACE),
            )
            ours = (meta.get("labels") or {}).get(lbl.PROJECT) == "true"
            if keep and ours and self._access is not None:
                # No longer a Project's: the operator gives up its access there.
                await self._kube.delete_role_binding(name, self._access.cluster_role)
            if keep or not ours:
                log.info(
                    "Project %s deleted; namespace %s kept (%s)",
                    name,
                    name,
                    f"{ann.KEEP_NAMESPACE} annotation" if keep else "not a project namespace",
                )
            else:
                await self._kube.delete_namespace(name)
                log.info("Project %s deleted; deleting its namespace", name)
        await self._set_finalizers(project, [f for f in finalizers if f != FINALIZER])

    async def _await_grant(self, namespace: str, binding: str) -> tuple[str, str] | None:
        """Wait (briefly) until the API server's authorizer applies a new RoleBinding, so that
        the Project is Ready - and its Secrets watched - only once they can be read."""
        for _ in range(_GRANT_CHECKS):
            if await self._kube.allowed("list", "secrets", namespace):
                return None
            await asyncio.sleep(_GRANT_INTERVAL)
        return (
            "EnsuringSystemPermissionsFailed",
            f"the RoleBinding {binding} in namespace {namespace} does not let the operator "
            "read Secrets yet",
        )

    async def _ensure_access(self, name: str, access: ProjectAccess) -> tuple[str, str] | None:
        """The operator's RoleBinding in the project namespace (created, or its subjects
        and role set right)."""
        desired = access.role_binding(name)
        binding = desired["metadata"]["name"]
        try:
            try:
                existing = await self._kube.get_role_binding(name, binding)
            except NotFoundError:
                try:
                    await self._kube.create_role_binding(name, desired)
                except ConflictError:
                    return None  # created meanwhile: checked on the next pass
                log.info("granted the operator ClusterRole %s in namespace %s", binding, name)
                return await self._await_grant(name, binding)
            if (
                existing.get("subjects") != desired["subjects"]
                or existing.get("roleRef") != desired["roleRef"]
            ):
                if existing.get("roleRef") != desired["roleRef"]:
                    # roleRef cannot change: replace the binding.
                    await self._kube.delete_role_binding(name, binding)
                    await self._kube.create_role_binding(name, desired)
                else:
                    desired["metadata"]["resourceVersion"] = (existing.get("metadata") or {}).get(
                        "resourceVersion"
                    )
                    await self._kube.replace_role_binding(name, desired)
        except KubeError as exc:
            return (
                "EnsuringSystemPermissionsFailed",
                f"could not grant the operator ClusterRole {binding} in namespace {name}: {exc}",
            )
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
