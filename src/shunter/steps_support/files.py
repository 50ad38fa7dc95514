"""Read and write the text files the editing steps change, keeping their bytes intact.

Owns :func:`read_text` and :func:`write_text`: UTF-8 only, a byte-order mark and ``\\r\\n``
line endings survive a round trip, and writing keeps the file's inode and permissions. The write
reaches the file again from the work directory at that moment
(:func:`shunter._internal.paths.open_file`), so a link leading out is refused even if it
appeared since the file was read.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from shunter._internal.paths import open_file
from shunter.promotion.step import StepError, TerminalStepError

__all__ = ["TextFile", "read_text", "write_text"]

_BOM = "\ufeff"


@dataclass(frozen=True)
class TextFile:
    """A decoded file (of the work directory ``root``): its text without a byte-order mark, and
    whether it had one."""

    root: Path
    path: Path
    text: str
    bom: bool = False


def read_text(root: Path, path: Path, shown: str) -> TextFile:
    """Read ``path`` in the work directory ``root`` (``shown`` is the name used in messages)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise StepError(f"file {shown!r} does not exist") from None
    except IsADirectoryError:
        raise TerminalStepError(f"{shown!r} is a directory, not a file") from None
    except OSError as exc:
        raise StepError(f"cannot read {shown!r}: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise TerminalStepError(f"file {shown!r} is not UTF-8 text") from None
    if text.startswith(_BOM):
        return TextFile(root, path, text[1:], bom=True)
    return TextFile(root, path, text)


def write_text(file: TextFile, text: str, shown: str) -> None:
    """Write ``text`` back to the file ``file`` was read from (only when it changed)."""
    if text == file.text:
        return
    data = ((_BOM if file.bom else "") + text).encode("utf-8")
    try:
        fd = open_file(file.root, file.path, os.O_WRONLY)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.truncate()
    except OSError as exc:
        raise StepError(f"cannot write {shown!r}: {exc.strerror}") from None
