"""A promotion's checkout: a linked working tree of a repository's mirror.

:func:`shunter.git.checkout.check_out` adds the tree (detached ``HEAD``) and writes its own
configuration file (``config.worktree`` in the mirror's ``worktrees/<id>/``): the commit
identity, the TLS setting, the repository URL exactly as the step gave it
(``shunter.url``) and the branch the tree stands for (``shunter.branch``; absent for a tag or a
commit). A later step re-opens the tree from its path alone (:meth:`WorkTree.load`).

Working trees never check a branch of the mirror out: the mirror's branches mirror the remote,
and several promotions may work on the same branch at once. So the tree is detached, commits
move its ``HEAD`` only, and ``current_branch()`` answers with ``shunter.branch``. Tags that
``git-tag`` creates are private to the tree as well (``refs/worktree/tags/<name>``, git's
per-worktree ref space), so concurrent promotions cannot clash on a tag name and a tag that was
never pushed disappears with the tree.
"""

from __future__ import annotations

import copy
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from shunter.git.credentials import RepoCredentials, scrub
from shunter.git.errors import (
    GitCommandError,
    GitError,
    InvalidRefError,
    MergeConflictError,
    NonFastForwardError,
    NotAWorkTreeError,
)
from shunter.git.refs import check_commit_id, check_ref_name
from shunter.git.repo import NON_FAST_FORWARD, GitIdentity, Timeouts, _Repo, identity_env
from shunter.git.runner import GitResult, command_error, run_git

#: git's empty tree: what a diff of a branch that does not exist yet starts from.
_EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"

__all__ = ["BRANCH_KEY", "MIRROR_KEY", "URL_KEY", "WorkTree"]

#: Common config of a mirror: marks the repository as one of ours.
MIRROR_KEY = "shunter.mirror"
#: Per-worktree config: the repository URL as the git-clone step gave it.
URL_KEY = "shunter.url"
#: Per-worktree config: the branch the tree stands for (absent: a detached tag or commit).
BRANCH_KEY = "shunter.branch"
_TAG_REFS = "refs/worktree/tags/"
_CONFIG_KEYS = re.compile(
    r"^(shunter\..*|user\.name|user\.email|http\.sslverify|remote\.origin\.promisor)$"
)


def _exists(path: str) -> bool:
    return Path(path).exists()


@dataclass(frozen=True)
class _Loaded:
    top: Path
    mirror: Path
    url: str
    branch: str | None
    author: GitIdentity | None
    partial: bool
    insecure: bool


