"""Carrying out a receiver's decision: set ``kargo.akuity.io/refresh`` on the chosen objects.

A refresh is one annotation write per object - a new token (the time, to the microsecond) -
which the object's controller handles as "reconcile now" (a Warehouse discovers, a Promotion
runs its current step again). Nothing here waits for discovery or a promotion: the receiver
answers as soon as the annotations are written, as Kargo does, with Kargo's response bodies:

* ``{"msg": "refreshed N warehouse(s)"}`` (200), ``{"error": "failed to refresh F of N
  warehouses"}`` (500) when some writes failed;
* the same with ``promotion(s)`` for pull request events.

An object deleted in the meantime is skipped, not a failure. Writes run a few at a time.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from shunter.api.v1alpha1 import Warehouse
from shunter.api.v1alpha1 import annotations as ann
from shunter.kube.client import KubeClient, KubeError, NotFoundError
from shunter.receivers.events import RefreshWarehouses, Reply
from shunter.receivers.lookups import ReceiverLookups
from shunter.receivers.matching import push_concerns

__all__ = ["Refreshed", "Refresher", "refresh_token"]

log = logging.getLogger(__name__)
#: Annotation writes in flight at once for one request.
CONCURRENT_WRITES = 8
ObjectKey = tuple[str, str]


def refresh_token() -> str:
    """A new ``kargo.akuity.io/refresh`` value: the time, RFC 3339 with microseconds."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class Refreshed:
    """One object a receiver tried to refresh."""

    namespace: str
    name: str
    #: False when the write failed; None when the object no longer exists.
    success: bool | None


class Refresher:
    """Refreshes Warehouses and Promotions for the receivers."""

    def __init__(self, kube: KubeClient, lookups: ReceiverLookups) -> None:
        self._kube = kube
        self._lookups = lookups

    async def refresh(self, plural: str, keys: Sequence[ObjectKey]) -> list[Refreshed]:
        """Write a new refresh token on every object of ``keys`` (``plural``: their kind)."""
        token = refresh_token()
        gate = asyncio.Semaphore(CONCURRENT_WRITES)
        patch = {"metadata": {"annotations": {ann.REFRESH: token}}}

        async def one(namespace: str, name: str) -> Refreshed:
            async with gate:
                try:
                    await self._kube.patch_custom(namespace, plural, name, patch)
                except NotFoundError:
                    return Refreshed(namespace, name, None)
                except KubeError as error:
                    log.warning("could not refresh %s %s/%s: %s", plural, namespace, name, error)
                    return Refreshed(namespace, name, False)
            log.info("refreshed %s %s/%s", plural, namespace, name)
            return Refreshed(namespace, name, True)

        return list(await asyncio.gather(*(one(ns, name) for ns, name in keys)))

    async def warehouses(self, project: str | None, request: RefreshWarehouses) -> Reply:
        """Refresh the Warehouses a push concerns (``project`` None: in every project)."""
        urls = sorted({url for url in request.repo_urls if url})
        qualifiers = sorted({q for q in request.qualifiers if q})
        chosen: dict[ObjectKey, Warehouse] = {}
        for url in urls:
            for warehouse in await self._lookups.warehouses_subscribed_to(url, project):
                key = (warehouse.metadata.namespace or "", warehouse.metadata.name or "")
                if key in chosen:
                    continue
                if not qualifiers or push_concerns(
                    warehouse, url, qualifiers, request.changed_files
                ):
                    chosen[key] = warehouse
        results = await self.refresh("warehouses", sorted(chosen))
        return _summary(results, "warehouse(s)", "warehouses")

    async def promotions(self, project: str | None, pr_url: str) -> Reply:
        """Refresh the running Promotions waiting on the pull request ``pr_url``."""
        waiting = await self._lookups.promotions_waiting_on(pr_url, project) if pr_url else []
        keys = sorted((p.metadata.namespace or "", p.metadata.name or "") for p in waiting)
        return _summary(await self.refresh("promotions", keys), "promotion(s)", "promotion(s)")


def _summary(results: Sequence[Refreshed], noun: str, failed_noun: str) -> Reply:
    done = [r for r in results if r.success is not None]
    failures = sum(1 for r in done if not r.success)
    if failures:
        return Reply(500, {"error": f"failed to refresh {failures} of {len(done)} {failed_noun}"})
    return Reply(200, {"msg": f"refreshed {len(done)} {noun}"})
