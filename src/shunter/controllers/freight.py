"""The Freight controller: Freight created by hand gets Kargo's name and an alias.

The admission webhook (:mod:`shunter.admission.freights`) renames every new Freight to its
Freight ID and gives it an ``<adjective>-<animal>`` alias, as Kargo's does. For Freight
admitted without it (a namespace no webhook serves), this controller, after the fact:

* gives Freight without an alias a unique one, mirrored in the ``kargo.akuity.io/alias``
  label (and keeps the label in step with an alias set by hand);
* forgets Stages that no longer exist (their ``currentlyIn``/``verifiedIn``/``approvedFor``
  entries), as Kargo's Stage finalizer does;
* replaces Freight whose name is not its Freight ID with an identical Freight under the right
  name (alias, labels and annotations kept) and deletes the hand-named one, recording a
  ``FreightRenamed`` Event. If Freight with that ID already exists, the hand-made duplicate is
  deleted. Freight that is already in use by a Stage is never touched.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from shunter.api.v1alpha1 import Freight
from shunter.api.v1alpha1 import labels as lbl
from shunter.cache import FREIGHTS, KargoCache
from shunter.controllers.wiring import EventSink
from shunter.freight import freight_id_of, generate_alias
from shunter.kube.client import ConflictError, KubeClient, NotFoundError

__all__ = ["FreightReconciler"]

log = logging.getLogger(__name__)
_ARTIFACT_KEYS = ("origin", "commits", "images", "charts", "artifacts", "discoveredAt", "alias")


class FreightReconciler:
    """Reconciles one Freight."""

    def __init__(self, kube: KubeClient, cache: KargoCache, events: EventSink) -> None:
        self._kube = kube
        self._cache = cache
        self._events = events

    async def reconcile(self, namespace: str, name: str) -> None:
        """One pass over a Freight."""
        raw = self._cache.freight_raw(namespace, name)
        freight = self._cache.freight(namespace, name)
        if raw is None or freight is None or freight.metadata.deletion_timestamp:
            return
        expected = freight_id_of(raw)
        in_use = bool(
            freight.status and (freight.status.currently_in or freight.status.verified_in)
        )
        if expected != name and not in_use:
            await self._rename(raw, expected)
            return
        await self._ensure_alias(raw, freight)
        await self._forget_deleted_stages(freight)

    async def _forget_deleted_stages(self, freight: Freight) -> None:
        """Drop currentlyIn/verifiedIn/approvedFor entries of Stages that no longer exist
        (Kargo clears them in the Stage's finalizer; here any pass over the Freight does)."""
        fstatus = freight.status
        if fstatus is None:
            return
        maps = {
            "currentlyIn": fstatus.currently_in,
            "verifiedIn": fstatus.verified_in,
            "approvedFor": fstatus.approved_for,
        }
        named = {stage for entries in maps.values() for stage in (entries or {})}
        if not named:
            return
        namespace = freight.metadata.namespace or ""
        existing = {stage for _, stage in self._cache.stage_keys(namespace)}
        # A Stage missing from the cache may belong to another shard: ask the API server.
        for stage in named - existing:
            if await self._stage_exists(namespace, stage):
                existing.add(stage)
        patch = {
            key: {stage: None for stage in entries if stage not in existing}
            for key, entries in maps.items()
            if entries and any(stage not in existing for stage in entries)
        }
        if patch:
            written = await self._kube.patch_custom(
                namespace, "freights", freight.metadata.name or "", {"status": patch}, status=True
            )
            self._cache.apply(FREIGHTS, written)

    async def _stage_exists(self, namespace: str, name: str) -> bool:
        try:
            await self._kube.get_custom(namespace, "stages", name)
        except NotFoundError:
            return False
        return True

    async def _taken(self, namespace: str, alias: str, except_name: str) -> bool:
        found = self._cache.freight_with_alias(namespace, alias)
        return any(name != except_name for _, name in found)

    async def _ensure_alias(self, raw: Mapping[str, Any], freight: Freight) -> None:
        namespace = freight.metadata.namespace or ""
        name = freight.metadata.name or ""
        labels = freight.metadata.labels or {}
        alias = freight.alias
        if not alias:

            async def taken(candidate: str) -> bool:
                return await self._taken(namespace, candidate, name)

            alias = await generate_alias(taken)
            written = await self._kube.patch_custom(
                namespace,
                "freights",
                name,
                {"alias": alias, "metadata": {"labels": {lbl.ALIAS: alias}}},
            )
            self._cache.apply(FREIGHTS, written)
            log.info("Freight %s/%s: alias %s", namespace, name, alias)
        elif labels.get(lbl.ALIAS) != alias:
            written = await self._kube.patch_custom(
                namespace, "freights", name, {"metadata": {"labels": {lbl.ALIAS: alias}}}
            )
            self._cache.apply(FREIGHTS, written)

    async def _rename(self, raw: Mapping[str, Any], expected: str) -> None:
        meta = raw["metadata"]
        namespace, name = meta["namespace"], meta["name"]
        body: dict[str, Any] = {
            "apiVersion": raw["apiVersion"],
            "kind": "Freight",
            "metadata": {
                "name": expected,
                "namespace": namespace,
                "labels": dict(meta.get("labels") or {}),
                "annotations": {
                    k: v
                    for k, v in (meta.get("annotations") or {}).items()
                    if k != "kubectl.kubernetes.io/last-applied-configuration"
                },
            },
        }
        body.update({k: raw[k] for k in _ARTIFACT_KEYS if k in raw})
        try:
            await self._kube.create_custom(namespace, "freights", body)
            message = f"Freight {name!r} renamed to its Freight ID {expected}"
        except ConflictError:
            message = f"Freight {name!r} duplicates Freight {expected}; the duplicate was removed"
        await self._kube.delete_custom(namespace, "freights", name)
        log.info("%s/%s: %s", namespace, name, message)
        await self._events.emit(
            namespace=namespace,
            kind="Freight",
            name=expected,
            uid=None,
            reason="FreightRenamed",
            message=message,
        )
