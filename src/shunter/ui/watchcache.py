"""What the UI knows of one Project, per identity: lists, then watches, kept in memory.

A :class:`ProjectWatch` lists the Project's Warehouses, Stages, Freight and Promotions with one
identity's credentials, then follows them with watches, so pages render from memory and the live
updates (server-sent events) are fed by the API server's watch events, never by polling. Each
identity has its own copy: nobody sees what their own credentials could not read. The
:class:`WatchHub` keeps one ProjectWatch per (identity, project) and stops those nobody has used
for a while.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from shunter.ui.kubeapi import ApiError, UserApi

__all__ = ["KINDS", "Change", "ProjectWatch", "Subscription", "WatchHub"]

JSON = dict[str, Any]
KINDS = ("warehouses", "stages", "freights", "promotions")
_LOG = logging.getLogger(__name__)
#: Seconds between two attempts after a watch failed for a reason other than permissions.
RETRY_SECONDS = 2.0
#: A subscriber this far behind is told to reload instead of getting every change.
QUEUE_LIMIT = 2000
#: A page served from a warm cache first asks the API server whether the identity may still
#: read the Project, at most this often (RBAC withdrawn shows at the next page load).
RECHECK_SECONDS = 5.0


@dataclass(frozen=True)
class Change:
    """One object changed (``new`` None: deleted); or, with ``error``, the watch failed; or,
    with ``listed``, the first list of a kind arrived (pages rendered without it may refresh)."""

    plural: str
    name: str
    old: JSON | None
    new: JSON | None
    error: ApiError | None = None
    listed: bool = False
    #: The Project the change happened in.
    project: str = ""


@dataclass(eq=False)
class Subscription:
    """A live view's queue of changes."""

    queue: asyncio.Queue[Change] = field(default_factory=asyncio.Queue)
    overflowed: bool = False

    def put(self, change: Change) -> None:
        if self.queue.qsize() >= QUEUE_LIMIT:
            self.overflowed = True
            return
        self.queue.put_nowait(change)


def _name(obj: JSON) -> str:
    return str((obj.get("metadata") or {}).get("name") or "")


def _version(obj: JSON) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion") or "")


class ProjectWatch:
    """The objects of one Project as one identity sees them, kept current by watches."""

    def __init__(self, api: UserApi, project: str) -> None:
        self.api = api
        self.project = project
        self.objects: dict[str, dict[str, JSON]] = {k: {} for k in KINDS}
        self.error: ApiError | None = None
        self.last_used = time.monotonic()
        self.generation = 0
        self._subscribers: set[Subscription] = set()
        self._ready = {k: asyncio.Event() for k in KINDS}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._sorted_freight: tuple[int, list[JSON]] | None = None
        self.checked = time.monotonic()
        self._freight_generation = 0

    # -- reading -----------------------------------------------------------------------------

    async def ready(self, kinds: tuple[str, ...] = KINDS) -> ProjectWatch:
        """Wait for the first lists of ``kinds``; raise the :class:`ApiError` that stopped them."""
        self.last_used = time.monotonic()
        for kind in kinds:
            await self._ready[kind].wait()
        if self.error is not None:
            raise self.error
        return self

    def listed(self, plural: str) -> bool:
        """Whether the first list of ``plural`` has arrived."""
        return self._ready[plural].is_set()

    def items(self, plural: str) -> Iterator[JSON]:
        """The objects of one kind."""
        return iter(self.objects[plural].values())

    def get(self, plural: str, name: str) -> JSON | None:
        """One object by name."""
        return self.objects[plural].get(name)

    def freight_newest_first(self, sort_key: Callable[[JSON], Any]) -> list[JSON]:
        """All Freight, newest first (cached until the Freight changes)."""
        cached = self._sorted_freight
        if cached is not None and cached[0] == self._freight_generation:
            return cached[1]
        ordered = sorted(self.objects["freights"].values(), key=sort_key, reverse=True)
        self._sorted_freight = (self._freight_generation, ordered)
        return ordered

    # -- live --------------------------------------------------------------------------------

    def subscribe(self, subscription: Subscription | None = None) -> Subscription:
        """Changes from now on, until :meth:`unsubscribe` (into ``subscription`` when given: a
        view that follows several Projects shares one queue among them)."""
        subscription = subscription or Subscription()
        self._subscribers.add(subscription)
        self.last_used = time.monotonic()
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        """Stop delivering changes to ``subscription``."""
        self._subscribers.discard(subscription)
        self.last_used = time.monotonic()

    @property
    def in_use(self) -> bool:
        """Whether a live view follows this Project."""
        return bool(self._subscribers)

    def _publish(self, change: Change) -> None:
        self.generation += 1
        if change.plural == "freights":
            self._freight_generation += 1
        for subscription in list(self._subscribers):
            subscription.put(change)

    def _apply(self, plural: str, obj: JSON, *, deleted: bool = False) -> None:
        name = _name(obj)
        store = self.objects[plural]
        old = store.get(name)
        if deleted:
            if old is None:
                return
            del store[name]
            self._publish(Change(plural, name, old, None, project=self.project))
            return
        if old is not None and _version(old) == _version(obj):
            return
        store[name] = obj
        self._publish(Change(plural, name, old, obj, project=self.project))

    def _replace(self, plural: str, items: list[JSON]) -> None:
        """A fresh list: publish the differences from what was known."""
        fresh = {_name(i): i for i in items}
        for name, old in list(self.objects[plural].items()):
            if name not in fresh:
                self._apply(plural, old, deleted=True)
        for obj in fresh.values():
            self._apply(plural, obj)

    # -- running -----------------------------------------------------------------------------

    def start(self, kinds: tuple[str, ...] = KINDS) -> None:
        """Start listing and watching ``kinds`` (those not followed yet)."""
        for plural in kinds:
            if plural not in self._tasks:
                task = asyncio.create_task(self._follow(plural), name=f"ui-watch-{plural}")
                self._tasks[plural] = task

    async def stop(self) -> None:
        """Stop the watches."""
        for task in self._tasks.values():
            task.cancel()
        for task in self._tasks.values():
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    def _listed(self, plural: str) -> None:
        self._ready[plural].set()
        self._publish(Change(plural, "", None, None, listed=True, project=self.project))

    def _fail(self, plural: str, error: ApiError) -> None:
        self.error = error
        for event in self._ready.values():
            event.set()
        for subscription in list(self._subscribers):
            subscription.put(Change(plural, "", None, None, error, project=self.project))

    async def _follow(self, plural: str) -> None:
        first = True
        while True:
            try:
                items, version = await self.api.list_kind(plural, self.project)
            except ApiError as exc:
                if exc.forbidden or exc.status == 404 or first:
                    self._fail(plural, exc)
                    return
                _LOG.warning("listing %s in %s failed: %s", plural, self.project, exc)
                await asyncio.sleep(RETRY_SECONDS)
                continue
            if first:
                self.objects[plural] = {_name(i): i for i in items}
                if plural == "freights":
                    self._freight_generation += 1
                first = False
                self._listed(plural)
            else:
                self._replace(plural, items)
            if await self._watch(plural, version) is None:
                return

    async def _watch(self, plural: str, version: str) -> str | None:
        """Follow changes; return "" to list again, None to stop for good."""
        while True:
            try:
                async for event in self.api.watch(plural, self.project, version):
                    if event.type == "BOOKMARK":
                        version = _version(event.object) or version
                        continue
                    self._apply(plural, event.object, deleted=event.type == "DELETED")
                    version = _version(event.object) or version
            except ApiError as exc:
                if exc.forbidden:
                    self._fail(plural, exc)
                    return None
                if exc.status == 410:
                    return ""
                _LOG.warning("watching %s in %s failed: %s", plural, self.project, exc)
                await asyncio.sleep(RETRY_SECONDS)
                return ""
            except Exception:  # a bug must not end this Project's live view for good
                _LOG.exception("watching %s in %s failed", plural, self.project)
                await asyncio.sleep(RETRY_SECONDS)
                return ""


