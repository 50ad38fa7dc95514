"""Running external programs (kubectl, kustomize, helm) safely from async code.

Owns :func:`find_program` (``SHUNTER_<NAME>_BINARY``, then ``PATH``) and :func:`run_program`:
an argv list (never a shell), a minimal environment, a timeout, a cap on the bytes read from
stdout and stderr together, and the whole process group killed on timeout, overflow or
cancellation. git has its own runner, :mod:`shunter.git.runner` (credentials, transports, error
classes); nothing here starts git.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "DEFAULT_MAX_OUTPUT",
    "ProgramError",
    "ProgramNotFoundError",
    "ProgramOutputTooLargeError",
    "ProgramResult",
    "ProgramTimeoutError",
    "binary_env_var",
    "find_program",
    "minimal_env",
    "run_program",
]

#: Default cap on stdout + stderr of one run (bytes).
DEFAULT_MAX_OUTPUT = 64 * 1024 * 1024
_CHUNK = 64 * 1024
_DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"


class ProgramError(Exception):
    """A program could not be found or run to completion."""


class ProgramNotFoundError(ProgramError):
    """The program is neither named by its environment variable nor on ``PATH``."""


class ProgramTimeoutError(ProgramError):
    """The program ran longer than allowed and was killed."""


class ProgramOutputTooLargeError(ProgramError):
    """The program wrote more than allowed and was killed."""


@dataclass(frozen=True)
class ProgramResult:
    """A finished run: exit code and captured output."""

    returncode: int
    stdout: bytes
    stderr: bytes

    @property
    def ok(self) -> bool:
        """Whether the program exited with 0."""
        return self.returncode == 0


def binary_env_var(name: str) -> str:
    """``SHUNTER_<NAME>_BINARY`` for a program name (``-`` and ``.`` become ``_``)."""
    cleaned = name.upper().replace("-", "_").replace(".", "_")
    return f"SHUNTER_{cleaned}_BINARY"


def find_program(name: str, env_var: str | None = None) -> Path:
    """The executable ``name``: the file named by ``env_var`` (default
    ``SHUNTER_<NAME>_BINARY``) if set, else the first match on ``PATH``.

    Raises:
        ProgramNotFoundError: the variable names no executable file, or ``name`` is not on PATH.
    """
    variable = env_var or binary_env_var(name)
    override = os.environ.get(variable)
    if override:
        path = Path(override)
        if path.is_file() and os.access(path, os.X_OK):
            return path
        raise ProgramNotFoundError(f"{variable}={override} is not an executable file")
    found = shutil.which(name)
    if found is None:
        raise ProgramNotFoundError(
            f"program {name!r} not found: install it on PATH or set {variable} to its path"
        )
    return Path(found)


def minimal_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """An environment with only ``PATH``, a UTF-8 locale, ``TMPDIR`` (if set) and ``extra``."""
    env = {
        "PATH": os.environ.get("PATH") or _DEFAULT_PATH,
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
    }
    tmpdir = os.environ.get("TMPDIR")
    if tmpdir:
        env["TMPDIR"] = tmpdir
    env.update(extra or {})
    return env


def _kill_group(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


async def _read_capped(
    stream: asyncio.StreamReader, sink: bytearray, budget: list[int], exceeded: asyncio.Event
) -> None:
    while True:
        chunk = await stream.read(_CHUNK)
        if not chunk:
            return
        budget[0] -= len(chunk)
        if budget[0] < 0:
            exceeded.set()
            return
        sink.extend(chunk)


async def run_program(
    argv: Sequence[str | Path],
    *,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    time_limit: float = 300.0,
    max_output: int = DEFAULT_MAX_OUTPUT,
) -> ProgramResult:
    """Run ``argv`` in ``cwd`` and capture its output (stdin is ``/dev/null``).

    ``env`` defaults to :func:`minimal_env`. A non-zero exit is returned, not raised.

    Raises:
        ProgramTimeoutError: the run took longer than ``time_limit`` seconds.
        ProgramOutputTooLargeError: stdout and stderr together exceeded ``max_output`` bytes.
        ProgramError: the program could not be started.
    """
    args = [str(a) for a in argv]
    try:
        proc = await asyncio.create_subprocess_exec(
            *args,
            cwd=cwd,
            env=dict(env) if env is not None else minimal_env(),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
    except OSError as exc:
        raise ProgramError(f"cannot start {Path(args[0]).name}: {exc.strerror}") from None
    stdout, stderr = proc.stdout, proc.stderr
    if stdout is None or stderr is None:  # pragma: no cover - guaranteed by PIPE.
        _kill_group(proc)
        raise ProgramError("subprocess pipes missing")
    out, err = bytearray(), bytearray()
    budget = [max_output]
    exceeded = asyncio.Event()
    name = Path(args[0]).name

    async def collect() -> None:
        await asyncio.gather(
            _read_capped(stdout, out, budget, exceeded),
            _read_capped(stderr, err, budget, exceeded),
        )
        if not exceeded.is_set():
            await proc.wait()

    try:
        async with asyncio.timeout(time_limit):
            await collect()
    except TimeoutError:
        _kill_group(proc)
        await proc.wait()
        raise ProgramTimeoutError(f"{name} did not finish within {time_limit:g}s") from None
    except BaseException:
        _kill_group(proc)
        await asyncio.shield(proc.wait())
        raise
    if exceeded.is_set():
        _kill_group(proc)
        await proc.wait()
        raise ProgramOutputTooLargeError(f"{name} wrote more than {max_output} bytes of output")
    return ProgramResult(proc.returncode or 0, bytes(out), bytes(err))
