"""check_out / WorkTree against a real git smart-HTTP server with Basic auth."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from pathlib import Path

import pytest
from pydantic import SecretStr
from tests.unit.git.conftest import AUTHOR, Repo, checkout

from shunter.git import (
    Checkout,
    GitAuthenticationError,
    GitError,
    MergeConflictError,
    MirrorStore,
    NonFastForwardError,
    NotAWorkTreeError,
    RemoteRefNotFoundError,
    RepoCredentials,
    WorkTree,
    check_out,
)
from shunter_devenv.gitserver import GitServer

EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"


def server_git(repo: Repo, *args: str) -> str:
    """Read-only git on the server's bare repository."""
    result = subprocess.run(
        ["git", "--git-dir", str(repo.server.repo_path(repo.name)), *args],
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


async def _commit(tree: WorkTree, name: str, text: str, message: str) -> str:
    (tree.path / name).write_text(text)
    await tree.add_all()
    return await tree.commit(message)


class TestClone:
    async def test_default_branch_branch_tag_and_commit(self, repo: Repo) -> None:
        server, work = repo.server, repo.work
        repo.create({"a.txt": "1"}, branch="master")
        first = server.head(repo.name, "master")
        server.create_tag(repo.name, "v1", "master", message="release 1")
        second = server.commit_files(repo.name, {"a.txt": "2"}, branch="master")
        server.commit_files(repo.name, {"b.txt": "x"}, branch="stage/prod", base="master")
        default, tagged, pinned, stage = await check_out(
            repo.store.mirror(repo.url),
            repo.url,
            [
                Checkout(path=work / "default"),
                Checkout(path=work / "tagged", tag="v1"),
                Checkout(path=work / "pinned", commit=first),
                Checkout(path=work / "nested" / "stage", branch="stage/prod"),
            ],
            author=AUTHOR,
            credentials=repo.alice,
        )
        assert await default.head() == second
        assert await default.current_branch() == "master"
        assert await tagged.head() == first
        assert await tagged.current_branch() is None
        assert (work / "tagged" / "a.txt").read_text() == "1"
        assert await pinned.head() == first
        assert (work / "nested" / "stage" / "b.txt").read_text() == "x"
        assert await stage.current_branch() == "stage/prod"
        mirror = repo.store.mirror(repo.url)
        names = sorted(p.name for p in await mirror.live_worktrees())
        assert names == ["default", "pinned", "stage", "tagged"]
        # Nothing of the repository lives in the work folder but the trees themselves.
        assert _names(work) == ["default", "nested", "pinned", "tagged"]
        for tree in (default, tagged, pinned, stage):
            shutil.rmtree(tree.path)
        await repo.store.prune_worktrees()
        assert await mirror.live_worktrees() == []
        assert not (mirror.path / "worktrees").exists()  # git prune removes the folder too

    async def test_missing_refs(self, repo: Repo) -> None:
        repo.create({"a.txt": "1"})
        with pytest.raises(RemoteRefNotFoundError, match="create: true"):
            await repo.checkout("x", branch="nope")
        with pytest.raises(RemoteRefNotFoundError):
            await repo.checkout("y", tag="v9")
        with pytest.raises(RemoteRefNotFoundError):
            await repo.checkout("z", commit="0123456789abcdef0123456789abcdef01234567")
        assert _names(repo.work) == []

    async def test_every_checkout_sees_the_remote_as_it_is(self, repo: Repo) -> None:
        repo.create({"a.txt": "1"})
        await repo.checkout("first")
        sha = repo.server.commit_files(repo.name, {"late.txt": "x"}, branch="late", base="main")
        moved = repo.server.commit_files(repo.name, {"a.txt": "2"})
        assert await (await repo.checkout("late", branch="late")).head() == sha
        assert await (await repo.checkout("main")).head() == moved
        repo.server.create_tag(repo.name, "v2", "main")
        assert await (await repo.checkout("v2", tag="v2")).head() == moved

    async def test_a_branch_deleted_on_the_remote_is_gone_from_the_mirror(self, repo: Repo) -> None:
        repo.create({"a.txt": "1"})
        repo.server.commit_files(repo.name, {"b.txt": "x"}, branch="gone", base="main")
        await repo.checkout("one", branch="gone")
        server_git(repo, "update-ref", "-d", "refs/heads/gone")
        with pytest.raises(RemoteRefNotFoundError, match="create: true"):
            await repo.checkout("two", branch="gone")
        assert await repo.store.mirror(repo.url).tip("gone") is None

    async def test_create_orphan_branch(self, repo: Repo) -> None:
        repo.create({"a.txt": "1"})
        tree = await repo.checkout("out", branch="env/prod", create=True)
        assert "env/prod" in repo.server.branches(repo.name)
        assert repo.server.head(repo.name, "env/prod") == await tree.head()
        assert server_git(repo, "rev-parse", "env/prod^{tree}") == EMPTY_TREE
        assert server_git(repo, "rev-list", "--count", "env/prod") == "1"
        assert [p.name for p in (repo.work / "out").iterdir()] == [".git"]
        assert await tree.current_branch() == "env/prod"

    async def test_create_adopts_a_branch_made_concurrently(
        self, repo: Repo, tmp_path: Path
    ) -> None:
        """Two operators (two stores) create the same branch at once: one commit wins."""
        url = repo.create({"a.txt": "1"})
        trees = await asyncio.gather(
            *(
                checkout(
                    MirrorStore(tmp_path / n),
                    url,
                    repo.work / n,
                    repo.alice,
                    branch="e",
                    create=True,
                )
                for n in ("one", "two")
            )
        )
        heads = {await tree.head() for tree in trees}
        assert heads == {repo.server.head(repo.name, "e")}

    async def test_wrong_password_and_anonymous(self, repo: Repo) -> None:
        repo.create({"a.txt": "1"})
        wrong = RepoCredentials("alice", SecretStr("definitely-wrong-pw"))
        for creds in (wrong, None):
            with pytest.raises(GitAuthenticationError) as caught:
                await repo.checkout("src", credentials=creds)
            assert "definitely-wrong-pw" not in str(caught.value)
        assert _names(repo.work) == []

    async def test_refuses_password_in_url(
        self, git_server: GitServer, work: Path, store: MirrorStore
    ) -> None:
        url = git_server.url("team/x").replace("http://", "http://alice:in-url-pw@")
        with pytest.raises(GitError) as caught:
            await checkout(store, url, work / "src", None)
        assert "in-url-pw" not in str(caught.value)

    async def test_blobless_and_sparse(self, repo: Repo) -> None:
        repo.create({"keep/a.txt": "1", "drop/b.txt": "2", "top.txt": "t"})
        tree = await repo.checkout("src", blobless=True, sparse=("keep",))
        assert (repo.work / "src" / "keep" / "a.txt").read_text() == "1"
        assert (repo.work / "src" / "top.txt").exists()  # cone mode keeps top-level files
        assert not (repo.work / "src" / "drop").exists()
        assert tree.partial
        assert repo.store.mirror(repo.url, blobless=True).path.name.endswith("-blobless.git")
        with pytest.raises(GitError, match="sparse"):
            await repo.checkout("bad", sparse=("../x",))

    async def test_refuses_a_non_empty_target(self, repo: Repo) -> None:
        repo.create({"a.txt": "1"})
        (repo.work / "busy").mkdir()
        (repo.work / "busy" / "f").write_text("x")
        with pytest.raises(GitError, match="not an empty folder"):
            await repo.checkout("busy")
        assert repo.server.request_count(repo=repo.name) == 0


class TestTLS:
    async def test_insecure_skip_tls_verify(
        self, repo_name: str, work: Path, alice: RepoCredentials, store: MirrorStore
    ) -> None:
        with GitServer(users={"alice": alice.password.get_secret_value()}, tls=True) as server:
            url = server.create_repo(repo_name, {"a.txt": "1"})
            with pytest.raises(GitError, match=r"certificate|SSL"):
                await checkout(store, url, work / "src", alice)
            tree = await checkout(store, url, work / "src", alice, insecure_skip_tls_verify=True)
            await _commit(tree, "b.txt", "b", "over TLS")
            loaded = await WorkTree.load(work / "src", credentials=alice)
            assert loaded.insecure_skip_tls_verify
            await loaded.push()
            assert server.log(repo_name)[0][1] == "over TLS"


class TestWorkTree:
    async def test_commit_push_and_reload(self, repo: Repo) -> None:
        repo.create({"a.txt": "1"}, branch="master")
        await repo.checkout("src", branch="master")
        src = repo.work / "src"
        tree = await WorkTree.load(src)
        assert tree.url == repo.url
        assert tree.mirror_path == repo.store.mirror(repo.url).path
        assert await tree.current_branch() == "master"
        assert not await tree.has_changes()
        (src / "new.txt").write_text("n")
        (src / "a.txt").unlink()
        assert len(await tree.status_porcelain()) == 2
        await tree.add_all()
        sha = await tree.commit("line one\n\nbody # not a comment\n")
        assert not await tree.has_changes()
        # The commit moved the tree's HEAD only: the mirror's branch is still the remote's.
        remote = repo.server.head(repo.name, "master")
        assert await repo.store.mirror(repo.url).tip("master") == remote
        # Pushing needs the credentials, which a loaded tree only gets when given.
        with pytest.raises(GitAuthenticationError):
            await tree.push()
        assert await tree.with_credentials(repo.alice).push() == "master"
        assert repo.server.head(repo.name, "master") == sha
        assert repo.server.log(repo.name, "master")[0][1] == "line one"
        assert server_git(repo, "log", "-1", "--format=%an <%ae>|%cn") == (
            f"{AUTHOR.name} <{AUTHOR.email}>|{AUTHOR.name}"
        )

    async def test_lease_refuses_a_moved_branch_then_rebase(self, repo: Repo) -> None:
        repo.create({"a.txt": "1"})
        base = repo.server.head(repo.name)
        tree = await repo.checkout("src")
        await _commit(tree, "mine.txt", "mine", "mine")
        theirs = repo.server.commit_files(repo.name, {"theirs.txt": "theirs"})
        with pytest.raises(NonFastForwardError):
            await tree.push()
        with pytest.raises(NonFastForwardError):
            await tree.push(expect=base)
        mirror = repo.store.mirror(repo.url)
        assert await mirror.refresh_branch(repo.url, "main", credentials=repo.alice) == theirs
        await tree.rebase(theirs)
        await tree.push(expect=theirs)
        log = repo.server.log(repo.name)
        assert [subject for _, subject in log] == ["mine", "Update files", "Initial commit"]
        assert log[1][0] == theirs
        absent = await mirror.refresh_branch(repo.url, "absent-branch", credentials=repo.alice)
        assert absent is None

    async def test_conflict_aborts_the_rebase(self, repo: Repo) -> None:
        repo.create({"a.txt": "1"})
        tree = await repo.checkout("src")
        mine = await _commit(tree, "a.txt", "mine", "mine")
        theirs = repo.server.commit_files(repo.name, {"a.txt": "theirs"})
        await repo.store.mirror(repo.url).refresh_branch(repo.url, "main", credentials=repo.alice)
        with pytest.raises(MergeConflictError):
            await tree.rebase(theirs)
        assert not await tree.is_rebasing()
        assert await tree.head() == mine
        assert (tree.path / "a.txt").read_text() == "mine"

    async def test_clear_keeps_only_dot_git(self, repo: Repo) -> None:
        repo.create({"a.txt": "1", "d/b.txt": "2", ".gitignore": "*.log\n"})
        tree = await repo.checkout("src")
        (tree.path / "untracked.txt").write_text("u")
        (tree.path / "ignored.log").write_text("i")
        await tree.clear()
        assert [p.name for p in tree.path.iterdir()] == [".git"]
        assert await tree.has_changes()  # the deletions

    async def test_load_refuses_other_folders(self, repo: Repo) -> None:
        repo.create({"d/a.txt": "1"})
        await repo.checkout("src")
        work = repo.work
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

    async def test_load_refuses_a_tree_pointing_at_another_ones_record(self, repo: Repo) -> None:
        """A ``.git`` file written to borrow another promotion's working tree is refused."""
        repo.create({"a.txt": "1"})
        await repo.checkout("theirs")
        (repo.work / "mine").mkdir()
        shutil.copy(repo.work / "theirs" / ".git", repo.work / "mine" / ".git")
        with pytest.raises(NotAWorkTreeError, match="git-clone"):
            await WorkTree.load(repo.work / "mine")

    async def test_detached_push_needs_a_target(self, repo: Repo) -> None:
        repo.create({"a.txt": "1"})
        first = repo.server.head(repo.name)
        tree = await repo.checkout("src", commit=first)
        with pytest.raises(GitError, match="detached"):
            await tree.push()
        assert await tree.push(target_branch="from-detached") == "from-detached"
        assert repo.server.head(repo.name, "from-detached") == first
