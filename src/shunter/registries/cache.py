"""Process-wide, single-flight caches for discovery results that many Warehouses share.

:class:`SingleFlightCache` maps a key to a value loaded by an async loader:

* A fresh enough entry is returned as is. "Fresh enough" is decided per call: ``max_age``
  seconds (a Warehouse's interval, or 0 to force a reload, e.g. after a refresh request).
* If no usable entry exists and a load for the key is already running, the caller awaits that
  load instead of starting another one: any number of concurrent callers cost one request.
* Failed loads are not cached; every caller waiting on the failed load gets the error.
* A caller that is cancelled does not cancel a load other callers wait for.
* At most ``max_entries`` entries are kept; the least recently used go first.

The registry client keys tag listings by ``(registry host, repository, credentials identity)``
and image metadata by digest (immutable, kept for good) or, when a subscription allows it, by
tag. :func:`credentials_identity` turns credentials into a key part that reveals nothing about
the password.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import math
import secrets
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = ["CacheStats", "SingleFlightCache", "credentials_identity"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

_IDENTITY_KEY = secrets.token_bytes(32)


def credentials_identity(username: str | None, password: str | None) -> str:
    """A cache-key part for credentials: ``anonymous`` or a keyed hash (never the password)."""
    if username is None and password is None:
        return "anonymous"
    material = f"{username or ''}\0{password or ''}".encode()
    return hmac.new(_IDENTITY_KEY, material, hashlib.sha256).hexdigest()[:32]


@dataclass
class CacheStats:
    """Counters of one cache (for tests, logs and metrics)."""

    hits: int = 0
    loads: int = 0
    joins: int = 0
    failures: int = 0
    evictions: int = 0


@dataclass
class _Entry(Generic[V]):
    value: V
    loaded_at: float


class SingleFlightCache(Generic[K, V]):
    """A bounded LRU cache whose misses are loaded once, however many callers wait."""

    def __init__(self, max_entries: int = 10_000, *, clock: Callable[[], float] = time.monotonic):
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.max_entries = max_entries
        self.stats = CacheStats()
        self._clock = clock
        self._entries: OrderedDict[K, _Entry[V]] = OrderedDict()
        self._inflight: dict[K, asyncio.Future[V]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def peek(self, key: K, max_age: float = math.inf) -> V | None:
        """The cached value if fresh enough, without loading (``None`` otherwise)."""
        entry = self._entries.get(key)
        if entry is None or self._clock() - entry.loaded_at >= max_age:
            return None
        self._entries.move_to_end(key)
        return entry.value

    def put(self, key: K, value: V) -> None:
        """Store ``value`` as freshly loaded."""
        self._entries[key] = _Entry(value, self._clock())
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
            self.stats.evictions += 1

    def invalidate(self, key: K) -> None:
        self._entries.pop(key, None)

    def clear(self) -> None:
        self._entries.clear()

    async def get(
        self, key: K, loader: Callable[[], Awaitable[V]], *, max_age: float = math.inf
    ) -> V:
        """The value of ``key``: cached if younger than ``max_age`` seconds, else loaded once.

        ``max_age=0`` never uses the cached value (it still joins a load already running).
        """
        entry = self._entries.get(key)
        if entry is not None and self._clock() - entry.loaded_at < max_age:
            self._entries.move_to_end(key)
            self.stats.hits += 1
            return entry.value
        running = self._inflight.get(key)
        if running is not None:
            self.stats.joins += 1
            return await asyncio.shield(running)
        self.stats.loads += 1
        task = asyncio.ensure_future(self._load(key, loader))
        self._inflight[key] = task
        task.add_done_callback(self._retrieve)
        return await asyncio.shield(task)

    async def _load(self, key: K, loader: Callable[[], Awaitable[V]]) -> V:
        try:
            value = await loader()
        except BaseException:
            self.stats.failures += 1
            raise
        finally:
            self._inflight.pop(key, None)
        self.put(key, value)
        return value

    @staticmethod
    def _retrieve(task: asyncio.Future[V]) -> None:
        # Mark the outcome as seen, so a load whose waiters were all cancelled does not log
        # "exception was never retrieved".
        if not task.cancelled():
            task.exception()
