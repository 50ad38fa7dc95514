"""Commit discovery against a real git http-backend server with Basic authentication."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from shunter.api.v1alpha1.warehouse import GitSubscription, WarehouseSpec
from shunter.registries import (
    AuthenticationError,
    Discoverer,
    DiscoverySettings,
    InvalidSubscriptionError,
    RateLimit,
    RepositoryNotFoundError,
    UnreachableError,
)
from shunter_devenv.gitserver import GitRequestKind, GitServer

T0 = dt.datetime(2025, 1, 10, 9, 0, tzinfo=dt.UTC)
AUTHOR = "Ada Tester <ada@shunter.invalid>"


def day(n: int) -> dt.datetime:
    return T0 + dt.timedelta(days=n)


@pytest.fixture
def monorepo(git_work: Any) -> dict[str, str]:
    """Five commits on main, one a day, each touching different paths."""
    return {
        "c1": git_work.commit(
            {
                "README.md": "hello",
                "apps/a/x.yaml": "a: 1",
                "apps/b/y.yaml": "b: 1",
                "docs/d.md": "d1",
            },
            "initial layout",
            day(0),
        ),
        "c2": git_work.commit({"apps/a/x.yaml": "a: 2"}, "bump app a", day(1)),
        "c3": git_work.commit({"docs/d.md": "d2"}, "docs: explain", day(2)),
        "c4": git_work.commit({"apps/b/y.yaml": "b: 2"}, "bump app b", day(3)),
        "c5": git_work.commit(
            {"apps/a/sub/z.txt": "z", "docs/d.md": "d3"}, "notes for a, more docs", day(4)
        ),
    }


@pytest.fixture
def git_reader(git_server: GitServer, credentials_for: Any) -> Any:
    def make(url: str, password: str | None = None) -> Any:
        secret = password or git_server.users["gitreader"]
        return credentials_for({("git", url): ("gitreader", secret)})

    return make


def git_sub(url: str, **fields: Any) -> GitSubscription:
    return GitSubscription.model_validate({"repoURL": url, **fields})


async def commit_ids(discoverer: Discoverer, creds: Any, url: str, **fields: Any) -> list[str]:
    result = await discoverer.discover_git(git_sub(url, **fields), creds, max_age=0)
    return [c.id or "" for c in result.commits or []]


async def test_newest_from_branch_with_path_filters(
    git_work: Any, monorepo: dict[str, str], discoverer: Discoverer, git_reader: Any
) -> None:
    url, creds, c = git_work.url, git_reader(git_work.url), monorepo

    async def ids(**fields: Any) -> list[str]:
        return await commit_ids(discoverer, creds, url, **fields)

    assert await ids() == [c["c5"], c["c4"], c["c3"], c["c2"], c["c1"]]
    assert await ids(includePaths=["apps/a"]) == [c["c5"], c["c2"], c["c1"]]
    assert await ids(includePaths=["glob:apps/**/*.yaml"]) == [c["c4"], c["c2"], c["c1"]]
    assert await ids(includePaths=["regex:^docs/"]) == [c["c5"], c["c3"], c["c1"]]
    assert await ids(includePaths=["regexp:y\\.yaml$"]) == [c["c4"], c["c1"]]
    assert await ids(excludePaths=["docs"]) == [c["c5"], c["c4"], c["c2"], c["c1"]]
    assert await ids(includePaths=["apps"], excludePaths=["glob:**/*.txt"]) == [
        c["c4"],
        c["c2"],
        c["c1"],
    ]
    assert await ids(includePaths=["apps/a/x.yaml"], discoveryLimit=1) == [c["c2"]]
    assert await ids(since=day(2).isoformat()) == [c["c5"], c["c4"], c["c3"]]
    assert await ids(expressionFilter='subject startsWith "bump"') == [c["c4"], c["c2"]]
    assert await ids(expressionFilter="commitDate.Day() == 13") == [c["c4"]]

    first = (await discoverer.discover_git(git_sub(url), creds)).commits or []
    assert first[0].subject == "notes for a, more docs"
    assert first[0].author == AUTHOR
    assert first[0].committer == AUTHOR
    assert first[0].creator_date == day(4)
    assert first[0].branch is None
    assert first[0].tag is None


async def test_named_branch_and_blobless_mirrors(
    git_work: Any, monorepo: dict[str, str], discoverer: Discoverer, git_reader: Any
) -> None:
    release = git_work.commit({"apps/a/x.yaml": "a: rc"}, "x" * 100, day(9), branch="release")
    creds = git_reader(git_work.url)
    result = await discoverer.discover_git(
        git_sub(git_work.url, branch="release", blobless=True, discoveryLimit=2), creds
    )
    commits = result.commits or []
    assert [c.id for c in commits] == [release, monorepo["c5"]]
    assert commits[0].branch == "release"
    assert commits[0].subject == "x" * 77 + "..."
    assert result.observed_refs is not None
    assert result.observed_refs.branch_head == release

    with pytest.raises(RepositoryNotFoundError, match="branch 'nope' not found"):
        await discoverer.discover_git(git_sub(git_work.url, branch="nope"), creds)


async def test_tag_strategies_disagree(
    git_work: Any, discoverer: Discoverer, git_reader: Any
) -> None:
    """SemVer, Lexical and NewestTag each pick a different tag of the same repository."""
    c1 = git_work.commit({"apps/a/x.yaml": "1"}, "one", day(0))
    c2 = git_work.commit({"apps/b/y.yaml": "2"}, "two", day(1))
    c3 = git_work.commit({"apps/a/x.yaml": "3"}, "three", day(2))
    c4 = git_work.commit({"docs/d.md": "4"}, "four", day(3))
    # Lightweight tags are as old as their commit; annotated ones carry their own date.
    git_work.tag("v1.10.0", c1)  # highest release, oldest
    git_work.tag("v1.9.0", c2, day(5), message="Release 1.9")  # lexically highest release
    git_work.tag("v1.2.0", c3)
    git_work.tag("v2.0.0-rc.1", c4)  # a prerelease
    git_work.tag("nightly", c4, day(9), message="Nightly build")  # newest, not semver
    creds = git_reader(git_work.url)

    async def tags(**fields: Any) -> list[tuple[str | None, str | None]]:
        result = await discoverer.discover_git(git_sub(git_work.url, **fields), creds, max_age=0)
        return [(c.tag, c.id) for c in result.commits or []]

    assert (await tags(commitSelectionStrategy="SemVer"))[:2] == [
        ("v2.0.0-rc.1", c4),
        ("v1.10.0", c1),
    ]
    assert (await tags(commitSelectionStrategy="SemVer", semverConstraint="^1.0"))[0] == (
        "v1.10.0",
        c1,
    )
    assert (await tags(commitSelectionStrategy="SemVer", semverConstraint="<1.5"))[0] == (
        "v1.2.0",
        c3,
    )
    assert (await tags(commitSelectionStrategy="Lexical"))[0] == ("v2.0.0-rc.1", c4)
    assert (
        await tags(commitSelectionStrategy="Lexical", ignoreTagsRegexes=[r"^v2\.", "^nightly$"])
    )[0] == ("v1.9.0", c2)
    assert await tags(commitSelectionStrategy="NewestTag") == [
        ("nightly", c4),
        ("v1.9.0", c2),
        ("v2.0.0-rc.1", c4),
        ("v1.2.0", c3),
        ("v1.10.0", c1),
    ]
    assert await tags(commitSelectionStrategy="NewestTag", allowTagsRegexes=["^v1"]) == [
        ("v1.9.0", c2),
        ("v1.2.0", c3),
        ("v1.10.0", c1),
    ]
    # Path filters look at what the tagged commit changed.
    assert await tags(commitSelectionStrategy="NewestTag", includePaths=["apps/a"]) == [
        ("v1.2.0", c3),
        ("v1.10.0", c1),
    ]
    assert await tags(
        commitSelectionStrategy="SemVer", excludePaths=["docs"], discoveryLimit=1
    ) == [("v1.10.0", c1)]
    # expressionFilter sees the tag's metadata (annotation = first line of the tag message).
    assert await tags(
        commitSelectionStrategy="NewestTag", expressionFilter='annotation == "Release 1.9"'
    ) == [("v1.9.0", c2)]

    semver = await discoverer.discover_git(
        git_sub(git_work.url, commitSelectionStrategy="SemVer", semverConstraint="^1.0"), creds
    )
    assert semver.observed_refs is not None
    assert [r.name for r in semver.observed_refs.tags or []] == ["v1.10.0", "v1.2.0", "v1.9.0"]
    first = (semver.commits or [])[0]
    assert (first.subject, first.author, first.creator_date) == ("one", AUTHOR, day(0))


async def test_observed_refs_short_circuit_the_fetch(
    *,
    git_work: Any,
    monorepo: dict[str, str],
    discoverer: Discoverer,
    git_reader: Any,
    git_server: GitServer,
) -> None:
    creds = git_reader(git_work.url)
    sub = git_sub(git_work.url, includePaths=["apps"])
    first = await discoverer.discover_git(sub, creds)
    fetches = discoverer.git.fetches

    again = await discoverer.discover_git(sub, creds, previous=first, max_age=0)
    assert again.commits == first.commits
    assert discoverer.git.fetches == fetches  # ls-remote only

    newer = git_work.commit({"apps/c/new.yaml": "c"}, "add app c", day(20))
    third = await discoverer.discover_git(sub, creds, previous=again, max_age=0)
    assert (third.commits or [])[0].id == newer
    assert discoverer.git.fetches == fetches + 1

    # Many Warehouses on one repository share one ls-remote and one fetch.
    git_server.reset_requests()
    newest = git_work.commit({"apps/d/new.yaml": "d"}, "add app d", day(21))
    spec = WarehouseSpec.model_validate(
        {"subscriptions": [{"git": sub.model_dump(by_alias=True, exclude_none=True)}]}
    )
    runs = [discoverer.discover(spec, creds, max_age=0) for _ in range(20)]
    results = await asyncio.gather(*runs)
    assert {(r.git or [])[0].commits[0].id for r in results} == {newest}  # type: ignore[index]
    repo = git_work.name
    advertised = git_server.request_count(
        GitRequestKind.ADVERTISE_UPLOAD_PACK, repo=repo, status=200
    )
    assert advertised == 2  # one ls-remote, one fetch
    assert discoverer.git.fetches == fetches + 2


async def test_tags_short_circuit_and_deleted_tags(
    git_work: Any, discoverer: Discoverer, git_reader: Any
) -> None:
    c1 = git_work.commit({"a": "1"}, "one", day(0))
    c2 = git_work.commit({"a": "2"}, "two", day(1))
    git_work.tag("v1.0.0", c1)
    git_work.tag("v1.1.0", c2)
    creds = git_reader(git_work.url)
    sub = git_sub(git_work.url, commitSelectionStrategy="SemVer")
    first = await discoverer.discover_git(sub, creds)
    assert [c.tag for c in first.commits or []] == ["v1.1.0", "v1.0.0"]
    fetches = discoverer.git.fetches
    same = await discoverer.discover_git(sub, creds, previous=first, max_age=0)
    assert discoverer.git.fetches == fetches
    assert same.commits == first.commits

    git_work.delete_tag("v1.1.0")
    after = await discoverer.discover_git(sub, creds, previous=same, max_age=0)
    assert [c.tag for c in after.commits or []] == ["v1.0.0"]


async def test_git_errors(
    git_work: Any, monorepo: dict[str, str], discoverer: Discoverer, git_reader: Any
) -> None:
    password = "wrong-Git-Password-4"
    wrong = git_reader(git_work.url, password)
    with pytest.raises(AuthenticationError, match="refused the credentials of user 'gitr") as e:
        await discoverer.discover_git(git_sub(git_work.url), wrong)
    assert password not in str(e.value)

    with pytest.raises(AuthenticationError, match="refused anonymous access"):
        await discoverer.discover_git(git_sub(git_work.url), None)

    missing = git_work.url.replace(".git", "-missing.git")
    with pytest.raises(RepositoryNotFoundError, match="not found"):
        await discoverer.discover_git(git_sub(missing), git_reader(missing))

    embedded = git_work.url.replace("http://", "http://gitreader:hunter2@")
    with pytest.raises(InvalidSubscriptionError, match="embeds a password"):
        await discoverer.discover_git(git_sub(embedded), None)

    with pytest.raises(InvalidSubscriptionError, match="invalid regular expression"):
        await discoverer.discover_git(
            git_sub(git_work.url, includePaths=["regex:(unclosed"]), git_reader(git_work.url)
        )


@pytest.mark.parametrize("spelling", ["file://{path}", "{path}", "ext::git %G{path}"])
async def test_local_repositories_are_refused(
    git_work: Any, discoverer: Discoverer, spelling: str
) -> None:
    """A subscription the API would refuse (say, written before the CRD was updated) is refused
    again before git runs, so no Warehouse can read a repository on the operator's disk."""
    sub = GitSubscription.model_construct(repo_url=spelling.format(path=git_work.bare))
    with pytest.raises(InvalidSubscriptionError, match=r"repoURL: .*only https://"):
        await discoverer.discover_git(sub, None)


