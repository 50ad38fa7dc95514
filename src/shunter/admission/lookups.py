"""The reads the admission webhooks make, behind one small protocol.

:class:`AdmissionLookups` is all a webhook handler may read. :class:`CacheLookups` answers it
from the operator's watch-fed cache (the same one the controllers read), going to the API
server only for what the cache does not hold: Namespaces, and an object whose watch event has
not arrived yet (a Stage created a moment before the Promotion that names it). A Stage's
promotion windows are computed from the cached ProjectConfig, ClusterConfig and Project
exactly as the Stage controller computes them (:mod:`shunter.controllers.windows`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from shunter.api.v1alpha1 import Stage, Warehouse
from shunter.cache import STAGES, WAREHOUSES, KargoCache
from shunter.controllers.lookups import CachePromotionSources
from shunter.controllers.promotion_spec import PromotionSources
from shunter.controllers.windows import stage_window_state
from shunter.kube.client import KubeClient, NotFoundError
from shunter.kube.informer import Kind
from shunter.windows import ScheduleState

__all__ = ["AdmissionLookups", "CacheLookups"]


class AdmissionLookups(PromotionSources, Protocol):
    """What the webhooks read (plus the :class:`PromotionSources` reads)."""

    async def namespace(self, name: str) -> dict[str, Any] | None:
        """A Namespace, or None."""
        ...

    async def stage(self, namespace: str, name: str) -> Stage | None:
        """A Stage, or None."""
        ...

    async def stages(self, namespace: str) -> list[Stage]:
        """Every Stage of a namespace."""
        ...

    async def freight_with_alias(self, namespace: str, alias: str) -> list[str]:
        """Names of the Freight of a namespace labelled with ``alias`` (as the cache holds
        them: a Freight created a moment ago may be missing, as with Kargo's cached client)."""
        ...

    async def warehouse(self, namespace: str, name: str) -> Warehouse | None:
        """A Warehouse, or None."""
        ...

    async def promotion_windows(self, stage: Stage, now: datetime) -> ScheduleState | None:
        """The schedule of the promotion windows that gate ``stage``, at ``now`` (None when
        no window matches it)."""
        ...


class CacheLookups(CachePromotionSources):
    """:class:`AdmissionLookups` answered by the operator's cache."""

    def __init__(self, cache: KargoCache, kube: KubeClient) -> None:
        super().__init__(cache, kube)
        self._cache = cache
        self._kube = kube

    async def _fetch(self, kind: Kind, namespace: str, name: str) -> bool:
        """Read one object the cache lacks from the API server into the cache."""
        try:
            self._cache.apply(kind, await self._kube.get_custom(namespace, kind.plural, name))
        except NotFoundError:
            return False
        return True

    async def namespace(self, name: str) -> dict[str, Any] | None:
        try:
            return await self._kube.get_namespace(name)
        except NotFoundError:
            return None

    async def stage(self, namespace: str, name: str) -> Stage | None:
        found = self._cache.stage(namespace, name)
        if found is None and name and await self._fetch(STAGES, namespace, name):
            found = self._cache.stage(namespace, name)
        return found

    async def stages(self, namespace: str) -> list[Stage]:
        return self._cache.stages(namespace)

    async def freight_with_alias(self, namespace: str, alias: str) -> list[str]:
        return [name for _, name in self._cache.freight_with_alias(namespace, alias)]

    async def warehouse(self, namespace: str, name: str) -> Warehouse | None:
        found = self._cache.warehouse(namespace, name)
        if found is None and name and await self._fetch(WAREHOUSES, namespace, name):
            found = self._cache.warehouse(namespace, name)
        return found

    async def promotion_windows(self, stage: Stage, now: datetime) -> ScheduleState | None:
        return stage_window_state(self._cache, stage, now)
