"""The git-commit step: commits everything; Skipped when nothing changed."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from shunter.api.v1alpha1.promotion import PromotionStepStatus
from shunter.promotion.registry import DEFAULT_REGISTRY
from shunter.promotion.step import TerminalStepError
from shunter.steps.git_clone import GitCloneStep
from shunter.steps.git_commit import GitCommitConfig, GitCommitStep
from shunter.steps.git_push import GitPushStep


def test_registered_and_config() -> None:
    assert DEFAULT_REGISTRY.get("git-commit") is GitCommitStep
    for raw, named in (
        ({"message": "m"}, "path"),
        ({"path": "p"}, "message"),
        ({"path": "p", "message": ""}, "message"),
        ({"path": "p", "message": "m", "messageFromSteps": ["x"]}, "messageFromSteps"),
    ):
        with pytest.raises(ValidationError) as caught:
            GitCommitConfig.model_validate(raw)
        assert named in str(caught.value)


async def _clone(kit: Any, name: str) -> Any:
    url = kit.server.create_repo(name, {"a.txt": "1"})
    ctx = kit.alice_ctx(url)
    await kit.run(GitCloneStep(), ctx, {"repoURL": url, "checkout": [{"path": "src"}]})
    return ctx


async def test_skipped_on_a_clean_tree(kit: Any, name: str) -> None:
    ctx = await _clone(kit, name)
    result = await kit.run(GitCommitStep(), ctx, {"path": "src", "message": "nothing"})
    assert result.status is PromotionStepStatus.SKIPPED
    assert result.output == {"commit": kit.server.head(name)}


async def test_commits_additions_changes_and_deletions(kit: Any, name: str) -> None:
    ctx = await _clone(kit, name)
    src = ctx.work_dir / "src"
    (src / "a.txt").unlink()
    (src / "new").mkdir()
    (src / "new" / "b.txt").write_text("b")
    result = await kit.run(
        GitCommitStep(), ctx, {"path": "./src", "message": "Promote\n\nfrom ${{ nothing }}"}
    )
    assert result.status is PromotionStepStatus.SUCCEEDED
    sha = result.output["commit"]
    assert len(sha) == 40
    assert kit.server.head(name) != sha  # committed locally only
    again = await kit.run(GitCommitStep(), ctx, {"path": "src", "message": "again"})
    assert again.status is PromotionStepStatus.SKIPPED
    assert again.output == {"commit": sha}


async def test_step_author_overrides_the_clone_identity(kit: Any, name: str) -> None:
    ctx = await _clone(kit, name)
    (ctx.work_dir / "src" / "c.txt").write_text("c")
    await kit.run(GitCommitStep(), ctx, {"path": "src", "message": "default identity"})
    (ctx.work_dir / "src" / "d.txt").write_text("d")
    author = {"name": "Release Bot", "email": "release@example.com"}
    await kit.run(GitCommitStep(), ctx, {"path": "src", "message": "m", "author": author})
    await kit.run(GitPushStep(), ctx, {"path": "src"})
    log = kit.server_git(name, "log", "-2", "--format=%an <%ae> / %cn <%ce>")
    assert log.splitlines() == [
        "Release Bot <release@example.com> / Release Bot <release@example.com>",
        "Kargo <no-reply@kargo.io> / Kargo <no-reply@kargo.io>",
    ]


@pytest.mark.parametrize("path", ["../x", "/abs", "missing", "."])
async def test_bad_paths(kit: Any, path: str) -> None:
    with pytest.raises(TerminalStepError):
        await kit.run(GitCommitStep(), kit.ctx(), {"path": path, "message": "m"})
