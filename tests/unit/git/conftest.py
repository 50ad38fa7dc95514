"""Fixtures of the git wrapper tests: a real git smart-HTTP server with Basic auth on 127.0.0.1."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from shunter.git import RepoCredentials
from shunter_devenv.gitserver import GitServer

USERS = {"alice": "alice-Secret-pw-1234", "bob": "b0b:with colon & space/@%+"}


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
