"""Publishing receivers: ``status.webhookReceivers`` of ProjectConfig and ClusterConfig.

For each ``spec.webhookReceivers[]`` entry the receiver's Secret is read (the project namespace
for a ProjectConfig; the system resources namespace, ``SHUNTER_SYSTEM_RESOURCES_NAMESPACE``,
default ``kargo-system-resources``, for the ClusterConfig), the value of its type's key is
hashed into the path (:mod:`shunter.receivers.paths`), and ``{name, path, url}`` is published.
The receiver server finds receivers by these paths.

Conditions, as Kargo writes them: ``Ready`` true with reason ``Synced`` when every receiver was
published (or there are none); otherwise ``Ready`` false, reason ``SyncWebhookReceiversFailed``,
the problems in the message (a missing Secret or key, by name - never a value), and
``Reconciling`` true (``SyncingWebhooks``). ``observedGeneration`` and ``lastHandledRefresh``
(the ``kargo.akuity.io/refresh`` annotation) are kept too. A receiver that failed is left out of
the list; the others are published.

:meth:`ReceiverStatusSync.project_config` and :meth:`ReceiverStatusSync.cluster_config` are
reconciles over the operator's cache: they return when to look again (a Secret created later is
noticed then).
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from shunter.api.v1alpha1 import annotations as ann
from shunter.api.v1alpha1 import to_wire
from shunter.api.v1alpha1.project import (
    ClusterConfig,
    ConfigStatusBase,
    ProjectConfig,
    WebhookReceiverConfig,
    WebhookReceiverDetails,
)
from shunter.cache import CLUSTER_CONFIGS, PROJECT_CONFIGS, KargoCache
from shunter.controllers.conditions import remove_condition, set_condition
from shunter.kube.client import KubeClient, KubeError, NotFoundError
from shunter.receivers.kinds import receiver_type_of
from shunter.receivers.lookups import CLUSTER_CONFIG_NAME
from shunter.receivers.paths import receiver_details

__all__ = ["ReceiverStatusSync", "SecretProblem", "read_secret_data", "receiver_secret"]

log = logging.getLogger(__name__)
#: How often published receivers are checked again (Kargo: 5 minutes).
RESYNC_SECONDS = 300.0
#: How soon a failed publication is tried again.
RETRY_SECONDS = 15.0


class SecretProblem(Exception):  # noqa: N818 - reported in a condition, not raised to callers
    """A receiver's Secret is missing or lacks its key (the message names them, no value)."""


def _decode(data: Mapping[str, Any]) -> dict[str, bytes]:
    decoded: dict[str, bytes] = {}
    for key, value in data.items():
        try:
            decoded[key] = base64.b64decode(str(value), validate=True)
        except (binascii.Error, ValueError):
            continue
    return decoded


async def read_secret_data(kube: KubeClient, namespace: str, name: str) -> dict[str, bytes]:
    """A Secret's data, decoded (raises :class:`SecretProblem` when it does not exist)."""
    try:
        secret = await kube.get_secret(namespace, name)
    except NotFoundError:
        raise SecretProblem(f"Secret {name!r} not found in namespace {namespace!r}") from None
    except KubeError as error:
        raise SecretProblem(
            f"error getting Secret {name!r} in namespace {namespace!r}: {error}"
        ) from None
    data = secret.get("data")
    return _decode(data) if isinstance(data, Mapping) else {}


async def receiver_secret(
    kube: KubeClient, namespace: str, config: WebhookReceiverConfig
) -> tuple[str, bytes]:
    """The receiver's type name and shared secret (raises :class:`SecretProblem`)."""
    found = receiver_type_of(config)
    if found is None:
        raise SecretProblem(f"WebhookReceiver {config.name!r} names no receiver type")
    kind, settings = found
    name = settings.secret_ref.name
    data = await read_secret_data(kube, namespace, name)
    if kind.secret_key not in data:
        raise SecretProblem(
            f"Secret {name!r} in namespace {namespace!r} has no data key {kind.secret_key!r} "
            f"for a {kind.name} WebhookReceiver"
        )
    return kind.name, data[kind.secret_key]


