"""The garbage collector: old Promotions and Freight, as Kargo's collector deletes them, and the
promotion working directories a crash left behind.

Per Stage, its Promotions newest first (``creationTimestamp``, then name: generated names sort
by time): the anchor is the oldest one not yet terminal; the ``max_retained_promotions`` after
it are kept, and the rest are deleted when older than ``min_promotion_age``. Per Warehouse, its
Freight newest first (``discoveredAt``, else ``creationTimestamp``): the anchor is the oldest one
in use (``currentlyIn`` any Stage); ``max_retained_freight`` after it are kept, and older ones
than ``min_freight_age`` are deleted. So a running Promotion, a Freight in use, and everything
newer than them stay. Kargo's defaults: 20 of each, two weeks.

Every pass works from the operator's cache over the Stages and Warehouses this operator is
responsible for (its shard), counts what it deleted in ``shunter_garbage_collected_total`` and
records one ``GarbageCollected`` Event per Stage or Warehouse it cleaned.

Working directories: ``<work_root>/promotion-<uid>`` whose Promotion is not running any more
(deleted, or finished while the operator was down) are removed. Nothing else under the work
root is touched (the git mirrors live beside them).
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from shunter import metrics
from shunter.cache import FREIGHTS, PROMOTIONS, STAGES, WAREHOUSES, KargoCache
from shunter.controllers.wiring import EventSink
from shunter.kube.client import KubeClient, KubeError
from shunter.kube.informer import Kind

__all__ = ["GarbageCollector", "GarbageSettings", "Swept"]

log = logging.getLogger(__name__)

JSON = Mapping[str, Any]
_TERMINAL = frozenset({"Succeeded", "Failed", "Errored", "Aborted"})
_WORK_DIR_PREFIX = "promotion-"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class GarbageSettings:
    """Kargo's ``garbageCollector.*`` settings, with its defaults."""

    max_retained_promotions: int = 20
    min_promotion_age: timedelta = timedelta(hours=336)
    max_retained_freight: int = 20
    min_freight_age: timedelta = timedelta(hours=336)


@dataclass(frozen=True)
class Swept:
    """What one pass deleted."""

    promotions: int = 0
    freight: int = 0
    work_dirs: int = 0


def _dict(value: Any) -> JSON:
    return value if isinstance(value, Mapping) else {}


def _time(text: Any) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _meta(obj: JSON) -> JSON:
    return _dict(obj.get("metadata"))


def _created(obj: JSON) -> datetime:
    return _time(_meta(obj).get("creationTimestamp")) or _EPOCH


def _discovered(freight: JSON) -> datetime:
    return _time(freight.get("discoveredAt")) or _created(freight)


def _newest_first(objects: Iterable[JSON], when: Callable[[JSON], datetime]) -> list[JSON]:
    return sorted(objects, key=lambda o: (when(o), str(_meta(o).get("name"))), reverse=True)


def doomed(
    newest_first: list[JSON],
    *,
    anchor: Callable[[JSON], bool],
    retained: int,
    min_age: timedelta,
    when: Callable[[JSON], datetime],
    now: datetime,
) -> list[JSON]:
    """Kargo's rule: past the oldest anchored object plus ``retained``, those old enough."""
    if len(newest_first) <= retained:
        return []
    oldest_anchor = max((i for i, o in enumerate(newest_first) if anchor(o)), default=-1)
    first = oldest_anchor + retained + 1
    return [o for o in newest_first[first:] if now - when(o) >= min_age]


@dataclass(frozen=True)
class _Policy:
    """How the objects of one owner are swept."""

    kind: Kind
    owner_kind: str
    label: str
    noun: str
    index: str
    key: tuple[str, str]
    when: Callable[[JSON], datetime]
    anchor: Callable[[JSON], bool]
    retained: int
    min_age: timedelta


