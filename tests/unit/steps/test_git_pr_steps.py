"""git-open-pr, git-wait-for-pr, git-merge-pr against GitHubDouble backed by a real git server.

GitHub cannot be reached here, so the steps talk real HTTP to
:class:`shunter_devenv.github.GitHubDouble` (a test double of GitHub's pull-request REST API),
pointed at through ``SHUNTER_GITHUB_API_URL``. The double's repository is a bare repository of
a real :class:`GitServer`, so a merge really moves ``main``.
"""

from __future__ import annotations

import dataclasses
import subprocess
from collections.abc import Awaitable, Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from shunter.api.v1alpha1.promotion import PromotionStepStatus
from shunter.credentials.types import Credentials, CredentialType, StaticCredentialsDatabase
from shunter.promotion.step import StepContext, StepResult, TerminalStepError
from shunter.providers.github import API_URL_ENV, github_repo
from shunter.steps.git_merge_pr import GitMergePRStep
from shunter.steps.git_open_pr import GitOpenPRStep
from shunter.steps.git_wait_for_pr import GitWaitForPRStep
from shunter_devenv.github import GitHubDouble
from shunter_devenv.gitserver import GitServer

#: The fixtures of conftest.py (``run_step``, ``config_error``).
RunStep = Callable[..., Awaitable[StepResult]]
ConfigError = Callable[..., str]

TOKEN = "ghp_TestToken0123456789abcdef"
REPO = "acme/app"
BRANCH = "kargo/promotion/promo-1"


@pytest.fixture
def git(tmp_path: Path) -> Iterator[GitServer]:
    with GitServer(users={"kargo": "pw"}, workdir=tmp_path / "git") as server:
        server.create_repo(REPO, {"values.yaml": "image: v1\n", "other.txt": "x\n"})
        server.commit_files(
            REPO, {"values.yaml": "image: v2\n"}, branch=BRANCH, base="main", message="Bump to v2"
        )
        yield server


