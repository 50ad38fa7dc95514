"""The ``git-push`` step: push a working tree's commits (or a tag) to the remote.

Target: ``targetBranch``; or ``generateTargetBranch`` (``kargo/promotion/<promotion>``,
force-pushed since the name is unique to the Promotion); or ``tag``; or the checked-out branch.

Concurrent Promotions pushing to one branch never lose a commit: before every attempt the
remote branch is fetched and the local commits are rebased onto it (Kargo's default
``AlwaysRebase`` policy), and a push rejected as non-fast-forward is retried (after a jittered,
growing delay) up to ``maxAttempts`` times (default 10). Within one process, pushes to the same
repository and branch also take turns on a lock, so retries are only needed against other
writers. A rebase conflict fails the step for good.

Outputs: ``branch``, ``commit`` (the pushed ``HEAD``) and, when the provider is known (``provider``
or inferred from the host), ``commitURL``.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import weakref
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any, ClassVar

from pydantic import Field, StringConstraints, field_validator, model_validator

from shunter.api.v1alpha1.promotion import PromotionStepStatus
from shunter.git import (
    GitError,
    NonFastForwardError,
    WorkTree,
    check_ref_name,
    normalize_git_url,
    redact_url,
)
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


# Per event loop (asyncio locks belong to one loop): (normalised URL, branch) -> lock.
_LOCKS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[str, str], asyncio.Lock]]
_LOCKS = weakref.WeakKeyDictionary()


@contextlib.asynccontextmanager
async def _branch_lock(url: str, branch: str, enabled: bool) -> AsyncIterator[None]:
    if not enabled:
        yield
        return
    locks = _LOCKS.setdefault(asyncio.get_running_loop(), {})
    lock = locks.setdefault((normalize_git_url(url), branch), asyncio.Lock())
    async with lock:
        yield


@register
class GitPushStep:
    """Runner of ``git-push``."""

    name: ClassVar[str] = "git-push"
    config_model: ClassVar[type[StepConfig]] = GitPushConfig
    default_timeout: ClassVar[timedelta | None] = None
    default_error_threshold: ClassVar[int] = 1

    def __init__(self, *, serialize: bool = True, backoff: Backoff | None = None) -> None:
        """``serialize``: take turns per repository and branch within this process."""
        self._serialize = serialize
        self._backoff = backoff or Backoff()

    async def run(self, ctx: StepContext, config: Any) -> StepResult:
        """Integrate remote changes and push, retrying non-fast-forward rejections."""
        if not isinstance(config, GitPushConfig):
            raise TerminalStepError("git-push: unexpected config type")
        tree = await load_worktree(ctx, config.path)
        tree = tree.with_credentials(await repo_credentials(ctx, tree.url))
        shown = redact_url(tree.url)
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
        integrate = config.tag is None and not force
        attempts = config.max_attempts or DEFAULT_MAX_ATTEMPTS
        await self._push(
            tree,
            config,
            target=target,
            force=force,
            integrate=integrate,
            attempts=attempts,
            shown=shown,
        )
        try:
            sha = await tree.head()
        except GitError as exc:
            raise git_step_error(f"error reading HEAD of {config.path}", exc) from exc
        output: dict[str, Any] = {"commit": sha}
        branch = target if config.tag is None else current
        if branch:
            output["branch"] = branch
        if url := commit_url(tree.url, sha, config.provider):
            output["commitURL"] = url
        return StepResult(status=PromotionStepStatus.SUCCEEDED, output=output)

    async def _push(
        self,
        tree: WorkTree,
        config: GitPushConfig,
        *,
        target: str | None,
        force: bool,
        integrate: bool,
        attempts: int,
        shown: str,
    ) -> None:
        where = f"tag {config.tag}" if config.tag else f"branch {target}"
        for attempt in range(1, attempts + 1):
            try:
                async with _branch_lock(tree.url, target or "", self._serialize and integrate):
                    if integrate and target:
                        await tree.integrate_remote(target)
                    await tree.push(target_branch=target, tag=config.tag, force=force)
                return
            except NonFastForwardError as exc:
                if attempt >= attempts:
                    raise StepError(
                        f"error pushing to {where} of {shown}: still rejected after "
                        f"{attempts} attempt(s): {exc}"
                    ) from exc
            except GitError as exc:
                raise git_step_error(f"error pushing to {where} of {shown}", exc) from exc
            await asyncio.sleep(self._backoff.delay(attempt))
