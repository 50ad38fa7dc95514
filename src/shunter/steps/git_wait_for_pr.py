"""The ``git-wait-for-pr`` step: wait until a GitHub pull request is closed.

Config (Kargo's keys): ``repoURL`` (required), ``provider`` (else inferred from the host),
``insecureSkipTLSVerify``, ``prNumber`` (required, >= 1; typically
``${{ outputs['open-pr'].pr.id }}``) and ``pollInterval`` (Go duration, default 30s, at least
10s).

Each run reads ``GET /repos/{o}/{r}/pulls/{n}``: while the PR is open the step is **Running**
and asks to be looked at again after ``pollInterval``; merged is **Succeeded**; closed without
merging is a terminal **Failed**.

Outputs: ``commit`` (the merge commit GitHub reports, ``merge_commit_sha``; null until merged)
and ``pr {id, url, open, merged}``.

Authentication and the API address are as for ``git-open-pr`` (the git credentials' password
is the token; ``SHUNTER_GITHUB_API_URL`` overrides the API URL).

A webhook receiver (GitHub, GitLab, Gitea, Bitbucket, Azure DevOps) that hears the pull request
close refreshes the Promotion, which looks at the pull request at once instead of at its next
poll ([docs/receivers.md](../receivers.md)).

Differences from Kargo: only GitHub is implemented (other providers are a terminal error naming
the provider).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, ClassVar

from pydantic import Field, field_validator

from shunter.api.v1alpha1.promotion import PromotionStepStatus
from shunter.git import redact_url
from shunter.promotion.effects import Effects
from shunter.promotion.registry import register
from shunter.promotion.step import StepConfig, StepContext, StepResult, TerminalStepError
from shunter.providers.github import (
    PullRequestConfig,
    check_duration,
    open_github,
    poll_interval,
    pr_output,
)
from shunter.steps_support.effects import would

__all__ = ["DEFAULT_POLL_INTERVAL", "MIN_POLL_INTERVAL", "GitWaitForPRConfig", "GitWaitForPRStep"]

DEFAULT_POLL_INTERVAL = timedelta(seconds=30)
MIN_POLL_INTERVAL = timedelta(seconds=10)


class GitWaitForPRConfig(PullRequestConfig):
    """Config of ``git-wait-for-pr``."""

    pr_number: int = Field(ge=1, alias="prNumber", description="The pull request's number.")
    poll_interval: str | None = Field(default=None, description="Go duration (30s; >= 10s).")

    _interval = field_validator("poll_interval")(check_duration)


@register
class GitWaitForPRStep:
    """``git-wait-for-pr``."""

    name: ClassVar[str] = "git-wait-for-pr"
    config_model: ClassVar[type[StepConfig]] = GitWaitForPRConfig
    default_timeout: ClassVar[timedelta | None] = None
    default_error_threshold: ClassVar[int] = 1
    external_effects: ClassVar[Effects] = Effects.WAITS

    async def preview(self, ctx: StepContext, config: Any) -> StepResult:
        """The pull request it would wait for."""
        cfg = GitWaitForPRConfig.model_validate(config)
        return would(
            f"would wait for pull request {cfg.pr_number} of {redact_url(cfg.repo_url)} "
            "to be merged"
        )

    async def run(self, ctx: StepContext, config: Any) -> StepResult:
        assert isinstance(config, GitWaitForPRConfig)  # noqa: S101 - the engine validated it
        async with await open_github(ctx, config) as gh:
            _, data = await gh.call("GET", f"/pulls/{config.pr_number}")
        pr = pr_output(data)
        commit = data.get("merge_commit_sha") if pr["merged"] else None
        output = {"commit": commit, "pr": pr}
        if pr["merged"]:
            return StepResult(
                status=PromotionStepStatus.SUCCEEDED,
                message=f"pull request #{pr['id']} was merged as {commit}",
                output=output,
            )
        if not pr["open"]:
            raise TerminalStepError(
                f"pull request #{pr['id']} was closed without being merged", failed=True
            )
        return StepResult(
            status=PromotionStepStatus.RUNNING,
            message=f"waiting for pull request #{pr['id']} to be merged",
            output=output,
            retry_after=poll_interval(
                config.poll_interval, DEFAULT_POLL_INTERVAL, MIN_POLL_INTERVAL
            ),
        )
