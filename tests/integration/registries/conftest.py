"""Fixtures for discovery against real servers: docker-registry, git http-backend, a chart repo.

None of these tests needs Kubernetes (the parent conftest starts an API server only for tests
that ask for ``kube``). The registries and the git server are session-scoped; tests keep apart
with unique repository names and count requests per repository.
"""

from __future__ import annotations

import base64
import datetime as dt
import hmac
import os
import secrets
import subprocess
import threading
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from shunter.credentials import Credentials, CredentialType, StaticCredentialsDatabase
from shunter.registries import (
    CredentialKind,
    CredentialsLookup,
    Discoverer,
    DiscoverySettings,
    RateLimit,
    RepositoryCredentials,
)
from shunter_devenv.gitserver import GitServer
from shunter_devenv.registry import Registry

REGISTRY_USERS = {"reader": "reader-Secret-7f3a", "pusher": "pusher-Secret-91c2"}
GIT_USERS = {"gitreader": "git-Secret-5d1e"}
CHART_USERS = {"charts": "chart-Secret-22aa"}


def lookup(database: StaticCredentialsDatabase, namespace: str) -> CredentialsLookup:
    """The glue the Warehouse controller writes: a database bound to a namespace."""

    async def find(kind: CredentialKind, repo_url: str) -> RepositoryCredentials | None:
        return await database.get(namespace, CredentialType(kind), repo_url)

    return find


def _credentials_for(
    entries: Mapping[tuple[str, str], tuple[str, str]],
) -> CredentialsLookup:
    """A lookup over ``{(kind, repoURL): (username, password)}``."""
    database = StaticCredentialsDatabase(
        {
            (CredentialType(kind), url): Credentials(user, SecretStr(password))
            for (kind, url), (user, password) in entries.items()
        }
    )
    return lookup(database, "test-project")


# -- a classic Helm chart repository ------------------------------------------------------------


@dataclass
class ChartRepo:
    """A threaded http.server serving ``/<path>/index.yaml`` documents, optionally with Basic."""

    users: Mapping[str, str] = field(default_factory=dict)
    indexes: dict[str, bytes] = field(default_factory=dict)
    requests: list[tuple[str, int]] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def count(self, path: str) -> int:
        return sum(1 for p, _ in self.requests if p == path)


