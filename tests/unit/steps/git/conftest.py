"""Fixtures of the git step tests: a real git smart-HTTP server with Basic auth, step contexts.

Steps run exactly as the engine runs them: the raw config is validated with the step's
``config_model``, then ``run`` gets a :class:`StepContext` with a work directory of its own.
Credentials come from :class:`StaticCredentialsDatabase` (keyed by exact repository URL). Every
context of one test shares one git mirror store (``tmp_path/mirrors``), as the promotions of
one operator do.
"""

from __future__ import annotations

import secrets
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from shunter.api.v1alpha1.common import FreightCollection, FreightReference
from shunter.credentials.types import Credentials, CredentialType, StaticCredentialsDatabase
from shunter.git import MirrorStore
from shunter.promotion.step import Capabilities, GitAuthor, StepContext, StepResult, StepRunner
from shunter_devenv.gitserver import GitServer

PASSWORD = "alice-Step-pw-5678"


@dataclass
class Kit:
    """What a git step test needs: the server, credentials, contexts and a way to run steps."""

    server: GitServer
    tmp_path: Path
    alice: Credentials
    mirrors: MirrorStore

    def ctx(
        self,
        folder: str = "work",
        creds: Mapping[str, Credentials] | None = None,
        *,
        promotion: str = "promo-1",
        git_author: GitAuthor | None = None,
    ) -> StepContext:
        """A step context with work directory ``tmp_path/folder`` and credentials per URL."""
        work_dir = self.tmp_path / folder
        work_dir.mkdir(parents=True, exist_ok=True)
        database = StaticCredentialsDatabase(
            {(CredentialType.GIT, url): value for url, value in (creds or {}).items()}
        )
        capabilities = Capabilities(
            credentials=database, git_author=git_author or GitAuthor(), git_mirrors=self.mirrors
        )
        return StepContext(
            project="demo",
            stage="test",
            promotion=promotion,
            alias="step-1",
            work_dir=work_dir,
            capabilities=capabilities,
            target_freight=FreightReference(),
            freight=FreightCollection(id="fc"),
        )

    def alice_ctx(self, url: str, folder: str = "work", **kwargs: Any) -> StepContext:
        """A context whose credentials database knows alice for ``url``."""
        return self.ctx(folder, {url: self.alice}, **kwargs)

    async def run(self, step: StepRunner, ctx: StepContext, raw: Mapping[str, Any]) -> StepResult:
        """Validate ``raw`` with the step's config model, then run the step."""
        config = step.config_model.model_validate(dict(raw))
        return await step.run(ctx, config)

    def git(self, cwd: Path, *args: str) -> str:
        """Plain git in ``cwd`` with an empty configuration (e.g. to tag a working tree)."""
        result = subprocess.run(
            ["git", *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            check=True,
            env={"PATH": "/usr/bin:/bin", "GIT_CONFIG_NOSYSTEM": "1", "HOME": "/nonexistent"},
        )
        return result.stdout.strip()

    def server_git(self, repo: str, *args: str) -> str:
        """Read-only git on a bare repository of the server."""
        result = subprocess.run(
            ["git", "--git-dir", str(self.server.repo_path(repo)), *args],
            capture_output=True,
            text=True,
            check=True,
            env={"PATH": "/usr/bin:/bin", "GIT_CONFIG_NOSYSTEM": "1", "HOME": "/nonexistent"},
        )
        return result.stdout.strip()


@pytest.fixture(scope="session")
def server() -> Iterator[GitServer]:
    with GitServer(users={"alice": PASSWORD}) as git_server:
        yield git_server


@pytest.fixture
def name() -> str:
    return f"team/app-{secrets.token_hex(4)}"


@pytest.fixture
def kit(server: GitServer, tmp_path: Path) -> Kit:
    alice = Credentials(username="alice", password=SecretStr(PASSWORD))
    return Kit(server, tmp_path, alice, MirrorStore(tmp_path / "mirrors"))
