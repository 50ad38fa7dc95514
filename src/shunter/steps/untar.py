"""The ``untar`` step: extract a tar archive (optionally gzipped) inside the work directory.

Config: ``inPath`` (the archive; gzip is detected from its first bytes), ``outPath`` (the
directory to extract into, created if needed; entries of the archive replace what is there,
other files stay), ``stripComponents`` (leading path components removed from every entry name;
entries with no more components are skipped) and ``ignore`` (gitignore-syntax patterns, one per
line, matched against entry names after stripping; ``.git`` is always ignored). No outputs.

Safety: the archive is first extracted into a private folder of the work directory, then moved
into ``outPath``, so a refused archive leaves nothing behind. The whole archive is refused
(terminal error) when an entry name is absolute, contains ``..`` or a backslash, or would be
written through a symbolic link; when a symbolic link's target is absolute or contains ``..``
(links can then only point down into the extracted tree); when a hard link names an entry that
is not a regular file extracted before it (hard links become copies); when a file is larger than
50 MiB, the files together exceed 100 MiB, or there are more than 10,000 entries. Device files,
FIFOs and other special entries are skipped. File modes keep their permission bits minus group
and other write, plus owner read/write; directories are ``0755``. Moving into ``outPath``
replaces a symbolic link met there instead of following it.

Differences from Kargo: Kargo silently skips unsafe entries (and entries starting with ``./``)
and drops hard links; here unsafe archives are refused, ``./`` prefixes are removed, hard links
are extracted as copies, and ``.git`` is ignored even when ``ignore`` is set.
"""

from __future__ import annotations

import gzip
import os
import shutil
import stat
import tarfile
import tempfile
import zlib
from datetime import timedelta
from pathlib import Path, PurePosixPath
from typing import IO, Any, ClassVar

import pathspec
from pydantic import Field

from shunter._internal.paths import open_dir
from shunter._internal.threads import checkpoint, run_in_thread
from shunter.api.v1alpha1.promotion import PromotionStepStatus
from shunter.promotion.effects import Effects
from shunter.promotion.registry import register
from shunter.promotion.step import (
    StepConfig,
    StepContext,
    StepError,
    StepResult,
    TerminalStepError,
)
from shunter.steps_support.glob import ignore_spec

__all__ = [
    "MAX_ENTRIES",
    "MAX_FILE_BYTES",
    "MAX_TOTAL_BYTES",
    "UntarConfig",
    "UntarStep",
    "extract_archive",
    "merge_into",
]

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
MAX_FILE_BYTES = 50 << 20
MAX_TOTAL_BYTES = 100 << 20
MAX_ENTRIES = 10_000
_CHUNK = 1 << 20


class UntarConfig(StepConfig):
    """Config of ``untar``."""

    in_path: str = Field(min_length=1, description="The tar archive (gzip detected).")
    out_path: str = Field(min_length=1, description="Directory to extract into.")
    strip_components: int | None = Field(
        default=None, ge=0, description="Leading path components to strip from entry names."
    )
    ignore: str | None = Field(
        default=None, min_length=1, description="gitignore-style patterns to leave out."
    )


class _RefusedError(Exception):
    """The archive is unsafe or too large."""


def _clean_name(raw: str, what: str) -> list[str]:
    """The components of an entry name (``./`` prefixes removed); refuses unsafe names."""
    if "\\" in raw or "\x00" in raw:
        raise _RefusedError(f"{what} {raw!r} contains a backslash or NUL")
    if raw.startswith("/"):
        raise _RefusedError(f"{what} {raw!r} is an absolute path")
    parts = [p for p in PurePosixPath(raw).parts if p not in ("", ".")]
    if ".." in parts:
        raise _RefusedError(f"{what} {raw!r} contains '..'")
    return parts


def _check_link_target(target: str, name: str) -> None:
    if not target or target.startswith("/") or "\\" in target or "\x00" in target:
        raise _RefusedError(f"symbolic link {name!r} points to {target!r}, outside the archive")
    if ".." in PurePosixPath(target).parts:
        raise _RefusedError(f"symbolic link {name!r} points to {target!r}, which contains '..'")


