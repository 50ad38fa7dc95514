"""BareRepo / WorkTree against a real git smart-HTTP server with Basic auth."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import pytest
from pydantic import SecretStr

from shunter.git import (
    BareRepo,
    GitAuthenticationError,
    GitError,
    GitIdentity,
    MergeConflictError,
    NonFastForwardError,
    NotAWorkTreeError,
    RemoteRefNotFoundError,
    RepoCredentials,
    WorkTree,
)
from shunter_devenv.gitserver import GitServer

EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
AUTHOR = GitIdentity("Shunter Bot", "bot@shunter.invalid")


def server_git(server: GitServer, name: str, *args: str) -> str:
    """Read-only git on the server's bare repository."""
    result = subprocess.run(
        ["git", "--git-dir", str(server.repo_path(name)), *args],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin", "GIT_CONFIG_NOSYSTEM": "1", "HOME": "/nonexistent"},
    )
    return result.stdout.strip()


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def _git_init(folder: Path) -> None:
    subprocess.run(["git", "init", "-q", str(folder)], check=True)


async def clone(server: GitServer, name: str, work: Path, creds: RepoCredentials) -> BareRepo:
    return await BareRepo.clone(server.url(name), work, author=AUTHOR, credentials=creds)


class TestClone:
    async def test_default_branch_branch_tag_and_commit(
        self, git_server: GitServer, repo_name: str, work: Path, alice: RepoCredentials
    ) -> None:
        git_server.create_repo(repo_name, {"a.txt": "1"}, branch="master")
        first = git_server.head(repo_name, "master")
        git_server.create_tag(repo_name, "v1", "master", message="release 1")
        second = git_server.commit_files(repo_name, {"a.txt": "2"}, branch="master")
        git_server.commit_files(repo_name, {"b.txt": "x"}, branch="stage/prod", base="master")
        repo = await clone(git_server, repo_name, work, alice)
        assert await repo.default_branch() == "master"

        default = await repo.add_worktree(work / "default")
        assert await default.head() == second
        assert await default.current_branch() == "master"
        tagged = await repo.add_worktree(work / "tagged", tag="v1")
        assert await tagged.head() == first
        assert await tagged.current_branch() is None
        assert (work / "tagged" / "a.txt").read_text() == "1"
        pinned = await repo.add_worktree(work / "pinned", commit=first)
        assert await pinned.head() == first
        stage = await repo.add_worktree(work / "nested" / "stage", branch="stage/prod")
        assert (work / "nested" / "stage" / "b.txt").read_text() == "x"
        assert await stage.current_branch() == "stage/prod"
        assert sorted(p.name for p in await repo.worktree_paths()) == [
            "default",
            "pinned",
            "stage",
            "tagged",
        ]
        await repo.close()
        assert not repo.home.exists()
        assert not (work / "default").exists()

    async def test_missing_refs(
        self, git_server: GitServer, repo_name: str, work: Path, alice: RepoCredentials
    ) -> None:
        git_server.create_repo(repo_name, {"a.txt": "1"})
        repo = await clone(git_server, repo_name, work, alice)
        with pytest.raises(RemoteRefNotFoundError, match="create: true"):
            await repo.add_worktree(work / "x", branch="nope")
        with pytest.raises(RemoteRefNotFoundError):
            await repo.add_worktree(work / "y", tag="v9")
        with pytest.raises(RemoteRefNotFoundError):
            await repo.add_worktree(work / "z", commit="0123456789abcdef0123456789abcdef01234567")

    async def test_branch_created_after_the_clone_is_fetched(
        self, git_server: GitServer, repo_name: str, work: Path, alice: RepoCredentials
    ) -> None:
        git_server.create_repo(repo_name, {"a.txt": "1"})
        repo = await clone(git_server, repo_name, work, alice)
        sha = git_server.commit_files(repo_name, {"late.txt": "x"}, branch="late", base="main")
        tree = await repo.add_worktree(work / "late", branch="late")
        assert await tree.head() == sha

    async def test_create_orphan_branch(
        self, git_server: GitServer, repo_name: str, work: Path, alice: RepoCredentials
    ) -> None:
        git_server.create_repo(repo_name, {"a.txt": "1"})
        repo = await clone(git_server, repo_name, work, alice)
        tree = await repo.add_worktree(work / "out", branch="env/prod", create=True)
        assert "env/prod" in git_server.branches(repo_name)
        assert git_server.head(repo_name, "env/prod") == await tree.head()
        assert server_git(git_server, repo_name, "rev-parse", "env/prod^{tree}") == EMPTY_TREE
        assert server_git(git_server, repo_name, "rev-list", "--count", "env/prod") == "1"
        assert [p.name for p in (work / "out").iterdir()] == [".git"]

    async def test_create_adopts_a_branch_made_concurrently(
        self, git_server: GitServer, repo_name: str, work: Path, alice: RepoCredentials
    ) -> None:
        git_server.create_repo(repo_name, {"a.txt": "1"})
        one = await clone(git_server, repo_name, work, alice)
        two = await clone(git_server, repo_name, work, alice)
        trees = await asyncio.gather(
            one.add_worktree(work / "one", branch="env/new", create=True),
            two.add_worktree(work / "two", branch="env/new", create=True),
        )
        heads = {await tree.head() for tree in trees}
        assert heads == {git_server.head(repo_name, "env/new")}

    async def test_wrong_password_and_anonymous(
        self, git_server: GitServer, repo_name: str, work: Path
    ) -> None:
        git_server.create_repo(repo_name, {"a.txt": "1"})
        wrong = RepoCredentials("alice", SecretStr("definitely-wrong-pw"))
        for creds in (wrong, None):
            with pytest.raises(GitAuthenticationError) as caught:
                await BareRepo.clone(
                    git_server.url(repo_name), work, author=AUTHOR, credentials=creds
                )
            assert "definitely-wrong-pw" not in str(caught.value)
        assert _names(work) == []  # the half-made home folder was removed

    async def test_refuses_password_in_url(self, git_server: GitServer, work: Path) -> None:
        url = git_server.url("team/x").replace("http://", "http://alice:in-url-pw@")
        with pytest.raises(GitError) as caught:
            await BareRepo.clone(url, work, author=AUTHOR)
        assert "in-url-pw" not in str(caught.value)

    async def test_blobless_and_sparse(
        self, git_server: GitServer, repo_name: str, work: Path, alice: RepoCredentials
    ) -> None:
        git_server.create_repo(repo_name, {"keep/a.txt": "1", "drop/b.txt": "2", "top.txt": "t"})
        repo = await BareRepo.clone(
            git_server.url(repo_name), work, author=AUTHOR, credentials=alice, blobless=True
        )
        await repo.add_worktree(work / "src", sparse=["keep"])
        assert (work / "src" / "keep" / "a.txt").read_text() == "1"
        assert (work / "src" / "top.txt").exists()  # cone mode keeps top-level files
        assert not (work / "src" / "drop").exists()
        with pytest.raises(GitError, match="sparse"):
            await repo.add_worktree(work / "bad", sparse=["../x"])

    async def test_refuses_a_non_empty_target(
        self, git_server: GitServer, repo_name: str, work: Path, alice: RepoCredentials
    ) -> None:
        git_server.create_repo(repo_name, {"a.txt": "1"})
        repo = await clone(git_server, repo_name, work, alice)
        (work / "busy").mkdir()
        (work / "busy" / "f").write_text("x")
        with pytest.raises(GitError, match="not an empty folder"):
            await repo.add_worktree(work / "busy")


