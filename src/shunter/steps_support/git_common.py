"""What the git steps share: author config, credential lookup, working-tree loading, errors.

The steps are the glue between :mod:`shunter.git` (which knows nothing of Kargo) and the
engine: they look credentials up in the project's :class:`~shunter.credentials.CredentialsDatabase`,
turn them into :class:`shunter.git.RepoCredentials`, and turn git errors into step errors.
"""

from __future__ import annotations

import re
import urllib.parse
from typing import Annotated, Literal

from pydantic import StringConstraints

from shunter.credentials.types import CredentialType
from shunter.git import (
    GitError,
    GitIdentity,
    InvalidRefError,
    MergeConflictError,
    NotAWorkTreeError,
    RepoCredentials,
    WorkTree,
    normalize_git_url,
)
from shunter.promotion.step import StepConfig, StepContext, StepError, TerminalStepError

__all__ = [
    "GitAuthorConfig",
    "GitProvider",
    "commit_url",
    "empty_to_none",
    "git_step_error",
    "identity",
    "infer_provider",
    "load_worktree",
    "repo_credentials",
]

GitProvider = Literal["azure", "bitbucket", "gitea", "github", "gitlab"]

_EMAIL = r"^[^@\s<>]+@[^@\s<>]+$"


class GitAuthorConfig(StepConfig):
    """``author``: the identity of commits (``signingKey`` is accepted but not supported)."""

    name: Annotated[str, StringConstraints(min_length=1)]
    email: Annotated[str, StringConstraints(pattern=_EMAIL)]
    signing_key: str | None = None


def empty_to_none(value: object) -> object:
    """Kargo's schemas treat ``""`` like an absent optional string (expressions may yield it)."""
    return None if value == "" else value


def identity(ctx: StepContext, author: GitAuthorConfig | None) -> GitIdentity:
    """The commit identity: the step's ``author``, else the operator's configured git user."""
    if author is not None and author.signing_key:
        raise TerminalStepError("author.signingKey is not supported: commits cannot be signed yet")
    try:
        if author is not None:
            return GitIdentity(name=author.name, email=author.email)
        default = ctx.capabilities.git_author
        return GitIdentity(name=default.name, email=default.email)
    except ValueError as exc:
        raise TerminalStepError(f"invalid author: {exc}") from exc


async def repo_credentials(ctx: StepContext, repo_url: str) -> RepoCredentials | None:
    """The project's git credentials for ``repo_url`` (None: go anonymous)."""
    found = await ctx.capabilities.credentials.get(ctx.project, CredentialType.GIT, repo_url)
    if found is None:
        return None
    return RepoCredentials(username=found.username, password=found.password)


def git_step_error(action: str, exc: GitError) -> StepError:
    """The step error for a git failure (messages are already scrubbed by :mod:`shunter.git`).

    A merge conflict is a terminal *failure*; a bad ref or a missing working tree is terminal
    (retrying cannot help); anything else (network, authentication, a busy remote) may be retried.
    """
    message = f"{action}: {exc}"
    if isinstance(exc, MergeConflictError):
        return TerminalStepError(message, failed=True)
    if isinstance(exc, (InvalidRefError, NotAWorkTreeError)):
        return TerminalStepError(message)
    return StepError(message)


async def load_worktree(ctx: StepContext, path: str) -> WorkTree:
    """The working tree at config path ``path`` (inside the work directory)."""
    target = ctx.path(path)
    try:
        return await WorkTree.load(target)
    except GitError as exc:
        raise git_step_error(f"error loading working tree {path}", exc) from exc


def infer_provider(host: str) -> GitProvider | None:
    """The git hosting provider a host name suggests (Kargo's inference), or None."""
    if "github" in host or host.endswith(".ghe.com"):
        return "github"
    if "gitlab" in host:
        return "gitlab"
    if "gitea" in host:
        return "gitea"
    if host == "dev.azure.com" or host.endswith(".visualstudio.com"):
        return "azure"
    if host == "bitbucket.org":
        return "bitbucket"
    return None


def commit_url(repo_url: str, sha: str, provider: GitProvider | None = None) -> str | None:
    """A web link to commit ``sha`` (None when the provider is unknown)."""
    parts = urllib.parse.urlsplit(normalize_git_url(repo_url))
    host = parts.netloc.rpartition("@")[2]
    path = parts.path.rstrip("/")
    if not host or not re.fullmatch(r"[a-z0-9.\-]+(:\d+)?", host):
        return None
    name = provider or infer_provider(host.partition(":")[0])
    if name == "github":
        return f"https://{host}{path}/commit/{sha}"
    if name == "gitlab":
        return f"https://{host}{path}/-/commit/{sha}"
    if name == "gitea":
        return f"https://{host}{path}/commit/{sha}"
    if name == "bitbucket":
        return f"https://{host}{path}/commits/{sha}"
    if name == "azure":
        return f"https://dev.azure.com{path.removeprefix('/v3')}/commit/{sha}"
    return None
