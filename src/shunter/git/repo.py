"""Bare clones with working trees, driven through the git CLI without blocking the event loop.

Layout (the same idea as Kargo's): :meth:`BareRepo.clone` makes a private home folder
``<base_dir>/.repo-XXXXXXXX/`` holding the repository's own ``.gitconfig`` (identity, TLS
setting) and the bare clone ``repo.git``. Each checkout is a linked working tree
(:meth:`BareRepo.add_worktree`) anywhere under the base folder, so several branches, tags or
commits of one repository can be checked out side by side. The bare repository records its home
folder (``shunter.homedir``), so a later step can re-open a working tree from its path alone
(:meth:`WorkTree.load`) and run git with the same private configuration.

Credentials are attached to a :class:`BareRepo`/:class:`WorkTree` object (never written to
disk) and given only to commands that talk to the remote; see :mod:`shunter.git.runner`.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from shunter.git.credentials import RepoCredentials, scrub
from shunter.git.errors import (
    GitCommandError,
    GitError,
    InvalidRefError,
    MergeConflictError,
    NonFastForwardError,
    NotAWorkTreeError,
    RemoteRefNotFoundError,
)
from shunter.git.refs import check_commit_id, check_ref_name
from shunter.git.runner import GitResult, command_error, run_git
from shunter.git.urls import redact_url, repo_url_problem

__all__ = ["BARE_DIR", "HOME_KEY", "BareRepo", "GitIdentity", "Timeouts", "WorkTree"]

HOME_KEY = "shunter.homedir"
BARE_DIR = "repo.git"
_ZERO_OID = "0" * 40

_NON_FAST_FORWARD = re.compile(
    r"(?m)\[(?:remote )?rejected\].*\((?:non-fast-forward|fetch first|stale info"
    r"|cannot lock ref.*|incorrect old value provided|failed to update ref.*|failed to lock.*)\)"
    r"\s*$"
)
_NO_REMOTE_REF = re.compile(r"couldn't find remote ref|no such ref|not our ref", re.IGNORECASE)


@dataclass(frozen=True)
class GitIdentity:
    """Author and committer of the commits a repository makes."""

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


def _write_home_config(home: Path, author: GitIdentity, insecure_skip_tls_verify: bool) -> None:
    sections: dict[str, dict[str, str]] = {
        "user": {"name": author.name, "email": author.email},
        "init": {"defaultBranch": "main"},
        "advice": {"detachedHead": "false"},
        "core": {"hooksPath": "/dev/null"},
        "gc": {"auto": "0"},
        "maintenance": {"auto": "false"},
        "commit": {"gpgSign": "false"},
    }
    if insecure_skip_tls_verify:
        sections["http"] = {"sslVerify": "false"}
    lines = []
    for section, values in sections.items():
        lines.append(f"[{section}]")
        lines += [f"\t{key} = {_config_value(value)}" for key, value in values.items()]
    path = home / ".gitconfig"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    path.chmod(0o600)


def _identity_env(author: GitIdentity) -> dict[str, str]:
    return {
        "GIT_AUTHOR_NAME": author.name,
        "GIT_AUTHOR_EMAIL": author.email,
        "GIT_COMMITTER_NAME": author.name,
        "GIT_COMMITTER_EMAIL": author.email,
    }


class _Repo:
    """What bare repositories and working trees share: where they live and how git runs."""

    def __init__(
        self,
        *,
        path: Path,
        home: Path,
        url: str,
        credentials: RepoCredentials | None,
        timeouts: Timeouts,
        partial: bool = False,
    ) -> None:
        self._path = path
        self._home = home
        self._url = url
        self._credentials = credentials
        self._timeouts = timeouts
        # A blobless (partial) clone fetches missing objects on demand, from any command.
        self._partial = partial

    @property
    def path(self) -> Path:
        """The repository folder (bare) or the top of the working tree."""
        return self._path

    @property
    def home(self) -> Path:
        """The private home folder git runs with."""
        return self._home

    @property
    def url(self) -> str:
        """The remote (``origin``) URL, exactly as given to :meth:`BareRepo.clone`."""
        return self._url

    def _secrets(self) -> tuple[str, ...]:
        return () if self._credentials is None else self._credentials.secrets()

    def _describe(self) -> str:
        return scrub(redact_url(self._url), self._secrets())

    async def _run(
        self,
        *args: str,
        network: bool = False,
        cwd: Path | None = None,
        stdin: bytes | None = None,
        env: Mapping[str, str] | None = None,
        check: bool = True,
        accept: Sequence[int] = (0,),
    ) -> GitResult:
        remote = network or self._partial
        return await run_git(
            args,
            cwd=cwd or self._path,
            home=self._home,
            time_limit=self._timeouts.network if remote else self._timeouts.local,
            credentials=self._credentials if remote else None,
            env=env,
            stdin=stdin,
            check=check,
            accept=accept,
        )

    async def ls_remote(self, *patterns: str) -> dict[str, str]:
        """``{ref: sha}`` of the remote's refs (matching ``patterns``, if given)."""
        for pattern in patterns:
            if pattern.startswith("-"):
                raise InvalidRefError(f"invalid ref pattern {pattern!r}")
        result = await self._run("ls-remote", "origin", *patterns, network=True)
        refs: dict[str, str] = {}
        for line in result.stdout.splitlines():
            sha, _, ref = line.partition("\t")
            if ref:
                refs[ref] = sha
        return refs

    async def remote_branch_exists(self, branch: str) -> bool:
        """Whether the remote has ``refs/heads/<branch>``."""
        ref = f"refs/heads/{check_ref_name(branch)}"
        return ref in await self.ls_remote(ref)

    async def _has_commit(self, rev: str) -> bool:
        result = await self._run("cat-file", "-e", f"{rev}^{{commit}}", check=False, accept=(0,))
        return result.returncode == 0

    async def _fetch(self, refspec: str) -> bool:
        """Fetch one refspec from origin; False when the remote has no such ref."""
        result = await self._run("fetch", "--no-tags", "origin", refspec, network=True, check=False)
        if result.returncode == 0:
            return True
        if _NO_REMOTE_REF.search(result.stderr):
            return False
        raise command_error(result)