class GarbageCollector:
    """Deletes what Kargo's garbage collector would, from the operator's cache."""

    def __init__(
        self,
        kube: KubeClient,
        cache: KargoCache,
        events: EventSink,
        settings: GarbageSettings,
        *,
        responsible: Callable[[JSON], bool] = lambda _obj: True,
        work_root: Path | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._kube = kube
        self._cache = cache
        self._events = events
        self.settings = settings
        self._responsible = responsible
        self._work_root = work_root
        self._clock = clock

    def _raw(self, kind: Any, keys: Iterable[tuple[str, str]]) -> list[JSON]:
        found = (self._cache.raw(kind, ns, name) for ns, name in keys)
        return [obj for obj in found if obj is not None]

    async def collect(self) -> Swept:
        """One pass over every Stage and Warehouse, then the working directories."""
        now = self._clock()
        promotions = freight = 0
        for stage in self._raw(STAGES, self._cache.keys(STAGES)):
            if self._responsible(stage):
                promotions += await self._stage(stage, now)
        for warehouse in self._raw(WAREHOUSES, self._cache.keys(WAREHOUSES)):
            if self._responsible(warehouse):
                freight += await self._warehouse(warehouse, now)
        work_dirs = self._work_dirs()
        swept = Swept(promotions, freight, work_dirs)
        if promotions or freight or work_dirs:
            log.info(
                "garbage collection: %d Promotions, %d Freight, %d work directories deleted",
                promotions,
                freight,
                work_dirs,
            )
        return swept

    async def _stage(self, stage: JSON, now: datetime) -> int:
        namespace, name = str(_meta(stage).get("namespace")), str(_meta(stage).get("name"))
        return await self._sweep(
            stage,
            _Policy(
                kind=PROMOTIONS,
                owner_kind="Stage",
                label="Promotion",
                noun="Promotion(s)",
                index="promotions-by-stage",
                key=(namespace, name),
                when=_created,
                anchor=lambda p: _dict(p.get("status")).get("phase") not in _TERMINAL,
                retained=self.settings.max_retained_promotions,
                min_age=self.settings.min_promotion_age,
            ),
            now,
        )

    async def _warehouse(self, warehouse: JSON, now: datetime) -> int:
        namespace, name = str(_meta(warehouse).get("namespace")), str(_meta(warehouse).get("name"))
        return await self._sweep(
            warehouse,
            _Policy(
                kind=FREIGHTS,
                owner_kind="Warehouse",
                label="Freight",
                noun="Freight",
                index="freight-by-origin",
                key=(namespace, f"Warehouse/{name}"),
                when=_discovered,
                anchor=lambda f: bool(_dict(_dict(f.get("status")).get("currentlyIn"))),
                retained=self.settings.max_retained_freight,
                min_age=self.settings.min_freight_age,
            ),
            now,
        )

    async def _sweep(self, owner: JSON, policy: _Policy, now: datetime) -> int:
        """Delete what ``policy`` dooms among the objects of ``owner`` (a Stage or Warehouse);
        count it and record an Event on the owner."""
        victims = doomed(
            _newest_first(
                self._raw(policy.kind, self._cache.indexed(policy.index, policy.key)), policy.when
            ),
            anchor=policy.anchor,
            retained=policy.retained,
            min_age=policy.min_age,
            when=policy.when,
            now=now,
        )
        deleted = await self._delete(policy.kind.plural, victims)
        if deleted:
            meta = _meta(owner)
            kind = policy.owner_kind
            metrics.GARBAGE_COLLECTED.labels(policy.label).inc(deleted)
            await self._events.emit(
                namespace=str(meta.get("namespace")),
                kind=kind,
                name=str(meta.get("name")),
                uid=meta.get("uid"),
                reason="GarbageCollected",
                message=f"Deleted {deleted} old {policy.noun} of {kind} {meta.get('name')!r}",
            )
        return deleted

    async def _delete(self, plural: str, victims: list[JSON]) -> int:
        deleted = 0
        for obj in victims:
            namespace, name = str(_meta(obj).get("namespace")), str(_meta(obj).get("name"))
            try:
                await self._kube.delete_custom(namespace, plural, name)
            except KubeError as exc:
                log.warning(
                    "garbage collection: could not delete %s %s/%s: %s",
                    plural,
                    namespace,
                    name,
                    exc,
                )
                continue
            deleted += 1
            log.debug("garbage collection: deleted %s %s/%s", plural, namespace, name)
        return deleted

    def _work_dirs(self) -> int:
        """Remove ``promotion-<uid>`` folders of Promotions that are not running."""
        root = self._work_root
        if root is None or not root.is_dir():
            return 0
        live = {
            str(_meta(p).get("uid"))
            for p in self._raw(PROMOTIONS, self._cache.promotions_in_flight())
        }
        removed = 0
        for path in root.iterdir():
            uid = path.name.removeprefix(_WORK_DIR_PREFIX)
            if path.name == uid or uid in live or not path.is_dir() or path.is_symlink():
                continue
            try:
                shutil.rmtree(path)
            except OSError as exc:
                log.warning("garbage collection: could not remove %s: %s", path, exc)
                continue
            removed += 1
        if removed:
            metrics.GARBAGE_COLLECTED.labels("WorkDirectory").inc(removed)
        return removed
