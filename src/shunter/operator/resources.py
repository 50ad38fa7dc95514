"""Reads for the expression functions (``configMap()``, ``secret()``, ``freightMetadata()``,
``imageFrom()`` through Warehouses...): Kargo's kinds from the operator's cache, ConfigMaps and
Secrets from the API server."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shunter.cache import FREIGHTS, STAGES, WAREHOUSES, KargoCache
from shunter.expressions.functions.data import ResourceRef
from shunter.kube.client import KubeClient, NotFoundError
from shunter.kube.informer import Kind

__all__ = ["KubeResourceFetcher"]

_KINDS: dict[str, Kind] = {"Freight": FREIGHTS, "Stage": STAGES, "Warehouse": WAREHOUSES}


class KubeResourceFetcher:
    """Implements :class:`shunter.promotion.environment.ResourceFetcher`."""

    def __init__(
        self,
        kube: KubeClient,
        shared_namespace: str | None = None,
        *,
        cache: KargoCache | None = None,
    ) -> None:
        self._kube = kube
        self._shared = shared_namespace
        self._cache = cache

    async def __call__(self, project: str, ref: ResourceRef) -> Mapping[str, Any] | None:
        """The object, or None when it does not exist."""
        namespace = self._shared if ref.shared else project
        if not namespace:
            return None
        try:
            if ref.kind == "ConfigMap":
                return await self._kube.get_config_map(namespace, ref.name)
            if ref.kind == "Secret":
                return await self._kube.get_secret(namespace, ref.name)
            kind = _KINDS[ref.kind]
            if self._cache is not None:
                return self._cache.raw(kind, namespace, ref.name)
            return await self._kube.get_custom(namespace, kind.plural, ref.name)
        except NotFoundError:
            return None