class BareRepo(_Repo):
    """A bare clone in a private home folder; working trees are added to it."""

    @classmethod
    async def clone(
        cls,
        url: str,
        base_dir: Path,
        *,
        author: GitIdentity,
        credentials: RepoCredentials | None = None,
        insecure_skip_tls_verify: bool = False,
        blobless: bool = False,
        timeouts: Timeouts | None = None,
    ) -> BareRepo:
        """Clone ``url`` bare into a new home folder under ``base_dir``.

        Raises:
            GitError: the URL is not allowed (see :func:`shunter.git.urls.check_repo_url`: a
                local path, another transport, or a password in it).
            GitAuthenticationError: the remote refused the credentials.
            GitCommandError: the clone failed otherwise.
        """
        problem = repo_url_problem(url)
        if problem is not None:
            raise GitError(problem)
        home = _make_home(base_dir)
        repo = cls(
            path=home / BARE_DIR,
            home=home,
            url=url,
            credentials=credentials,
            timeouts=timeouts or Timeouts(),
            partial=blobless,
        )
        try:
            _write_home_config(home, author, insecure_skip_tls_verify)
            args = ["clone", "--bare", "--quiet", "--template="]
            if blobless:
                args.append("--filter=blob:none")
            await repo._run(*args, "--", url, str(repo.path), network=True, cwd=home)
            await repo._run("config", HOME_KEY, str(home))
        except BaseException:
            await asyncio.to_thread(shutil.rmtree, home, True)
            raise
        return repo

    async def close(self) -> None:
        """Remove every working tree of this repository and the home folder (best effort)."""
        try:
            trees = await self.worktree_paths()
        except GitError:
            trees = []
        for folder in [*trees, self._home]:
            await asyncio.to_thread(shutil.rmtree, folder, True)

    async def worktree_paths(self) -> list[Path]:
        """The working trees linked to this repository."""
        result = await self._run("worktree", "list", "--porcelain")
        paths = []
        bare = False
        current: Path | None = None
        for line in [*result.stdout.splitlines(), ""]:
            if line.startswith("worktree "):
                current, bare = Path(line.removeprefix("worktree ")), False
            elif line == "bare":
                bare = True
            elif not line and current is not None:
                if not bare:
                    paths.append(current)
                current = None
        return paths

    async def default_branch(self) -> str:
        """The remote's default branch (the bare clone's ``HEAD``)."""
        result = await self._run("symbolic-ref", "--short", "HEAD")
        return result.stdout.strip()

    async def create_orphan_branch(self, branch: str, *, message: str = "Initial commit") -> str:
        """Create ``branch`` as an empty orphan commit, locally and on the remote; return its sha.

        If another writer creates the branch on the remote first, its commit is adopted instead.
        """
        check_ref_name(branch)
        tree = await self._run("hash-object", "-t", "tree", "-w", "--stdin", stdin=b"")
        commit = await self._run(
            "commit-tree", tree.stdout.strip(), "-F", "-", stdin=message.encode("utf-8")
        )
        sha = commit.stdout.strip()
        result = await self._run(
            "push", "--porcelain", "origin", f"{sha}:refs/heads/{branch}", network=True, check=False
        )
        if result.returncode == 0 and not _NON_FAST_FORWARD.search(result.stdout + result.stderr):
            await self._run("update-ref", f"refs/heads/{branch}", sha, _ZERO_OID)
            return sha
        if not _NON_FAST_FORWARD.search(result.stdout + result.stderr):
            raise command_error(result)
        # Someone else created the branch meanwhile: use theirs.
        if not await self._fetch(f"+refs/heads/{branch}:refs/heads/{branch}"):
            raise command_error(result)
        return (await self._run("rev-parse", f"refs/heads/{branch}")).stdout.strip()

    async def _ensure_local_branch(self, branch: str, create: bool) -> None:
        local = await self._run(
            "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}", check=False, accept=(0, 1)
        )
        if local.returncode == 0:
            return
        # Not in the clone: the remote may have gained it since.
        if await self._fetch(f"+refs/heads/{branch}:refs/heads/{branch}"):
            return
        if not create:
            raise RemoteRefNotFoundError(
                f"branch {branch!r} does not exist in {self._describe()}; "
                "set create: true to create it as an empty orphan branch"
            )
        await self.create_orphan_branch(branch)

    async def _ensure_commit(self, commit: str) -> str:
        # Only full ids can be fetched (e.g. a commit that no branch or tag reaches any more).
        if not await self._has_commit(commit) and len(commit) in (40, 64):
            await self._fetch(commit)
        if not await self._has_commit(commit):
            raise RemoteRefNotFoundError(f"commit {commit} not found in {self._describe()}")
        return commit

    async def _ensure_tag(self, tag: str) -> str:
        ref = f"refs/tags/{tag}"
        if not await self._has_commit(ref) and not await self._fetch(f"+{ref}:{ref}"):
            raise RemoteRefNotFoundError(f"tag {tag!r} not found in {self._describe()}")
        return f"{ref}^{{commit}}"

    async def add_worktree(
        self,
        path: Path,
        *,
        branch: str | None = None,
        commit: str | None = None,
        tag: str | None = None,
        create: bool = False,
        sparse: Iterable[str] = (),
    ) -> WorkTree:
        """Check out a branch (or a commit or tag, detached; or the default branch) at ``path``.

        Args:
            path: an absolute path that does not exist or is an empty folder.
            branch: check out this branch (missing: fetched; still missing: see ``create``).
            commit: check out this commit, detached.
            tag: check out this tag's commit, detached.
            create: create a missing ``branch`` as an empty orphan branch (pushed at once).
            sparse: directories for a cone-mode sparse checkout.

        Raises:
            RemoteRefNotFoundError: the branch, tag or commit does not exist.
            InvalidRefError: a name or id is invalid.
            GitCommandError: git refused (e.g. the branch is checked out elsewhere).
        """
        if sum(1 for ref in (branch, commit, tag) if ref) > 1:
            raise ValueError("give at most one of branch, commit and tag")
        sparse_dirs = _check_sparse(sparse)
        _check_checkout_target(path)
        if tag:
            args = ["--detach", str(path), await self._ensure_tag(check_ref_name(tag, "tag"))]
        elif commit:
            args = ["--detach", str(path), await self._ensure_commit(check_commit_id(commit))]
        else:
            name = check_ref_name(branch) if branch else await self.default_branch()
            await self._ensure_local_branch(name, create and bool(branch))
            args = [str(path), name]
        await self._run("worktree", "add", "--quiet", *args)
        tree = WorkTree(
            path=_resolved(path),
            home=self._home,
            url=self._url,
            credentials=self._credentials,
            timeouts=self._timeouts,
            partial=self._partial,
        )
        if sparse_dirs:
            await tree._run("sparse-checkout", "set", "--cone", "--stdin", stdin=sparse_dirs)
        return tree


