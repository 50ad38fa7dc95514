"""The ``git-merge-pr`` step: merge a GitHub pull request through the API.

Config (Kargo's keys): ``repoURL`` (required), ``provider`` (else inferred from the host),
``insecureSkipTLSVerify``, ``prNumber`` (required, >= 1), ``mergeMethod`` (GitHub's ``merge``,
``squash`` or ``rebase``; default ``merge``), ``wait`` (default false) and ``pollInterval``
(Go duration, default 10s, at least 1s).

A run reads ``GET /repos/{o}/{r}/pulls/{n}``:

* already merged: **Succeeded** with that merge commit (so a retried step is harmless);
* closed without merging: terminal **Failed**;
* ``mergeable`` true: ``PUT /repos/{o}/{r}/pulls/{n}/merge`` with ``merge_method`` and the head
  ``sha`` GitHub reported (so a branch pushed to in between is not merged blindly), then
  **Succeeded** with the ``sha`` GitHub answers;
* not mergeable (``mergeable`` false, or null while GitHub is still computing it; or the merge
  answered 405 "not mergeable" / 409 "head modified"): with ``wait: true`` **Running**, looked
  at again after ``pollInterval``; otherwise a terminal error for ``mergeable: false`` and a
  retryable one while GitHub is still computing.

Output: ``commit`` (the merge commit on the target branch).

Authentication and the API address are as for ``git-open-pr``. Differences from Kargo: only
GitHub is implemented; other providers are a terminal error naming the provider.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator

from shunter.api.v1alpha1.promotion import PromotionStepStatus
from shunter.git import redact_url
from shunter.promotion.effects import Effects
from shunter.promotion.registry import register
from shunter.promotion.step import StepConfig, StepContext, StepError, StepResult, TerminalStepError
from shunter.providers.github import (
    PullRequestConfig,
    check_duration,
    open_github,
    poll_interval,
    pr_output,
)
from shunter.steps_support.effects import would

__all__ = ["DEFAULT_POLL_INTERVAL", "GitMergePRConfig", "GitMergePRStep"]

DEFAULT_POLL_INTERVAL = timedelta(seconds=10)
_MIN_POLL_INTERVAL = timedelta(seconds=1)


class GitMergePRConfig(PullRequestConfig):
    """Config of ``git-merge-pr``."""

    pr_number: int = Field(ge=1, alias="prNumber", description="The pull request's number.")
    merge_method: Literal["merge", "squash", "rebase"] | None = Field(
        default=None, description="GitHub merge method (default merge)."
    )
    wait: bool = Field(default=False, description="Stay Running until the PR is mergeable.")
    poll_interval: str | None = Field(default=None, description="Go duration (10s).")

    _interval = field_validator("poll_interval")(check_duration)
    _no_empty = field_validator("merge_method", mode="before")(lambda v: None if v == "" else v)


def _merged(pr: dict[str, Any], commit: Any) -> StepResult:
    return StepResult(
        status=PromotionStepStatus.SUCCEEDED,
        message=f"pull request #{pr['id']} is merged as {commit}",
        output={"commit": commit},
    )


@register
class GitMergePRStep:
    """``git-merge-pr``."""

    name: ClassVar[str] = "git-merge-pr"
    config_model: ClassVar[type[StepConfig]] = GitMergePRConfig
    default_timeout: ClassVar[timedelta | None] = None
    default_error_threshold: ClassVar[int] = 1
    external_effects: ClassVar[Effects] = Effects.WRITES

    async def preview(self, ctx: StepContext, config: Any) -> StepResult:
        """The pull request it would merge."""
        cfg = GitMergePRConfig.model_validate(config)
        return would(f"would merge pull request {cfg.pr_number} of {redact_url(cfg.repo_url)}")

    async def run(self, ctx: StepContext, config: Any) -> StepResult:
        assert isinstance(config, GitMergePRConfig)  # noqa: S101 - the engine validated it
        number = config.pr_number
        async with await open_github(ctx, config) as gh:
            _, data = await gh.call("GET", f"/pulls/{number}")
            pr = pr_output(data)
            if pr["merged"]:
                return _merged(pr, data.get("merge_commit_sha"))
            if not pr["open"]:
                raise TerminalStepError(
                    f"pull request #{number} was closed without being merged", failed=True
                )
            mergeable = data.get("mergeable")
            reason = (
                "GitHub is still computing whether it can be merged"
                if mergeable is None
                else f"it is not mergeable ({data.get('mergeable_state') or 'unknown state'})"
            )
            if mergeable is True:
                head = data.get("head")
                body: dict[str, Any] = {"merge_method": config.merge_method or "merge"}
                if isinstance(head, dict) and isinstance(head.get("sha"), str):
                    body["sha"] = head["sha"]
                status, answer = await gh.call(
                    "PUT", f"/pulls/{number}/merge", body=body, accept=frozenset({405, 409})
                )
                if status == 200 and isinstance(answer, dict) and answer.get("merged"):
                    return _merged(pr, answer.get("sha"))
                if not config.wait:
                    raise gh.error(status, f"PUT {gh.repo.path}/pulls/{number}/merge", answer)
                reason = f"GitHub refused the merge ({status})"
        if config.wait:
            return StepResult(
                status=PromotionStepStatus.RUNNING,
                message=f"waiting to merge pull request #{number}: {reason}",
                retry_after=poll_interval(
                    config.poll_interval, DEFAULT_POLL_INTERVAL, _MIN_POLL_INTERVAL
                ),
            )
        if mergeable is None:
            raise StepError(f"cannot merge pull request #{number} yet: {reason}")
        raise TerminalStepError(f"cannot merge pull request #{number}: {reason}")