async def test_stopped_git_server_is_unreachable(tmp_path: Path, discoverer: Discoverer) -> None:
    with GitServer(users={"u": "p-Secret-1"}) as server:
        url = server.create_repo("team/gone", {"a": "1"})
    with pytest.raises(UnreachableError, match="is unreachable"):
        await discoverer.discover_git(git_sub(url), None)


async def test_credentials_never_reach_argv(
    *,
    git_work: Any,
    monorepo: dict[str, str],
    discoverer: Discoverer,
    git_reader: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A wrapper in front of the real git logs every command line discovery runs."""
    real_git = next(
        Path(d) / "git" for d in os.environ["PATH"].split(os.pathsep) if (Path(d) / "git").is_file()
    )
    log = tmp_path / "argv.log"
    wrapper_dir = tmp_path / "bin"
    wrapper_dir.mkdir()
    wrapper = wrapper_dir / "git"
    wrapper.write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> "{log}"\nexec "{real_git}" "$@"\n')
    wrapper.chmod(stat.S_IRWXU)
    monkeypatch.setenv("PATH", f"{wrapper_dir}{os.pathsep}{os.environ['PATH']}")

    result = await discoverer.discover_git(git_sub(git_work.url), git_reader(git_work.url))

    assert (result.commits or [])[0].id == monorepo["c5"]
    command_lines = log.read_text()
    assert "ls-remote" in command_lines
    assert "fetch" in command_lines
    assert "git-Secret" not in command_lines
    assert "gitreader" not in command_lines


async def test_a_short_password_that_appears_in_paths_still_works(
    tmp_path: Path, credentials_for: Any
) -> None:
    """A password as short as ``pw`` may turn up in a folder or repository name by chance: that
    is no credential in argv, and discovery must run (only a URL carrying it is refused)."""
    with GitServer(users={"u": "pw"}) as server:
        url = server.create_repo("team/pwa-app", {"a": "1"})
        settings = DiscoverySettings(
            rate_limit=RateLimit(500.0, 200), git_cache_dir=tmp_path / "pw-mirrors"
        )
        discoverer = Discoverer(settings)
        try:
            creds = credentials_for({("git", url): ("u", "pw")})
            result = await discoverer.discover_git(git_sub(url), creds, max_age=0)
            assert len(result.commits or []) == 1
            wrong = credentials_for({("git", url): ("u", "pv")})
            with pytest.raises(AuthenticationError, match="refused the credentials of user 'u'"):
                await discoverer.discover_git(git_sub(url), wrong, max_age=0)
        finally:
            await discoverer.aclose()
