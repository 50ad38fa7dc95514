"""The ``git-open-pr`` step: open a GitHub pull request from one branch into another.

Config (Kargo's keys): ``repoURL`` (required), ``provider`` (else inferred from the host),
``insecureSkipTLSVerify``, ``sourceBranch`` (required; typically the ``branch`` output of a
``git-push`` with ``generateTargetBranch: true``), ``targetBranch`` (required),
``createTargetBranch`` (deprecated in Kargo, accepted and ignored), ``title``, ``description``
(the PR body) and ``labels[]``.

Idempotent across reconciles: before creating, the step lists the repository's *open* pull
requests with that head and base (``GET /repos/{o}/{r}/pulls?head=<owner>:<source>&base=<target>
&state=open``) and reuses the one it finds; a create answered "A pull request already exists"
(a lost answer to an earlier create) is resolved the same way. Labels are then added with
``POST /repos/{o}/{r}/issues/{n}/labels`` (adding an existing label is a no-op on GitHub).

Outputs: ``pr.id`` (the PR number) and ``pr.url`` (its web page).

Authentication: the ``password`` of the project's git credentials for ``repoURL`` is the GitHub
token (a personal access token or an app installation token). The API is
``https://api.github.com`` for github.com and ``https://<host>/api/v3`` for GitHub Enterprise
Server; the environment variable ``SHUNTER_GITHUB_API_URL`` overrides it (tests, unusual GHE
set-ups).

Differences from Kargo: only GitHub is implemented; any other provider (``gitlab``, ``gitea``,
``azure``, ``bitbucket``) is a terminal error naming the provider. Without ``title`` the title is
the first line of the source branch's head commit message (read through ``GET
/repos/{o}/{r}/commits/{ref}``), else ``Promote <sourceBranch> into <targetBranch>``. A source
branch with no commits over the target is a terminal error quoting GitHub ("No commits
between ...") rather than a silent success.
"""

from __future__ import annotations

import urllib.parse
from datetime import timedelta
from typing import Any, ClassVar

from pydantic import Field, field_validator

from shunter.api.v1alpha1.promotion import PromotionStepStatus
from shunter.git import check_ref_name, redact_url
from shunter.promotion.effects import Effects
from shunter.promotion.registry import register
from shunter.promotion.step import StepConfig, StepContext, StepError, StepResult
from shunter.providers.github import GitHubClient, PullRequestConfig, open_github, pr_output
from shunter.steps_support.effects import would

__all__ = ["GitOpenPRConfig", "GitOpenPRStep"]


class GitOpenPRConfig(PullRequestConfig):
    """Config of ``git-open-pr``."""

    source_branch: str = Field(min_length=1, description="The branch holding the changes.")
    target_branch: str = Field(min_length=1, description="The branch to merge into.")
    create_target_branch: bool = Field(default=False, description="Deprecated; ignored.")
    title: str | None = Field(default=None, description="PR title (default: commit subject).")
    description: str | None = Field(default=None, description="PR body.")
    labels: list[str] | None = Field(default=None, description="Labels to add to the PR.")

    @field_validator("source_branch", "target_branch")
    @classmethod
    def _branch(cls, value: str) -> str:
        return check_ref_name(value)

    @field_validator("labels")
    @classmethod
    def _labels(cls, value: list[str] | None) -> list[str] | None:
        for label in value or []:
            if not label.strip():
                raise ValueError("labels must not be empty")
        return value


async def _find_open(gh: GitHubClient, source: str, target: str) -> dict[str, Any] | None:
    params = {"head": f"{gh.repo.owner}:{source}", "base": target, "state": "open"}
    _, data = await gh.call("GET", "/pulls", params=params)
    if not isinstance(data, list):
        raise StepError("GitHub's answer to the pull-request list is not a list")
    for pr in data:
        if isinstance(pr, dict) and isinstance(pr.get("number"), int):
            return pr
    return None


async def _default_title(gh: GitHubClient, config: GitOpenPRConfig) -> str:
    ref = urllib.parse.quote(config.source_branch, safe="")
    status, data = await gh.call("GET", f"/commits/{ref}", accept=frozenset({404, 409, 422}))
    if status == 200 and isinstance(data, dict):
        commit = data.get("commit")
        message = commit.get("message") if isinstance(commit, dict) else None
        if isinstance(message, str) and message.strip():
            return message.strip().splitlines()[0]
    return f"Promote {config.source_branch} into {config.target_branch}"


@register
class GitOpenPRStep:
    """``git-open-pr``."""

    name: ClassVar[str] = "git-open-pr"
    config_model: ClassVar[type[StepConfig]] = GitOpenPRConfig
    default_timeout: ClassVar[timedelta | None] = None
    default_error_threshold: ClassVar[int] = 1
    external_effects: ClassVar[Effects] = Effects.WRITES

    async def preview(self, ctx: StepContext, config: Any) -> StepResult:
        """The pull request it would open."""
        cfg = GitOpenPRConfig.model_validate(config)
        return would(
            f"would open a pull request from {cfg.source_branch} into {cfg.target_branch} "
            f"of {redact_url(cfg.repo_url)}"
        )

    async def run(self, ctx: StepContext, config: Any) -> StepResult:
        assert isinstance(config, GitOpenPRConfig)  # noqa: S101 - the engine validated it
        async with await open_github(ctx, config) as gh:
            pr = await _find_open(gh, config.source_branch, config.target_branch)
            reused = pr is not None
            if pr is None:
                body: dict[str, Any] = {
                    "title": config.title or await _default_title(gh, config),
                    "head": config.source_branch,
                    "base": config.target_branch,
                    "maintainer_can_modify": False,
                }
                if config.description is not None:
                    body["body"] = config.description
                status, data = await gh.call("POST", "/pulls", body=body, accept=frozenset({422}))
                if status == 422:
                    pr = await _find_open(gh, config.source_branch, config.target_branch)
                    if pr is None:  # not a duplicate: GitHub's validation error stands
                        raise gh.error(status, f"POST {gh.repo.path}/pulls", data)
                    reused = True
                else:
                    pr = data
            output = pr_output(pr)
            if config.labels:
                await gh.call(
                    "POST", f"/issues/{output['id']}/labels", body={"labels": config.labels}
                )
        verb = "found open" if reused else "opened"
        return StepResult(
            status=PromotionStepStatus.SUCCEEDED,
            message=f"{verb} pull request #{output['id']}",
            output={"pr": {"id": output["id"], "url": output["url"]}},
        )
