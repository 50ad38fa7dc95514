"""The ``git-commit`` step: commit every change of a working tree.

All changes (additions, modifications, deletions, untracked files) are staged and committed with
``message``. When nothing changed the step is ``Skipped`` (not Succeeded). Output ``commit``: the
new sha, or the current ``HEAD`` when nothing was committed. The identity is the one chosen at
clone time unless the (deprecated) ``author`` overrides it for this commit.
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
from shunter.steps_support.git_common import (
    GitAuthorConfig,
    git_step_error,
    identity,
    load_worktree,
)

__all__ = ["GitCommitConfig", "GitCommitStep"]

NonEmpty = Annotated[str, StringConstraints(min_length=1)]


class GitCommitConfig(StepConfig):
    """Config of ``git-commit``."""

    path: NonEmpty
    message: NonEmpty
    #: Deprecated in Kargo (configure the identity in ``git-clone``), still honoured.
    author: GitAuthorConfig | None = None


@register
class GitCommitStep:
    """Runner of ``git-commit``."""

    name: ClassVar[str] = "git-commit"
    config_model: ClassVar[type[StepConfig]] = GitCommitConfig
    default_timeout: ClassVar[timedelta | None] = None
    default_error_threshold: ClassVar[int] = 1
    external_effects: ClassVar[Effects] = Effects.NONE

    async def run(self, ctx: StepContext, config: Any) -> StepResult:
        """Stage everything; commit if anything changed."""
        if not isinstance(config, GitCommitConfig):
            raise TerminalStepError("git-commit: unexpected config type")
        author = identity(ctx, config.author) if config.author is not None else None
        tree = await load_worktree(ctx, config.path)
        try:
            await tree.add_all()
            if not await tree.has_changes():
                return StepResult(
                    status=PromotionStepStatus.SKIPPED,
                    message="nothing to commit: the working tree is clean",
                    output={"commit": await tree.head()},
                )
            sha = await tree.commit(config.message, author=author)
        except GitError as exc:
            raise git_step_error(f"error committing in {config.path}", exc) from exc
        return StepResult(status=PromotionStepStatus.SUCCEEDED, output={"commit": sha})
