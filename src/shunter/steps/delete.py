"""The ``delete`` step: delete files and directories inside the work directory.

Config: exactly one of ``path`` or ``paths[]``; ``pathsAreGlobs`` (default false) reads them
as doublestar glob patterns (see :mod:`shunter.steps_support.glob`); ``strict`` (default
false) makes a missing path or a pattern that matches nothing an error.

A symbolic link is deleted as a link, never followed; the parent directories of a path may
be links only when they resolve inside the work directory (checked again as each path is
deleted: :func:`shunter._internal.paths.remove`). The work directory itself cannot be deleted.
"""

from __future__ import annotations

import os
import posixpath
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, ClassVar

from pydantic import Field, model_validator

from shunter._internal.paths import remove
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
from shunter.steps_support.glob import GlobPatternError, glob_workdir

__all__ = ["DeleteConfig", "DeleteStep"]


class DeleteConfig(StepConfig):
    """Config of ``delete``."""

    path: str | None = Field(default=None, min_length=1, description="One path (or pattern).")
    paths: list[Annotated[str, Field(min_length=1)]] | None = Field(
        default=None, min_length=1, description="Several paths (or patterns)."
    )
    paths_are_globs: bool = False
    strict: bool = False

    @model_validator(mode="after")
    def _path_xor_paths(self) -> DeleteConfig:
        if (self.path is None) == (self.paths is None):
            raise ValueError("exactly one of 'path' or 'paths' must be set")
        return self


def _literal(ctx: StepContext, path: str) -> Path | None:
    """The path to delete (its last component not followed), or None when it does not exist."""
    if path.startswith(("/", "~")):
        raise TerminalStepError(f"path {path!r} must be relative to the working directory")
    clean = posixpath.normpath(path)
    if clean in (".", "") or clean == ".." or clean.startswith("../"):
        raise TerminalStepError(
            f"path {path!r} does not name something inside the working directory"
        )
    parent_text, leaf = posixpath.split(clean)
    parent = ctx.path(parent_text or ".", allow_root=True)
    target = parent / leaf
    return target if os.path.lexists(target) else None


def _run(ctx: StepContext, cfg: DeleteConfig) -> None:
    entries = [cfg.path] if cfg.path is not None else list(cfg.paths or [])
    root = ctx.work_dir.resolve()
    targets: list[Path] = []
    for entry in entries:
        if cfg.paths_are_globs:
            pattern = entry.removeprefix("./")
            try:
                found = glob_workdir(root, pattern)
            except GlobPatternError as exc:
                raise TerminalStepError(str(exc)) from None
            if not found and cfg.strict:
                raise StepError(f"no paths matched pattern {entry!r}")
            targets.extend(found)
        else:
            target = _literal(ctx, entry)
            if target is None:
                if cfg.strict:
                    raise StepError(f"path {entry!r} does not exist")
                continue
            targets.append(target)
    for target in sorted(set(targets)):
        if target == root or not target.is_relative_to(root):
            raise TerminalStepError("refusing to delete the working directory")
        try:
            remove(root, target)
        except FileNotFoundError:
            continue
        except OSError as exc:
            shown = target.relative_to(root).as_posix()
            raise StepError(f"failed to delete {shown!r}: {exc.strerror}") from None


@register
class DeleteStep:
    """Runner of ``delete``."""

    name: ClassVar[str] = "delete"
    config_model: ClassVar[type[StepConfig]] = DeleteConfig
    default_timeout: ClassVar[timedelta | None] = None
    default_error_threshold: ClassVar[int] = 1
    external_effects: ClassVar[Effects] = Effects.NONE

    async def run(self, ctx: StepContext, config: Any) -> StepResult:
        """Delete the configured paths."""
        cfg = DeleteConfig.model_validate(config)
        await run_in_thread(_run, ctx, cfg)
        return StepResult(status=PromotionStepStatus.SUCCEEDED)
