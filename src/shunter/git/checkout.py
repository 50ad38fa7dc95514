"""Checking a promotion's working trees out of a repository's mirror (the git-clone step's work).

:func:`check_out` does, for one repository and every ``checkout[]`` entry of the step:

1. one fetch into the mirror (shared with identical concurrent fetches) of the branches asked
   for - the remote's default branch when an entry names no ref, found with ``ls-remote`` - and
   of every tag, so the mirror holds what a fresh clone would for those refs;
2. per entry, the commit to check out: a branch's tip (a missing branch with ``create``
   becomes an empty orphan commit pushed to the remote; a concurrent creator's branch is
   adopted), a tag's commit, or a commit (fetched by id, or with every branch, if the mirror
   lacks it);
3. ``git worktree add --no-checkout --detach`` (under the mirror's write lock), the tree's own
   configuration (:mod:`shunter.git.worktree`), the sparse-checkout folders, then the files.

A mirror found damaged is repaired and the whole checkout tried once more; a checkout that fails
half-way removes the trees it added.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from shunter.git.credentials import RepoCredentials, scrub
from shunter.git.errors import (
    GitAuthenticationError,
    GitCommandError,
    GitError,
    GitUnreachableError,
    RemoteRefNotFoundError,
)
from shunter.git.mirror import Mirror, is_damage
from shunter.git.refs import check_commit_id, check_ref_name
from shunter.git.repo import (
    NON_FAST_FORWARD,
    GitIdentity,
    check_checkout_target,
    check_sparse,
    config_text,
    identity_env,
    require_repo_url,
)
from shunter.git.runner import command_error, tls_config
from shunter.git.urls import redact_url
from shunter.git.worktree import BRANCH_KEY, URL_KEY, WorkTree

__all__ = ["Checkout", "check_out"]


@dataclass(frozen=True)
class Checkout:
    """One working tree to check out: a branch, a tag, a commit, or the default branch."""

    path: Path
    branch: str | None = None
    commit: str | None = None
    tag: str | None = None
    #: Create a missing ``branch`` as an empty orphan branch (pushed at once).
    create: bool = False
    #: Folders of a cone-mode sparse checkout.
    sparse: tuple[str, ...] = ()
    #: Where ``path`` leads right before this tree is added (None: ``path`` itself). An earlier
    #: checkout of the same call may have planted a symbolic link on the way; the caller's
    #: resolver follows it (or refuses it) at the last moment.
    resolve: Callable[[], Path] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if sum(1 for ref in (self.branch, self.commit, self.tag) if ref) > 1:
            raise ValueError("give at most one of branch, commit and tag")
        if self.branch:
            check_ref_name(self.branch)
        if self.tag:
            check_ref_name(self.tag, "tag")
        if self.commit:
            check_commit_id(self.commit)


@dataclass(frozen=True)
class _Session:
    mirror: Mirror
    url: str
    author: GitIdentity
    credentials: RepoCredentials | None
    insecure: bool

    @property
    def config(self) -> dict[str, str]:
        return tls_config(insecure_skip_tls_verify=self.insecure)

    @property
    def shown(self) -> str:
        secrets = self.credentials.secrets() if self.credentials else ()
        return scrub(redact_url(self.url), secrets)


async def check_out(
    mirror: Mirror,
    url: str,
    checkouts: Sequence[Checkout],
    *,
    author: GitIdentity,
    credentials: RepoCredentials | None = None,
    insecure_skip_tls_verify: bool = False,
) -> list[WorkTree]:
    """Check every entry of ``checkouts`` out of ``mirror`` (see the module docstring).

    Raises:
        RemoteRefNotFoundError: a branch (without ``create``), tag or commit does not exist.
        InvalidRefError: a name or id is invalid.
        GitAuthenticationError: the remote refused the credentials.
        GitError: a target folder is not empty, a URL embeds a password, or git failed.
    """
    require_repo_url(url)
    sparse = [check_sparse(entry.sparse) for entry in checkouts]
    for entry in checkouts:
        if entry.resolve is None:  # else checked where it leads, right before its turn
            check_checkout_target(entry.path)
    session = _Session(mirror, url, author, credentials, insecure_skip_tls_verify)
    generation = mirror.generation
    try:
        return await _check_out(session, checkouts, sparse)
    except GitCommandError as error:
        if not is_damage(error):
            raise
        await mirror.repair(error, generation)
    return await _check_out(session, checkouts, sparse)


async def _check_out(
    session: _Session, checkouts: Sequence[Checkout], sparse: Sequence[bytes]
) -> list[WorkTree]:
    mirror = session.mirror
    branches = {entry.branch for entry in checkouts if entry.branch}
    default = None
    if any(not (entry.branch or entry.commit or entry.tag) for entry in checkouts):
        default = await _default_branch(session)
        branches.add(default)
    missing = await mirror.fetch_branches(
        session.url,
        branches,
        tags=True,
        credentials=session.credentials,
        config=session.config,
    )
    trees: list[WorkTree] = []
    try:
        for entry, folders in zip(checkouts, sparse, strict=True):
            sha, branch = await _target(session, entry, default, missing)
            path = entry.path if entry.resolve is None else entry.resolve()
            check_checkout_target(path)
            trees.append(await _add(session, path, sha, branch, folders))
    except BaseException:
        for tree in trees:
            await asyncio.to_thread(shutil.rmtree, tree.path, True)
        await asyncio.shield(mirror.prune_worktrees())
        raise
    mirror.touch()
    return trees


async def _default_branch(session: _Session) -> str:
    refs = await session.mirror.ls_remote(
        session.url, "HEAD", symref=True, credentials=session.credentials, config=session.config
    )
    target = refs.get("ref: HEAD", "")
    if not target.startswith("refs/heads/"):
        raise RemoteRefNotFoundError(f"{session.shown} has no default branch (is it empty?)")
    return check_ref_name(target.removeprefix("refs/heads/"))


async def _target(
    session: _Session, entry: Checkout, default: str | None, missing: set[str]
) -> tuple[str, str | None]:
    """(commit to check out, branch the tree stands for)."""
    mirror = session.mirror
    if entry.tag:
        sha = await mirror.resolve(f"refs/tags/{entry.tag}")
        if sha is None:
            raise RemoteRefNotFoundError(f"tag {entry.tag!r} not found in {session.shown}")
        return sha, None
    if entry.commit:
        return await _commit(session, entry.commit), None
    branch = entry.branch or default or ""
    sha = None if branch in missing else await mirror.tip(branch)
    if sha is None:
        if not entry.create:
            raise RemoteRefNotFoundError(
                f"branch {branch!r} does not exist in {session.shown}; "
                "set create: true to create it as an empty orphan branch"
            )
        sha = await _create_orphan(session, branch)
    return sha, branch


async def _commit(session: _Session, commit: str) -> str:
    mirror = session.mirror
    if not await mirror.has_commit(commit):
        wants = [commit] if len(commit) in (40, 64) else []
        for refspecs in (wants, ["+refs/heads/*:refs/heads/*"]):
            if not refspecs:
                continue
            try:
                await mirror.fetch(
                    session.url,
                    refspecs,
                    credentials=session.credentials,
                    config=session.config,
                )
            except (GitAuthenticationError, GitUnreachableError):
                raise
            except GitCommandError:
                pass  # not fetchable that way (unknown, or the server refuses bare ids)
            if await mirror.has_commit(commit):
                break
    sha = await mirror.resolve(commit)
    if sha is None:
        raise RemoteRefNotFoundError(f"commit {commit} not found in {session.shown}")
    return sha


async def _create_orphan(session: _Session, branch: str, message: str = "Initial commit") -> str:
    """Create ``branch`` on the remote as one empty commit; adopt it if someone was first."""
    mirror = session.mirror
    tree = await mirror.run("hash-object", "-t", "tree", "-w", "--stdin", stdin=b"")
    made = await mirror.run(
        "commit-tree",
        tree.stdout.strip(),
        "-F",
        "-",
        stdin=message.encode("utf-8"),
        env=identity_env(session.author),
    )
    sha = made.stdout.strip()
    result = await mirror.run(
        "push",
        "--porcelain",
        session.url,
        f"{sha}:refs/heads/{branch}",
        network=True,
        credentials=session.credentials,
        config=session.config,
        check=False,
    )
    rejected = NON_FAST_FORWARD.search(result.stdout + result.stderr)
    if result.returncode == 0 and not rejected:
        await mirror.record_push(branch, sha)
        return sha
    if not rejected:
        raise command_error(result)
    await mirror.fetch_branches(
        session.url, [branch], credentials=session.credentials, config=session.config
    )
    theirs = await mirror.tip(branch)
    if theirs is None:
        raise command_error(result)
    return theirs


def _admin_folder(path: Path) -> Path:
    """The mirror's ``worktrees/<id>`` folder of the tree at ``path`` (from its ``.git`` file)."""
    try:
        pointer = (path / ".git").read_text(encoding="utf-8").strip()
    except OSError as error:
        raise GitError(f"git worktree add left no .git file in {path}") from error
    if not pointer.startswith("gitdir: "):
        raise GitError(f"unexpected .git file in {path}")
    folder = Path(pointer.removeprefix("gitdir: "))
    return folder if folder.is_absolute() else (path / folder).resolve()


async def _add(
    session: _Session, path: Path, sha: str, branch: str | None, sparse: bytes
) -> WorkTree:
    mirror = session.mirror
    async with mirror.lock.write():
        await mirror.run("worktree", "add", "--quiet", "--no-checkout", "--detach", str(path), sha)
    try:
        shunter = {URL_KEY.split(".", 1)[1]: session.url}
        if branch:
            shunter[BRANCH_KEY.split(".", 1)[1]] = branch
        sections: dict[str, dict[str, str]] = {
            # The mirror is bare; its working trees are not.
            "core": {"bare": "false"},
            "user": {"name": session.author.name, "email": session.author.email},
            "shunter": shunter,
        }
        if session.insecure:
            sections["http"] = {"sslVerify": "false"}
        with (_admin_folder(path) / "config.worktree").open("a", encoding="utf-8") as config:
            config.write(config_text(sections))
        # Opened as every later step opens it, which also checks what was just written.
        tree = await WorkTree.load(path, credentials=session.credentials, timeouts=mirror.timeouts)
        await tree.fill(sparse)
    except BaseException:
        await asyncio.to_thread(shutil.rmtree, path, True)
        raise
    return tree
