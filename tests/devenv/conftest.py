"""Fixtures of the devenv tests: real git smart-HTTP servers and real registries on 127.0.0.1.

The servers are session-scoped (each starts in well under a second); tests keep apart by using
unique repository names and by counting requests per repository.
"""

from __future__ import annotations

import os
import secrets
import stat
import subprocess
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest

from shunter_devenv.gitserver import GitServer
from shunter_devenv.registry import Registry

GIT_USERS = {"alice": "alice-secret-1", "bob": "b0b:with colon & space"}
REGISTRY_USERS = {"pusher": "pusher-secret-1", "reader": "reader-secret-2"}

ASKPASS_SCRIPT = """#!/bin/sh
case "$1" in
  Username*) printf '%s\\n' "$DEVENV_TEST_GIT_USERNAME" ;;
  *) printf '%s\\n' "$DEVENV_TEST_GIT_PASSWORD" ;;
esac
"""


@pytest.fixture(scope="session")
def git_server() -> Iterator[GitServer]:
    with GitServer(users=GIT_USERS) as server:
        yield server


@pytest.fixture(scope="session")
def tls_git_server() -> Iterator[GitServer]:
    with GitServer(users=GIT_USERS, tls=True) as server:
        yield server


@pytest.fixture(scope="session")
def registry() -> Iterator[Registry]:
    with Registry(users=REGISTRY_USERS) as reg:
        yield reg


@pytest.fixture
def repo_name() -> str:
    return f"team/app-{secrets.token_hex(4)}"


def bare_env(home: Path) -> dict[str, str]:
    """A git client environment with an empty HOME and no way to prompt."""
    home.mkdir(parents=True, exist_ok=True)
    return {
        "HOME": str(home),
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_AUTHOR_NAME": "Devenv Test",
        "GIT_AUTHOR_EMAIL": "devenv@test.invalid",
        "GIT_COMMITTER_NAME": "Devenv Test",
        "GIT_COMMITTER_EMAIL": "devenv@test.invalid",
    }


def askpass_env(home: Path, username: str, password: str) -> dict[str, str]:
    """A git client environment whose GIT_ASKPASS answers from environment variables."""
    env = bare_env(home)
    script = home / "askpass.sh"
    script.write_text(ASKPASS_SCRIPT)
    script.chmod(stat.S_IRWXU)
    env.update(
        GIT_ASKPASS=str(script),
        DEVENV_TEST_GIT_USERNAME=username,
        DEVENV_TEST_GIT_PASSWORD=password,
    )
    return env


def git(
    *args: str, env: Mapping[str, str], cwd: Path | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run the real git binary; fail the test with its stderr when ``check`` and it fails."""
    result = subprocess.run(
        ["git", *args], env=dict(env), cwd=cwd, capture_output=True, text=True, check=False
    )
    if check and result.returncode != 0:
        pytest.fail(f"git {' '.join(args)} failed ({result.returncode}): {result.stderr}")
    return result


@pytest.fixture
def git_users() -> dict[str, str]:
    return dict(GIT_USERS)


@pytest.fixture
def registry_users() -> dict[str, str]:
    return dict(REGISTRY_USERS)


@pytest.fixture
def run_git() -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run the real git binary (fails the test on error unless ``check=False``)."""
    return git


@pytest.fixture
def make_bare_env() -> Callable[[Path], dict[str, str]]:
    return bare_env


@pytest.fixture
def make_askpass_env() -> Callable[[Path, str, str], dict[str, str]]:
    return askpass_env
