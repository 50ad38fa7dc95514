"""Locating (and on first use building) the control plane's binaries.

The binaries (etcd, kube-apiserver, kube-controller-manager, kubectl, helm) are built from the Go
module proxy by ``tools/build-binaries.sh`` into a version-keyed cache outside the repository.
``SHUNTER_BIN_DIR`` names a folder holding ready-made binaries instead and skips the script.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

__all__ = [
    "BUILD_SCRIPT",
    "KUBE_VERSION",
    "BinariesError",
    "binary",
    "find_binaries",
    "repo_root",
]

KUBE_VERSION = "v1.35.4"
"""The Kubernetes version ``tools/build-binaries.sh`` builds (kube-apiserver, kubectl, ...)."""

BUILD_SCRIPT = Path("tools") / "build-binaries.sh"
"""The build script, relative to the repository root."""

BIN_DIR_ENV = "SHUNTER_BIN_DIR"

_known_bin_dir: Path | None = None
_lock = threading.Lock()


class BinariesError(RuntimeError):
    """The binaries could not be found or built."""


def repo_root(start: Path | None = None) -> Path:
    """Return the repository root: the nearest folder above ``start`` holding the build script."""
    here = (start or Path(__file__)).resolve()
    for folder in (here, *here.parents):
        if (folder / BUILD_SCRIPT).is_file():
            return folder
    raise BinariesError(
        f"no {BUILD_SCRIPT} found above {here}; run from a source checkout "
        f"or set {BIN_DIR_ENV} to a folder holding the binaries"
    )


def _missing(folder: Path, names: Iterable[str]) -> list[str]:
    return [name for name in names if not os.access(folder / name, os.X_OK)]


def find_binaries(
    names: Iterable[str] = ("etcd", "kube-apiserver", "kubectl"),
    *,
    progress: TextIO | None = None,
) -> Path:
    """Return the folder holding the executables ``names``, building the missing ones first.

    With ``SHUNTER_BIN_DIR`` set, that folder is returned (and must hold them all). Otherwise
    ``tools/build-binaries.sh`` builds what is missing; its progress lines are copied to
    ``progress`` (default: ``sys.stderr``) as they come, because a cold build takes minutes.
    """
    global _known_bin_dir  # noqa: PLW0603 - a process-wide memo of the script's answer.
    wanted = list(names)
    override = os.environ.get(BIN_DIR_ENV)
    if override:
        folder = Path(override)
        missing = _missing(folder, wanted)
        if missing:
            raise BinariesError(f"{BIN_DIR_ENV}={folder} lacks executable(s): {', '.join(missing)}")
        return folder
    with _lock:
        if _known_bin_dir is not None and not _missing(_known_bin_dir, wanted):
            return _known_bin_dir
        folder = _run_build_script(wanted, progress or sys.stderr)
        missing = _missing(folder, wanted)
        if missing:
            raise BinariesError(f"{BUILD_SCRIPT} did not produce {', '.join(missing)} in {folder}")
        _known_bin_dir = folder
        return folder


def binary(name: str) -> Path:
    """Return the path of one executable (e.g. ``"kubectl"``), building it if needed."""
    return find_binaries([name]) / name


def _run_build_script(names: list[str], progress: TextIO) -> Path:
    script = repo_root() / BUILD_SCRIPT
    stdout_lines: list[str] = []
    stderr_tail: list[str] = []
    with subprocess.Popen(
        ["bash", str(script), *names],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        stdout, stderr = proc.stdout, proc.stderr
        if stdout is None or stderr is None:  # pragma: no cover - guaranteed by PIPE.
            raise BinariesError("subprocess pipes missing")
        reader = threading.Thread(
            target=lambda: stdout_lines.extend(stdout), name="build-stdout", daemon=True
        )
        reader.start()
        for line in stderr:
            if not line.rstrip().endswith(": cached"):  # Only builds are worth a line.
                progress.write(line)
                progress.flush()
            stderr_tail = [*stderr_tail[-29:], line]
        code = proc.wait()
        reader.join()
    if code != 0:
        raise BinariesError(
            f"{BUILD_SCRIPT} {' '.join(names)} failed with exit code {code}:\n"
            + "".join(stderr_tail)
        )
    lines = [line.strip() for line in stdout_lines if line.strip()]
    if not lines:
        raise BinariesError(f"{BUILD_SCRIPT} printed no bin folder on stdout")
    return Path(lines[-1])
