"""Poll a condition with a deadline (tests and the demo never sleep a fixed time)."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

__all__ = ["WaitTimeoutError", "wait_for", "wait_for_async"]

T = TypeVar("T")


class WaitTimeoutError(AssertionError):
    """The condition did not come true in time."""


def wait_for(
    probe: Callable[[], T | None],
    *,
    timeout: float = 60.0,
    interval: float = 0.25,
    what: str = "condition",
    details: Callable[[], str] | None = None,
) -> T:
    """Call ``probe`` until it returns a truthy value, and return that value.

    Raises:
        WaitTimeoutError: after ``timeout`` seconds, with ``details()`` appended if given.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() >= deadline:
            extra = f"\n{details()}" if details else ""
            raise WaitTimeoutError(f"timed out after {timeout:.0f}s waiting for {what}{extra}")
        time.sleep(interval)


async def wait_for_async(
    probe: Callable[[], Awaitable[T | None]] | Callable[[], T | None],
    *,
    within: float = 60.0,
    interval: float = 0.1,
    what: str = "condition",
) -> T:
    """:func:`wait_for` for the event loop (``within`` seconds): ``probe`` may be async."""
    deadline = time.monotonic() + within
    while True:
        value = probe()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if time.monotonic() >= deadline:
            raise WaitTimeoutError(f"timed out after {within:.0f}s waiting for {what}")
        await asyncio.sleep(interval)
