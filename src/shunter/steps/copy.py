"""The ``copy`` step: copy a file or a directory tree inside the work directory.

Config: ``inPath`` and ``outPath`` (work-directory paths) and ``ignore`` (gitignore-syntax
patterns, one per line, ``#`` comments; matched relative to ``inPath``, or to its parent when
``inPath`` is a file). ``.git`` is always ignored.

Like Kargo: a directory is copied *as* ``outPath`` (merged into it when it exists, files
overwritten), a file is copied *to* ``outPath`` (parents created), permissions are kept, and
symbolic links inside the copied tree are skipped, so a link pointing outside the work
directory is never followed. Both paths must resolve inside the work directory, and the
destination is reached again, folder by folder, as it is written (:mod:`shunter._internal.paths`).
Beyond Kargo: a symbolic link met inside the destination tree is refused rather than written
through, and copying a directory into itself is refused.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
from datetime import timedelta
from pathlib import Path
from typing import Any, ClassVar

from pathspec import GitIgnoreSpec
from pydantic import Field

from shunter._internal.paths import open_dir, open_parent
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

__all__ = ["CopyConfig", "CopyStep", "copy_tree"]

_CHUNK = 1 << 20


class CopyConfig(StepConfig):
    """Config of ``copy``."""

    in_path: str = Field(min_length=1, description="File or directory to copy.")
    out_path: str = Field(min_length=1, description="Destination file or directory.")
    ignore: str | None = Field(
        default=None, min_length=1, description="gitignore-style patterns to leave out."
    )


def _link_refused(shown: str) -> TerminalStepError:
    return TerminalStepError(f"destination {shown!r} is a symbolic link; refusing to write")


def _copy_file(src: Path, folder: int, name: str, shown: str) -> None:
    """Copy the regular file ``src`` to ``name`` in the open directory ``folder``."""
    mode = stat.S_IMODE(src.stat().st_mode)
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC
    with src.open("rb") as reader:
        try:
            fd = os.open(name, flags, 0o600, dir_fd=folder)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise _link_refused(shown) from None
            raise
        with os.fdopen(fd, "wb") as writer:
            shutil.copyfileobj(reader, writer, _CHUNK)
            os.fchmod(writer.fileno(), mode)


def _enter(folder: int, name: str, shown: str) -> int:
    """The directory ``name`` of ``folder`` (created), refusing a link or a file there."""
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        return os.open(name, flags, dir_fd=folder)
    except FileNotFoundError:
        os.mkdir(name, 0o700, dir_fd=folder)
        return os.open(name, flags, dir_fd=folder)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise _link_refused(shown) from None
        if exc.errno == errno.ENOTDIR:
            raise TerminalStepError(
                f"destination {shown!r} exists and is not a directory"
            ) from None
        raise


def _copy_dir(src: Path, dest: int, domain: Path, spec: GitIgnoreSpec, shown: str) -> None:
    """Copy the entries of directory ``src`` into the open directory ``dest``."""
    mode = stat.S_IMODE(src.stat().st_mode)
    os.fchmod(dest, mode | stat.S_IRWXU)
    with os.scandir(src) as entries:
        children = sorted(entries, key=lambda e: e.name)
    for entry in children:
        checkpoint()
        if entry.is_symlink():
            continue
        child = Path(entry.path)
        relative = child.relative_to(domain).as_posix()
        child_shown = f"{shown.rstrip('/')}/{entry.name}"
        if entry.is_dir(follow_symlinks=False):
            if not spec.match_file(relative + "/"):
                folder = _enter(dest, entry.name, child_shown)
                try:
                    _copy_dir(child, folder, domain, spec, child_shown)
                finally:
                    os.close(folder)
        elif entry.is_file(follow_symlinks=False) and not spec.match_file(relative):
            _copy_file(child, dest, entry.name, child_shown)
    os.fchmod(dest, mode)


def copy_tree(root: Path, src: Path, dest: Path, ignore: str | None, shown_dest: str) -> None:
    """Copy ``src`` (file or directory) to ``dest`` inside the work directory ``root``.

    Both are checked paths (:meth:`StepContext.path`); ``dest`` is reached again from ``root``
    as it is written (:mod:`shunter._internal.paths`).
    """
    spec = ignore_spec(ignore)
    if src.is_dir():
        if dest == src or dest.is_relative_to(src):
            raise TerminalStepError("cannot copy a directory into itself")
        if dest.exists() and not dest.is_dir():
            raise TerminalStepError(f"destination {shown_dest!r} exists and is not a directory")
        with open_dir(root, dest, create=True, mode=0o700) as folder:
            _copy_dir(src, folder, src, spec, shown_dest)
        return
    if not src.is_file():
        raise TerminalStepError("only regular files and directories can be copied")
    if spec.match_file(src.name):
        return
    if dest.is_dir():
        raise TerminalStepError(f"destination {shown_dest!r} is a directory")
    if dest == src:
        return
    with open_parent(root, dest, create=True, follow=False) as (folder, name):
        _copy_file(src, folder, name, shown_dest)


def _run(ctx: StepContext, cfg: CopyConfig) -> None:
    src = ctx.path(cfg.in_path, allow_root=True)
    dest = ctx.path(cfg.out_path, allow_root=True)
    if not src.exists():
        raise StepError(f"inPath {cfg.in_path!r} does not exist")
    try:
        copy_tree(ctx.work_dir, src, dest, cfg.ignore, cfg.out_path)
    except OSError as exc:
        raise StepError(
            f"failed to copy {cfg.in_path!r} to {cfg.out_path!r}: {exc.strerror}"
        ) from None


@register
class CopyStep:
    """Runner of ``copy``."""

    name: ClassVar[str] = "copy"
    config_model: ClassVar[type[StepConfig]] = CopyConfig
    default_timeout: ClassVar[timedelta | None] = None
    default_error_threshold: ClassVar[int] = 1
    external_effects: ClassVar[Effects] = Effects.NONE

    async def run(self, ctx: StepContext, config: Any) -> StepResult:
        """Copy ``inPath`` to ``outPath``."""
        cfg = CopyConfig.model_validate(config)
        await run_in_thread(_run, ctx, cfg)
        return StepResult(status=PromotionStepStatus.SUCCEEDED)