@pytest.fixture
def github(git: GitServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[GitHubDouble]:
    with GitHubDouble(tokens={TOKEN: "kargo-bot"}, git_server=git) as double:
        double.add_repo(REPO, git_repo=REPO)
        monkeypatch.setenv(API_URL_ENV, double.base_url)
        yield double


def _context(ctx: StepContext, repo_url: str, token: str) -> StepContext:
    creds = StaticCredentialsDatabase(
        {(CredentialType.GIT, repo_url): Credentials(username="kargo", password=SecretStr(token))}
    )
    return dataclasses.replace(
        ctx, capabilities=dataclasses.replace(ctx.capabilities, credentials=creds)
    )


@pytest.fixture
def repo_url(git: GitServer) -> str:
    return git.url(REPO)


@pytest.fixture
def gctx(ctx: StepContext, repo_url: str) -> StepContext:
    return _context(ctx, repo_url, TOKEN)


def _base(repo_url: str, **extra: Any) -> dict[str, Any]:
    return {"repoURL": repo_url, "provider": "github", **extra}


async def _open(run_step: RunStep, gctx: StepContext, repo_url: str, **extra: Any) -> int:
    config = _base(repo_url, sourceBranch=BRANCH, targetBranch="main", **extra)
    result = await run_step(GitOpenPRStep, gctx, config)
    assert result.status == PromotionStepStatus.SUCCEEDED
    number = result.output["pr"]["id"]
    assert isinstance(number, int)
    return number


# -- git-open-pr -----------------------------------------------------------------------------


async def test_open_pr_is_idempotent_across_runs(
    run_step: RunStep, gctx: StepContext, repo_url: str, github: GitHubDouble
) -> None:
    config = _base(
        repo_url,
        sourceBranch=BRANCH,
        targetBranch="main",
        description="Promotes v2",
        labels=["kargo", "promotion"],
    )
    first = await run_step(GitOpenPRStep, gctx, config)
    second = await run_step(GitOpenPRStep, gctx, config)

    assert first.status == second.status == PromotionStepStatus.SUCCEEDED
    assert first.output == second.output
    pr = first.output["pr"]
    assert pr == {"id": 1, "url": f"{github.base_url}/acme/app/pull/1"}
    assert len(github.requests_to("POST", "/repos/acme/app/pulls")) == 1
    (stored,) = github.pulls(REPO)
    assert stored["title"] == "Bump to v2"  # the source branch's head commit subject
    assert stored["body"] == "Promotes v2"
    assert stored["head"]["ref"] == BRANCH
    assert stored["base"]["ref"] == "main"
    assert [label["name"] for label in stored["labels"]] == ["kargo", "promotion"]
    assert all(r.login == "kargo-bot" for r in github.requests)


async def test_open_pr_with_title_and_a_new_one_after_the_first_is_closed(
    run_step: RunStep, gctx: StepContext, repo_url: str, github: GitHubDouble
) -> None:
    assert await _open(run_step, gctx, repo_url, title="Promote v2 to prod") == 1
    assert github.pull(REPO, 1)["title"] == "Promote v2 to prod"
    github.close(REPO, 1)
    assert await _open(run_step, gctx, repo_url) == 2


async def test_open_pr_without_changes_is_terminal(
    run_step: RunStep, gctx: StepContext, repo_url: str, github: GitHubDouble, git: GitServer
) -> None:
    _git(git, "update-ref", "refs/heads/empty", "refs/heads/main")  # nothing over main
    with pytest.raises(TerminalStepError, match="No commits between main and empty"):
        await run_step(
            GitOpenPRStep, gctx, _base(repo_url, sourceBranch="empty", targetBranch="main")
        )
    assert github.pulls(REPO) == []


# -- git-wait-for-pr -------------------------------------------------------------------------


async def test_wait_is_running_while_open_then_succeeds_with_the_merge_commit(
    run_step: RunStep, gctx: StepContext, repo_url: str, github: GitHubDouble, git: GitServer
) -> None:
    number = await _open(run_step, gctx, repo_url)
    config = _base(repo_url, prNumber=number)

    waiting = await run_step(GitWaitForPRStep, gctx, config)
    assert waiting.status == PromotionStepStatus.RUNNING
    assert waiting.retry_after == timedelta(seconds=30)
    assert waiting.output["pr"] == {
        "id": number,
        "url": f"{github.base_url}/acme/app/pull/{number}",
        "open": True,
        "merged": False,
    }

    sha = github.merge(REPO, number)  # a reviewer merges in the web UI
    done = await run_step(GitWaitForPRStep, gctx, config)
    assert done.status == PromotionStepStatus.SUCCEEDED
    assert done.output["commit"] == sha == git.head(REPO, "main")
    assert done.output["pr"]["merged"] is True
    assert done.output["pr"]["open"] is False
    assert git.read_file(REPO, "main", "values.yaml") == b"image: v2\n"
    parents = _git(git, "rev-list", "--parents", "-n", "1", sha).split()[1:]
    assert parents[1] == git.head(REPO, BRANCH)  # a real two-parent merge commit


async def test_wait_fails_when_the_pr_is_closed_unmerged(
    run_step: RunStep, gctx: StepContext, repo_url: str, github: GitHubDouble
) -> None:
    number = await _open(run_step, gctx, repo_url)
    github.close(REPO, number)
    with pytest.raises(TerminalStepError, match="closed without being merged") as caught:
        await run_step(GitWaitForPRStep, gctx, _base(repo_url, prNumber=number))
    assert caught.value.failed


async def test_wait_poll_interval_has_a_floor(
    run_step: RunStep, gctx: StepContext, repo_url: str, github: GitHubDouble
) -> None:
    number = await _open(run_step, gctx, repo_url)
    fast = await run_step(
        GitWaitForPRStep, gctx, _base(repo_url, prNumber=number, pollInterval="1s")
    )
    slow = await run_step(
        GitWaitForPRStep, gctx, _base(repo_url, prNumber=number, pollInterval="2m")
    )
    assert fast.retry_after == timedelta(seconds=10)
    assert slow.retry_after == timedelta(minutes=2)


async def test_wait_for_an_unknown_pr_is_terminal(
    run_step: RunStep, gctx: StepContext, repo_url: str, github: GitHubDouble
) -> None:
    with pytest.raises(TerminalStepError, match="404"):
        await run_step(GitWaitForPRStep, gctx, _base(repo_url, prNumber=99))


# -- git-merge-pr ----------------------------------------------------------------------------


async def test_merge_waits_while_not_mergeable_then_merges(
    run_step: RunStep, gctx: StepContext, repo_url: str, github: GitHubDouble, git: GitServer
) -> None:
    number = await _open(run_step, gctx, repo_url)
    config = _base(repo_url, prNumber=number, wait=True, mergeMethod="squash")
    github.set_mergeable(REPO, number, None)  # GitHub still computing

    waiting = await run_step(GitMergePRStep, gctx, config)
    assert waiting.status == PromotionStepStatus.RUNNING
    assert waiting.retry_after == timedelta(seconds=10)
    assert "still computing" in waiting.message
    assert github.requests_to("PUT", r"/repos/acme/app/pulls/\d+/merge") == []

    github.clear_mergeable(REPO, number)
    done = await run_step(GitMergePRStep, gctx, config)
    assert done.status == PromotionStepStatus.SUCCEEDED
    assert done.output == {"commit": git.head(REPO, "main")}
    (put,) = github.requests_to("PUT", r"/repos/acme/app/pulls/\d+/merge")
    assert put.body == {"merge_method": "squash", "sha": git.head(REPO, BRANCH)}
    assert git.log(REPO, "main")[0][1] == f"Bump to v2 (#{number})"
    assert github.pull(REPO, number)["merged"] is True

    again = await run_step(GitMergePRStep, gctx, config)  # a retry after a lost answer
    assert again.output == done.output
    assert len(github.requests_to("PUT", r"/repos/acme/app/pulls/\d+/merge")) == 1


async def test_merge_of_a_conflicting_pr(
    run_step: RunStep, gctx: StepContext, repo_url: str, github: GitHubDouble, git: GitServer
) -> None:
    number = await _open(run_step, gctx, repo_url)
    git.commit_files(REPO, {"values.yaml": "image: v3\n"}, message="conflicting change")
    assert github.pull(REPO, number)["mergeable_state"] == "dirty"

    with pytest.raises(TerminalStepError, match=r"not mergeable \(dirty\)"):
        await run_step(GitMergePRStep, gctx, _base(repo_url, prNumber=number))
    waiting = await run_step(GitMergePRStep, gctx, _base(repo_url, prNumber=number, wait=True))
    assert waiting.status == PromotionStepStatus.RUNNING


async def test_merge_of_a_closed_pr_fails(
    run_step: RunStep, gctx: StepContext, repo_url: str, github: GitHubDouble
) -> None:
    number = await _open(run_step, gctx, repo_url)
    github.close(REPO, number)
    with pytest.raises(TerminalStepError, match="closed without being merged"):
        await run_step(GitMergePRStep, gctx, _base(repo_url, prNumber=number, wait=True))


# -- errors and config -----------------------------------------------------------------------


async def test_bad_token_is_terminal_and_not_quoted(
    run_step: RunStep, ctx: StepContext, repo_url: str, github: GitHubDouble
) -> None:
    wrong = "ghp_WrongToken9876543210"
    bad = _context(ctx, repo_url, wrong)
    for step, extra in (
        (GitOpenPRStep, {"sourceBranch": BRANCH, "targetBranch": "main"}),
        (GitWaitForPRStep, {"prNumber": 1}),
        (GitMergePRStep, {"prNumber": 1}),
    ):
        with pytest.raises(TerminalStepError) as caught:
            await run_step(step, bad, _base(repo_url, **extra))
        message = str(caught.value)
        assert "401" in message
        assert "Bad credentials" in message
        assert wrong not in message
        assert TOKEN not in message
    assert {r.status for r in github.requests} == {401}


async def test_other_providers_are_refused_by_name(
    run_step: RunStep, gctx: StepContext, repo_url: str, github: GitHubDouble
) -> None:
    with pytest.raises(TerminalStepError, match="'gitlab' is not supported"):
        await run_step(
            GitWaitForPRStep, gctx, {"repoURL": repo_url, "provider": "gitlab", "prNumber": 1}
        )
    with pytest.raises(TerminalStepError, match="'gitea' is not supported"):
        await run_step(
            GitWaitForPRStep, gctx, {"repoURL": "https://gitea.example.com/a/b.git", "prNumber": 1}
        )
    with pytest.raises(TerminalStepError, match="set 'provider'"):
        await run_step(GitWaitForPRStep, gctx, {"repoURL": repo_url, "prNumber": 1})
    assert github.requests == []


def test_api_url_from_the_repository_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(API_URL_ENV, raising=False)
    assert github_repo("https://github.com/Acme/App.git", None).api_url == "https://api.github.com"
    ghe = github_repo("https://git.example.com/acme/app", "github")
    assert (ghe.api_url, ghe.owner, ghe.name) == ("https://git.example.com/api/v3", "acme", "app")
    assert github_repo("git@github.com:acme/app.git", None).path == "/repos/acme/app"
    monkeypatch.setenv(API_URL_ENV, "http://api.example.com")
    with pytest.raises(TerminalStepError, match="https"):
        github_repo("https://github.com/acme/app", None)


def test_config_errors_name_the_keys(config_error: ConfigError) -> None:
    url = "https://github.com/acme/app"
    assert "sourceBranch" in config_error(GitOpenPRStep, {"repoURL": url, "targetBranch": "main"})
    assert "prNumber" in config_error(GitWaitForPRStep, {"repoURL": url})
    assert "prNumber" in config_error(GitWaitForPRStep, {"repoURL": url, "prNumber": 0})
    assert "pollInterval" in config_error(
        GitWaitForPRStep, {"repoURL": url, "prNumber": 1, "pollInterval": "soon"}
    )
    assert "mergeMethod" in config_error(
        GitMergePRStep, {"repoURL": url, "prNumber": 1, "mergeMethod": "octopus"}
    )
    assert "bogus" in config_error(GitMergePRStep, {"repoURL": url, "prNumber": 1, "bogus": 1})
    assert "provider" in config_error(
        GitMergePRStep, {"repoURL": url, "prNumber": 1, "provider": "svn"}
    )


def _git(server: GitServer, *args: str) -> str:
    done = subprocess.run(
        ["git", "--git-dir", str(server.repo_path(REPO)), *args],
        capture_output=True,
        check=True,
    )
    return done.stdout.decode()
