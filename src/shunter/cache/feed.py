"""The informers that fill the operator's cache: which kinds, where, with which selectors.

Cluster-wide, every kind is watched across all namespaces. Restricted to some namespaces, the
namespaced kinds are watched in each of them and Projects by name (``metadata.name=<ns>``). The
ClusterConfig (webhook receivers for every project) is watched by its only name, ``cluster``.
``shard_selector`` (a label selector) restricts the kinds Kargo shards - Warehouses, Stages and
Promotions. AnalysisRuns are watched only once their CRD exists (:meth:`CacheFeed.add`), and
only those labelled for a Stage. Secrets - only those labelled ``kargo.akuity.io/cred-type`` - are
watched per project namespace (the operator may read Secrets in project namespaces only),
starting when the Project is Ready (its namespace exists and the operator was granted access);
readiness does not wait for them, and :meth:`CacheFeed.secrets_synced` tells whether a
namespace's are known yet.

Informers run on every replica (a standby keeps a warm cache); starting them is separate from
starting the work queues.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from shunter._internal.tasks import cancel_and_wait
from shunter.api.v1alpha1 import labels as lbl
from shunter.cache.kinds import (
    CLUSTER_CONFIGS,
    CLUSTER_PROMOTION_TASKS,
    FREIGHTS,
    PROJECT_CONFIGS,
    PROJECTS,
    PROMOTION_TASKS,
    PROMOTIONS,
    SECRETS,
    STAGES,
    WAREHOUSES,
)
from shunter.cache.store import Cache
from shunter.kube.client import KubeClient
from shunter.kube.informer import Informer, Kind

__all__ = ["CLUSTER_CONFIG_NAME", "CacheFeed"]

log = logging.getLogger(__name__)

#: The name the ClusterConfig must have.
CLUSTER_CONFIG_NAME = "cluster"

_SHARDED = (WAREHOUSES, STAGES, PROMOTIONS)
_NAMESPACED = (PROJECT_CONFIGS, WAREHOUSES, STAGES, FREIGHTS, PROMOTIONS, PROMOTION_TASKS)


def _ready(project: Mapping[str, Any]) -> bool:
    """The Project is Ready: its namespace exists and the operator may read its Secrets."""
    conditions = (project.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


class CacheFeed:
    """Builds, runs and stops the informers of one cache."""

    def __init__(
        self,
        kube: KubeClient,
        cache: Cache,
        *,
        namespaces: tuple[str, ...] = (),
        shard_selector: str | None = None,
    ) -> None:
        self._kube = kube
        self._cache = cache
        self._namespaces = namespaces
        self._shard_selector = shard_selector
        self.informers: list[Informer] = []
        self._secrets: dict[str, Informer] = {}
        self._tasks: list[asyncio.Task[None]] = []
        if namespaces:
            for namespace in namespaces:
                self._informer(PROJECTS, field_selector=f"metadata.name={namespace}")
        else:
            self._informer(PROJECTS)
        self._informer(CLUSTER_PROMOTION_TASKS)
        self._informer(CLUSTER_CONFIGS, field_selector=f"metadata.name={CLUSTER_CONFIG_NAME}")
        for kind in _NAMESPACED:
            self.add(kind, label_selector=shard_selector if kind in _SHARDED else None)
        for namespace in namespaces:
            self.watch_secrets(namespace)
        cache.listen(self._on_change)

    def _informer(
        self,
        kind: Kind,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        required: bool = True,
    ) -> Informer:
        informer = Informer(
            self._kube,
            kind,
            self._cache,
            namespace=namespace,
            label_selector=label_selector,
            field_selector=field_selector,
        )
        if required:
            self.informers.append(informer)
        if self._tasks:  # already running: start this one too
            self._start(informer)
        return informer

    def add(self, kind: Kind, *, label_selector: str | None = None) -> list[Informer]:
        """Watch one more namespaced kind (in every watched namespace)."""
        where: tuple[str | None, ...] = self._namespaces or (None,)
        return [self._informer(kind, namespace=ns, label_selector=label_selector) for ns in where]

    def watch_secrets(self, namespace: str) -> None:
        """Watch the credentials Secrets of one project namespace (once)."""
        if namespace and namespace not in self._secrets:
            self._secrets[namespace] = self._informer(
                SECRETS, namespace=namespace, label_selector=lbl.CRED_TYPE, required=False
            )

    def secrets_synced(self, namespace: str) -> bool:
        """Whether the credentials Secrets of ``namespace`` are in the cache."""
        informer = self._secrets.get(namespace)
        return informer is not None and informer.synced.is_set()

    def _on_change(self, kind: Kind, old: object, new: Mapping[str, Any] | None) -> None:
        if kind == PROJECTS and new is not None and not self._namespaces and _ready(new):
            self.watch_secrets(str((new.get("metadata") or {}).get("name") or ""))

    def _start(self, informer: Informer) -> None:
        self._tasks.append(asyncio.create_task(informer.run(), name=repr(informer)))

    def start(self) -> None:
        """Start every informer on the running loop."""
        for informer in [*self.informers, *self._secrets.values()]:
            self._start(informer)

    @property
    def synced(self) -> bool:
        """Every informer has applied its first LIST."""
        return all(i.synced.is_set() for i in self.informers)

    @property
    def alive(self) -> bool:
        """No informer task has died."""
        return not any(task.done() for task in self._tasks)

    async def wait_synced(self) -> None:
        """Return once every informer has applied its first LIST."""
        for informer in list(self.informers):
            await informer.synced.wait()

    async def stop(self) -> None:
        """Cancel every informer."""
        await cancel_and_wait(self._tasks)
        self._tasks.clear()
