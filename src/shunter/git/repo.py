"""What the operator's repositories share: identity, time limits, argument checks, running git.

The operator keeps one bare mirror per repository (:mod:`shunter.git.mirror`) and checks
promotions out as linked working trees of it (:mod:`shunter.git.worktree`). Both run git
through :class:`_Repo`, which calls :func:`shunter.git.runner.run_git` with a neutral home
folder (every setting the operator relies on lives in the repositories' own configuration)
and gives the credentials only to the commands that talk to the remote.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from shunter.git.credentials import RepoCredentials, scrub
from shunter.git.errors import GitError
from shunter.git.runner import GitResult, run_git
from shunter.git.urls import redact_url, repo_url_problem

__all__ = [
    "NON_FAST_FORWARD",
    "NO_REMOTE_REF",
    "GitIdentity",
    "Timeouts",
    "check_checkout_target",
    "check_sparse",
    "config_text",
    "identity_env",
    "require_repo_url",
]

#: A push refused because the remote moved on (or did not match the lease we pushed with).
NON_FAST_FORWARD = re.compile(
    r"(?m)\[(?:remote )?rejected\].*\((?:non-fast-forward|fetch first|stale info"
    r"|cannot lock ref.*|incorrect old value provided|failed to update ref.*|failed to lock.*)\)"
    r"\s*$"
)
#: A fetch of a ref or object the remote does not have.
NO_REMOTE_REF = re.compile(r"couldn't find remote ref|no such ref|not our ref", re.IGNORECASE)


@dataclass(frozen=True)
class GitIdentity:
    """Author and committer of the commits a working tree makes."""

    name: str
    email: str

    def __post_init__(self) -> None:
        for value in (self.name, self.email):
            if not value or any(ch in value for ch in "\n\r\x00<>"):
                raise ValueError(f"invalid git identity value {value!r}")


@dataclass(frozen=True)
class Timeouts:
    """Seconds a git command may run: local commands, and ones that talk to the remote."""

    local: float = 60.0
    network: float = 300.0


def _config_value(value: str) -> str:
    if any(ch in value for ch in "\n\r\x00"):
        raise ValueError("git config values cannot contain line breaks or NUL")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def config_text(sections: Mapping[str, Mapping[str, str]]) -> str:
    """A git configuration file holding ``sections`` (``{'remote "origin"': {'url': ...}}``)."""
    lines = []
    for section, values in sections.items():
        lines.append(f"[{section}]")
        lines += [f"\t{key} = {_config_value(value)}" for key, value in values.items()]
    return "\n".join(lines) + "\n"


def identity_env(author: GitIdentity) -> dict[str, str]:
    """The variables that make ``author`` the author and committer of a git command."""
    return {
        "GIT_AUTHOR_NAME": author.name,
        "GIT_AUTHOR_EMAIL": author.email,
        "GIT_COMMITTER_NAME": author.name,
        "GIT_COMMITTER_EMAIL": author.email,
    }


def require_repo_url(url: str) -> str:
    """``url`` if git may be given it, else a :class:`GitError` saying why.

    The policy is :func:`shunter.git.urls.repo_url_problem`: a remote URL (https, http, ssh or
    scp-like), no local path or other transport, no password inside it.
    """
    problem = repo_url_problem(url)
    if problem is not None:
        raise GitError(problem)
    return url


def check_checkout_target(path: Path) -> None:
    """Refuse a checkout folder that exists and is not empty; create its parent."""
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise GitError(f"cannot check out into {path}: it exists and is not an empty folder")
    path.parent.mkdir(parents=True, exist_ok=True)


def check_sparse(dirs: Iterable[str]) -> bytes:
    """The ``sparse-checkout set --stdin`` input for cone-mode folders (plain relative paths)."""
    checked = []
    for entry in dirs:
        pure = PurePosixPath(entry)
        if (
            not entry
            or pure.is_absolute()
            or ".." in pure.parts
            or entry.startswith("-")
            or any(ch in entry for ch in "*?[\n\r\\")
        ):
            raise GitError(
                f"invalid sparse checkout directory {entry!r}: use a relative folder path "
                "without globs"
            )
        checked.append(str(pure))
    return ("\n".join(checked) + "\n").encode("utf-8") if checked else b""


class _Repo:
    """A repository folder and how git runs in it (see the module docstring)."""

    def __init__(
        self,
        *,
        path: Path,
        url: str,
        credentials: RepoCredentials | None,
        timeouts: Timeouts,
        partial: bool = False,
        bare: bool = False,
    ) -> None:
        self._path = path
        self._url = url
        self._credentials = credentials
        self._timeouts = timeouts
        # A blobless (partial) repository fetches missing objects on demand, from any command.
        self._partial = partial
        self._bare = bare

    @property
    def path(self) -> Path:
        """The repository folder (bare) or the top of the working tree."""
        return self._path

    @property
    def url(self) -> str:
        """The remote URL this object talks to."""
        return self._url

    @property
    def partial(self) -> bool:
        """Whether the repository is a blobless (partial) clone."""
        return self._partial

    @property
    def timeouts(self) -> Timeouts:
        """The time limits of its git commands."""
        return self._timeouts

    def _secrets(self) -> tuple[str, ...]:
        return () if self._credentials is None else self._credentials.secrets()

    def _describe(self) -> str:
        return scrub(redact_url(self._url), self._secrets())

    async def _run(
        self,
        *args: str,
        network: bool = False,
        credentials: RepoCredentials | None = None,
        config: Mapping[str, str] | None = None,
        stdin: bytes | None = None,
        env: Mapping[str, str] | None = None,
        check: bool = True,
        accept: Sequence[int] = (0,),
        time_limit: float | None = None,
    ) -> GitResult:
        remote = network or self._partial
        limit = self._timeouts.network if remote else self._timeouts.local
        return await run_git(
            args,
            cwd=self._path,
            home=None,
            git_dir=self._path if self._bare else None,
            time_limit=time_limit or limit,
            credentials=(credentials or self._credentials) if remote else None,
            config=config,
            env=env,
            stdin=stdin,
            check=check,
            accept=accept,
            remote=self._url if network else None,
        )

    async def _has_commit(self, rev: str) -> bool:
        result = await self._run("cat-file", "-e", f"{rev}^{{commit}}", check=False, accept=(0,))
        return result.returncode == 0

    async def _resolve(self, ref: str) -> str | None:
        """The commit ``ref`` names here, or None (never a lazy fetch: refs only)."""
        result = await self._run(
            "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", check=False, accept=(0, 1)
        )
        return (result.stdout.strip() or None) if result.returncode == 0 else None