class TestTLS:
    async def test_insecure_skip_tls_verify(
        self, repo_name: str, work: Path, alice: RepoCredentials
    ) -> None:
        with GitServer(users={"alice": alice.password.get_secret_value()}, tls=True) as server:
            server.create_repo(repo_name, {"a.txt": "1"})
            with pytest.raises(GitError, match=r"certificate|SSL"):
                await BareRepo.clone(server.url(repo_name), work, author=AUTHOR, credentials=alice)
            repo = await BareRepo.clone(
                server.url(repo_name),
                work,
                author=AUTHOR,
                credentials=alice,
                insecure_skip_tls_verify=True,
            )
            tree = await repo.add_worktree(work / "src")
            (work / "src" / "b.txt").write_text("b")
            await tree.add_all()
            await tree.commit("over TLS")
            await tree.push()
            assert server.log(repo_name)[0][1] == "over TLS"


class TestWorkTree:
    async def test_commit_push_and_reload(
        self, git_server: GitServer, repo_name: str, work: Path, alice: RepoCredentials
    ) -> None:
        git_server.create_repo(repo_name, {"a.txt": "1"}, branch="master")
        repo = await clone(git_server, repo_name, work, alice)
        await repo.add_worktree(work / "src", branch="master")
        tree = await WorkTree.load(work / "src")
        assert tree.url == git_server.url(repo_name)
        assert not await tree.has_changes()
        (work / "src" / "new.txt").write_text("n")
        (work / "src" / "a.txt").unlink()
        assert len(await tree.status_porcelain()) == 2
        await tree.add_all()
        sha = await tree.commit("line one\n\nbody # not a comment\n")
        assert not await tree.has_changes()
        # Pushing needs the credentials, which a loaded tree only gets when given.
        with pytest.raises(GitAuthenticationError):
            await tree.push()
        assert await tree.with_credentials(alice).push() == "master"
        assert git_server.head(repo_name, "master") == sha
        assert git_server.log(repo_name, "master")[0][1] == "line one"
        assert server_git(git_server, repo_name, "log", "-1", "--format=%an <%ae>|%cn") == (
            f"{AUTHOR.name} <{AUTHOR.email}>|{AUTHOR.name}"
        )

    async def test_non_fast_forward_then_integrate(
        self, git_server: GitServer, repo_name: str, work: Path, alice: RepoCredentials
    ) -> None:
        git_server.create_repo(repo_name, {"a.txt": "1"})
        repo = await clone(git_server, repo_name, work, alice)
        tree = await repo.add_worktree(work / "src")
        (work / "src" / "mine.txt").write_text("mine")
        await tree.add_all()
        await tree.commit("mine")
        theirs = git_server.commit_files(repo_name, {"theirs.txt": "theirs"})
        with pytest.raises(NonFastForwardError):
            await tree.push()
        assert await tree.integrate_remote("main")
        await tree.push()
        log = git_server.log(repo_name)
        assert [subject for _, subject in log] == ["mine", "Update files", "Initial commit"]
        assert log[1][0] == theirs
        assert not await tree.integrate_remote("absent-branch")

    async def test_conflict_aborts_the_rebase(
        self, git_server: GitServer, repo_name: str, work: Path, alice: RepoCredentials
    ) -> None:
        git_server.create_repo(repo_name, {"a.txt": "1"})
        repo = await clone(git_server, repo_name, work, alice)
        tree = await repo.add_worktree(work / "src")
        (work / "src" / "a.txt").write_text("mine")
        await tree.add_all()
        mine = await tree.commit("mine")
        git_server.commit_files(repo_name, {"a.txt": "theirs"})
        with pytest.raises(MergeConflictError):
            await tree.integrate_remote("main")
        assert not await tree.is_rebasing()
        assert await tree.head() == mine
        assert (work / "src" / "a.txt").read_text() == "mine"

    async def test_clear_keeps_only_dot_git(
        self, git_server: GitServer, repo_name: str, work: Path, alice: RepoCredentials
    ) -> None:
        git_server.create_repo(repo_name, {"a.txt": "1", "d/b.txt": "2", ".gitignore": "*.log\n"})
        repo = await clone(git_server, repo_name, work, alice)
        tree = await repo.add_worktree(work / "src")
        (work / "src" / "untracked.txt").write_text("u")
        (work / "src" / "ignored.log").write_text("i")
        await tree.clear()
        assert [p.name for p in (work / "src").iterdir()] == [".git"]
        assert await tree.has_changes()  # the deletions

    async def test_load_refuses_other_folders(
        self, git_server: GitServer, repo_name: str, work: Path, alice: RepoCredentials
    ) -> None:
        git_server.create_repo(repo_name, {"d/a.txt": "1"})
        repo = await clone(git_server, repo_name, work, alice)
        await repo.add_worktree(work / "src")
        (work / "plain").mkdir()
        with pytest.raises(NotAWorkTreeError):
            await WorkTree.load(work / "plain")
        with pytest.raises(NotAWorkTreeError, match="top folder"):
            await WorkTree.load(work / "src" / "d")
        with pytest.raises(NotAWorkTreeError):
            await WorkTree.load(work / "missing")
        _git_init(work / "foreign")
        with pytest.raises(NotAWorkTreeError, match="git-clone"):
            await WorkTree.load(work / "foreign")

    async def test_detached_push_needs_a_target(
        self, git_server: GitServer, repo_name: str, work: Path, alice: RepoCredentials
    ) -> None:
        git_server.create_repo(repo_name, {"a.txt": "1"})
        first = git_server.head(repo_name)
        repo = await clone(git_server, repo_name, work, alice)
        tree = await repo.add_worktree(work / "src", commit=first)
        with pytest.raises(GitError, match="detached"):
            await tree.push()
        assert await tree.push(target_branch="from-detached") == "from-detached"
        assert git_server.head(repo_name, "from-detached") == first