def chart_handler(repo: ChartRepo) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

        def _authorized(self) -> bool:
            if not repo.users:
                return True
            header = self.headers.get("Authorization", "")
            if not header.startswith("Basic "):
                return False
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
            expected = repo.users.get(user)
            return expected is not None and hmac.compare_digest(expected, password)

        def do_GET(self) -> None:
            status, body = 200, repo.indexes.get(self.path)
            if not self._authorized():
                status, body = 401, b"unauthorized"
            elif body is None:
                status, body = 404, b"not found"
            repo.requests.append((self.path, status))
            self.send_response(status)
            if status == 401:
                self.send_header("WWW-Authenticate", 'Basic realm="charts"')
            self.send_header("Content-Type", "application/x-yaml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


@pytest.fixture(scope="session")
def registry() -> Iterator[Registry]:
    """docker-registry with htpasswd (Basic) auth; the pusher is the first user."""
    users = {"pusher": REGISTRY_USERS["pusher"], "reader": REGISTRY_USERS["reader"]}
    with Registry(users=users) as reg:
        yield reg


@pytest.fixture(scope="session")
def token_registry() -> Iterator[Registry]:
    """docker-registry behind a Docker-Hub-style Bearer token realm."""
    users = {"pusher": REGISTRY_USERS["pusher"], "reader": REGISTRY_USERS["reader"]}
    with Registry(users=users, auth="token") as reg:
        yield reg


@pytest.fixture(scope="session")
def git_server() -> Iterator[GitServer]:
    with GitServer(users=GIT_USERS) as server:
        yield server


@pytest.fixture
def repo_name() -> str:
    return f"team/app-{secrets.token_hex(4)}"


@pytest.fixture
async def discoverer() -> AsyncIterator[Discoverer]:
    """A fresh process-wide discovery object (its own caches and rate limiters)."""
    instance = Discoverer(DiscoverySettings(rate_limit=RateLimit(500.0, 200)))
    try:
        yield instance
    finally:
        await instance.aclose()


CredentialsFor = Callable[[Mapping[tuple[str, str], tuple[str, str]]], CredentialsLookup]


@pytest.fixture
def credentials_for() -> CredentialsFor:
    """Build a credentials lookup from ``{(kind, repoURL): (username, password)}``."""
    return _credentials_for


@pytest.fixture(scope="session")
def chart_repo() -> Iterator[ChartRepo]:
    repo = ChartRepo(users=dict(CHART_USERS))
    server = ThreadingHTTPServer(("127.0.0.1", 0), chart_handler(repo))
    server.daemon_threads = True
    repo.server = server
    thread = threading.Thread(target=server.serve_forever, name="chart-repo", daemon=True)
    thread.start()
    try:
        yield repo
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


# -- git repositories with chosen dates --------------------------------------------------------


class GitWork:
    """A working clone of a bare repository on the git server, pushed to by path (not HTTP).

    Commits and tags get the dates the test chooses, so strategies that order by date are
    deterministic.
    """

    AUTHOR = ("Ada Tester", "ada@shunter.invalid")

    def __init__(self, server: GitServer, name: str, workdir: Path) -> None:
        self.name = name
        self.url = server.create_bare_repo(name)
        self.bare = server.repo_path(name)
        self.dir = workdir / name.replace("/", "_")
        self.home = workdir / "home"
        self.home.mkdir(exist_ok=True)
        self._git("clone", "--quiet", str(self.bare), str(self.dir), cwd=workdir)
        self._git("checkout", "--quiet", "-B", "main")

    def _git(self, *args: str, cwd: Path | None = None, when: dt.datetime | None = None) -> str:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.home),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_AUTHOR_NAME": self.AUTHOR[0],
            "GIT_AUTHOR_EMAIL": self.AUTHOR[1],
            "GIT_COMMITTER_NAME": self.AUTHOR[0],
            "GIT_COMMITTER_EMAIL": self.AUTHOR[1],
        }
        if when is not None:
            env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"] = when.isoformat()
        result = subprocess.run(
            ["git", *args], cwd=cwd or self.dir, env=env, capture_output=True, text=True,
            check=False,
        )  # fmt: skip
        if result.returncode != 0:
            raise AssertionError(f"git {args[0]} failed: {result.stderr}")
        return result.stdout.strip()

    def commit(
        self,
        files: Mapping[str, str],
        message: str,
        when: dt.datetime,
        *,
        branch: str = "main",
        delete: Iterable[str] = (),
    ) -> str:
        """Commit ``files`` (and deletions) on ``branch`` at ``when``; push; return the id."""
        current = self._git("symbolic-ref", "--short", "HEAD")
        if current != branch:
            self._git("checkout", "--quiet", "-B", branch)
        for rel in delete:
            (self.dir / rel).unlink()
        for rel, content in files.items():
            path = self.dir / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content, encoding="utf-8")
        self._git("add", "--all")
        self._git("commit", "--quiet", "--allow-empty", "-m", message, when=when)
        self._git("push", "--quiet", "--force", "origin", f"HEAD:refs/heads/{branch}")
        return self._git("rev-parse", "HEAD")

    def tag(
        self, name: str, rev: str, when: dt.datetime | None = None, message: str | None = None
    ) -> None:
        """A lightweight tag (dated like its commit), or with ``message`` an annotated one
        dated ``when``; pushed."""
        if message is None:
            self._git("tag", name, rev)
        else:
            self._git("tag", "-a", "-m", message, name, rev, when=when)
        self._git("push", "--quiet", "origin", f"refs/tags/{name}")

    def delete_tag(self, name: str) -> None:
        self._git("tag", "-d", name)
        self._git("push", "--quiet", "origin", f":refs/tags/{name}")


@pytest.fixture
def git_work(git_server: GitServer, tmp_path: Path) -> GitWork:
    return GitWork(git_server, f"team/repo-{secrets.token_hex(4)}", tmp_path)
