"""What the receiver server reads from the cluster: :class:`ReceiverLookups`, a narrow protocol
(each method is one indexed question), and :class:`ApiReceiverLookups`, its implementation
straight against the API server.

``namespace=None`` means every namespace the operator serves (cluster receivers). Objects that
do not parse as their model are skipped (their own controllers report them).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel, ValidationError

from shunter.api.v1alpha1 import Promotion, Warehouse
from shunter.api.v1alpha1.project import ClusterConfig, ProjectConfig
from shunter.freight.subscriptions import subscribed_urls
from shunter.kube.client import KubeClient, NotFoundError
from shunter.receivers.indexes import receiver_paths, waiting_pr_urls

__all__ = ["CLUSTER_CONFIG_NAME", "ApiReceiverLookups", "ReceiverLookups"]

log = logging.getLogger(__name__)
M = TypeVar("M", bound=BaseModel)
#: The only name a ClusterConfig may have.
CLUSTER_CONFIG_NAME = "cluster"
JSON = Mapping[str, Any]


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


def _parse(model: type[M], raw: JSON) -> M | None:
    try:
        return model.model_validate(raw)
    except ValidationError as error:
        meta = raw.get("metadata")
        meta = meta if isinstance(meta, Mapping) else {}
        log.debug(
            "skipping %s %s/%s: %s",
            model.__name__,
            meta.get("namespace", ""),
            meta.get("name", ""),
            error.errors()[0]["msg"] if error.errors() else error,
        )
        return None


class ApiReceiverLookups:
    """:class:`ReceiverLookups` by listing from the API server on every call.

    ``namespaces`` restricts every list to those namespaces (the operator's
    ``SHUNTER_NAMESPACES``); empty means the whole cluster.
    """

    def __init__(self, kube: KubeClient, namespaces: tuple[str, ...] = ()) -> None:
        self._kube = kube
        self._namespaces = namespaces

    async def _list(self, plural: str, namespace: str | None) -> list[dict[str, Any]]:
        if namespace is not None:
            return await self._kube.list_custom(namespace, plural)
        if self._namespaces:
            return [o for ns in self._namespaces for o in await self._kube.list_custom(ns, plural)]
        return await self._kube.list_custom_all_namespaces(plural)

    async def _select(
        self,
        model: type[M],
        plural: str,
        namespace: str | None,
        keep: Callable[[JSON], bool] = lambda _: True,
    ) -> list[M]:
        parsed = (_parse(model, raw) for raw in await self._list(plural, namespace) if keep(raw))
        return [obj for obj in parsed if obj is not None]

    async def project_configs_with_receiver(self, path: str) -> list[ProjectConfig]:
        return await self._select(
            ProjectConfig, "projectconfigs", None, lambda raw: path in receiver_paths(raw)
        )

    async def cluster_config(self) -> ClusterConfig | None:
        try:
            raw = await self._kube.get_cluster_custom("clusterconfigs", CLUSTER_CONFIG_NAME)
        except NotFoundError:
            return None
        return _parse(ClusterConfig, raw)

    async def warehouses_subscribed_to(self, url: str, namespace: str | None) -> list[Warehouse]:
        return await self._select(
            Warehouse, "warehouses", namespace, lambda raw: url in subscribed_urls(raw)
        )

    async def warehouses(self, namespace: str | None) -> list[Warehouse]:
        return await self._select(Warehouse, "warehouses", namespace)

    async def promotions(self, namespace: str | None) -> list[Promotion]:
        return await self._select(Promotion, "promotions", namespace)

    async def promotions_waiting_on(self, pr_url: str, namespace: str | None) -> list[Promotion]:
        return await self._select(
            Promotion, "promotions", namespace, lambda raw: pr_url in waiting_pr_urls(raw)
        )
