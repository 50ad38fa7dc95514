"""What the receiver server reads from the cluster: :class:`ReceiverLookups`, a narrow protocol
(each method one indexed question), and :class:`CacheReceiverLookups`, its answers from the
operator's watch-fed cache (:class:`~shunter.cache.KargoCache` and its receiver indexes).

``namespace=None`` means every namespace the operator serves (cluster receivers). Objects that
do not parse as their model are left out (the cache logs them; their own controllers report
them).
"""

from __future__ import annotations

from typing import Protocol

from shunter.api.v1alpha1 import Promotion, Warehouse
from shunter.api.v1alpha1.project import ClusterConfig, ProjectConfig
from shunter.cache import KargoCache

__all__ = ["CLUSTER_CONFIG_NAME", "CacheReceiverLookups", "ReceiverLookups"]

#: The only name a ClusterConfig may have.
CLUSTER_CONFIG_NAME = "cluster"


class ReceiverLookups(Protocol):
    """The reads a webhook receiver needs."""

    async def project_configs_with_receiver(self, path: str) -> list[ProjectConfig]:
        """ProjectConfigs whose ``status.webhookReceivers`` include ``path``."""
        ...

    async def cluster_config(self) -> ClusterConfig | None:
        """The ClusterConfig, if there is one."""
        ...

    async def warehouses_subscribed_to(self, url: str, namespace: str | None) -> list[Warehouse]:
        """Warehouses with a subscription whose normalised URL is ``url``."""
        ...

    async def warehouses(self, namespace: str | None) -> list[Warehouse]:
        """Every Warehouse."""
        ...

    async def promotions(self, namespace: str | None) -> list[Promotion]:
        """Every Promotion."""
        ...

    async def promotions_waiting_on(self, pr_url: str, namespace: str | None) -> list[Promotion]:
        """Running Promotions whose ``git-wait-for-pr`` steps wait on ``pr_url``."""
        ...


class CacheReceiverLookups:
    """:class:`ReceiverLookups` from the operator's cache (no API call)."""

    def __init__(self, cache: KargoCache) -> None:
        self._cache = cache

    async def project_configs_with_receiver(self, path: str) -> list[ProjectConfig]:
        return self._cache.project_configs_with_receiver(path)

    async def cluster_config(self) -> ClusterConfig | None:
        return self._cache.cluster_config()

    async def warehouses_subscribed_to(self, url: str, namespace: str | None) -> list[Warehouse]:
        found = self._cache.warehouses_subscribed_to(url)
        return [w for w in found if namespace is None or w.metadata.namespace == namespace]

    async def warehouses(self, namespace: str | None) -> list[Warehouse]:
        if namespace is None:
            return self._cache.all_warehouses()
        return self._cache.warehouses(namespace)

    async def promotions(self, namespace: str | None) -> list[Promotion]:
        if namespace is None:
            return self._cache.all_promotions()
        return self._cache.promotions(namespace)

    async def promotions_waiting_on(self, pr_url: str, namespace: str | None) -> list[Promotion]:
        found = self._cache.promotions_waiting_on(pr_url)
        return [p for p in found if namespace is None or p.metadata.namespace == namespace]
