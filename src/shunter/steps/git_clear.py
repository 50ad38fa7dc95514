"""The ``git-clear`` step: empty a working tree (everything but ``.git``).

Typically used before rendering manifests into a branch so that files no longer produced are
deleted. Tracked, untracked and ignored files all go; the branch and its history stay.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, ClassVar

from pydantic import StringConstraints

from shunter.api.v1alpha1.promotion import PromotionStepStatus
from shunter.git import GitError
from shunter.promotion.effects import Effects
from shunter.promotion.registry import register
from shunter.promotion.step import StepConfig, StepContext, StepResult, TerminalStepError
from shunter.steps_support.git_common import git_step_error, load_worktree

__all__ = ["GitClearConfig", "GitClearStep"]


class GitClearConfig(StepConfig):
    """Config of ``git-clear``."""

    path: Annotated[str, StringConstraints(min_length=1)]


@register
class GitClearStep:
    """Runner of ``git-clear``."""

    name: ClassVar[str] = "git-clear"
    config_model: ClassVar[type[StepConfig]] = GitClearConfig
    default_timeout: ClassVar[timedelta | None] = None
    default_error_threshold: ClassVar[int] = 1
    external_effects: ClassVar[Effects] = Effects.NONE

    async def run(self, ctx: StepContext, config: Any) -> StepResult:
        """Delete every file in the working tree at ``path``."""
        if not isinstance(config, GitClearConfig):
            raise TerminalStepError("git-clear: unexpected config type")
        tree = await load_worktree(ctx, config.path)
        try:
            await tree.clear()
        except GitError as exc:
            raise git_step_error(f"error clearing working tree {config.path}", exc) from exc
        return StepResult(status=PromotionStepStatus.SUCCEEDED)
