"""The single-flight cache behind shared tag listings and image metadata."""

from __future__ import annotations

import asyncio
import time

import pytest

from shunter.registries.cache import SingleFlightCache, credentials_identity


async def wait_for(condition: object, deadline: float = 5.0) -> None:
    """Poll ``condition()`` (yielding to the loop) until true or the deadline passes."""
    end = time.monotonic() + deadline
    while not condition():  # type: ignore[operator]
        if time.monotonic() > end:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_concurrent_callers_share_one_load() -> None:
    cache: SingleFlightCache[str, int] = SingleFlightCache()
    release = asyncio.Event()
    calls = 0

    async def load() -> int:
        nonlocal calls
        calls += 1
        await release.wait()
        return 42

    tasks = [asyncio.ensure_future(cache.get("k", load)) for _ in range(50)]
    await wait_for(lambda: cache.stats.joins == 49)
    release.set()
    assert await asyncio.gather(*tasks) == [42] * 50
    assert calls == 1
    assert (cache.stats.loads, cache.stats.joins) == (1, 49)


async def test_max_age_decides_per_call() -> None:
    clock = Clock()
    cache: SingleFlightCache[str, int] = SingleFlightCache(clock=clock)
    values = iter(range(100))

    async def load() -> int:
        return next(values)

    assert await cache.get("k", load, max_age=300) == 0
    clock.now = 200
    assert await cache.get("k", load, max_age=300) == 0  # young enough for this caller
    assert await cache.get("k", load, max_age=60) == 1  # too old for this one: reloaded
    assert await cache.get("k", load, max_age=300) == 1
    assert await cache.get("k", load, max_age=0) == 2  # a refresh always reloads


async def test_failures_are_shared_but_not_cached() -> None:
    cache: SingleFlightCache[str, int] = SingleFlightCache()
    release = asyncio.Event()
    attempts = 0

    async def failing() -> int:
        nonlocal attempts
        attempts += 1
        await release.wait()
        raise RuntimeError("registry down")

    tasks = [asyncio.ensure_future(cache.get("k", failing)) for _ in range(5)]
    await wait_for(lambda: cache.stats.joins == 4)
    release.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert all(isinstance(r, RuntimeError) for r in results)
    assert attempts == 1

    async def working() -> int:
        return 7

    assert await cache.get("k", working) == 7
    assert cache.stats.failures == 1


async def test_a_cancelled_caller_does_not_cancel_the_shared_load() -> None:
    cache: SingleFlightCache[str, int] = SingleFlightCache()
    release = asyncio.Event()

    async def load() -> int:
        await release.wait()
        return 1

    first = asyncio.ensure_future(cache.get("k", load))
    second = asyncio.ensure_future(cache.get("k", load))
    await wait_for(lambda: cache.stats.joins == 1)
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    release.set()
    assert await second == 1
    assert cache.peek("k") == 1


async def test_least_recently_used_entries_go_first() -> None:
    cache: SingleFlightCache[int, int] = SingleFlightCache(max_entries=2)

    async def value(n: int) -> int:
        return n

    await cache.get(1, lambda: value(1))
    await cache.get(2, lambda: value(2))
    assert cache.peek(1) == 1  # touch 1
    await cache.get(3, lambda: value(3))
    assert cache.peek(2) is None
    assert cache.peek(1) == 1
    assert len(cache) == 2
    assert cache.stats.evictions == 1


def test_credentials_identity_hides_the_password() -> None:
    a = credentials_identity("reader", "s3cret-Password")
    assert a == credentials_identity("reader", "s3cret-Password")
    assert a != credentials_identity("reader", "other")
    assert a != credentials_identity("writer", "s3cret-Password")
    assert "s3cret" not in a
    assert credentials_identity(None, None) == "anonymous"
