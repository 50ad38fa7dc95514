"""The two asyncio primitives the git mirrors need: a read/write lock and shared queued runs.

* :class:`ReadWriteLock`: many readers or one writer. A writer that waits goes before readers
  that arrive after it (so a stream of readers cannot starve a fetch). Releasing never awaits,
  so a cancelled holder always releases.
* :class:`SharedRuns`: callers asking for the same work (same key) while a run of it is still
  *queued* (not started) share that run's result instead of queuing their own. A run that has
  started is never joined: a caller that arrives then gets a run that starts after it asked, so
  what it reads is at least as fresh as its request (the fetch contract of the mirrors).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from typing import Any, Generic, TypeVar

__all__ = ["ReadWriteLock", "SharedRuns"]

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")


class ReadWriteLock:
    """Many readers or one writer, writers first (see the module docstring)."""

    def __init__(self) -> None:
        self._readers = 0
        self._writer = False
        self._writers_waiting = 0
        self._waiters: list[asyncio.Future[None]] = []

    @property
    def busy(self) -> bool:
        """Whether anyone holds or waits for the lock."""
        return self._writer or self._readers > 0 or self._writers_waiting > 0

    def _free_for(self, write: bool) -> bool:
        if self._writer:
            return False
        return self._readers == 0 if write else self._writers_waiting == 0

    def _wake(self) -> None:
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def _acquire(self, write: bool) -> None:
        if write:
            self._writers_waiting += 1
        try:
            while not self._free_for(write):
                waiter = asyncio.get_running_loop().create_future()
                self._waiters.append(waiter)
                try:
                    await waiter
                finally:
                    self._waiters.remove(waiter)
        except BaseException:
            if write:
                self._writers_waiting -= 1
                self._wake()  # readers held back by this writer may go now
            raise
        if write:
            self._writers_waiting -= 1
            self._writer = True
        else:
            self._readers += 1

    def _release(self, write: bool) -> None:
        if write:
            self._writer = False
        else:
            self._readers -= 1
        self._wake()

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[None]:
        """Hold the lock shared."""
        await self._acquire(write=False)
        try:
            yield
        finally:
            self._release(write=False)

    @contextlib.asynccontextmanager
    async def write(self) -> AsyncIterator[None]:
        """Hold the lock exclusively."""
        await self._acquire(write=True)
        try:
            yield
        finally:
            self._release(write=True)


class _AbandonedError(Exception):
    """The run a caller joined was cancelled; the caller queues again."""


def _consume(future: asyncio.Future[Any]) -> None:
    # Nobody may be left to await a failed run: mark its exception as retrieved.
    if not future.cancelled():
        future.exception()


class SharedRuns(Generic[K, T]):
    """Queued runs that later callers with the same key join (see the module docstring)."""

    def __init__(self) -> None:
        self._queued: dict[K, asyncio.Future[T]] = {}

    async def run(
        self,
        key: K,
        wait_turn: Callable[[], contextlib.AbstractAsyncContextManager[None]],
        work: Callable[[], Awaitable[T]],
    ) -> T:
        """``work()`` inside ``wait_turn()``, or the result of a queued run with the same key.

        The run's exception, if any, is raised to every caller that shared it; a cancelled run
        makes the callers that joined it queue again.
        """
        while (queued := self._queued.get(key)) is not None:
            try:
                return await asyncio.shield(queued)
            except _AbandonedError:
                continue
        mine: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        mine.add_done_callback(_consume)
        self._queued[key] = mine
        try:
            async with wait_turn():
                if self._queued.get(key) is mine:
                    del self._queued[key]  # started: later callers queue a new run
                result = await work()
        except asyncio.CancelledError:
            mine.set_exception(_AbandonedError())
            raise
        except BaseException as error:
            mine.set_exception(error)
            raise
        finally:
            if self._queued.get(key) is mine:
                del self._queued[key]
        mine.set_result(result)
        return result
