"""Fixtures of the git wrapper tests: a real git smart-HTTP server with Basic auth on 127.0.0.1,
a mirror store per test, and ``checkout()`` to check one working tree out of it."""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from shunter.git import (
    Checkout,
    GitIdentity,
    MirrorStore,
    RepoCredentials,
    WorkTree,
    check_out,
)
from shunter_devenv.gitserver import GitServer

USERS = {"alice": "alice-Secret-pw-1234", "bob": "b0b:with colon & space/@%+"}
AUTHOR = GitIdentity("Shunter Bot", "bot@shunter.invalid")


async def checkout(
    store: MirrorStore,
    url: str,
    path: Path,
    credentials: RepoCredentials | None,
    *,
    blobless: bool = False,
    insecure_skip_tls_verify: bool = False,
    author: GitIdentity = AUTHOR,
    **ref: Any,
) -> WorkTree:
    """Check one working tree of ``url`` out at ``path`` (``ref``: branch/commit/tag/...)."""
    trees = await check_out(
        store.mirror(url, blobless=blobless),
        url,
        [Checkout(path=path, **ref)],
        author=author,
        credentials=credentials,
        insecure_skip_tls_verify=insecure_skip_tls_verify,
    )
    return trees[0]


@pytest.fixture(scope="session")
def git_server() -> Iterator[GitServer]:
    with GitServer(users=USERS) as server:
        yield server


@pytest.fixture
def repo_name() -> str:
    return f"team/app-{secrets.token_hex(4)}"


@pytest.fixture
def alice() -> RepoCredentials:
    return RepoCredentials("alice", SecretStr(USERS["alice"]))


@pytest.fixture
def bob() -> RepoCredentials:
    return RepoCredentials("bob", SecretStr(USERS["bob"]))


@pytest.fixture
def work(tmp_path: Path) -> Path:
    folder = tmp_path / "work"
    folder.mkdir()
    return folder


@pytest.fixture
def store(tmp_path: Path) -> MirrorStore:
    return MirrorStore(tmp_path / "mirrors")


@dataclass
class Repo:
    """A repository name on the test server, the test's mirror store and work folder, alice."""

    server: GitServer
    name: str
    store: MirrorStore
    work: Path
    alice: RepoCredentials

    @property
    def url(self) -> str:
        return self.server.url(self.name)

    def create(self, files: Mapping[str, str | bytes], branch: str = "main") -> str:
        """Create the repository on the server with one commit of ``files``; its URL."""
        return self.server.create_repo(self.name, files, branch=branch)

    async def checkout(self, folder: str, **options: Any) -> WorkTree:
        """:func:`checkout` of this repository into ``work/folder`` as alice (by default)."""
        credentials = options.pop("credentials", self.alice)
        return await checkout(self.store, self.url, self.work / folder, credentials, **options)


@pytest.fixture
def repo(
    git_server: GitServer, repo_name: str, store: MirrorStore, work: Path, alice: RepoCredentials
) -> Repo:
    return Repo(git_server, repo_name, store, work, alice)
