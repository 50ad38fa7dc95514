"""Server child processes that never outlive their parent.

Every server is started in its own process group (so a stop reaches anything it forks) with its
output going to a log file. On Linux the child also asks the kernel (``PR_SET_PDEATHSIG``) for a
SIGKILL when its parent dies, so even a ``kill -9`` of the test run takes the servers down.
Caveat of that kernel feature: "parent" is the *thread* that started the child; start servers
from a thread that outlives them (the main thread, in tests and in ``python -m shunter_devenv``).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO

__all__ = ["ManagedProcess", "free_port"]

_PR_SET_PDEATHSIG = 1


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _die_with_parent() -> Callable[[], None] | None:
    """Return a pre-exec hook that makes the child get SIGKILL when its parent dies (Linux)."""
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    prctl.restype = ctypes.c_int
    parent = os.getpid()
    sigkill = int(signal.SIGKILL)

    def hook() -> None:
        prctl(_PR_SET_PDEATHSIG, sigkill, 0, 0, 0)
        if os.getppid() != parent:  # The parent died before prctl took effect.
            os.kill(os.getpid(), sigkill)

    return hook


class ManagedProcess:
    """One server process: started in its own process group, logged to ``log_path``."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log_path: Path,
        *,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self._env = dict(env) if env is not None else None
        self._popen: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def start(self) -> None:
        """Start the process; its stdout and stderr go to ``log_path``."""
        if self._popen is not None:
            raise RuntimeError(f"{self.name} was already started")
        self._log = self.log_path.open("ab")
        try:
            self._popen = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                env=self._env,
                close_fds=True,
                start_new_session=True,
                # The hook only calls prctl (and getppid/kill); see _die_with_parent.
                preexec_fn=_die_with_parent(),  # noqa: PLW1509
            )
        except BaseException:
            self._log.close()
            self._log = None
            raise

    @property
    def env(self) -> dict[str, str] | None:
        """The environment the process is started with (None: inherited)."""
        return None if self._env is None else dict(self._env)

    @property
    def pid(self) -> int:
        """The process id (the process group id too)."""
        if self._popen is None:
            raise RuntimeError(f"{self.name} was not started")
        return self._popen.pid

    @property
    def started(self) -> bool:
        return self._popen is not None

    def exit_code(self) -> int | None:
        """The exit code, or None while the process runs (or was never started)."""
        return None if self._popen is None else self._popen.poll()

    def running(self) -> bool:
        return self._popen is not None and self._popen.poll() is None

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM the process group, SIGKILL it after ``timeout`` seconds, reap the process."""
        popen = self._popen
        if popen is not None:
            if popen.poll() is None:
                self._signal_group(signal.SIGTERM)
                try:
                    popen.wait(timeout)
                except subprocess.TimeoutExpired:
                    self._signal_group(signal.SIGKILL)
                    popen.wait()
            # Anything the server forked into its group goes too.
            self._signal_group(signal.SIGKILL)
        if self._log is not None:
            self._log.close()
            self._log = None

    def _signal_group(self, sig: signal.Signals) -> None:
        if self._popen is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._popen.pid, sig)

    def log_tail(self, lines: int = 40) -> str:
        """The last ``lines`` lines of the log (empty if there is no log)."""
        try:
            data = self.log_path.read_bytes()
        except OSError:
            return ""
        return "\n".join(data.decode("utf-8", "replace").splitlines()[-lines:])
