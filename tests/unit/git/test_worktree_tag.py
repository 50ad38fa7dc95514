"""WorkTree.tag: annotated tags on HEAD, force, identity, invalid names; pushed with push(tag=)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from shunter.git import BareRepo, GitError, GitIdentity, InvalidRefError, RepoCredentials
from shunter_devenv.gitserver import GitServer

AUTHOR = GitIdentity("Shunter Bot", "bot@shunter.invalid")


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


async def test_tag_force_identity_and_push(
    git_server: GitServer, repo_name: str, work: Path, alice: RepoCredentials
) -> None:
    url = git_server.create_repo(repo_name, {"a.txt": "1"})
    repo = await BareRepo.clone(url, work, author=AUTHOR, credentials=alice)
    tree = await repo.add_worktree(work / "main")
    first = await tree.head()
    assert await tree.tag("v1.0.0", "Release 1.0.0\n\nnotes") == first
    assert git(tree.path, "cat-file", "-t", "v1.0.0") == "tag"  # annotated
    assert git(tree.path, "rev-parse", "v1.0.0^{commit}") == first
    assert git(tree.path, "tag", "-l", "--format=%(taggername) %(taggeremail)", "v1.0.0") == (
        "Shunter Bot <bot@shunter.invalid>"
    )
    assert git(tree.path, "tag", "-l", "--format=%(contents:subject)", "v1.0.0") == (
        "Release 1.0.0"
    )

    (tree.path / "a.txt").write_text("2")
    await tree.add_all()
    second = await tree.commit("second")
    with pytest.raises(GitError, match="already exists"):
        await tree.tag("v1.0.0", "again")
    assert git(tree.path, "rev-parse", "v1.0.0^{commit}") == first
    other = GitIdentity("Other", "other@example.com")
    assert await tree.tag("v1.0.0", "moved", force=True, author=other) == second
    assert git(tree.path, "rev-parse", "v1.0.0^{commit}") == second
    assert git(tree.path, "tag", "-l", "--format=%(taggername)", "v1.0.0") == "Other"

    await tree.push(tag="v1.0.0")
    assert git_server.head(repo_name) == first  # only the tag was pushed
    remote = git(tree.path, "ls-remote", "--tags", str(git_server.repo_path(repo_name)))
    assert "refs/tags/v1.0.0^{}" in remote
    assert second in remote


@pytest.mark.parametrize("name", ["", "-f", "a..b", "bad name", "x.lock", "a~1"])
async def test_invalid_tag_names(
    git_server: GitServer, repo_name: str, work: Path, alice: RepoCredentials, name: str
) -> None:
    url = git_server.create_repo(repo_name, {"a.txt": "1"})
    repo = await BareRepo.clone(url, work, author=AUTHOR, credentials=alice)
    tree = await repo.add_worktree(work / "main")
    with pytest.raises(InvalidRefError):
        await tree.tag(name, "m")
    assert git(tree.path, "tag", "-l") == ""
