"""Informers: a watch-fed copy of one kind of object, the way client-go's reflector keeps one.

An :class:`Informer` LISTs its kind once (in pages), then WATCHes from the list's
resourceVersion with bookmarks. When a watch ends normally (the server's timeout) it resumes
from the last resourceVersion it saw (an object's, or a bookmark's); it LISTs again only when
the server answers 410 Gone (the version is too old) or the stream broke. Errors are retried
with exponential backoff and full jitter. ``synced`` is set once the first LIST is applied (or
the kind turned out not to be served: 404, e.g. a CRD not installed - it is tried again).

Objects go to a :class:`Sink` (the typed cache of :mod:`shunter.cache`): ``upsert`` for an
added or changed object, ``delete`` for one that went away (including objects found missing
by a re-LIST). The informer itself keeps only each object's resourceVersion.

``label_selector`` / ``field_selector`` restrict what is watched (issue 14's shards will pass a
``kargo.akuity.io/shard`` selector here).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from shunter.kube.client import GoneError, KubeClient, KubeError, NotFoundError, resource_path

__all__ = ["Backoff", "Informer", "Kind", "Sink"]

log = logging.getLogger(__name__)
ObjectKey = tuple[str, str]


@dataclass(frozen=True)
class Kind:
    """A resource the operator reads: API group/version, plural, and its scope."""

    group: str
    version: str
    plural: str
    namespaced: bool = True

    def path(self, namespace: str | None = None) -> str:
        """The collection's API path (in ``namespace``, or across all namespaces)."""
        return resource_path(
            self.group,
            self.version,
            self.plural,
            namespace=namespace if self.namespaced else None,
        )


class Sink(Protocol):
    """Where an informer puts what it learns."""

    def upsert(self, kind: Kind, obj: dict[str, Any]) -> None:
        """An object was added or changed."""
        ...

    def delete(self, kind: Kind, namespace: str, name: str) -> None:
        """An object went away."""
        ...


class Backoff:
    """Exponential backoff with full jitter (AWS's "full jitter": uniform in [0, cap])."""

    def __init__(self, base: float = 0.5, cap: float = 30.0) -> None:
        self._base = base
        self._cap = cap
        self._failures = 0

    def reset(self) -> None:
        """The last attempt worked."""
        self._failures = 0

    def next_delay(self) -> float:
        """How long to wait before the next attempt."""
        self._failures += 1
        ceiling = min(self._cap, self._base * 2 ** min(self._failures, 16))
        return random.uniform(ceiling / 2, ceiling)  # noqa: S311 - jitter, not crypto


def _key(obj: Mapping[str, Any]) -> ObjectKey:
    meta = obj.get("metadata") or {}
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")


def _version(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion") or "")


class Informer:
    """Keeps a :class:`Sink` in step with one kind in one namespace (or all of them)."""

    def __init__(
        self,
        kube: KubeClient,
        kind: Kind,
        sink: Sink,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        page_size: int = 500,
        watch_timeout: tuple[int, int] = (300, 600),
    ) -> None:
        self.kind = kind
        self.namespace = namespace
        self.synced = asyncio.Event()
        self._kube = kube
        self._sink = sink
        self._path = kind.path(namespace)
        self._label_selector = label_selector
        self._field_selector = field_selector
        self._page_size = page_size
        self._watch_timeout = watch_timeout
        self._versions: dict[ObjectKey, str] = {}
        self._backoff = Backoff()
        #: Requests made, by verb ("list", "watch"): for tests and metrics.
        self.requests: dict[str, int] = {"list": 0, "watch": 0}

    def __repr__(self) -> str:
        where = f" in {self.namespace}" if self.namespace else ""
        return f"<Informer {self.kind.plural}{where}>"

    async def run(self) -> None:
        """List and watch until cancelled."""
        version: str | None = None
        while True:
            try:
                if version is None:
                    version = await self._list()
                    self._backoff.reset()
                version = await self._watch(version)
                self._backoff.reset()
            except GoneError:
                log.info("%r: resourceVersion expired; listing again", self)
                version = None
            except NotFoundError as exc:
                # The kind is not served (its CRD is missing): nothing to hold; do not hold up
                # readiness, and look again later.
                self._clear()
                self.synced.set()
                delay = self._backoff.next_delay()
                log.warning("%r: %s; retrying in %.1fs", self, exc, delay)
                version = None
                await asyncio.sleep(delay)
            except KubeError as exc:
                delay = self._backoff.next_delay()
                if exc.status is None:
                    version = None  # a broken stream may have lost events: list again
                log.warning("%r: %s; retrying in %.1fs", self, exc, delay)
                await asyncio.sleep(delay)

    async def _list(self) -> str:
        seen: set[ObjectKey] = set()
        token: str | None = None
        version = ""
        while True:
            self.requests["list"] += 1
            page = await self._kube.list_page(
                self._path,
                label_selector=self._label_selector,
                field_selector=self._field_selector,
                limit=self._page_size,
                continue_token=token,
            )
            for item in page.get("items") or []:
                if isinstance(item, dict):
                    seen.add(_key(item))
                    self._upsert(item)
            meta = page.get("metadata") or {}
            version = str(meta.get("resourceVersion") or version)
            token = meta.get("continue") or None
            if not token:
                break
        self._clear(keep=seen)
        self.synced.set()
        log.debug("%r: listed %d objects at %s", self, len(seen), version)
        return version

    async def _watch(self, version: str) -> str:
        low, high = self._watch_timeout
        self.requests["watch"] += 1
        async for event in self._kube.watch(
            self._path,
            resource_version=version,
            label_selector=self._label_selector,
            field_selector=self._field_selector,
            timeout_seconds=random.randint(low, high),  # noqa: S311 - spread, not crypto
        ):
            obj = event.get("object")
            if not isinstance(obj, dict):
                continue
            version = _version(obj) or version
            kind = event.get("type")
            if kind in ("ADDED", "MODIFIED"):
                self._upsert(obj)
            elif kind == "DELETED":
                self._delete(_key(obj))
        return version

    def _clear(self, keep: set[ObjectKey] | frozenset[ObjectKey] = frozenset()) -> None:
        for key in [k for k in self._versions if k not in keep]:
            self._delete(key)

    def _upsert(self, obj: dict[str, Any]) -> None:
        key = _key(obj)
        version = _version(obj)
        if self._versions.get(key) == version:
            return
        self._versions[key] = version
        try:
            self._sink.upsert(self.kind, obj)
        except Exception:  # a bad object must not stop the watch
            log.exception("%r: could not take %s/%s", self, *key)

    def _delete(self, key: ObjectKey) -> None:
        if self._versions.pop(key, None) is not None:
            try:
                self._sink.delete(self.kind, *key)
            except Exception:
                log.exception("%r: could not forget %s/%s", self, *key)