class WatchHub:
    """One :class:`ProjectWatch` per (identity, project), stopped when idle."""

    def __init__(self, idle_seconds: float = 120.0) -> None:
        self.idle_seconds = idle_seconds
        self._watches: dict[tuple[str, str], ProjectWatch] = {}
        self._reaper: asyncio.Task[None] | None = None

    async def project(
        self,
        identity: str,
        api: UserApi,
        project: str,
        kinds: tuple[str, ...] = KINDS,
        *,
        follow: tuple[str, ...] = KINDS,
    ) -> ProjectWatch:
        """The identity's view of ``project``, ``kinds`` listed (and ``follow`` followed from
        now on: the Projects list needs only the Stages); raises :class:`ApiError`."""
        key = (identity, project)
        watch = self._watches.get(key)
        if watch is not None and watch.error is not None and not watch.in_use:
            await watch.stop()
            del self._watches[key]
            watch = None
        if watch is not None and time.monotonic() - watch.checked > RECHECK_SECONDS:
            try:
                await api.may_list("stages", project)
            except ApiError:
                if not watch.in_use:
                    await watch.stop()
                    self._watches.pop(key, None)
                raise
            watch.checked = time.monotonic()
        if watch is None:
            watch = ProjectWatch(api, project)
            self._watches[key] = watch
            if self._reaper is None:
                self._reaper = asyncio.create_task(self._reap(), name="ui-watch-reaper")
        watch.start(kinds)
        watch.start(follow)
        try:
            return await watch.ready(kinds)
        except ApiError:
            if not watch.in_use:
                await watch.stop()
                self._watches.pop(key, None)
            raise

    async def forget(self, identity: str) -> None:
        """Stop every watch of an identity (signed out)."""
        for key in [k for k in self._watches if k[0] == identity]:
            await self._watches.pop(key).stop()

    async def _reap(self) -> None:
        while True:
            await asyncio.sleep(min(30.0, self.idle_seconds))
            now = time.monotonic()
            for key, watch in list(self._watches.items()):
                if not watch.in_use and now - watch.last_used > self.idle_seconds:
                    await watch.stop()
                    self._watches.pop(key, None)

    async def close(self) -> None:
        """Stop everything."""
        if self._reaper is not None:
            self._reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reaper
        for watch in self._watches.values():
            await watch.stop()
        self._watches.clear()
