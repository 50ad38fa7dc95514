"""Run ``shunter run`` as a separate process against a (local) cluster, for tests and the demo.

The operator is a real process: tests can stop it, ``kill -9`` it in the middle of a
Promotion, and start it again on the same work directory.

Unless told otherwise (``admission=False``), it serves the admission webhooks on
``127.0.0.1:<free port>`` and registers them itself (``--admission-register-url``) under a
name of its own, for the namespaces it watches; it removes them when it stops, and a restart
replaces them (new port, new certificate). It serves ``/metrics`` on a free
port of 127.0.0.1 (:attr:`OperatorProcess.metrics_url`, :meth:`OperatorProcess.scrape`), so
several operators can run side by side.
"""

from __future__ import annotations

import os
import secrets
import signal
import sys
import time
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Self

from shunter_devenv.processes import ManagedProcess, free_port

__all__ = ["OperatorProcess"]


class OperatorProcess:
    """``python -m shunter run`` with a kubeconfig, a work directory and a log file (``python``:
    another interpreter, e.g. another checkout's virtualenv, for benchmarks)."""

    def __init__(
        self,
        kubeconfig: Path,
        work_dir: Path,
        log_path: Path,
        *,
        env: Mapping[str, str] | None = None,
        args: tuple[str, ...] = (),
        python: str = sys.executable,
        admission: bool = True,
    ) -> None:
        self.kubeconfig = kubeconfig
        self.work_dir = work_dir
        self.log_path = log_path
        self._env = dict(env or {})
        self._args = args
        self._python = python
        self._process: ManagedProcess | None = None
        self.starts = 0
        self.admission = admission
        #: The webhook configurations' name (the same across restarts).
        self.webhook_name = f"shunter-devenv-{secrets.token_hex(4)}"
        #: The port the admission webhooks listen on (chosen at each start).
        self.admission_port = 0
        self.metrics_port = free_port()

    @property
    def metrics_url(self) -> str:
        """The operator's Prometheus endpoint."""
        return f"http://127.0.0.1:{self.metrics_port}/metrics"

    def scrape(self, timeout: float = 5.0) -> str:
        """``GET /metrics`` (raises OSError while the operator is not serving)."""
        with urllib.request.urlopen(self.metrics_url, timeout=timeout) as reply:  # noqa: S310
            text: str = reply.read().decode()
        return text

    def start(self) -> Self:
        """Start (or start again) the operator."""
        if self._process is not None and self._process.running():
            raise RuntimeError("the operator is already running")
        env = {
            **os.environ,
            "KUBECONFIG": str(self.kubeconfig),
            "SHUNTER_WORK_DIR": str(self.work_dir),
            "SHUNTER_LOG_LEVEL": "DEBUG",
            "SHUNTER_RESYNC_SECONDS": "3",
            "SHUNTER_METRICS_ADDRESS": f"127.0.0.1:{self.metrics_port}",
            "PYTHONUNBUFFERED": "1",
            **self._env,
        }
        admission: list[str] = []
        if self.admission:
            self.admission_port = free_port()
            env["SHUNTER_ADMISSION_WEBHOOK_NAME"] = self.webhook_name
            admission = [
                "--admission",
                f"127.0.0.1:{self.admission_port}",
                "--admission-register-url",
                f"https://127.0.0.1:{self.admission_port}",
            ]
        self._process = ManagedProcess(
            "shunter",
            [self._python, "-m", "shunter", "run", *admission, *self._args],
            self.log_path,
            env=env,
        )
        self._process.start()
        self.starts += 1
        return self

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM, then SIGKILL after ``timeout``."""
        if self._process is not None:
            self._process.stop(timeout)

    def kill(self) -> None:
        """``kill -9`` the operator (no clean-up of any kind)."""
        if self._process is not None and self._process.running():
            os.killpg(self._process.pid, signal.SIGKILL)
            deadline = time.monotonic() + 10
            while self._process.running() and time.monotonic() < deadline:
                time.sleep(0.05)
            self._process.stop(0)

    def exit_code(self) -> int | None:
        """The last run's exit code (None while it runs or if it never started)."""
        return None if self._process is None else self._process.exit_code()

    @property
    def pid(self) -> int | None:
        """The running operator's process id."""
        return self._process.pid if self._process is not None and self.running() else None

    def running(self) -> bool:
        """Whether the process is alive."""
        return self._process is not None and self._process.running()

    def log(self) -> str:
        """Everything the operator logged so far (all runs)."""
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