def _make_home(base_dir: Path) -> Path:
    return Path(tempfile.mkdtemp(prefix=".repo-", dir=base_dir)).resolve()


def _resolved(path: Path) -> Path:
    return path.resolve()


def _exists(path: str) -> bool:
    return Path(path).exists()


def _check_checkout_target(path: Path) -> None:
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise GitError(f"cannot check out into {path}: it exists and is not an empty folder")
    path.parent.mkdir(parents=True, exist_ok=True)


def _check_sparse(dirs: Iterable[str]) -> bytes:
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


@dataclass(frozen=True)
class _LoadedTree:
    top: Path
    home: Path
    url: str
    partial: bool


class WorkTree(_Repo):
    """A working tree of a :class:`BareRepo`."""

    @classmethod
    async def load(
        cls,
        path: Path,
        *,
        credentials: RepoCredentials | None = None,
        timeouts: Timeouts | None = None,
    ) -> WorkTree:
        """Re-open the working tree whose top folder is ``path``.

        Raises:
            NotAWorkTreeError: ``path`` is not the top of a working tree made by
                :meth:`BareRepo.add_worktree`.
        """
        timeouts = timeouts or Timeouts()
        loaded = await _inspect_tree(path, timeouts.local)
        return cls(
            path=loaded.top,
            home=loaded.home,
            url=loaded.url,
            credentials=credentials,
            timeouts=timeouts,
            partial=loaded.partial,
        )

    def with_credentials(self, credentials: RepoCredentials | None) -> WorkTree:
        """The same working tree, talking to the remote with ``credentials``."""
        return WorkTree(
            path=self._path,
            home=self._home,
            url=self._url,
            credentials=credentials,
            timeouts=self._timeouts,
            partial=self._partial,
        )

    async def head(self) -> str:
        """The sha ``HEAD`` points at."""
        return (await self._run("rev-parse", "HEAD")).stdout.strip()

    async def rev_parse(self, rev: str) -> str:
        """The sha of a commit-ish (``rev`` must not start with ``-``)."""
        if rev.startswith("-"):
            raise InvalidRefError(f"invalid revision {rev!r}")
        return (await self._run("rev-parse", "--verify", f"{rev}^{{commit}}")).stdout.strip()

    async def current_branch(self) -> str | None:
        """The checked-out branch, or ``None`` when ``HEAD`` is detached."""
        result = await self._run("branch", "--show-current")
        return result.stdout.strip() or None

    async def checkout(self, ref: str) -> None:
        """Switch this working tree to a branch, tag or commit."""
        if ref.startswith("-"):
            raise InvalidRefError(f"invalid revision {ref!r}")
        await self._run("checkout", "--quiet", ref, "--")

    async def add_all(self) -> None:
        """Stage every change, addition and deletion in the working tree."""
        await self._run("add", "--all")

    async def status_porcelain(self) -> list[str]:
        """``git status --porcelain`` entries (tracked and untracked changes)."""
        result = await self._run("status", "--porcelain=v1", "-z", "--untracked-files=all")
        return [entry for entry in result.stdout.split("\0") if entry]

    async def has_changes(self) -> bool:
        """Whether anything differs from ``HEAD`` (staged, unstaged or untracked)."""
        return bool(await self.status_porcelain())

    async def commit(
        self,
        message: str,
        *,
        author: GitIdentity | None = None,
        allow_empty: bool = False,
    ) -> str:
        """Commit the staged changes; return the new sha.

        ``author`` overrides the identity configured at clone time (author and committer).
        """
        args = ["commit", "--quiet", "--no-verify", "--file=-"]
        if allow_empty:
            args.append("--allow-empty")
        env = _identity_env(author) if author is not None else None
        await self._run(*args, stdin=message.encode("utf-8"), env=env)
        return await self.head()

    async def tag(
        self,
        name: str,
        message: str,
        *,
        force: bool = False,
        author: GitIdentity | None = None,
    ) -> str:
        """Create the annotated tag ``name`` on ``HEAD``; return the sha of the tagged commit.

        ``force`` moves an existing tag of that name; without it an existing tag is an error.
        ``author`` overrides the tagger identity configured at clone time.

        Raises:
            InvalidRefError: ``name`` is not a valid tag name.
            GitCommandError: the tag exists (without ``force``) or git failed otherwise.
        """
        tag = check_ref_name(name, "tag")
        args = ["tag", "--annotate", "--file=-", *(["--force"] if force else []), tag, "HEAD"]
        env = _identity_env(author) if author is not None else None
        await self._run(*args, stdin=message.encode("utf-8"), env=env)
        return await self.head()

    async def fetch_branch(self, branch: str) -> bool:
        """Fetch ``branch`` into ``refs/remotes/origin/<branch>``; False if the remote lacks it."""
        name = check_ref_name(branch)
        return await self._fetch(f"+refs/heads/{name}:refs/remotes/origin/{name}")

    async def is_rebasing(self) -> bool:
        """Whether a rebase stopped half-way in this working tree."""
        for name in ("rebase-merge", "rebase-apply"):
            result = await self._run("rev-parse", "--path-format=absolute", "--git-path", name)
            if _exists(result.stdout.strip()):
                return True
        return False

    async def rebase(self, onto: str) -> None:
        """Rebase the local commits onto ``onto``.

        Raises:
            MergeConflictError: the rebase hit a conflict; it was aborted, nothing changed.
        """
        if onto.startswith("-"):
            raise InvalidRefError(f"invalid revision {onto!r}")
        result = await self._run("rebase", "--quiet", onto, check=False)
        if result.returncode == 0:
            return
        if await self.is_rebasing():
            await self._run("rebase", "--abort", check=False)
            raise MergeConflictError(
                f"conflict while rebasing onto {onto} in {self._describe()}: "
                f"{result.stderr.strip()}"
            )
        raise command_error(result)

    async def integrate_remote(self, branch: str) -> bool:
        """Fetch ``branch`` and rebase onto it; False (nothing done) if the remote lacks it."""
        if not await self.fetch_branch(branch):
            return False
        await self.rebase(f"refs/remotes/origin/{branch}")
        return True

    async def push(
        self,
        *,
        target_branch: str | None = None,
        tag: str | None = None,
        force: bool = False,
    ) -> str:
        """Push ``HEAD`` to ``target_branch`` (default: the current branch), or push ``tag``.

        Returns the branch pushed to (``""`` for a tag push).

        Raises:
            NonFastForwardError: the remote branch moved on (integrate, then try again).
            GitAuthenticationError: the remote refused the credentials.
            GitCommandError: any other failure.
        """
        if tag:
            name = check_ref_name(tag, "tag")
            refspec, branch = f"refs/tags/{name}:refs/tags/{name}", ""
        else:
            branch = target_branch or await self.current_branch() or ""
            if not branch:
                raise GitError("HEAD is detached: name a target branch to push to")
            refspec = f"HEAD:refs/heads/{check_ref_name(branch)}"
        args = ["push", "--porcelain", *(["--force"] if force else []), "origin", refspec]
        result = await self._run(*args, network=True, check=False)
        output = result.stdout + "\n" + result.stderr
        if _NON_FAST_FORWARD.search(output):
            raise NonFastForwardError(
                f"push to {self._describe()} rejected: the remote has commits this clone lacks",
                argv=result.argv,
                returncode=result.returncode,
                stderr=result.stderr,
            )
        if result.returncode != 0 or re.search(r"(?m)^!\t", result.stdout):
            error = command_error(result)
            if result.returncode == 0:
                error = GitCommandError(
                    f"push to {self._describe()} rejected: {scrub(result.stdout.strip())}",
                    argv=result.argv,
                    returncode=result.returncode,
                    stderr=result.stderr,
                )
            raise error
        return branch

    async def clear(self) -> None:
        """Delete every file of the working tree (tracked, untracked, ignored) but ``.git``."""
        await self._run("rm", "-r", "-f", "-q", "--ignore-unmatch", "--", ".")
        await self._run("clean", "-f", "-d", "-x", "-q")

    async def update_submodules(self) -> None:
        """Initialise and check out submodules, recursively."""
        await self._run("submodule", "update", "--init", "--recursive", network=True)


