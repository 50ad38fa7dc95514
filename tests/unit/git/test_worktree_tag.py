"""WorkTree.tag: annotated tags on HEAD, force, identity, invalid names; pushed with push(tag=)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from tests.unit.git.conftest import Repo

from shunter.git import (
    GitError,
    GitIdentity,
    InvalidRefError,
)

LOCAL = "refs/worktree/tags/v1.0.0"


def git(cwd: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin", "GIT_CONFIG_NOSYSTEM": "1", "HOME": "/nonexistent"},
    )
    return result.stdout.strip()


async def test_tag_force_identity_and_push(repo: Repo) -> None:
    repo.create({"a.txt": "1"})
    tree = await repo.checkout("main")
    first = await tree.head()
    assert await tree.tag("v1.0.0", "Release 1.0.0\n\nnotes\n# a comment line\n") == first
    assert git(tree.path, "cat-file", "-t", LOCAL) == "tag"  # annotated
    assert git(tree.path, "rev-parse", f"{LOCAL}^{{commit}}") == first
    assert git(tree.path, "for-each-ref", "--format=%(taggername) %(taggeremail)", LOCAL) == (
        "Shunter Bot <bot@shunter.invalid>"
    )
    assert git(tree.path, "for-each-ref", "--format=%(contents:subject)", LOCAL) == (
        "Release 1.0.0"
    )
    assert "a comment line" not in git(tree.path, "cat-file", "-p", LOCAL)
    # The tag is the tree's own: another working tree of the mirror does not see it.
    other = await repo.checkout("other")
    assert git(other.path, "for-each-ref", "refs/worktree/tags", "refs/tags") == ""
    assert await other.tag("v1.0.0", "theirs") == first

    (tree.path / "a.txt").write_text("2")
    await tree.add_all()
    second = await tree.commit("second")
    with pytest.raises(GitError, match="already exists"):
        await tree.tag("v1.0.0", "again")
    assert git(tree.path, "rev-parse", f"{LOCAL}^{{commit}}") == first
    someone = GitIdentity("Other", "other@example.com")
    assert await tree.tag("v1.0.0", "moved", force=True, author=someone) == second
    assert git(tree.path, "rev-parse", f"{LOCAL}^{{commit}}") == second
    assert git(tree.path, "for-each-ref", "--format=%(taggername)", LOCAL) == "Other"

    await tree.push(tag="v1.0.0")
    assert repo.server.head(repo.name) == first  # only the tag was pushed
    remote = git(tree.path, "ls-remote", "--tags", str(repo.server.repo_path(repo.name)))
    assert "refs/tags/v1.0.0^{}" in remote
    assert second in remote


async def test_a_remote_tag_needs_force(repo: Repo) -> None:
    repo.create({"a.txt": "1"})
    repo.server.create_tag(repo.name, "v1.0.0", "main")
    tree = await repo.checkout("main")
    with pytest.raises(GitError, match="already exists"):
        await tree.tag("v1.0.0", "again")


@pytest.mark.parametrize("name", ["", "-f", "a..b", "bad name", "x.lock", "a~1"])
async def test_invalid_tag_names(repo: Repo, name: str) -> None:
    repo.create({"a.txt": "1"})
    tree = await repo.checkout("main")
    with pytest.raises(InvalidRefError):
        await tree.tag(name, "m")
    assert git(tree.path, "for-each-ref", "refs/worktree/tags") == ""
