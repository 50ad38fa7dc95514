"""Client-side rate limiting per registry host: an async token bucket for each host.

Every HTTP request shunter sends to an OCI registry (pings, tag listings, manifests, blobs,
token requests) first takes a token from that host's bucket, so no number of Warehouses can push
one registry over the configured rate (users of Kargo and Argo CD Image Updater report registries
that block or throttle chatty clients).

Settings (:class:`RateLimit`, configured per operator):

* ``requests_per_second`` (default 20, Kargo's default): the sustained rate per host.
* ``burst`` (default 20): how many requests may go out at once after a quiet period.

Waiters are served in arrival order. When a registry answers 429, :meth:`TokenBucket.pause`
stops the whole host for the ``Retry-After`` delay (or a default), instead of letting every
caller retry into the wall. Clocks and sleeping are injectable for tests.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from shunter import metrics

__all__ = ["RateLimit", "RateLimiters", "TokenBucket"]

Clock = Callable[[], float]
#: Rounding slack: a bucket this close to a whole token counts as having it.
_EPSILON = 1e-9
Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class RateLimit:
    """Sustained request rate and burst size for one host."""

    requests_per_second: float = 20.0
    burst: int = 20

    def __post_init__(self) -> None:
        if self.requests_per_second <= 0:
            raise ValueError("requests_per_second must be positive")
        if self.burst < 1:
            raise ValueError("burst must be at least 1")


class TokenBucket:
    """An async token bucket; :meth:`acquire` waits for a token, first come first served."""

    def __init__(
        self,
        limit: RateLimit,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.limit = limit
        self._clock = clock
        self._sleep = sleep
        self._tokens = float(limit.burst)
        self._updated = clock()
        self._paused_until = 0.0
        self._lock = asyncio.Lock()
        self.waited_seconds = 0.0
        self.acquired = 0

    def _refill(self, now: float) -> None:
        elapsed = max(0.0, now - self._updated)
        self._tokens = min(
            float(self.limit.burst), self._tokens + elapsed * self.limit.requests_per_second
        )
        self._updated = now

    async def acquire(self) -> None:
        """Wait until a request may be sent, then consume one token."""
        async with self._lock:
            while True:
                now = self._clock()
                self._refill(now)
                if self._paused_until > now:
                    delay = self._paused_until - now
                elif self._tokens >= 1.0 - _EPSILON:
                    self._tokens = max(0.0, self._tokens - 1.0)
                    self.acquired += 1
                    return
                else:
                    delay = (1.0 - self._tokens) / self.limit.requests_per_second
                self.waited_seconds += delay
                await self._sleep(delay)

    def pause(self, seconds: float) -> None:
        """Send nothing to this host for ``seconds`` (e.g. after a 429), and empty the bucket."""
        now = self._clock()
        self._paused_until = max(self._paused_until, now + seconds)
        self._tokens = 0.0
        self._updated = now


class RateLimiters:
    """One :class:`TokenBucket` per host, created on first use."""

    def __init__(
        self,
        default: RateLimit | None = None,
        per_host: dict[str, RateLimit] | None = None,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.default = default or RateLimit()
        self.per_host = dict(per_host or {})
        self._clock = clock
        self._sleep = sleep
        self._buckets: dict[str, TokenBucket] = {}

    def for_host(self, host: str) -> TokenBucket:
        """The bucket of ``host`` (``registry.example.com:5000``)."""
        bucket = self._buckets.get(host)
        if bucket is None:
            limit = self.per_host.get(host, self.default)
            bucket = TokenBucket(limit, clock=self._clock, sleep=self._sleep)
            self._buckets[host] = bucket
        return bucket

    async def acquire(self, host: str) -> None:
        """Wait for a token of ``host`` (the wait is counted in
        ``shunter_registry_rate_limit_wait_seconds_total``)."""
        bucket = self.for_host(host)
        before = bucket.waited_seconds
        await bucket.acquire()
        waited = bucket.waited_seconds - before
        if waited > 0:
            metrics.REGISTRY_RATE_LIMIT_WAIT.labels(host).inc(waited)
