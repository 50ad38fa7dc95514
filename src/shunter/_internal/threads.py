"""Blocking work in a worker thread that a deadline or a cancellation can stop.

asyncio cannot stop a thread: cancelling ``await asyncio.to_thread(f)`` only stops waiting for
it. Work started with :func:`run_in_thread` carries a stop flag instead (a context variable,
which the executor call copies into the thread); its long loops call :func:`checkpoint`, which
raises :class:`WorkCancelledError` once the flag is set. When the awaiting task is cancelled
(e.g. a step's deadline passed), :func:`run_in_thread` sets the flag and waits a short grace
for the thread to reach a checkpoint, so the work does not keep changing files after the step
that started it has ended.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import threading
from collections.abc import Callable
from typing import ParamSpec, TypeVar

__all__ = ["STOP_GRACE_SECONDS", "WorkCancelledError", "checkpoint", "run_in_thread"]

P = ParamSpec("P")
T = TypeVar("T")

#: How long a cancelled :func:`run_in_thread` waits for its thread to stop.
STOP_GRACE_SECONDS = 5.0

_STOP: contextvars.ContextVar[threading.Event | None] = contextvars.ContextVar(
    "shunter_thread_stop", default=None
)


class WorkCancelledError(Exception):
    """The work was cancelled (raised by :func:`checkpoint` in the worker thread)."""


def checkpoint() -> None:
    """Raise :class:`WorkCancelledError` if the work running in this thread was cancelled."""
    stop = _STOP.get()
    if stop is not None and stop.is_set():
        raise WorkCancelledError("the work was cancelled")


async def run_in_thread(fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """``fn(*args, **kwargs)`` in the default executor, stoppable at its checkpoints."""
    stop = threading.Event()
    context = contextvars.copy_context()
    context.run(_STOP.set, stop)
    call = functools.partial(context.run, fn, *args, **kwargs)
    future = asyncio.get_running_loop().run_in_executor(None, call)
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        stop.set()
        await asyncio.wait({future}, timeout=STOP_GRACE_SECONDS)
        if future.done() and not future.cancelled():
            future.exception()  # retrieved: a WorkCancelledError is the expected outcome
        raise