def _parent_dir(root: Path, parts: list[str], name: str) -> Path:
    """Create the parent folders of an entry, refusing any that is a link or a file."""
    current = root
    for part in parts[:-1]:
        current = current / part
        try:
            mode = current.lstat().st_mode
        except FileNotFoundError:
            current.mkdir(mode=0o755)
            continue
        if stat.S_ISLNK(mode):
            raise _RefusedError(f"entry {name!r} would be written through a symbolic link")
        if not stat.S_ISDIR(mode):
            raise _RefusedError(f"entry {name!r} needs {'/'.join(parts[:-1])!r} to be a directory")
    return current


def _plain_path(root: Path, parts: list[str]) -> bool:
    """Whether ``root/parts`` exists as real directories (no symbolic link on the way)."""
    current = root
    for part in parts:
        current = current / part
        try:
            if not stat.S_ISDIR(current.lstat().st_mode):
                return False
        except FileNotFoundError:
            return False
    return True


def _clear(target: Path, name: str) -> None:
    """Remove what a later entry of the same name replaces (a directory only by a directory)."""
    try:
        mode = target.lstat().st_mode
    except FileNotFoundError:
        return
    if stat.S_ISDIR(mode):
        raise _RefusedError(f"entry {name!r} would replace a directory")
    target.unlink()


class _Extractor:
    def __init__(self, root: Path, strip: int, spec: pathspec.GitIgnoreSpec) -> None:
        self.root = root
        self.strip = strip
        self.spec = spec
        self.total = 0
        self.scanned = 0
        self.entries = 0

    def target(self, raw: str, is_dir: bool) -> list[str] | None:
        parts = _clean_name(raw, "entry")
        if self.strip:
            if len(parts) <= self.strip:
                return None
            parts = parts[self.strip :]
        if not parts:
            return None
        relative = "/".join(parts)
        if self.spec.match_file(relative + "/" if is_dir else relative):
            return None
        # A file under an ignored directory is ignored too.
        for depth in range(1, len(parts)):
            if self.spec.match_file("/".join(parts[:depth]) + "/"):
                return None
        return parts

    def count(self, size: int, name: str) -> None:
        if size > MAX_FILE_BYTES:
            raise _RefusedError(f"file {name!r} is larger than {MAX_FILE_BYTES} bytes")
        self.total += size
        if self.total > MAX_TOTAL_BYTES:
            raise _RefusedError(f"the archive's files add up to more than {MAX_TOTAL_BYTES} bytes")

    def write_file(self, parts: list[str], source: IO[bytes], size: int, mode: int) -> None:
        name = "/".join(parts)
        self.count(size, name)
        target = _parent_dir(self.root, parts, name) / parts[-1]
        _clear(target, name)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        fd = os.open(target, flags, 0o600)
        with os.fdopen(fd, "wb") as out:
            remaining = size
            while remaining > 0:
                chunk = source.read(min(_CHUNK, remaining))
                if not chunk:
                    raise _RefusedError(f"file {name!r} is truncated")
                out.write(chunk)
                remaining -= len(chunk)
        target.chmod((mode & 0o755) | 0o600)

    def entry(self, archive: tarfile.TarFile, member: tarfile.TarInfo) -> None:
        self.entries += 1
        if self.entries > MAX_ENTRIES:
            raise _RefusedError(f"the archive has more than {MAX_ENTRIES} entries")
        # Skipping an entry still decompresses it: count every entry's data.
        self.scanned += max(member.size, 0)
        if self.scanned > MAX_TOTAL_BYTES:
            raise _RefusedError(f"the archive holds more than {MAX_TOTAL_BYTES} bytes of data")
        parts = self.target(member.name, member.isdir())
        if parts is None:
            return
        name = "/".join(parts)
        if member.isdir():
            target = _parent_dir(self.root, parts, name) / parts[-1]
            try:
                mode = target.lstat().st_mode
            except FileNotFoundError:
                target.mkdir(mode=0o755)
                return
            if not stat.S_ISDIR(mode):
                raise _RefusedError(f"directory entry {name!r} would replace a file or link")
        elif member.isreg():
            source = archive.extractfile(member)
            if source is None:
                raise _RefusedError(f"file {name!r} cannot be read")
            self.write_file(parts, source, member.size, member.mode)
        elif member.issym():
            _check_link_target(member.linkname, name)
            target = _parent_dir(self.root, parts, name) / parts[-1]
            _clear(target, name)
            target.symlink_to(member.linkname)
        elif member.islnk():
            self.hard_link(parts, member.linkname)

    def hard_link(self, parts: list[str], linkname: str) -> None:
        name = "/".join(parts)
        link_parts = _clean_name(linkname, f"hard link {name!r} to")
        if self.strip:
            link_parts = link_parts[self.strip :]
        if not link_parts or not _plain_path(self.root, link_parts[:-1]):
            raise _RefusedError(
                f"hard link {name!r} names {linkname!r}, not a file extracted before"
            )
        source = self.root.joinpath(*link_parts)
        try:
            mode = source.lstat().st_mode
        except (FileNotFoundError, NotADirectoryError):
            raise _RefusedError(
                f"hard link {name!r} names {linkname!r}, not extracted before"
            ) from None
        if not stat.S_ISREG(mode):
            raise _RefusedError(
                f"hard link {name!r} names {linkname!r}, which is not a regular file"
            )
        with source.open("rb") as reader:
            self.write_file(parts, reader, source.stat().st_size, stat.S_IMODE(mode))


