"""Write a work-directory file atomically: a temporary file next to it, then a rename.

Owns :func:`atomic_file`. Readers never see a half-written file, a failed write leaves the old
file (or no file) in place, and an existing file keeps its permission bits (new files get
``0600``, as Kargo creates them).
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

__all__ = ["NEW_FILE_MODE", "atomic_file"]

#: Permission bits of a file that did not exist before.
NEW_FILE_MODE = 0o600


@contextlib.contextmanager
def atomic_file(target: Path) -> Iterator[BinaryIO]:
    """A binary handle whose content replaces ``target`` when the block ends without error.

    The parent directory must exist. A symlink at ``target`` is replaced by a regular file
    (the link itself, not what it points to).
    """
    try:
        mode = stat.S_IMODE(os.lstat(target).st_mode)
        if stat.S_ISLNK(os.lstat(target).st_mode):
            mode = NEW_FILE_MODE
    except FileNotFoundError:
        mode = NEW_FILE_MODE
    fd, temp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    temp = Path(temp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fchmod(handle.fileno(), mode)
        temp.replace(target)
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise
