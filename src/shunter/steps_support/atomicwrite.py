"""Write a work-directory file atomically: a temporary file next to it, then a rename.

Owns :func:`atomic_file`. Readers never see a half-written file, a failed write leaves the old
file (or no file) in place, and an existing file keeps its permission bits (new files get
``0600``, as Kargo creates them, unless the caller says otherwise).

The folder is reached at the moment of writing through :func:`shunter._internal.paths.open_parent`
(created if missing; a symbolic link on the way that leads out of the work directory is
refused), and the temporary file and the rename are relative to its descriptor.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from shunter._internal.paths import open_parent

__all__ = ["NEW_FILE_MODE", "atomic_file"]

#: Permission bits of a file that did not exist before.
NEW_FILE_MODE = 0o600


@contextlib.contextmanager
def atomic_file(root: Path, target: Path, *, mode: int | None = None) -> Iterator[BinaryIO]:
    """A binary handle whose content replaces ``target`` when the block ends without error.

    ``target`` must be inside the work directory ``root``; missing folders are created. A
    symlink at ``target`` is replaced by a regular file (the link itself, not what it points
    to). ``mode``: the permission bits (default: the replaced file's, else ``0600``).
    """
    with open_parent(root, target, create=True, follow=False) as (folder, name):
        if mode is None:
            try:
                info = os.stat(name, dir_fd=folder, follow_symlinks=False)
                mode = stat.S_IMODE(info.st_mode) if stat.S_ISREG(info.st_mode) else NEW_FILE_MODE
            except FileNotFoundError:
                mode = NEW_FILE_MODE
        temp = f".{name[:100]}.{secrets.token_hex(6)}.tmp"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(temp, flags, 0o600, dir_fd=folder)
        try:
            with os.fdopen(fd, "wb") as handle:
                yield handle
                handle.flush()
                os.fchmod(handle.fileno(), mode)
            os.rename(temp, name, src_dir_fd=folder, dst_dir_fd=folder)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp, dir_fd=folder)
            raise
