"""Reads for the expression functions (``configMap()``, ``secret()``, ``freightMetadata()``,
``imageFrom()`` through Warehouses...), answered from the API server."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shunter.expressions.functions.data import ResourceRef
from shunter.kube.client import KubeClient, NotFoundError

__all__ = ["KubeResourceFetcher"]

_PLURALS = {"Freight": "freights", "Stage": "stages", "Warehouse": "warehouses"}


class KubeResourceFetcher:
    """Implements :class:`shunter.promotion.environment.ResourceFetcher`."""

    def __init__(self, kube: KubeClient, shared_namespace: str | None = None) -> None:
        self._kube = kube
        self._shared = shared_namespace

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
            return await self._kube.get_custom(namespace, _PLURALS[ref.kind], ref.name)
        except NotFoundError:
            return None
