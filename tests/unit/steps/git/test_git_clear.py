"""The git-clear step: empties a working tree but keeps ``.git``."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from shunter.api.v1alpha1.promotion import PromotionStepStatus
from shunter.promotion.registry import DEFAULT_REGISTRY
from shunter.promotion.step import TerminalStepError
from shunter.steps.git_clear import GitClearConfig, GitClearStep
from shunter.steps.git_clone import GitCloneStep
from shunter.steps.git_commit import GitCommitStep
from shunter.steps.git_push import GitPushStep


def test_registered_and_config() -> None:
    assert DEFAULT_REGISTRY.get("git-clear") is GitClearStep
    with pytest.raises(ValidationError, match="path"):
        GitClearConfig.model_validate({})
    with pytest.raises(ValidationError, match="extra"):
        GitClearConfig.model_validate({"path": "a", "extra": 1})


async def test_clear_keeps_dot_git_and_commits_an_empty_tree(kit: Any, name: str) -> None:
    url = kit.server.create_repo(
        name, {"a.yaml": "a", "deep/b.yaml": "b", ".gitignore": "*.tmp\n"}, branch="env/prod"
    )
    ctx = kit.alice_ctx(url)
    await kit.run(GitCloneStep(), ctx, {"repoURL": url, "checkout": [{"path": "out"}]})
    out = ctx.work_dir / "out"
    (out / "untracked.yaml").write_text("u")
    (out / "scratch.tmp").write_text("ignored")
    result = await kit.run(GitClearStep(), ctx, {"path": "./out"})
    assert result.status is PromotionStepStatus.SUCCEEDED
    assert [p.name for p in out.iterdir()] == [".git"]
    (out / "rendered.yaml").write_text("r")
    await kit.run(GitCommitStep(), ctx, {"path": "out", "message": "render"})
    await kit.run(GitPushStep(), ctx, {"path": "out"})
    assert kit.server_git(name, "ls-tree", "-r", "--name-only", "env/prod") == "rendered.yaml"


@pytest.mark.parametrize("path", ["../x", "/abs", ".", "missing"])
async def test_bad_paths(kit: Any, path: str) -> None:
    with pytest.raises(TerminalStepError):
        await kit.run(GitClearStep(), kit.ctx(), {"path": path})


async def test_symlink_to_a_work_tree_outside(kit: Any, name: str) -> None:
    url = kit.server.create_repo(name, {"a.yaml": "a"})
    other = kit.alice_ctx(url, "other")
    await kit.run(GitCloneStep(), other, {"repoURL": url, "checkout": [{"path": "src"}]})
    ctx = kit.ctx()
    (ctx.work_dir / "link").symlink_to(other.work_dir / "src")
    with pytest.raises(TerminalStepError, match="outside"):
        await kit.run(GitClearStep(), ctx, {"path": "link"})
    assert (other.work_dir / "src" / "a.yaml").exists()
