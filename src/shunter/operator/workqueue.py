"""A keyed work queue, level-triggered like controller-runtime's.

Watch events only say "look at this object again": the key goes into the queue, and a worker
reconciles the object from its current state. A key is never processed by two workers at
once; a key added while it is being processed is processed again afterwards; a key added many
times while waiting is processed once. Keys can be added with a delay (periodic resync,
"requeue after"). Failures back off exponentially per key. Adds, reconciles, their durations,
errors and retries are counted in the ``shunter_*`` metrics under the queue's name.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import time
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from shunter import metrics
from shunter._internal.logcontext import log_context
from shunter._internal.tasks import cancel_and_wait

__all__ = ["Reconciled", "WorkQueue"]

K = TypeVar("K", bound=Hashable)
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Reconciled:
    """What a reconcile asks of the queue: look again after ``requeue_after`` seconds."""

    requeue_after: float | None = None


@dataclass(order=True)
class _Delayed(Generic[K]):
    due: float
    seq: int
    key: K = field(compare=False)


class WorkQueue(Generic[K]):
    """Runs ``reconcile(key)`` for queued keys with ``workers`` concurrent workers."""

    def __init__(
        self,
        name: str,
        reconcile: Callable[[K], Awaitable[Reconciled]],
        *,
        workers: int = 4,
        base_backoff: float = 0.5,
        max_backoff: float = 60.0,
        kind: str = "",
    ) -> None:
        self.name = name
        #: The kind of object reconciled, for log lines (``Stage``).
        self.kind = kind
        self._reconcile = reconcile
        self._workers = workers
        self._base_backoff = base_backoff
        self._max_backoff = max_backoff
        self._ready: asyncio.Queue[K] = asyncio.Queue()
        self._queued: set[K] = set()
        self._active: set[K] = set()
        self._dirty: set[K] = set()
        self._delayed: list[_Delayed[K]] = []
        self._seq = 0
        self._failures: dict[K, int] = {}
        self._wakeup = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._adds = metrics.WORKQUEUE_ADDS.labels(name)
        self._retries = metrics.WORKQUEUE_RETRIES.labels(name)
        self._reconciles = metrics.RECONCILES.labels(name)
        self._errors = metrics.RECONCILE_ERRORS.labels(name)
        self._duration = metrics.RECONCILE_DURATION.labels(name)

    def add(self, key: K) -> None:
        """Reconcile ``key`` as soon as a worker is free."""
        if key in self._active:
            self._dirty.add(key)
            return
        if key in self._queued:
            return
        self._queued.add(key)
        self._adds.inc()
        self._ready.put_nowait(key)

    def add_after(self, key: K, delay: float) -> None:
        """Reconcile ``key`` after ``delay`` seconds (at most once per due time)."""
        if delay <= 0:
            self.add(key)
            return
        self._seq += 1
        heapq.heappush(self._delayed, _Delayed(time.monotonic() + delay, self._seq, key))
        self._wakeup.set()

    def start(self) -> None:
        """Start the workers and the delay timer on the running loop."""
        for i in range(self._workers):
            self._tasks.append(asyncio.create_task(self._work(), name=f"{self.name}-worker-{i}"))
        self._tasks.append(asyncio.create_task(self._timer(), name=f"{self.name}-timer"))

    async def stop(self) -> None:
        """Cancel workers; a reconcile in progress is cancelled at its next await."""
        await cancel_and_wait(self._tasks)
        self._tasks.clear()

    @property
    def started(self) -> bool:
        """Whether :meth:`start` was called (and not :meth:`stop` since)."""
        return bool(self._tasks)

    @property
    def alive(self) -> bool:
        """Every worker (and the timer) is running."""
        return bool(self._tasks) and not any(t.done() for t in self._tasks)

    @property
    def depth(self) -> int:
        """Keys waiting for a worker (delayed keys do not count)."""
        return len(self._queued)

    @property
    def idle(self) -> bool:
        """Nothing queued or running (delayed keys do not count)."""
        return not self._queued and not self._active

    async def _timer(self) -> None:
        while True:
            now = time.monotonic()
            while self._delayed and self._delayed[0].due <= now:
                self.add(heapq.heappop(self._delayed).key)
            timeout = self._delayed[0].due - now if self._delayed else None
            self._wakeup.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), timeout)

    async def _work(self) -> None:
        while True:
            key = await self._ready.get()
            self._queued.discard(key)
            self._active.add(key)
            self._reconciles.inc()
            with log_context(kind=self.kind, **_where(key)):
                await self._process(key)

    async def _process(self, key: K) -> None:
        started = time.monotonic()
        try:
            result = await self._reconcile(key)
        except asyncio.CancelledError:
            raise
        except Exception:
            self._errors.inc()
            self._retries.inc()
            failures = self._failures.get(key, 0) + 1
            self._failures[key] = failures
            delay = min(self._max_backoff, self._base_backoff * 2 ** (failures - 1))
            log.exception("%s: reconcile of %s failed; retrying in %.1fs", self.name, key, delay)
            self.add_after(key, delay)
        else:
            self._failures.pop(key, None)
            if result.requeue_after is not None:
                self.add_after(key, result.requeue_after)
        finally:
            self._duration.observe(time.monotonic() - started)
            self._active.discard(key)
            if key in self._dirty:
                self._dirty.discard(key)
                self.add(key)


def _where(key: object) -> dict[str, str]:
    """``namespace`` and ``name`` of a queue key: ``(namespace, name)`` or a bare name."""
    if isinstance(key, tuple) and len(key) == 2:
        return {"namespace": str(key[0]), "name": str(key[1])}
    return {"name": str(key)}
