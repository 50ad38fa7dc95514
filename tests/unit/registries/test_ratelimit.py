"""The per-host token bucket, on a fake clock (no real waiting)."""

from __future__ import annotations

import asyncio

import pytest

from shunter.registries.ratelimit import RateLimit, RateLimiters, TokenBucket


class FakeClock:
    """A clock that only moves when the bucket sleeps."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


async def test_burst_then_steady_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(RateLimit(requests_per_second=10, burst=5), clock=clock, sleep=clock.sleep)
    for _ in range(5):
        await bucket.acquire()
    assert clock.now == 100.0  # the burst goes out at once
    for _ in range(10):
        await bucket.acquire()
    assert clock.now == pytest.approx(101.0)  # then 10 per second
    assert bucket.acquired == 15
    assert bucket.waited_seconds == pytest.approx(1.0)


async def test_refill_after_a_quiet_period_is_capped_by_burst() -> None:
    clock = FakeClock()
    bucket = TokenBucket(RateLimit(requests_per_second=1, burst=3), clock=clock, sleep=clock.sleep)
    for _ in range(3):
        await bucket.acquire()
    clock.now += 3600  # a long quiet period refills at most `burst` tokens
    for _ in range(3):
        await bucket.acquire()
    start = clock.now
    await bucket.acquire()
    assert clock.now - start == pytest.approx(1.0)


async def test_concurrent_waiters_share_the_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(RateLimit(requests_per_second=20, burst=1), clock=clock, sleep=clock.sleep)
    await asyncio.gather(*(bucket.acquire() for _ in range(41)))
    assert clock.now - 100.0 == pytest.approx(2.0)  # 40 waits of 1/20 s


async def test_pause_after_429() -> None:
    clock = FakeClock()
    bucket = TokenBucket(RateLimit(100, 100), clock=clock, sleep=clock.sleep)
    await bucket.acquire()
    bucket.pause(30)
    await bucket.acquire()
    assert clock.now - 100.0 >= 30


def test_limiters_per_host() -> None:
    limiters = RateLimiters(RateLimit(20, 20), {"ghcr.io": RateLimit(5, 1)})
    assert limiters.for_host("ghcr.io").limit == RateLimit(5, 1)
    assert limiters.for_host("docker.io").limit == RateLimit(20, 20)
    assert limiters.for_host("ghcr.io") is limiters.for_host("ghcr.io")
    with pytest.raises(ValueError, match="positive"):
        RateLimit(0, 1)
    with pytest.raises(ValueError, match="at least 1"):
        RateLimit(1, 0)
