"""The ``file-write`` step: write text to a file in the work directory.

Config: ``path`` (relative, no ``..`` escape, no ``.git`` component, no symbolic link on the
way), ``contents`` (may be empty), ``permissions`` (``^0[0-7]{3}$``, default ``0600``; modes
with an executable bit or world-writable are refused) and ``overwrite`` (default false: an
existing file is an error). Parent directories are created with mode ``0700``.

Problems with the config or the path end the step as terminally Failed, as in Kargo. Kargo
refuses only a top-level ``.git``; here any ``.git`` component (a clone's ``src/.git``) is
refused too.
"""

from __future__ import annotations

import os
import posixpath
from datetime import timedelta
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field

from shunter._internal.paths import open_file
from shunter._internal.threads import run_in_thread
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

__all__ = ["DEFAULT_PERMISSIONS", "FileWriteConfig", "FileWriteStep", "parse_permissions"]

DEFAULT_PERMISSIONS = 0o600


class FileWriteConfig(StepConfig):
    """Config of ``file-write``."""

    path: str = Field(min_length=1, description="File to write, relative to the work directory.")
    contents: str = Field(description="Text to write (may be empty).")
    permissions: str | None = Field(
        default=None, pattern=r"^0[0-7]{3}$", description="Octal file mode; default 0600."
    )
    overwrite: bool = False


def _failed(message: str) -> TerminalStepError:
    return TerminalStepError(message, failed=True)


def parse_permissions(text: str | None) -> int:
    """The file mode for ``permissions`` (raises a terminal, failed StepError)."""
    if not text:
        return DEFAULT_PERMISSIONS
    mode = int(text, 8)
    if mode & 0o111:
        raise _failed(f"permissions {text!r} must not include executable bits")
    if mode & 0o002:
        raise _failed(f"permissions {text!r} must not be world-writable")
    return mode


def _target(ctx: StepContext, path: str) -> Path:
    if path.startswith(("/", "~")) or Path(path).is_absolute():
        raise _failed(f"path {path!r} must be relative")
    clean = posixpath.normpath(path)
    if clean in (".", "..") or clean.startswith("../"):
        raise _failed(f"path {path!r} attempts to traverse outside the working directory")
    if any(part.casefold() == ".git" for part in clean.split("/")):
        raise _failed(f"writing into a .git directory is forbidden: {path!r}")
    try:
        resolved = ctx.path(clean)
    except TerminalStepError as exc:
        raise _failed(str(exc)) from None
    relative = resolved.relative_to(ctx.work_dir.resolve()).as_posix()
    if relative != clean:
        raise _failed(
            f"path {path!r} resolves to a different path {relative!r} (symlinks are forbidden)"
        )
    return resolved


def _write(ctx: StepContext, cfg: FileWriteConfig) -> None:
    mode = parse_permissions(cfg.permissions)
    target = _target(ctx, cfg.path)
    if os.path.lexists(target) and not cfg.overwrite:
        raise _failed(f"file {cfg.path!r} already exists; set overwrite to true to replace it")
    if target.is_dir():
        raise _failed(f"{cfg.path!r} is a directory")
    try:
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
        fd = open_file(
            ctx.work_dir, target, flags, mode, create_parents=True, dir_mode=0o700, follow=False
        )
        with os.fdopen(fd, "wb") as handle:
            handle.write(cfg.contents.encode("utf-8"))
            os.fchmod(handle.fileno(), mode)
    except OSError as exc:
        raise StepError(f"error writing file {cfg.path!r}: {exc.strerror}") from None


@register
class FileWriteStep:
    """Runner of ``file-write``."""

    name: ClassVar[str] = "file-write"
    config_model: ClassVar[type[StepConfig]] = FileWriteConfig
    default_timeout: ClassVar[timedelta | None] = None
    default_error_threshold: ClassVar[int] = 1
    external_effects: ClassVar[Effects] = Effects.NONE

    async def run(self, ctx: StepContext, config: Any) -> StepResult:
        """Write ``contents`` to ``path``."""
        cfg = FileWriteConfig.model_validate(config)
        await run_in_thread(_write, ctx, cfg)
        return StepResult(status=PromotionStepStatus.SUCCEEDED)
