"""The git-push step: targets, remote-change integration, outputs, config validation."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from shunter.api.v1alpha1.promotion import PromotionStepStatus
from shunter.promotion.registry import DEFAULT_REGISTRY
from shunter.promotion.step import StepError, TerminalStepError
from shunter.steps.git_clone import GitCloneStep
from shunter.steps.git_commit import GitCommitStep
from shunter.steps.git_push import Backoff, GitPushConfig, GitPushStep
from shunter.steps_support.git_common import commit_url
from shunter_devenv.gitserver import GitRequestKind

SHA = "0123456789abcdef0123456789abcdef01234567"


def test_registered() -> None:
    assert DEFAULT_REGISTRY.get("git-push") is GitPushStep


class TestConfig:
    def test_defaults(self) -> None:
        config = GitPushConfig.model_validate({"path": "src", "targetBranch": ""})
        assert config.target_branch is None
        assert config.max_attempts is None
        assert not config.force
        assert not config.generate_target_branch

    @pytest.mark.parametrize(
        ("raw", "named"),
        [
            ({}, "path"),
            ({"path": "p", "targetbranch": "x"}, "targetbranch"),
            ({"path": "p", "maxAttempts": 0}, "maxAttempts"),
            ({"path": "p", "provider": "sourceforge"}, "provider"),
            ({"path": "p", "targetBranch": "a", "tag": "v1"}, "mutually exclusive"),
            ({"path": "p", "targetBranch": "a", "generateTargetBranch": True}, "mutually"),
            ({"path": "p", "tag": "v1", "generateTargetBranch": True}, "mutually exclusive"),
            ({"path": "p", "tag": "v1", "force": True}, "tag and force"),
            ({"path": "p", "targetBranch": "--force"}, "invalid branch name"),
        ],
    )
    def test_errors(self, raw: dict[str, Any], named: str) -> None:
        with pytest.raises(ValidationError) as caught:
            GitPushConfig.model_validate(raw)
        assert named in str(caught.value)


async def _clone_and_change(
    kit: Any, name: str, branch: str = "main", *, folder: str = "work", file: str = "f.txt"
) -> Any:
    url = kit.server.url(name)
    ctx = kit.alice_ctx(url, folder)
    await kit.run(
        GitCloneStep(), ctx, {"repoURL": url, "checkout": [{"branch": branch, "path": "./src"}]}
    )
    (ctx.work_dir / "src" / file).write_text(f"changed by {folder}\n")
    await kit.run(GitCommitStep(), ctx, {"path": "./src", "message": f"update {file}"})
    return ctx


class TestPush:
    async def test_seed_flow_push_lands_on_master(self, kit: Any, name: str) -> None:
        kit.server.create_repo(name, {"values.yaml": "image: 1\n"}, branch="master")
        ctx = await _clone_and_change(kit, name, "master", file="values.yaml")
        result = await kit.run(GitPushStep(), ctx, {"path": "./src"})
        assert result.status is PromotionStepStatus.SUCCEEDED
        head = kit.server.head(name, "master")
        assert result.output == {"branch": "master", "commit": head}
        assert kit.server.log(name, "master")[0] == (head, "update values.yaml")
        assert kit.server.read_file(name, "master", "values.yaml") == b"changed by work\n"

    async def test_target_branch(self, kit: Any, name: str) -> None:
        kit.server.create_repo(name, {"a.txt": "1"})
        ctx = await _clone_and_change(kit, name)
        result = await kit.run(GitPushStep(), ctx, {"path": "src", "targetBranch": "stage/prod"})
        assert result.output["branch"] == "stage/prod"
        assert kit.server.head(name, "stage/prod") == result.output["commit"]
        assert kit.server.head(name, "main") != result.output["commit"]

    async def test_generate_target_branch_is_force_pushed(self, kit: Any, name: str) -> None:
        kit.server.create_repo(name, {"a.txt": "1"})
        ctx = await _clone_and_change(kit, name)
        kit.server.commit_files(name, {"stale.txt": "x"}, branch="kargo/promotion/promo-1")
        raw = {"path": "src", "generateTargetBranch": True}
        result = await kit.run(GitPushStep(), ctx, raw)
        assert result.output["branch"] == "kargo/promotion/promo-1"
        assert kit.server.head(name, "kargo/promotion/promo-1") == result.output["commit"]
        again = await kit.run(GitPushStep(), ctx, raw)  # a re-run (e.g. after a restart) works
        assert again.output == result.output

    async def test_tag(self, kit: Any, name: str) -> None:
        kit.server.create_repo(name, {"a.txt": "1"})
        ctx = await _clone_and_change(kit, name)
        kit.git(ctx.work_dir / "src", "tag", "v2.0.0")
        result = await kit.run(GitPushStep(), ctx, {"path": "src", "tag": "v2.0.0"})
        assert kit.server_git(name, "rev-parse", "v2.0.0") == result.output["commit"]
        assert result.output["branch"] == "main"
        assert kit.server.head(name) != result.output["commit"]  # the branch was not pushed

    async def test_integrates_remote_changes(self, kit: Any, name: str) -> None:
        kit.server.create_repo(name, {"a.txt": "1"})
        ctx = await _clone_and_change(kit, name)
        theirs = kit.server.commit_files(name, {"theirs.txt": "t"}, message="theirs")
        result = await kit.run(GitPushStep(), ctx, {"path": "src"})
        log = kit.server.log(name)
        assert [subject for _, subject in log] == ["update f.txt", "theirs", "Initial commit"]
        assert log[1][0] == theirs
        assert result.output["commit"] == log[0][0]
        assert (ctx.work_dir / "src" / "theirs.txt").read_text() == "t"

    async def test_conflict_fails_for_good(self, kit: Any, name: str) -> None:
        kit.server.create_repo(name, {"f.txt": "1"})
        ctx = await _clone_and_change(kit, name)
        kit.server.commit_files(name, {"f.txt": "theirs"})
        with pytest.raises(TerminalStepError, match="conflict") as caught:
            await kit.run(GitPushStep(), ctx, {"path": "src"})
        assert caught.value.failed

    async def test_force_overwrites(self, kit: Any, name: str) -> None:
        kit.server.create_repo(name, {"f.txt": "1"})
        ctx = await _clone_and_change(kit, name)
        kit.server.commit_files(name, {"f.txt": "theirs"}, message="theirs")
        result = await kit.run(GitPushStep(), ctx, {"path": "src", "force": True})
        assert kit.server.head(name) == result.output["commit"]
        assert "theirs" not in [subject for _, subject in kit.server.log(name)]

    async def test_detached_head_needs_a_target(self, kit: Any, name: str) -> None:
        url = kit.server.create_repo(name, {"a.txt": "1"})
        first = kit.server.head(name)
        ctx = kit.alice_ctx(url)
        await kit.run(
            GitCloneStep(), ctx, {"repoURL": url, "checkout": [{"commit": first, "path": "src"}]}
        )
        with pytest.raises(TerminalStepError, match="detached"):
            await kit.run(GitPushStep(), ctx, {"path": "src"})
        result = await kit.run(GitPushStep(), ctx, {"path": "src", "targetBranch": "pinned"})
        assert result.output == {"branch": "pinned", "commit": first}

    async def test_commit_url_with_provider(self, kit: Any, name: str) -> None:
        kit.server.create_repo(name, {"a.txt": "1"})
        ctx = await _clone_and_change(kit, name)
        result = await kit.run(GitPushStep(), ctx, {"path": "src", "provider": "gitea"})
        host = kit.server.base_url.removeprefix("http://")
        assert result.output["commitURL"] == (
            f"https://{host}/{name}/commit/{result.output['commit']}"
        )

    async def test_wrong_password_is_an_error_not_a_failure(self, kit: Any, name: str) -> None:
        kit.server.create_repo(name, {"a.txt": "1"})
        ctx = await _clone_and_change(kit, name)
        bad = kit.ctx("work")  # same work dir, no credentials
        with pytest.raises(StepError) as caught:
            await kit.run(GitPushStep(), bad, {"path": "src"})
        assert not isinstance(caught.value, TerminalStepError)
        assert not caught.value.failed
        assert ctx.work_dir == bad.work_dir


class TestThroughTheMirror:
    """Pushes rebase on the mirror's idea of the branch, with a lease on it (no fetch when the
    last push of this process left it there); a stale idea costs a refused push, never a
    commit."""

    async def test_the_next_push_in_line_does_not_fetch(self, kit: Any, name: str) -> None:
        kit.server.create_repo(name, {"a.txt": "1"})
        one = await _clone_and_change(kit, name, folder="one", file="one.txt")
        two = await _clone_and_change(kit, name, folder="two", file="two.txt")
        await kit.run(GitPushStep(), one, {"path": "src"})
        fetches = kit.server.request_count(GitRequestKind.UPLOAD_PACK, repo=name)
        pushes = kit.server.request_count(GitRequestKind.RECEIVE_PACK, repo=name)
        await kit.run(GitPushStep(), two, {"path": "src"})
        assert kit.server.request_count(GitRequestKind.UPLOAD_PACK, repo=name) == fetches
        assert kit.server.request_count(GitRequestKind.RECEIVE_PACK, repo=name) == pushes + 1
        subjects = [subject for _, subject in kit.server.log(name)]
        assert subjects == ["update two.txt", "update one.txt", "Initial commit"]

    async def test_someone_elses_push_costs_one_refused_push(self, kit: Any, name: str) -> None:
        kit.server.create_repo(name, {"a.txt": "1"})
        ctx = await _clone_and_change(kit, name)
        theirs = kit.server.commit_files(name, {"theirs.txt": "t"}, message="theirs")
        await kit.run(GitPushStep(), ctx, {"path": "src"})
        log = kit.server.log(name)
        assert [subject for _, subject in log] == ["update f.txt", "theirs", "Initial commit"]
        assert log[1][0] == theirs
        # The free try was refused by git itself on reading the remote's refs (the lease did not
        # hold), before any pack was sent; the try after a fetch sent the one pack.
        advertised = GitRequestKind.ADVERTISE_RECEIVE_PACK
        assert kit.server.request_count(advertised, repo=name, status=200) == 2
        assert kit.server.request_count(GitRequestKind.RECEIVE_PACK, repo=name, status=200) == 1

    async def test_a_branch_reset_on_the_remote_is_not_resurrected(
        self, kit: Any, name: str
    ) -> None:
        """c works on A; b pushes B (the mirror records it); someone resets the remote to A.
        c's free try, rebased on B, is refused (lease); c's commits are then rebased as they
        were, onto A: B does not come back."""
        kit.server.create_repo(name, {"a.txt": "1"})
        first = kit.server.head(name)
        ctx = await _clone_and_change(kit, name, folder="c", file="c.txt")
        reverted = await _clone_and_change(kit, name, folder="b", file="b.txt")
        await kit.run(GitPushStep(), reverted, {"path": "src"})
        kit.server_git(name, "update-ref", "refs/heads/main", first)
        await kit.run(GitPushStep(), ctx, {"path": "src"})
        assert [subject for _, subject in kit.server.log(name)] == [
            "update c.txt",
            "Initial commit",
        ]

    async def test_max_attempts_counts_the_fetched_tries(self, kit: Any, name: str) -> None:
        kit.server.create_repo(name, {"a.txt": "1"})
        ctx = await _clone_and_change(kit, name)
        kit.server.commit_files(name, {"theirs.txt": "t"}, message="theirs")
        result = await kit.run(GitPushStep(), ctx, {"path": "src", "maxAttempts": 1})
        assert result.status is PromotionStepStatus.SUCCEEDED


@pytest.mark.parametrize(
    ("url", "provider", "expected"),
    [
        ("https://github.com/Org/Repo.git", None, f"https://github.com/org/repo/commit/{SHA}"),
        ("https://gitlab.com/g/sub/r", None, f"https://gitlab.com/g/sub/r/-/commit/{SHA}"),
        ("https://bitbucket.org/w/r.git", None, f"https://bitbucket.org/w/r/commits/{SHA}"),
        ("https://gitea.example.com/o/r", None, f"https://gitea.example.com/o/r/commit/{SHA}"),
        (
            "https://dev.azure.com/org/proj/_git/r",
            None,
            f"https://dev.azure.com/org/proj/_git/r/commit/{SHA}",
        ),
        (
            "https://git.corp.example/o/r.git",
            "gitlab",
            f"https://git.corp.example/o/r/-/commit/{SHA}",
        ),
        ("https://git.corp.example/o/r.git", None, None),
        ("git@github.com:org/repo.git", None, f"https://github.com/org/repo/commit/{SHA}"),
    ],
)
def test_commit_url(url: str, provider: Any, expected: str | None) -> None:
    assert commit_url(url, SHA, provider) == expected


def test_backoff_grows_and_is_capped() -> None:
    backoff = Backoff(initial=1.0, factor=2.0, cap=5.0, jitter=0.5)
    assert 1.0 <= backoff.delay(1) <= 1.5
    assert 4.0 <= backoff.delay(3) <= 6.0
    assert 5.0 <= backoff.delay(30) <= 7.5


class TestPreview:
    """``preview``: the diff the push would make, and nothing pushed."""

    async def _preview(self, kit: Any, ctx: Any, raw: dict[str, Any]) -> Any:
        config = GitPushStep.config_model.model_validate(raw)
        return await GitPushStep().preview(ctx, config)

    async def test_the_diff_of_what_would_land_and_no_push(self, kit: Any, name: str) -> None:
        kit.server.create_repo(name, {"values.yaml": "image: 1\n"}, branch="master")
        before = kit.server.head(name, "master")
        ctx = await _clone_and_change(kit, name, "master", file="values.yaml")
        result = await self._preview(kit, ctx, {"path": "./src"})
        assert kit.server.head(name, "master") == before
        assert kit.server.branches(name) == ["master"]
        assert result.status is PromotionStepStatus.SUCCEEDED
        assert result.output["branch"] == "master"
        change = result.effect.change
        assert (change.branch, change.base) == ("master", before)
        assert change.head == result.output["commit"]
        assert "-image: 1\n+changed by work\n" in change.diff
        assert "git-pass" not in change.repository
        assert result.effect.summary.startswith("would push commit ")

    async def test_the_remote_moved_on_the_commit_compared_is_rebased(
        self, kit: Any, name: str
    ) -> None:
        kit.server.create_repo(name, {"a.txt": "1\n", "b.txt": "1\n"})
        ctx = await _clone_and_change(kit, name, file="a.txt")
        other = await _clone_and_change(kit, name, folder="other", file="b.txt")
        await kit.run(GitPushStep(), other, {"path": "./src"})
        moved = kit.server.head(name)
        result = await self._preview(kit, ctx, {"path": "./src"})
        change = result.effect.change
        assert change.base == moved
        assert "a/a.txt" in change.diff
        assert "b.txt" not in change.diff  # the other writer's change is already there
        assert kit.server.head(name) == moved

    async def test_a_new_branch_is_compared_with_the_branch_it_came_from(
        self, kit: Any, name: str
    ) -> None:
        kit.server.create_repo(name, {"a.txt": "1\n"})
        ctx = await _clone_and_change(kit, name, file="a.txt")
        result = await self._preview(kit, ctx, {"path": "./src", "generateTargetBranch": True})
        change = result.effect.change
        assert change.branch == "kargo/promotion/promo-1"
        assert change.base == kit.server.head(name)
        assert "a new branch (compared with main)" in result.effect.summary
        assert kit.server.branches(name) == ["main"]

    async def test_a_conflict_says_the_push_would_fail(self, kit: Any, name: str) -> None:
        kit.server.create_repo(name, {"a.txt": "1\n"})
        ctx = await _clone_and_change(kit, name, file="a.txt")
        other = await _clone_and_change(kit, name, folder="other", file="a.txt")
        await kit.run(GitPushStep(), other, {"path": "./src"})
        with pytest.raises(TerminalStepError, match="the push would fail"):
            await self._preview(kit, ctx, {"path": "./src"})