async def _inspect_tree(path: Path, time_limit: float) -> _LoadedTree:
    if not _is_dir(path):
        raise NotAWorkTreeError(f"{path} is not a folder")

    async def neutral(*args: str) -> GitResult:
        # The home folder is not known yet: run with no global configuration at all.
        return await run_git(args, cwd=path, home=None, time_limit=time_limit, check=False)

    where = await neutral("rev-parse", "--path-format=absolute", "--show-toplevel")
    if where.returncode != 0:
        raise NotAWorkTreeError(f"{path} is not a git working tree")
    top = where.stdout.strip()
    if not _same_path(top, path):
        raise NotAWorkTreeError(f"{path} is not the top folder of a git working tree")
    home_out = await neutral("config", "--get", HOME_KEY)
    url_out = await neutral("config", "--get", "remote.origin.url")
    common = await neutral("rev-parse", "--path-format=absolute", "--git-common-dir")
    promisor = await neutral("config", "--get", "--bool", "remote.origin.promisor")
    home = Path(home_out.stdout.strip()) if home_out.returncode == 0 else None
    if (
        home is None
        or url_out.returncode != 0
        or common.returncode != 0
        or not _same_path(common.stdout.strip(), home / BARE_DIR)
        or not _is_file(home / ".gitconfig")
    ):
        raise NotAWorkTreeError(f"{path} is not a working tree cloned by a git-clone step")
    return _LoadedTree(
        top=_resolved(Path(top)),
        home=home,
        url=url_out.stdout.strip(),
        partial=promisor.stdout.strip() == "true",
    )


def _is_dir(path: Path) -> bool:
    return path.is_dir()


def _is_file(path: Path) -> bool:
    return path.is_file()


def _same_path(a: str | Path, b: str | Path) -> bool:
    return Path(a).resolve() == Path(b).resolve()
