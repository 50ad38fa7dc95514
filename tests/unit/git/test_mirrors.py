"""The mirror store: one mirror per repository, shared by checkouts and discovery, fetched
incrementally and once for many; swept when unneeded; repaired when damaged or locked."""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
from tests.unit.git.conftest import Repo, checkout

from shunter.git import MirrorStore, RepoCredentials, WorkTree, mirror_key
from shunter_devenv.gitserver import GitRequestKind, GitServer
from shunter_devenv.waiting import wait_for_async

BIG = 256 * 1024


def _mirrors(store: MirrorStore) -> list[str]:
    return sorted(path.name for path in store.root.glob("*.git"))


def _fetched(server: GitServer, repo: str) -> int:
    return server.response_bytes(GitRequestKind.UPLOAD_PACK, repo=repo)


class TestReuse:
    async def test_a_second_checkout_fetches_only_what_is_new(self, repo: Repo) -> None:
        url = repo.create({"big.bin": secrets.token_bytes(BIG)})
        await repo.checkout("one")
        assert _fetched(repo.server, repo.name) > BIG  # the first one downloads the repository
        repo.server.reset_requests()
        two = await repo.checkout("two")
        assert _fetched(repo.server, repo.name) < BIG / 20  # refs only: nothing was new
        assert (two.path / "big.bin").stat().st_size == BIG
        repo.server.reset_requests()
        sha = repo.server.commit_files(repo.name, {"small.txt": "new"})
        three = await repo.checkout("three")
        assert await three.head() == sha
        assert _fetched(repo.server, repo.name) < BIG / 20  # just the new commit
        assert _mirrors(repo.store) == [mirror_key(url)]

    async def test_spellings_of_one_url_share_a_mirror(self, repo: Repo) -> None:
        url = repo.create({"a.txt": "1"})
        other = url.removesuffix(".git") + "/"
        await repo.checkout("one")
        tree = await checkout(repo.store, other, repo.work / "two", repo.alice)
        assert _mirrors(repo.store) == [mirror_key(url)]
        assert tree.url == other  # each tree talks to the URL it was given
        assert (await WorkTree.load(repo.work / "two")).url == other

    async def test_concurrent_checkouts_share_fetches(self, repo: Repo) -> None:
        repo.create({"a.txt": "1"})
        await repo.checkout("warm")
        repo.server.reset_requests()
        trees = await asyncio.gather(*(repo.checkout(f"p{i}", branch="main") for i in range(8)))
        assert len({tree.path for tree in trees}) == 8
        # One fetch was running when the others asked; they shared the next one.
        advertised = GitRequestKind.ADVERTISE_UPLOAD_PACK
        assert repo.server.request_count(advertised, repo=repo.name, status=200) <= 2


class TestSweep:
    async def test_unneeded_mirrors_go_needed_ones_stay(
        self,
        git_server: GitServer,
        work: Path,
        alice: RepoCredentials,
        store: MirrorStore,
        tmp_path: Path,
    ) -> None:
        urls = {
            name: git_server.create_repo(f"sweep/{name}-{secrets.token_hex(3)}", {"a": name})
            for name in ("subscribed", "idle", "in-use")
        }
        for name, url in urls.items():
            await checkout(store, url, work / name, alice)
        shutil.rmtree(work / "subscribed")
        shutil.rmtree(work / "idle")
        keep = [urls["subscribed"].removesuffix(".git") + "/"]  # another spelling of it
        assert await store.sweep(keep, max_idle=3600) == []  # everything was used just now
        assert len(_mirrors(store)) == 3

        later = time.time() + 7200
        # A restarted operator reads when each mirror was used last from the disk.
        restarted = MirrorStore(store.root)
        removed = await restarted.sweep(keep, max_idle=3600, now=later)
        assert [path.name for path in removed] == [mirror_key(urls["idle"])]
        assert _mirrors(store) == sorted(mirror_key(urls[n]) for n in ("subscribed", "in-use"))
        # The promotion using "in-use" goes on; once its tree is gone, so is the mirror.
        assert (await WorkTree.load(work / "in-use")).url == urls["in-use"]
        shutil.rmtree(work / "in-use")
        removed = await restarted.sweep(keep, max_idle=3600, now=later)
        assert [path.name for path in removed] == [mirror_key(urls["in-use"])]
        # A swept mirror comes back when needed.
        await checkout(restarted, urls["idle"], work / "again", alice)
        assert mirror_key(urls["idle"]) in _mirrors(store)

    async def test_finished_trees_are_pruned_in_the_background(self, repo: Repo) -> None:
        url = repo.create({"a.txt": "1"})
        await repo.checkout("done")
        admin = repo.store.mirror(url).path / "worktrees"
        assert admin.exists()
        shutil.rmtree(repo.work / "done")
        repo.store.prune_soon()
        await wait_for_async(lambda: not admin.exists(), within=30, what="the prune")


def _corrupt_head(path: Path) -> None:
    (path / "HEAD").write_text("garbage\n")


def _corrupt_config(path: Path) -> None:
    (path / "config").write_text("[core\nthis is not git config\n")


def _lose_objects(path: Path) -> None:
    shutil.rmtree(path / "objects")
    (path / "objects").mkdir()


def _truncate_objects(path: Path) -> None:
    for item in (path / "objects").rglob("*"):
        if item.is_file():
            item.chmod(0o644)
            item.write_bytes(b"")


class TestRepair:
    @pytest.mark.parametrize(
        "damage", [_corrupt_head, _corrupt_config, _lose_objects, _truncate_objects]
    )
    async def test_a_damaged_mirror_is_created_afresh(self, repo: Repo, damage: Any) -> None:
        repo.create({"a.txt": "1"})
        await repo.checkout("before")
        damage(repo.store.mirror(repo.url).path)
        sha = repo.server.commit_files(repo.name, {"a.txt": "2"})
        tree = await repo.checkout("after")
        assert await tree.head() == sha
        assert (tree.path / "a.txt").read_text() == "2"

    async def test_a_lock_left_by_a_killed_fetch_is_removed(self, repo: Repo) -> None:
        url = repo.create({"a.txt": "1"})
        await repo.checkout("before")
        mirror = repo.store.mirror(url).path
        for lock in (mirror / "refs" / "heads" / "main.lock", mirror / "packed-refs.lock"):
            lock.write_text("")
        sha = repo.server.commit_files(repo.name, {"a.txt": "2"})
        tree = await repo.checkout("after")
        assert await tree.head() == sha
        assert (mirror / "objects").exists()
        assert not list(mirror.rglob("*.lock"))

    async def test_a_restart_clears_the_locks_of_the_killed_process(self, repo: Repo) -> None:
        url = repo.create({"a.txt": "1"})
        tree = await repo.checkout("src")
        admin = Path(
            (tree.path / ".git").read_text().strip().removeprefix("gitdir: ")
        )  # worktrees/<id>
        stale = [admin / "index.lock", repo.store.mirror(url).path / "config.lock"]
        for lock in stale:
            lock.write_text("")
            os.utime(lock, (time.time() - 60, time.time() - 60))
        restarted = MirrorStore(repo.store.root)  # a new process, started after the locks
        await restarted.mirror(url).ensure()
        assert not any(lock.exists() for lock in stale)
        (tree.path / "b.txt").write_text("b")
        loaded = await WorkTree.load(tree.path)
        await loaded.add_all()  # the tree's index is usable again
        await loaded.commit("after the restart")
