"""Per-Promotion working directories: ``<work_root>/promotion-<uid>``.

Owns creating the directory (and telling the engine whether it was just created, which means a
new Promotion or a restarted operator, so execution starts over at step 0) and removing it when
the Promotion reaches a terminal phase or is deleted.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

__all__ = ["cleanup_work_dir", "ensure_work_dir", "work_dir_path"]

_log = logging.getLogger(__name__)


def work_dir_path(work_root: Path, uid: str) -> Path:
    """``<work_root>/promotion-<uid>``; the uid must be a plain name."""
    if not uid or "/" in uid or "\\" in uid or uid in (".", "..") or "\x00" in uid:
        raise ValueError(f"invalid Promotion uid {uid!r}")
    return work_root / f"promotion-{uid}"


def ensure_work_dir(work_root: Path, uid: str) -> tuple[Path, bool]:
    """Create the directory if needed; returns ``(path, created)``."""
    path = work_dir_path(work_root, uid)
    work_root.mkdir(parents=True, exist_ok=True)
    try:
        path.mkdir(mode=0o700)
    except FileExistsError:
        if not path.is_dir():
            raise
        return path, False
    return path, True


def cleanup_work_dir(work_root: Path, uid: str) -> None:
    """Remove the directory and everything in it (best effort, never raises)."""
    try:
        path = work_dir_path(work_root, uid)
    except ValueError:
        return
    try:
        shutil.rmtree(path)
    except FileNotFoundError:
        return
    except OSError as exc:
        _log.warning("could not remove promotion working directory %s: %s", path, exc)
