"""Discovery and promotions share one mirror per repository (the operator's store)."""

from __future__ import annotations

from tests.unit.git.conftest import Repo

from shunter.api.v1alpha1.warehouse import GitSubscription
from shunter.git import MirrorStore, RepoCredentials, mirror_key
from shunter.registries.discovery import Discoverer


def _mirrors(store: MirrorStore) -> list[str]:
    return sorted(path.name for path in store.root.glob("*.git"))


async def test_discovery_and_promotions_share_one_mirror(repo: Repo) -> None:
    url, store = repo.create({"a.txt": "1"}), repo.store

    async def lookup(kind: str, repo_url: str) -> RepoCredentials:
        return repo.alice

    discoverer = Discoverer(git_mirrors=store)
    sub = GitSubscription.model_validate({"repoURL": url, "branch": "main"})
    found = await discoverer.discover_git(sub, lookup, max_age=0)
    assert _mirrors(store) == [mirror_key(url)]
    tree = await repo.checkout("src", branch="main")
    (tree.path / "b.txt").write_text("b")
    await tree.add_all()
    pushed = await tree.commit("promoted")
    await tree.push(expect=(found.commits or [])[0].id)
    await store.mirror(url).record_push("main", pushed)
    fetches = discoverer.git.fetches
    again = await discoverer.discover_git(sub, lookup, max_age=0)
    assert (again.commits or [])[0].id == pushed
    assert discoverer.git.fetches == fetches  # the mirror had it: ls-remote only
    assert _mirrors(store) == [mirror_key(url)]
    await discoverer.aclose()
    assert store.root.exists()  # a shared store is not the discoverer's to remove