class WorkTree(_Repo):
    """A working tree checked out from a mirror (see the module docstring)."""

    def __init__(
        self,
        *,
        path: Path,
        url: str,
        mirror_path: Path,
        branch: str | None,
        author: GitIdentity | None,
        credentials: RepoCredentials | None,
        timeouts: Timeouts,
        partial: bool = False,
        insecure_skip_tls_verify: bool = False,
    ) -> None:
        super().__init__(
            path=path, url=url, credentials=credentials, timeouts=timeouts, partial=partial
        )
        self._mirror_path = mirror_path
        self._branch = branch
        self._author = author
        self._insecure = insecure_skip_tls_verify

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
            NotAWorkTreeError: ``path`` is not the top of a working tree a git-clone step made.
        """
        timeouts = timeouts or Timeouts()
        loaded = await _inspect(path, timeouts.local)
        return cls(
            path=loaded.top,
            url=loaded.url,
            mirror_path=loaded.mirror,
            branch=loaded.branch,
            author=loaded.author,
            credentials=credentials,
            timeouts=timeouts,
            partial=loaded.partial,
            insecure_skip_tls_verify=loaded.insecure,
        )

    def with_credentials(self, credentials: RepoCredentials | None) -> WorkTree:
        """The same working tree, talking to the remote with ``credentials``."""
        tree = copy.copy(self)
        tree._credentials = credentials
        return tree

    @property
    def mirror_path(self) -> Path:
        """The mirror (bare repository) this tree belongs to."""
        return self._mirror_path

    @property
    def credentials(self) -> RepoCredentials | None:
        """The credentials it talks to the remote with."""
        return self._credentials

    @property
    def insecure_skip_tls_verify(self) -> bool:
        """Whether it talks HTTPS without verifying the server's certificate."""
        return self._insecure

    async def fill(self, sparse: bytes = b"") -> None:
        """Write the files of a freshly added tree (only the cone of ``sparse``, if given)."""
        if sparse:
            await self._run("sparse-checkout", "set", "--cone", "--stdin", stdin=sparse)
        await self._run("reset", "--hard", "--quiet")

    async def head(self) -> str:
        """The sha ``HEAD`` points at."""
        return (await self._run("rev-parse", "HEAD")).stdout.strip()

    async def rev_parse(self, rev: str) -> str:
        """The sha of a commit-ish (``rev`` must not start with ``-``)."""
        if rev.startswith("-"):
            raise InvalidRefError(f"invalid revision {rev!r}")
        return (await self._run("rev-parse", "--verify", f"{rev}^{{commit}}")).stdout.strip()

    async def current_branch(self) -> str | None:
        """The branch the tree stands for, or ``None`` for a detached tag or commit."""
        return self._branch

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

        ``author`` overrides the identity chosen at checkout (author and committer).
        """
        args = ["commit", "--quiet", "--no-verify", "--file=-"]
        if allow_empty:
            args.append("--allow-empty")
        env = identity_env(author) if author is not None else None
        await self._run(*args, stdin=message.encode("utf-8"), env=env)
        return await self.head()

    async def _ref_exists(self, ref: str) -> bool:
        result = await self._run(
            "rev-parse", "--verify", "--quiet", ref, check=False, accept=(0, 1)
        )
        return result.returncode == 0

    async def tag(
        self,
        name: str,
        message: str,
        *,
        force: bool = False,
        author: GitIdentity | None = None,
    ) -> str:
        """Create the annotated tag ``name`` on ``HEAD``; return the sha of the tagged commit.

        The tag is private to this tree until pushed (``push(tag=name)``). ``force`` moves a
        tag of that name (this tree's, or one the remote had at checkout); without it an
        existing one is an error. ``author`` overrides the tagger chosen at checkout.

        Raises:
            InvalidRefError: ``name`` is not a valid tag name.
            GitCommandError: the tag exists (without ``force``) or git failed otherwise.
        """
        tag = check_ref_name(name, "tag")
        exists = await self._ref_exists(f"{_TAG_REFS}{tag}") or await self._ref_exists(
            f"refs/tags/{tag}"
        )
        if exists and not force:
            raise GitCommandError(
                f"git tag failed: fatal: tag '{tag}' already exists", argv=("tag", tag)
            )
        tagger = author or self._author
        if tagger is None:
            raise GitError("no tagger identity: check the tree out with an author")
        head = await self.head()
        cleaned = await self._run("stripspace", "--strip-comments", stdin=message.encode("utf-8"))
        body = (
            f"object {head}\ntype commit\ntag {tag}\n"
            f"tagger {tagger.name} <{tagger.email}> {int(time.time())} +0000\n\n{cleaned.stdout}"
        )
        made = await self._run("mktag", stdin=body.encode("utf-8"))
        await self._run("update-ref", f"{_TAG_REFS}{tag}", made.stdout.strip())
        return head

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

    async def contains(self, ancestor: str, rev: str = "HEAD") -> bool:
        """Whether ``ancestor`` is ``rev`` or one of its ancestors."""
        for value in (ancestor, rev):
            if value.startswith("-"):
                raise InvalidRefError(f"invalid revision {value!r}")
        result = await self._run("merge-base", "--is-ancestor", ancestor, rev, check=False)
        if result.returncode in (0, 1):
            return result.returncode == 0
        raise command_error(result)

    async def diff(self, base: str | None, head: str = "HEAD") -> str:
        """The unified diff from ``base`` (None: nothing, for a new branch) to ``head``."""
        for value in (base or "", head):
            if value.startswith("-"):
                raise InvalidRefError(f"invalid revision {value!r}")
        args = ["diff", "--no-color", "--no-ext-diff", "--no-textconv", "--find-renames"]
        return (await self._run(*args, base or _EMPTY_TREE, head, "--")).stdout

    async def reset_hard(self, commit: str) -> None:
        """Point ``HEAD`` (and the files) back at ``commit``, e.g. to undo a rebase."""
        await self._run("reset", "--hard", "--quiet", check_commit_id(commit))

    async def push(
        self,
        *,
        target_branch: str | None = None,
        tag: str | None = None,
        force: bool = False,
        expect: str | None = None,
    ) -> str:
        """Push ``HEAD`` to ``target_branch`` (default: the tree's branch), or push ``tag``.

        ``expect``: the sha the remote branch must still point at (``""``: the branch must not
        exist), or the push is refused as non-fast-forward; the lease that makes a push rebased
        on the mirror's idea of the branch safe. Returns the branch pushed to (``""`` for a tag).

        Raises:
            NonFastForwardError: the remote branch moved on (integrate, then try again).
            GitAuthenticationError: the remote refused the credentials.
            GitCommandError: any other failure.
        """
        options = ["--force"] if force else []
        if tag:
            name = check_ref_name(tag, "tag")
            source = f"{_TAG_REFS}{name}"
            if not await self._ref_exists(source):
                source = f"refs/tags/{name}"
            refspec, branch = f"{source}:refs/tags/{name}", ""
        else:
            branch = target_branch or self._branch or ""
            if not branch:
                raise GitError("HEAD is detached: name a target branch to push to")
            refspec = f"HEAD:refs/heads/{check_ref_name(branch)}"
            if expect is not None:
                options.append(f"--force-with-lease=refs/heads/{branch}:{expect}")
        result = await self._run(
            "push", "--porcelain", *options, self._url, refspec, network=True, check=False
        )
        _check_push(result, self._describe())
        return branch

    async def clear(self) -> None:
        """Delete every file of the working tree (tracked, untracked, ignored) but ``.git``."""
        await self._run("rm", "-r", "-f", "-q", "--ignore-unmatch", "--", ".")
        await self._run("clean", "-f", "-d", "-x", "-q")

    async def update_submodules(self) -> None:
        """Initialise and check out submodules, recursively."""
        await self._run("submodule", "update", "--init", "--recursive", network=True)


def _check_push(result: GitResult, shown: str) -> None:
    output = result.stdout + "\n" + result.stderr
    if NON_FAST_FORWARD.search(output):
        raise NonFastForwardError(
            f"push to {shown} rejected: the remote has commits this clone lacks",
            argv=result.argv,
            returncode=result.returncode,
            stderr=result.stderr,
        )
    if result.returncode != 0 or re.search(r"(?m)^!\t", result.stdout):
        error = command_error(result)
        if result.returncode == 0:
            error = GitCommandError(
                f"push to {shown} rejected: {scrub(result.stdout.strip())}",
                argv=result.argv,
                returncode=result.returncode,
                stderr=result.stderr,
            )
        raise error


def _parse_config(output: str) -> Mapping[str, str]:
    """``git config --null --get-regexp`` output: ``key\\nvalue\\0`` records."""
    values: dict[str, str] = {}
    for record in output.split("\0"):
        key, _, value = record.partition("\n")
        if key:
            values[key.lower()] = value
    return values


async def _inspect(path: Path, time_limit: float) -> _Loaded:
    if not _is_dir(path):
        raise NotAWorkTreeError(f"{path} is not a folder")

    async def neutral(*args: str) -> GitResult:
        return await run_git(args, cwd=path, home=None, time_limit=time_limit, check=False)

    where = await neutral(
        "rev-parse", "--path-format=absolute", "--show-toplevel", "--git-common-dir", "--git-dir"
    )
    lines = where.stdout.splitlines()
    if where.returncode != 0 or len(lines) != 3:
        raise NotAWorkTreeError(f"{path} is not a git working tree")
    top, common, admin = (Path(line) for line in lines)
    if not _same_path(top, path):
        raise NotAWorkTreeError(f"{path} is not the top folder of a git working tree")
    found = await neutral("config", "--null", "--get-regexp", _CONFIG_KEYS.pattern)
    config = _parse_config(found.stdout) if found.returncode == 0 else {}
    url = config.get(URL_KEY)
    if (
        config.get(MIRROR_KEY) != "true"
        or not url
        or not _same_path(admin.parent, common / "worktrees")
        or not _points_back(admin, top)
    ):
        raise NotAWorkTreeError(f"{path} is not a working tree checked out by a git-clone step")
    name, email = config.get("user.name"), config.get("user.email")
    author = None
    if name and email:
        try:
            author = GitIdentity(name, email)
        except ValueError:
            author = None
    return _Loaded(
        top=top.resolve(),
        mirror=common.resolve(),
        url=url,
        branch=config.get(BRANCH_KEY) or None,
        author=author,
        partial=config.get("remote.origin.promisor") == "true",
        insecure=config.get("http.sslverify") == "false",
    )


def _is_dir(path: Path) -> bool:
    return path.is_dir()


def _points_back(admin: Path, top: Path) -> bool:
    """Whether the mirror's record of this tree (``worktrees/<id>/gitdir``) names ``top``."""
    try:
        recorded = (admin / "gitdir").read_text(encoding="utf-8").strip()
    except OSError:
        return False
    return _same_path(recorded, top / ".git")


def _same_path(a: str | Path, b: str | Path) -> bool:
    return Path(a).resolve() == Path(b).resolve()