class ReceiverStatusSync:
    """Computes and writes the receivers' status of ProjectConfigs and the ClusterConfig (read
    from the operator's cache; the Secrets, which the cache does not hold, from the API)."""

    def __init__(
        self, kube: KubeClient, cache: KargoCache, *, base_url: str, system_namespace: str
    ) -> None:
        self._kube = kube
        self._cache = cache
        self._base_url = base_url
        self._system_namespace = system_namespace

    async def project_config(self, namespace: str) -> float | None:
        """Publish the receivers of the ProjectConfig of ``namespace``."""
        found = self._cache.models(PROJECT_CONFIGS, ProjectConfig, [(namespace, namespace)])
        if not found or found[0].metadata.deletion_timestamp:
            return None
        status, ok = await self._status(found[0], namespace, namespace)
        if status != (found[0].status or ConfigStatusBase()):
            answer = await self._kube.patch_custom(
                namespace, "projectconfigs", namespace, _patch(status), status=True
            )
            self._cache.apply(PROJECT_CONFIGS, answer)
        return RESYNC_SECONDS if ok else RETRY_SECONDS

    async def cluster_config(self) -> float | None:
        """Publish the receivers of the ClusterConfig."""
        config = self._cache.cluster_config()
        if config is None or config.metadata.deletion_timestamp:
            return None
        status, ok = await self._status(config, "", self._system_namespace)
        if status != (config.status or ConfigStatusBase()):
            answer = await self._kube.patch_cluster_custom(
                "clusterconfigs", CLUSTER_CONFIG_NAME, _patch(status), status=True
            )
            self._cache.apply(CLUSTER_CONFIGS, answer)
        return RESYNC_SECONDS if ok else RETRY_SECONDS

    async def _status(
        self, config: ProjectConfig | ClusterConfig, project: str, secrets_namespace: str
    ) -> tuple[ConfigStatusBase, bool]:
        """The new status, and whether every receiver was published."""
        old = config.status or ConfigStatusBase()
        receivers = (config.spec.webhook_receivers if config.spec else None) or []
        kind = config.kind
        generation = config.metadata.generation
        now = datetime.now(UTC).replace(microsecond=0)
        details: list[WebhookReceiverDetails] = []
        problems: list[str] = []
        for receiver in receivers:
            try:
                type_name, secret = await receiver_secret(self._kube, secrets_namespace, receiver)
            except SecretProblem as problem:
                problems.append(f"error syncing WebhookReceiver {receiver.name!r}: {problem}")
                continue
            details.append(
                receiver_details(self._base_url, project, type_name, receiver.name, secret)
            )
        status = old.model_copy(deep=True)
        status.webhook_receivers = details or None
        status.observed_generation = generation
        refresh = (config.metadata.annotations or {}).get(ann.REFRESH)
        if refresh:
            status.last_handled_refresh = refresh
        conditions = status.conditions
        if problems:
            message = problems[0] if len(problems) == 1 else "[" + ", ".join(problems) + "]"
            log.warning("%s %s: %s", kind, config.metadata.name, message)
            conditions = set_condition(
                conditions,
                "Reconciling",
                True,
                "SyncingWebhooks",
                "Syncing WebhookReceivers",
                generation=generation,
                now=now,
            )
            conditions = set_condition(
                conditions,
                "Ready",
                False,
                "SyncWebhookReceiversFailed",
                f"Failed to sync WebhookReceivers: {message}",
                generation=generation,
                now=now,
            )
        else:
            conditions = remove_condition(conditions, "Reconciling")
            conditions = set_condition(
                conditions,
                "Ready",
                True,
                "Synced",
                f"{kind} is synced and ready for use",
                generation=generation,
                now=now,
            )
        status.conditions = conditions
        return status, not problems


def _patch(status: ConfigStatusBase) -> dict[str, Any]:
    wire = to_wire(status)
    # A JSON merge patch removes a key only when it is sent as null.
    wire.setdefault("webhookReceivers", None)
    return {"status": wire}
