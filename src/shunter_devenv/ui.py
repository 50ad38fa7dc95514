"""Run ``shunter ui`` as a separate process, for the browser tests and the demo.

The process binds 127.0.0.1 on a free port and prints its URL (with the launch key in
``kubeconfig`` mode); :attr:`UiProcess.url` waits for that line.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from types import TracebackType
from typing import Self

from shunter_devenv.processes import ManagedProcess
from shunter_devenv.waiting import wait_for

__all__ = ["UiProcess"]

_URL = re.compile(r"shunter UI: (http://\S+)")


class UiProcess:
    """``python -m shunter ui`` against a kubeconfig, ``auth`` ``kubeconfig`` or ``token``."""

    def __init__(
        self,
        kubeconfig: Path,
        log_path: Path,
        *,
        auth: str = "kubeconfig",
        extra_args: tuple[str, ...] = (),
    ) -> None:
        self.kubeconfig = kubeconfig
        self.log_path = log_path
        self.auth = auth
        self.extra_args = extra_args
        self._process: ManagedProcess | None = None
        self._url: str | None = None

    def start(self) -> Self:
        """Start the UI and wait until it prints its URL."""
        env = {**os.environ, "KUBECONFIG": str(self.kubeconfig), "PYTHONUNBUFFERED": "1"}
        argv = [sys.executable, "-m", "shunter", "ui", "--port", "0", "--auth", self.auth]
        argv += self.extra_args
        self._process = ManagedProcess("shunter-ui", argv, self.log_path, env=env)
        self._process.start()
        process = self._process

        def printed() -> str | None:
            if not process.running():
                raise RuntimeError(f"shunter ui exited:\n{process.log_tail()}")
            match = _URL.search(self.log())
            return match.group(1) if match else None

        self._url = wait_for(printed, timeout=60, what="shunter ui to print its URL")
        return self

    @property
    def url(self) -> str:
        """The URL ``shunter ui`` printed (with ``?key=`` in kubeconfig mode)."""
        if self._url is None:
            raise RuntimeError("the UI has not been started")
        return self._url

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>`` without path or key."""
        return self.url.split("/?", 1)[0].rstrip("/")

    def running(self) -> bool:
        """Whether the process is alive."""
        return self._process is not None and self._process.running()

    def log(self) -> str:
        """What the UI logged so far."""
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self) -> None:
        """SIGTERM, then SIGKILL."""
        if self._process is not None:
            self._process.stop(10)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
