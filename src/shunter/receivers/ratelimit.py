"""Token buckets that turn floods into 429s before they cost the operator anything.

Each receiver (keyed by its path) has a bucket of ``burst`` tokens refilled at ``rate`` per
second; a request takes one or is refused with the seconds until the next token (the
``Retry-After`` header). Requests for unknown paths share one bucket, so a scan of random URLs
cannot turn into a stream of API server lookups. At most ``max_keys`` buckets are kept (least
recently used ones go first, refilled when they come back).
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Buckets", "TokenBucket"]


@dataclass
class TokenBucket:
    """``burst`` tokens, refilled at ``rate`` per second."""

    rate: float
    burst: float
    tokens: float
    updated: float

    def take(self, now: float) -> float:
        """Take a token: 0 when granted, else the seconds until one is available."""
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate if self.rate > 0 else math.inf


class Buckets:
    """One :class:`TokenBucket` per key."""

    def __init__(
        self,
        rate: float,
        burst: int,
        *,
        max_keys: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._rate = rate
        self._burst = float(max(1, burst))
        self._max_keys = max_keys
        self._clock = clock
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()

    def take(self, key: str) -> float:
        """Take a token for ``key``: 0 when granted, else seconds to wait."""
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = TokenBucket(self._rate, self._burst, self._burst, now)
            self._buckets[key] = bucket
            while len(self._buckets) > self._max_keys:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
        return bucket.take(now)