def _open_archive(path: Path) -> tarfile.TarFile:
    with path.open("rb") as probe:
        gzipped = probe.read(2) == b"\x1f\x8b"
    return tarfile.open(path, mode="r:gz" if gzipped else "r:")


def extract_archive(archive: Path, dest: Path, strip: int = 0, ignore: str | None = None) -> None:
    """Extract ``archive`` into the empty directory ``dest`` under the rules of this module.

    Raises:
        TerminalStepError: the archive is unsafe, too large or not a tar archive.
    """
    extractor = _Extractor(dest, strip, ignore_spec(ignore))
    try:
        with _open_archive(archive) as tar:
            for member in tar:
                checkpoint()
                extractor.entry(tar, member)
    except _RefusedError as exc:
        raise TerminalStepError(f"refusing to extract the archive: {exc}") from None
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise TerminalStepError(f"not a valid tar archive: {exc}") from None


def merge_into(source: Path, dest: int) -> None:
    """Move the contents of directory ``source`` into the open directory ``dest`` (never
    following links that exist in ``dest``; entries of ``source`` replace what they collide
    with)."""
    for entry in sorted(source.iterdir()):
        checkpoint()
        name = entry.name
        try:
            target_mode: int | None = os.stat(name, dir_fd=dest, follow_symlinks=False).st_mode
        except FileNotFoundError:
            target_mode = None
        if entry.is_dir() and not entry.is_symlink():
            if target_mode is not None and stat.S_ISDIR(target_mode):
                folder = os.open(name, _DIR_FLAGS, dir_fd=dest)
                try:
                    merge_into(entry, folder)
                finally:
                    os.close(folder)
                continue
            if target_mode is not None:
                os.unlink(name, dir_fd=dest)
        elif target_mode is not None and stat.S_ISDIR(target_mode):
            shutil.rmtree(name, dir_fd=dest)
        os.rename(entry, name, dst_dir_fd=dest)


def _run(ctx: StepContext, cfg: UntarConfig) -> None:
    archive = ctx.path(cfg.in_path)
    dest = ctx.path(cfg.out_path, allow_root=True)
    if not archive.is_file():
        raise StepError(f"inPath {cfg.in_path!r} is not an existing file")
    if dest.exists() and not dest.is_dir():
        raise TerminalStepError(f"outPath {cfg.out_path!r} exists and is not a directory")
    staging = Path(tempfile.mkdtemp(prefix=".untar-", dir=ctx.work_dir.resolve()))
    try:
        extract_archive(archive, staging, cfg.strip_components or 0, cfg.ignore)
        with open_dir(ctx.work_dir, dest, create=True) as folder:
            merge_into(staging, folder)
    except OSError as exc:
        raise StepError(f"failed to extract {cfg.in_path!r}: {exc.strerror}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)


@register
class UntarStep:
    """Runner of ``untar``."""

    name: ClassVar[str] = "untar"
    config_model: ClassVar[type[StepConfig]] = UntarConfig
    default_timeout: ClassVar[timedelta | None] = None
    default_error_threshold: ClassVar[int] = 1
    external_effects: ClassVar[Effects] = Effects.NONE

    async def run(self, ctx: StepContext, config: Any) -> StepResult:
        """Extract ``inPath`` into ``outPath``."""
        cfg = UntarConfig.model_validate(config)
        await run_in_thread(_run, ctx, cfg)
        return StepResult(status=PromotionStepStatus.SUCCEEDED)
