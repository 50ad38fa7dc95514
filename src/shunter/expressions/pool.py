"""A small pool of worker processes that evaluate expressions with a hard deadline.

Owns `WorkerPool`, its `PoolSettings` and the process-wide pool (`configure`, `get_pool`).
Expressions are untrusted (anyone who may edit a Stage or Warehouse in one Project writes
them), and the evaluator is synchronous Python: its own budgets stop runaway work, but an
evaluation must never block the operator's event loop or other Projects, so evaluations that
could grow run here, in ``python -m shunter.expressions.worker`` processes:

* **Lean.** A worker imports only `shunter.expressions`; it is started on first use (or by
  `WorkerPool.start`) and reused for later jobs.
* **Hard deadline.** A job gets ``deadline_seconds``; the worker stops it itself at the
  deadline (the evaluator's time limit), and the pool kills the process ``grace_seconds``
  later if it has not answered (a long C-level operation), then starts a replacement.
* **Memory cap.** Each worker limits its own address space to what it uses after start-up
  plus ``memory_mib`` (``RLIMIT_AS``); an evaluation beyond it fails with a limit error and the
  worker is replaced.
* **Fair.** At most ``per_project`` jobs of one Project run at once (default: all workers but
  one), and waiting jobs are served round-robin by Project, so one Project's slow expressions
  cannot take every worker while another Project waits.
* **Async.** The parent talks to a worker over pipes with the running event loop's
  ``add_reader``/``add_writer``; nothing blocks the loop. The pool itself belongs to no event
  loop (the operator's, or each test's) and is safe to share between threads.

Replies are unpickled with an allow-list of value types: a worker is trusted no more than the
expressions it runs. Failures are `ExpressionLimitError` naming the limit.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import io
import os
import pickle
import subprocess
import sys
import threading
import zoneinfo
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any

from shunter.expressions.errors import ExpressionEvaluationError, ExpressionLimitError
from shunter.expressions.functions import ResourceRef
from shunter.expressions.jobs import Job, Outcome, error_from_fields
from shunter.expressions.worker import HEADER

__all__ = [
    "PoolSettings",
    "PoolStats",
    "WorkerPool",
    "configure",
    "get_pool",
    "shutdown",
]


@dataclass(frozen=True)
class PoolSettings:
    """How many workers, and the limits of one evaluation job."""

    workers: int = 2
    deadline_seconds: float = 5.0
    memory_mib: int = 256
    #: Jobs of one Project running at once; None: every worker but one (at least one).
    per_project: int | None = None
    #: How long after the deadline an unanswered worker is killed.
    grace_seconds: float = 1.0
    #: How long a new worker may take to start.
    startup_seconds: float = 60.0

    @property
    def project_limit(self) -> int:
        if self.per_project is not None:
            return max(1, self.per_project)
        return max(1, self.workers - 1)


@dataclass
class PoolStats:
    """What the pool did (for tests, benchmarks and the curious)."""

    jobs: int = 0
    started: int = 0
    #: Workers killed at the hard deadline.
    killed: int = 0
    #: Jobs that hit the memory cap.
    out_of_memory: int = 0
    #: Workers that died on their own.
    crashed: int = 0
    #: Largest resident set a worker reported (KiB).
    max_rss_kib: int = 0
    #: Longest time a job spent in a worker (seconds).
    max_job_seconds: float = 0.0


class _WorkerDied(Exception):  # noqa: N818 - internal signal
    pass


# Types a worker's reply may contain (besides plain data): the evaluator's values.
_ALLOWED_CLASSES = {
    ("datetime", "datetime"),
    ("datetime", "date"),
    ("datetime", "time"),
    ("datetime", "timedelta"),
    ("datetime", "timezone"),
    ("zoneinfo", "ZoneInfo"),
    ("shunter.expressions.values", "Record"),
    ("shunter.expressions.values", "RecordType"),
    ("shunter.expressions.values", "RecordField"),
    ("shunter.expressions.values", "StrMap"),
    ("shunter.expressions.values", "_JSONObject"),
    ("shunter.expressions.limits", "SizedList"),
    ("shunter.expressions.limits", "SizedDict"),
    ("shunter.expressions.gotime", "GoTime"),
    ("shunter.expressions.gotime", "GoDuration"),
    ("shunter.expressions.gotime", "GoLocation"),
    ("shunter.expressions.functions.utility", "SemVer"),
    ("shunter.expressions.functions.http", "HTTPResponse"),
}


def _zoneinfo_attribute(owner: Any, name: str) -> Any:
    """The one attribute read a reply needs: a ZoneInfo pickles as ZoneInfo._unpickle."""
    if owner is zoneinfo.ZoneInfo and name == "_unpickle":
        return zoneinfo.ZoneInfo._unpickle  # type: ignore[attr-defined]
    raise pickle.UnpicklingError(f"a worker reply may not read {name!r}")


class _ReplyUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("builtins", "getattr"):
            return _zoneinfo_attribute
        if (module, name) in _ALLOWED_CLASSES:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"a worker reply may not contain {module}.{name}")


def _load_reply(data: bytes) -> Any:
    return _ReplyUnpickler(io.BytesIO(data)).load()


class _Worker:
    """One worker process and its pipes (non-blocking on the parent side)."""

    def __init__(self, memory_mib: int) -> None:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-P",
                "-m",
                "shunter.expressions.worker",
                str(os.getpid()),
                str(memory_mib),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            close_fds=True,
        )
        if self.proc.stdin is None or self.proc.stdout is None:  # pragma: no cover - PIPE given
            raise OSError("the worker has no pipes")
        self.wfd = self.proc.stdin.fileno()
        self.rfd = self.proc.stdout.fileno()
        os.set_blocking(self.wfd, False)
        os.set_blocking(self.rfd, False)
        self.buffer = bytearray()

    async def _wait(self, fd: int, writing: bool) -> None:
        loop = asyncio.get_running_loop()
        ready = loop.create_future()

        def wake() -> None:
            if not ready.done():
                ready.set_result(None)

        if writing:
            loop.add_writer(fd, wake)
        else:
            loop.add_reader(fd, wake)
        try:
            await ready
        finally:
            if writing:
                loop.remove_writer(fd)
            else:
                loop.remove_reader(fd)

    async def send(self, data: bytes) -> None:
        view = memoryview(HEADER.pack(len(data)) + data)
        while view:
            try:
                written = os.write(self.wfd, view)
            except BlockingIOError:
                await self._wait(self.wfd, writing=True)
                continue
            except (BrokenPipeError, OSError) as exc:
                raise _WorkerDied(str(exc)) from None
            view = view[written:]

    async def receive(self) -> Any:
        while True:
            if len(self.buffer) >= HEADER.size:
                (length,) = HEADER.unpack_from(self.buffer)
                if len(self.buffer) >= HEADER.size + length:
                    data = bytes(self.buffer[HEADER.size : HEADER.size + length])
                    del self.buffer[: HEADER.size + length]
                    try:
                        return _load_reply(data)
                    except Exception as exc:  # a reply we cannot (or may not) read
                        raise _WorkerDied(f"unreadable reply: {exc}") from None
            try:
                chunk = os.read(self.rfd, 1 << 20)
            except BlockingIOError:
                await self._wait(self.rfd, writing=False)
                continue
            except OSError as exc:
                raise _WorkerDied(str(exc)) from None
            if not chunk:
                raise _WorkerDied("the worker exited")
            self.buffer += chunk

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()

    def reaped(self) -> bool:
        """Whether the (killed) process is gone; never blocks."""
        return self.proc.poll() is not None


@dataclass
class _Waiter:
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[_Worker | None]
    project: str


@dataclass
class _State:
    idle: list[_Worker] = field(default_factory=list)
    live: int = 0
    active: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    queues: dict[str, deque[_Waiter]] = field(default_factory=dict)
    rotation: deque[str] = field(default_factory=deque)
    dead: list[_Worker] = field(default_factory=list)
    closed: bool = False


class WorkerPool:
    """Worker processes evaluating `Job` s with a hard deadline, fairly between Projects."""

    def __init__(self, settings: PoolSettings | None = None) -> None:
        self.settings = settings or PoolSettings()
        self.stats = PoolStats()
        self._lock = threading.Lock()
        self._state = _State()

    # -- public -------------------------------------------------------------------------------

    async def submit(self, job: Job, *, project: str, seconds: float | None = None) -> Outcome:
        """Run `job` in a worker within `seconds` (default: the deadline); never raises for
        the job's own failures (they are in the `Outcome`)."""
        limit = self.settings.deadline_seconds if seconds is None else seconds
        try:
            payload = pickle.dumps((job, limit), protocol=pickle.HIGHEST_PROTOCOL)
        except (pickle.PicklingError, TypeError, AttributeError) as exc:
            error = ExpressionEvaluationError(f"cannot hand the evaluation to a worker: {exc}")
            return Outcome("error", error=error)
        worker = await self._acquire(project)
        healthy = False
        try:
            self.stats.jobs += 1
            try:
                async with asyncio.timeout(limit + self.settings.grace_seconds):
                    await worker.send(payload)
                    reply = await worker.receive()
            except TimeoutError:
                self.stats.killed += 1
                return Outcome(
                    "error",
                    error=ExpressionLimitError(
                        f"evaluation exceeded its deadline ({limit:g}s) and was stopped"
                    ),
                    seconds=limit,
                )
            except _WorkerDied as exc:
                self.stats.crashed += 1
                return Outcome(
                    "error",
                    error=ExpressionLimitError(
                        "the evaluation stopped its worker process (memory limit "
                        f"{self.settings.memory_mib} MiB?): {exc}"
                    ),
                )
            outcome, healthy = self._outcome(reply)
            return outcome
        finally:
            if not healthy:
                self._retire(worker)
            self._release(worker if healthy else None, project)

    async def start(self, count: int | None = None) -> None:
        """Start up to `count` workers now (default: all), so first jobs do not wait."""
        wanted = self.settings.workers if count is None else min(count, self.settings.workers)
        started: list[_Worker] = []
        with self._lock:
            room = max(0, wanted - self._state.live)
            self._state.live += room
        try:
            results = await asyncio.gather(
                *(self._spawn() for _ in range(room)), return_exceptions=True
            )
            started = [worker for worker in results if isinstance(worker, _Worker)]
            failures = [error for error in results if isinstance(error, BaseException)]
            if failures:
                raise failures[0]
        finally:
            with self._lock:
                self._state.live -= room - len(started)
                self._state.idle.extend(started)
                grants = self._dispatch()
            self._deliver(grants)

    def close(self) -> None:
        """Kill every worker; later jobs start new ones only if the pool is used again."""
        with self._lock:
            idle, self._state.idle = self._state.idle, []
            self._state.live -= len(idle)
            self._state.closed = True
        for worker in idle:
            self._retire(worker)
        with self._lock:
            dead, self._state.dead = self._state.dead, []
        for worker in dead:  # killed: gone within milliseconds
            try:
                worker.proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                self._state.dead.append(worker)

    def busy(self) -> int:
        """Jobs running or assigned to a worker right now."""
        with self._lock:
            return sum(self._state.active.values())

    # -- scheduling ---------------------------------------------------------------------------

    async def _acquire(self, project: str) -> _Worker:
        loop = asyncio.get_running_loop()
        state = self._state
        with self._lock:
            state.closed = False
            can_run = (
                project not in state.queues
                and state.active[project] < self.settings.project_limit
                and (state.idle or state.live < self.settings.workers)
            )
            waiter = None
            worker: _Worker | None = None
            if can_run:
                state.active[project] += 1
                if state.idle:
                    worker = state.idle.pop()
                else:
                    state.live += 1
            else:
                waiter = _Waiter(loop, loop.create_future(), project)
                state.queues.setdefault(project, deque()).append(waiter)
                if project not in state.rotation:
                    state.rotation.append(project)
        if waiter is not None:
            try:
                worker = await waiter.future
            except asyncio.CancelledError:
                future = waiter.future
                if future.done() and not future.cancelled():  # granted, then cancelled
                    self._release(future.result(), project)
                    raise
                with self._lock:
                    queue = state.queues.get(project)
                    if queue is not None and waiter in queue:
                        queue.remove(waiter)
                        if not queue:
                            del state.queues[project]
                            state.rotation.remove(project)
                raise
        if worker is not None:
            return worker
        try:
            return await self._spawn()
        except BaseException:
            self._release(None, project)
            raise

    def _release(self, worker: _Worker | None, project: str) -> None:
        state = self._state
        with self._lock:
            state.active[project] -= 1
            if state.active[project] <= 0:
                del state.active[project]
            if worker is None or state.closed:
                state.live -= 1
            else:
                state.idle.append(worker)
            closing = worker is not None and state.closed
            grants = self._dispatch()
        if closing and worker is not None:
            self._retire(worker)
        self._deliver(grants)
        self._reap()

    def _dispatch(self) -> list[tuple[_Waiter, _Worker | None]]:
        """Hand free (or startable) workers to waiters, round-robin by Project (lock held)."""
        state = self._state
        grants: list[tuple[_Waiter, _Worker | None]] = []
        limit = self.settings.project_limit
        while state.idle or state.live < self.settings.workers:
            picked = None
            for _ in range(len(state.rotation)):
                project = state.rotation[0]
                state.rotation.rotate(-1)
                if state.active[project] < limit:
                    picked = project
                    break
            if picked is None:
                break
            queue = state.queues[picked]
            waiter = queue.popleft()
            if not queue:
                del state.queues[picked]
                state.rotation.remove(picked)
            if waiter.future.cancelled():
                continue
            state.active[picked] += 1
            if state.idle:
                grants.append((waiter, state.idle.pop()))
            else:
                state.live += 1
                grants.append((waiter, None))
        return grants

    def _deliver(self, grants: list[tuple[_Waiter, _Worker | None]]) -> None:
        for waiter, worker in grants:

            def hand_over(waiter: _Waiter = waiter, worker: _Worker | None = worker) -> None:
                if waiter.future.done():  # cancelled meanwhile: give the grant back
                    self._release(worker, waiter.project)
                else:
                    waiter.future.set_result(worker)

            try:
                waiter.loop.call_soon_threadsafe(hand_over)
            except RuntimeError:  # that event loop is closed
                self._release(worker, waiter.project)

    # -- processes ----------------------------------------------------------------------------

    async def _spawn(self) -> _Worker:
        self._reap()
        try:
            worker = _Worker(self.settings.memory_mib)
        except OSError as exc:
            raise ExpressionEvaluationError(f"cannot start an evaluation worker: {exc}") from None
        try:
            async with asyncio.timeout(self.settings.startup_seconds):
                hello = await worker.receive()
        except TimeoutError:
            self._retire(worker)
            raise ExpressionEvaluationError(
                f"the evaluation worker did not start within {self.settings.startup_seconds:g}s"
            ) from None
        except _WorkerDied as exc:
            self._retire(worker)
            raise ExpressionEvaluationError(f"the evaluation worker did not start: {exc}") from None
        except BaseException:
            self._retire(worker)
            raise
        if not (isinstance(hello, tuple) and hello[:1] == ("ready",)):
            self._retire(worker)
            raise ExpressionEvaluationError("the evaluation worker did not start properly")
        self.stats.started += 1
        return worker

    def _retire(self, worker: _Worker) -> None:
        """Kill a worker; its exit status is collected later (`_reap`)."""
        worker.kill()
        with self._lock:
            self._state.dead.append(worker)

    def _reap(self) -> None:
        """Collect killed workers' exit status (never waits)."""
        with self._lock:
            self._state.dead = [w for w in self._state.dead if not w.reaped()]

    def _outcome(self, reply: Any) -> tuple[Outcome, bool]:
        """The `Outcome` a reply describes, and whether the worker may be reused."""
        if not isinstance(reply, tuple) or not reply:
            error = ExpressionEvaluationError("the evaluation worker sent a malformed reply")
            return Outcome("error", error=error), False
        status = reply[0]
        seconds = float(reply[2]) if len(reply) > 2 else 0.0
        if len(reply) > 3 and isinstance(reply[3], int):
            self.stats.max_rss_kib = max(self.stats.max_rss_kib, reply[3])
        self.stats.max_job_seconds = max(self.stats.max_job_seconds, seconds)
        if status == "ok" and len(reply) == 4:
            return Outcome("ok", value=reply[1], seconds=seconds), True
        if status == "miss" and len(reply) == 4:
            kind, name, shared = reply[1]
            return Outcome(
                "miss", missing=ResourceRef(kind, name, bool(shared)), seconds=seconds
            ), True
        if status == "error" and len(reply) == 5:
            retire = bool(reply[4])
            if retire:
                self.stats.out_of_memory += 1
            return Outcome("error", error=error_from_fields(reply[1]), seconds=seconds), not retire
        error = ExpressionEvaluationError("the evaluation worker sent a malformed reply")
        return Outcome("error", error=error), False


_POOL: WorkerPool | None = None
_POOL_LOCK = threading.Lock()
_SETTINGS = PoolSettings()


def configure(settings: PoolSettings) -> WorkerPool:
    """Use `settings` for the process-wide pool (replacing a pool with other settings)."""
    global _POOL, _SETTINGS  # noqa: PLW0603 - the one process-wide pool
    with _POOL_LOCK:
        _SETTINGS = settings
        if _POOL is not None and _POOL.settings != settings:
            _POOL.close()
            _POOL = None
        if _POOL is None:
            _POOL = WorkerPool(settings)
        return _POOL


def get_pool() -> WorkerPool:
    """The process-wide pool (created on first use with the configured settings)."""
    global _POOL  # noqa: PLW0603 - the one process-wide pool
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = WorkerPool(_SETTINGS)
        return _POOL


def shutdown() -> None:
    """Kill the process-wide pool's workers (also done at exit)."""
    with _POOL_LOCK:
        pool = _POOL
    if pool is not None:
        pool.close()


atexit.register(shutdown)
