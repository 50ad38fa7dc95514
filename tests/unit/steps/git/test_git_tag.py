"""The git-tag step: annotated tag on HEAD, force, errors; pushed by git-push tag:."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from shunter.api.v1alpha1.promotion import PromotionStepStatus
from shunter.promotion.registry import DEFAULT_REGISTRY
from shunter.promotion.step import StepError, TerminalStepError
from shunter.steps.git_clone import GitCloneStep
from shunter.steps.git_commit import GitCommitStep
from shunter.steps.git_push import GitPushStep
from shunter.steps.git_tag import GitTagConfig, GitTagStep


def test_registered_and_config() -> None:
    assert DEFAULT_REGISTRY.get("git-tag") is GitTagStep
    for raw, named in (
        ({"tag": "t", "message": "m"}, "path"),
        ({"path": "p", "message": "m"}, "tag"),
        ({"path": "p", "tag": "t"}, "message"),
        ({"path": "p", "tag": "", "message": "m"}, "tag"),
        ({"path": "p", "tag": "t", "message": ""}, "message"),
        ({"path": "p", "tag": "t", "message": "m", "force": "maybe"}, "force"),
        ({"path": "p", "tag": "t", "message": "m", "sign": True}, "sign"),
    ):
        with pytest.raises(ValidationError) as caught:
            GitTagConfig.model_validate(raw)
        assert named in str(caught.value)


async def _clone(kit: Any, name: str) -> Any:
    url = kit.server.create_repo(name, {"a.txt": "1"})
    ctx = kit.alice_ctx(url)
    await kit.run(GitCloneStep(), ctx, {"repoURL": url, "checkout": [{"path": "src"}]})
    return ctx


async def test_tag_then_push(kit: Any, name: str) -> None:
    ctx = await _clone(kit, name)
    src = ctx.work_dir / "src"
    (src / "a.txt").write_text("2")
    committed = await kit.run(GitCommitStep(), ctx, {"path": "src", "message": "bump"})
    sha = committed.output["commit"]
    result = await kit.run(
        GitTagStep(), ctx, {"path": "src", "tag": "v1.2.3", "message": "Release v1.2.3"}
    )
    assert result.status is PromotionStepStatus.SUCCEEDED
    assert result.output == {"commit": sha}
    # Until pushed, the tag is private to the working tree (git's per-worktree ref space).
    local = "refs/worktree/tags/v1.2.3"
    assert kit.git(src, "cat-file", "-t", local) == "tag"
    assert kit.git(src, "for-each-ref", "--format=%(contents:subject)", local) == "Release v1.2.3"
    await kit.run(GitPushStep(), ctx, {"path": "src", "tag": "v1.2.3"})
    assert kit.server_git(name, "rev-parse", "v1.2.3^{commit}") == sha


async def test_existing_tag_needs_force(kit: Any, name: str) -> None:
    ctx = await _clone(kit, name)
    src = ctx.work_dir / "src"
    first = (await kit.run(GitTagStep(), ctx, {"path": "src", "tag": "t", "message": "m"})).output[
        "commit"
    ]
    (src / "a.txt").write_text("2")
    second = (await kit.run(GitCommitStep(), ctx, {"path": "src", "message": "c"})).output["commit"]
    with pytest.raises(StepError, match="error creating tag t") as caught:
        await kit.run(GitTagStep(), ctx, {"path": "src", "tag": "t", "message": "m"})
    assert not isinstance(caught.value, TerminalStepError)
    assert kit.git(src, "rev-parse", "refs/worktree/tags/t^{commit}") == first
    moved = await kit.run(
        GitTagStep(), ctx, {"path": "src", "tag": "t", "message": "m", "force": True}
    )
    assert moved.output == {"commit": second}
    assert kit.git(src, "rev-parse", "refs/worktree/tags/t^{commit}") == second


async def test_invalid_tag_and_paths(kit: Any, name: str) -> None:
    ctx = await _clone(kit, name)
    with pytest.raises(TerminalStepError, match="invalid tag name"):
        await kit.run(GitTagStep(), ctx, {"path": "src", "tag": "-d", "message": "m"})
    with pytest.raises(TerminalStepError):
        await kit.run(GitTagStep(), ctx, {"path": "../outside", "tag": "t", "message": "m"})
    (ctx.work_dir / "plain").mkdir()
    with pytest.raises(TerminalStepError, match="error loading working tree"):
        await kit.run(GitTagStep(), ctx, {"path": "plain", "tag": "t", "message": "m"})
