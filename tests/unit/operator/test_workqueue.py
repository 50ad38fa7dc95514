"""The keyed work queue: dedupe, one worker per key, re-run when dirty, delays, backoff."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from shunter.operator.workqueue import Reconciled, WorkQueue
from shunter_devenv.waiting import wait_for_async


async def _until(cond: Callable[[], bool], within: float = 5.0) -> None:
    await wait_for_async(cond, within=within, interval=0.005)


def _queue(fn: Callable[[str], Awaitable[Reconciled]], workers: int = 4) -> WorkQueue[str]:
    q: WorkQueue[str] = WorkQueue("test", fn, workers=workers, base_backoff=0.01)
    q.start()
    return q


async def test_duplicate_adds_run_once() -> None:
    calls: list[str] = []
    gate = asyncio.Event()

    async def reconcile(key: str) -> Reconciled:
        await gate.wait()
        calls.append(key)
        return Reconciled()

    blocker: WorkQueue[str] = WorkQueue("t", reconcile, workers=1)
    blocker.add("a")
    blocker.add("a")
    blocker.add("b")
    blocker.add("a")
    blocker.start()
    gate.set()
    await _until(lambda: blocker.idle and len(calls) >= 2)
    await blocker.stop()
    assert sorted(calls) == ["a", "b"]


async def test_one_worker_per_key_and_dirty_rerun() -> None:
    running: set[str] = set()
    overlaps = 0
    calls = 0
    release = asyncio.Event()

    async def reconcile(key: str) -> Reconciled:
        nonlocal overlaps, calls
        if key in running:
            overlaps += 1
        running.add(key)
        calls += 1
        if calls == 1:
            await release.wait()
        running.discard(key)
        return Reconciled()

    q = _queue(reconcile)
    q.add("k")
    await _until(lambda: calls == 1)
    q.add("k")  # arrives while "k" is being processed
    q.add("k")
    release.set()
    await _until(lambda: calls == 2 and q.idle)
    await q.stop()
    assert overlaps == 0


async def test_requeue_after_and_add_after() -> None:
    seen: list[float] = []
    start = time.monotonic()

    async def reconcile(key: str) -> Reconciled:
        seen.append(time.monotonic() - start)
        return Reconciled(requeue_after=0.05) if len(seen) == 1 else Reconciled()

    q = _queue(reconcile)
    q.add_after("k", 0.05)
    await _until(lambda: len(seen) == 2)
    await q.stop()
    assert seen[0] >= 0.05
    assert seen[1] - seen[0] >= 0.05


async def test_failures_back_off_and_recover() -> None:
    attempts = 0

    async def reconcile(key: str) -> Reconciled:
        nonlocal attempts
        attempts += 1
        if attempts < 3:
            raise RuntimeError("transient")
        return Reconciled()

    q = _queue(reconcile)
    q.add("k")
    await _until(lambda: attempts == 3 and q.idle)
    await q.stop()
