"""Webhook receivers: events in from registries and git servers, refreshing what they concern.

Kargo's ``ProjectConfig.spec.webhookReceivers`` (and ClusterConfig's), served the way Kargo
serves them, so that a push reaches a Warehouse at once instead of at its next poll:

* :mod:`~shunter.receivers.status` publishes each receiver's path and URL in
  ``status.webhookReceivers`` (:mod:`~shunter.receivers.paths`: Kargo's hashing);
* :mod:`~shunter.receivers.server` serves them (``aiohttp.web``, in the operator process):
  finds the receiver by path, limits rates and sizes, reads the Secret, and hands the request to
  its provider (:mod:`~shunter.receivers.providers`: GitHub, GitLab, Gitea, Bitbucket, Docker
  Hub, Quay, Harbor, Artifactory, Azure, generic), which authenticates it and reads the payload;
* :mod:`~shunter.receivers.refresh` writes ``kargo.akuity.io/refresh`` on the Warehouses the
  push concerns (:mod:`~shunter.receivers.matching`) or the Promotions waiting on a pull request;
  :mod:`~shunter.receivers.actions` runs generic receivers' actions.

The server reads the cluster through :class:`~shunter.receivers.lookups.ReceiverLookups`, which
the operator answers from its watch-fed cache (the receiver indexes live in
:mod:`shunter.cache.kinds`).

:class:`ReceiverServer` (with ``aiohttp.web`` and the providers) is imported on first use: an
operator that serves no receivers does not spend the memory.
"""

from typing import TYPE_CHECKING, Any

from shunter.receivers.lookups import CacheReceiverLookups, ReceiverLookups
from shunter.receivers.paths import receiver_details, receiver_path
from shunter.receivers.status import ReceiverStatusSync

if TYPE_CHECKING:
    from shunter.receivers.server import MAX_BODY_BYTES, ReceiverServer

__all__ = [
    "MAX_BODY_BYTES",
    "CacheReceiverLookups",
    "ReceiverLookups",
    "ReceiverServer",
    "ReceiverStatusSync",
    "receiver_details",
    "receiver_path",
]


def __getattr__(name: str) -> Any:
    """``ReceiverServer`` and ``MAX_BODY_BYTES``, imported when first asked for."""
    if name in ("ReceiverServer", "MAX_BODY_BYTES"):
        from shunter.receivers import server  # noqa: PLC0415 - the server on demand

        return getattr(server, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
