"""The ``git-tag`` step: create an annotated tag on ``HEAD`` of a working tree.

Config: ``path`` (a working tree made by ``git-clone``), ``tag`` (the tag name), ``message``
(the annotation) and ``force`` (default false: move a tag of that name that already exists;
without it an existing tag - this tree's, or one the remote had at checkout - is an error). The
tagger is the identity chosen at clone time. The tag belongs to this working tree only (other
promotions checking out the same repository do not see it): push it with ``git-push`` and
``tag: <name>``. Output ``commit``: the sha of the tagged commit (``HEAD``).

An invalid tag name is a terminal error; an existing tag (without ``force``) is an error
counted against the step's error threshold, as in Kargo.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, ClassVar

from pydantic import StringConstraints

from shunter.api.v1alpha1.promotion import PromotionStepStatus
from shunter.git import GitError
from shunter.promotion.effects import Effects
from shunter.promotion.registry import register
from shunter.promotion.step import StepConfig, StepContext, StepResult
from shunter.steps_support.git_common import git_step_error, load_worktree

__all__ = ["GitTagConfig", "GitTagStep"]

NonEmpty = Annotated[str, StringConstraints(min_length=1)]


class GitTagConfig(StepConfig):
    """Config of ``git-tag``."""

    path: NonEmpty
    tag: NonEmpty
    message: NonEmpty
    force: bool = False


@register
class GitTagStep:
    """Runner of ``git-tag``."""

    name: ClassVar[str] = "git-tag"
    config_model: ClassVar[type[StepConfig]] = GitTagConfig
    default_timeout: ClassVar[timedelta | None] = None
    default_error_threshold: ClassVar[int] = 1
    external_effects: ClassVar[Effects] = Effects.NONE

    async def run(self, ctx: StepContext, config: Any) -> StepResult:
        """Tag ``HEAD`` and report the tagged commit."""
        cfg = GitTagConfig.model_validate(config)
        tree = await load_worktree(ctx, cfg.path)
        try:
            sha = await tree.tag(cfg.tag, cfg.message, force=cfg.force)
        except GitError as exc:
            raise git_step_error(f"error creating tag {cfg.tag}", exc) from exc
        return StepResult(status=PromotionStepStatus.SUCCEEDED, output={"commit": sha})
