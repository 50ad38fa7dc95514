"""The ``git-push`` step: push a working tree's commits (or a tag) to the remote.

Target: ``targetBranch``; or ``generateTargetBranch`` (``kargo/promotion/<promotion>``,
force-pushed since the name is unique to the Promotion); or ``tag``; or the checked-out branch.

Concurrent Promotions pushing to one branch never lose a commit (Kargo's default
``AlwaysRebase`` policy), and pushes go through the repository's mirror (``shunter.git``):

* within the process, pushes to the same repository and branch take turns on the mirror's
  branch lock, so retries are only needed against other writers;
* first, a free try on the mirror's idea of the branch (what the last fetch or the last push of
  this process left there): rebase onto it and push with a lease on it
  (``--force-with-lease``), so the push lands only if the remote branch is exactly what the
  commits were rebased on. A push that lands is recorded in the mirror, so the next promotion
  in line rebases on it without fetching;
* if that is refused, up to ``maxAttempts`` (default 10) attempts each fetch the branch into
  the mirror, rebase onto it and push with the same lease, after a jittered, growing delay
  between attempts. A refused attempt is undone first (the promotion's commits are rebased as
  they were, never as rebased on a base that turned out stale). A rebase conflict fails the
  step for good.

Outputs: ``branch``, ``commit`` (the pushed ``HEAD``) and, when the provider is known
(``provider`` or inferred from the host), ``commitURL``.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any, ClassVar

from pydantic import Field, StringConstraints, field_validator, model_validator

from shunter.api.v1alpha1.promotion import PromotionStepStatus
from shunter.git import (
    GitError,
    Mirror,
    NonFastForwardError,
    WorkTree,
    check_ref_name,
    redact_url,
)
from shunter.promotion.effects import Effects
from shunter.promotion.registry import register
from shunter.promotion.step import (
    StepConfig,
    StepContext,
    StepError,
    StepResult,
    TerminalStepError,
)
from shunter.steps_support.git_common import (
    GitProvider,
    commit_url,
    empty_to_none,
    git_step_error,
    load_worktree,
    repo_credentials,
)
from shunter.steps_support.push_preview import preview_push

__all__ = ["DEFAULT_MAX_ATTEMPTS", "Backoff", "GitPushConfig", "GitPushStep", "generated_branch"]

DEFAULT_MAX_ATTEMPTS = 10
_MAX_INT32 = 2_147_483_647


def generated_branch(promotion: str) -> str:
    """The branch ``generateTargetBranch: true`` pushes to."""
    return f"kargo/promotion/{promotion}"


class GitPushConfig(StepConfig):
    """Config of ``git-push``."""

    path: Annotated[str, StringConstraints(min_length=1)]
    target_branch: str | None = None
    generate_target_branch: bool = False
    tag: str | None = None
    force: bool = False
    max_attempts: Annotated[int, Field(ge=1, le=_MAX_INT32)] | None = None
    provider: GitProvider | None = None

    _empty = field_validator("target_branch", "tag", mode="before")(empty_to_none)

    @field_validator("target_branch")
    @classmethod
    def _branch_name(cls, value: str | None) -> str | None:
        return None if value is None else check_ref_name(value)

    @field_validator("tag")
    @classmethod
    def _tag_name(cls, value: str | None) -> str | None:
        return None if value is None else check_ref_name(value, "tag")

    @model_validator(mode="after")
    def _exclusive(self) -> GitPushConfig:
        chosen = [
            key
            for key, on in (
                ("targetBranch", self.target_branch is not None),
                ("generateTargetBranch", self.generate_target_branch),
                ("tag", self.tag is not None),
            )
            if on
        ]
        if len(chosen) > 1:
            raise ValueError(f"{' and '.join(chosen)} are mutually exclusive")
        if self.tag is not None and self.force:
            raise ValueError("tag and force are mutually exclusive")
        return self


@dataclass(frozen=True)
class Backoff:
    """Delay before push attempt ``n + 1``: ``initial * factor**(n - 1)``, capped, plus jitter."""

    initial: float = 1.0
    factor: float = 1.5
    cap: float = 30.0
    jitter: float = 0.5

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        base = min(self.cap, self.initial * self.factor ** max(0, attempt - 1))
        return base * (1.0 + self.jitter * random.random())  # noqa: S311 - jitter, not security


@register
class GitPushStep:
    """Runner of ``git-push``."""

    name: ClassVar[str] = "git-push"
    config_model: ClassVar[type[StepConfig]] = GitPushConfig
    default_timeout: ClassVar[timedelta | None] = None
    default_error_threshold: ClassVar[int] = 1
    external_effects: ClassVar[Effects] = Effects.WRITES

    def __init__(self, *, serialize: bool = True, backoff: Backoff | None = None) -> None:
        """``serialize``: take turns per repository and branch within this process."""
        self._serialize = serialize
        self._backoff = backoff or Backoff()

    async def _target(
        self, ctx: StepContext, config: Any
    ) -> tuple[GitPushConfig, WorkTree, str | None, bool, str | None]:
        """The working tree (with credentials), the branch to push to, whether to force, and
        the checked-out branch."""
        if not isinstance(config, GitPushConfig):
            raise TerminalStepError("git-push: unexpected config type")
        tree = await load_worktree(ctx, config.path)
        tree = tree.with_credentials(await repo_credentials(ctx, tree.url))
        target, force = config.target_branch, config.force
        if config.generate_target_branch:
            target, force = generated_branch(ctx.promotion), True
        try:
            current = await tree.current_branch()
        except GitError as exc:
            raise git_step_error(f"error reading the branch of {config.path}", exc) from exc
        if config.tag is None and target is None:
            if current is None:
                raise TerminalStepError(
                    f"{config.path} is not on a branch (detached HEAD): set targetBranch"
                )
            target = current
        return config, tree, target, force, current

    def _output(
        self,
        config: GitPushConfig,
        tree: WorkTree,
        sha: str,
        target: str | None,
        current: str | None,
    ) -> dict[str, Any]:
        output: dict[str, Any] = {"commit": sha}
        branch = target if config.tag is None else current
        if branch:
            output["branch"] = branch
        if url := commit_url(tree.url, sha, config.provider):
            output["commitURL"] = url
        return output

    async def preview(self, ctx: StepContext, config: Any) -> StepResult:
        """What the push would change (the diff it would push), pushing nothing."""
        config, tree, target, force, current = await self._target(ctx, config)
        sha, effect = await preview_push(
            tree,
            ctx.capabilities.git_mirrors.mirror_at(tree.mirror_path),
            shown=redact_url(tree.url),
            target=target,
            tag=config.tag,
            force=force,
            integrate=config.tag is None and not force,
            current=current,
        )
        output = self._output(config, tree, sha, target, current)
        return StepResult(status=PromotionStepStatus.SUCCEEDED, output=output, effect=effect)

    async def run(self, ctx: StepContext, config: Any) -> StepResult:
        """Integrate remote changes and push, retrying non-fast-forward rejections."""
        config, tree, target, force, current = await self._target(ctx, config)
        shown = redact_url(tree.url)
        mirror = ctx.capabilities.git_mirrors.mirror_at(tree.mirror_path)
        where = f"tag {config.tag}" if config.tag else f"branch {target}"
        try:
            if config.tag is None and not force and target:
                await self._integrate_and_push(
                    tree, mirror, target, config.max_attempts or DEFAULT_MAX_ATTEMPTS, where
                )
            else:
                await tree.push(target_branch=target, tag=config.tag, force=force)
                if config.tag is None and target:
                    await mirror.record_push(target, await tree.head())
        except GitError as exc:
            raise git_step_error(f"error pushing to {where} of {shown}", exc) from exc
        try:
            sha = await tree.head()
        except GitError as exc:
            raise git_step_error(f"error reading HEAD of {config.path}", exc) from exc
        return StepResult(
            status=PromotionStepStatus.SUCCEEDED,
            output=self._output(config, tree, sha, target, current),
        )

    async def _integrate_and_push(
        self, tree: WorkTree, mirror: Mirror, branch: str, attempts: int, where: str
    ) -> None:
        """Rebase onto the remote branch and push with a lease on it, until it lands."""
        known = await mirror.tip(branch)
        if known is not None and await self._attempt(tree, mirror, branch, fetch=False) is None:
            return
        for attempt in range(1, attempts + 1):
            rejected = await self._attempt(tree, mirror, branch, fetch=True)
            if rejected is None:
                return
            if attempt >= attempts:
                raise StepError(
                    f"error pushing to {where} of {redact_url(tree.url)}: still rejected after "
                    f"{attempts} attempt(s): {rejected}"
                )
            await asyncio.sleep(self._backoff.delay(attempt))

    async def _attempt(
        self, tree: WorkTree, mirror: Mirror, branch: str, *, fetch: bool
    ) -> NonFastForwardError | None:
        """One try, taking turns with this process's other pushers of the branch: the branch as
        the mirror knows it (fetched first if ``fetch``), rebase, push with a lease on it.
        Returns the refusal if the remote moved on meanwhile, None once the push landed."""
        turn = mirror.branch_lock(branch) if self._serialize else contextlib.nullcontext()
        async with turn:
            if fetch:
                base = await mirror.refresh_branch(
                    tree.url,
                    branch,
                    credentials=tree.credentials,
                    insecure_skip_tls_verify=tree.insecure_skip_tls_verify,
                )
            else:
                base = await mirror.tip(branch)
            mine = await tree.head()
            if base is not None:
                await tree.rebase(base)
            try:
                await tree.push(target_branch=branch, expect=base or "")
            except NonFastForwardError as exc:
                # Next time, rebase the commits as they were, not as rebased on a base that
                # turned out stale (a branch reset on the remote must not bring that back).
                await tree.reset_hard(mine)
                return exc
            await mirror.record_push(branch, await tree.head())
        return None
