"""One repository's bare mirror on the operator's disk, shared by discovery and promotions.

A :class:`Mirror` is a bare repository (``<root>/<key>.git``, see
:class:`shunter.git.mirrors.MirrorStore`) whose branches and tags mirror the remote's, as last
fetched. Promotions check out linked working trees of it (:mod:`shunter.git.checkout`), so
objects are fetched once and shared; discovery reads commits and tags from it.

Concurrency (one event loop):

* :attr:`Mirror.lock` is a read/write lock. Writers: fetches, ref updates, adding and pruning
  working trees, repair. Readers: anything that must see refs and objects stay put (discovery's
  ``log``/``for-each-ref``). Commands inside a working tree take no lock: they write their own
  index and ``HEAD`` and add objects, which git does atomically.
* Fetches are shared (:class:`~shunter.git.locks.SharedRuns`): a caller that asks for the same
  refs, with the same credentials, while such a fetch is still queued waits for that one
  instead of queuing another. Every caller still gets a fetch that started after it asked.
* :meth:`Mirror.branch_lock` serializes pushes to one branch (see the git-push step).

Damage: a stale ``*.lock`` file left by a killed process is removed (on first use in a process
for the ones older than the process, and whenever a command names one while we hold the write
lock); a mirror git cannot read (corrupt objects, broken config, missing ``HEAD``) is moved aside
and created afresh by :meth:`Mirror.repair`, then the operation is tried once more.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import re
import secrets
import shutil
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from pathlib import Path

from shunter.git.credentials import RepoCredentials
from shunter.git.errors import (
    GitAuthenticationError,
    GitCommandError,
    GitError,
    GitRepositoryNotFoundError,
    GitTimeoutError,
    GitUnreachableError,
)
from shunter.git.locks import ReadWriteLock, SharedRuns
from shunter.git.refs import check_ref_name
from shunter.git.repo import NO_REMOTE_REF, Timeouts, _Repo, config_text
from shunter.git.runner import GitResult, tls_config
from shunter.git.urls import normalize_git_url

__all__ = ["LAST_USED_FILE", "Mirror", "forget_gone_worktrees", "is_damage"]

_log = logging.getLogger("shunter.git.mirror")

#: Touched when the mirror is used; its mtime survives a restart (for the sweep).
LAST_USED_FILE = "shunter-last-used"
#: How often (seconds) the last-used file's mtime is written at most.
_TOUCH_EVERY = 60.0
_LOCK_FILE = re.compile(r"Unable to create '([^']+\.lock)': File exists")
_DAMAGE = re.compile(
    r"not a git repository|bad config|bad object|corrupt|unable to read|packfile"
    r"|inflate|object file .* is empty|invalid sha1 pointer|did not send all necessary objects"
    r"|missing (?:blob|tree|commit|tag) object|could not parse|bad numeric config"
    r"|unknown repository extension|index file smaller|bad signature"
    r"|Unable to create '[^']+\.lock': File exists|cannot lock ref|could not lock config file",
    re.IGNORECASE,
)
_NETWORK_ERRORS = (
    GitAuthenticationError,
    GitRepositoryNotFoundError,
    GitUnreachableError,
    GitTimeoutError,
)


def is_damage(error: BaseException) -> bool:
    """Whether a failed command says the mirror itself is damaged (or locked by a dead process)."""
    return (
        isinstance(error, GitCommandError)
        and not isinstance(error, _NETWORK_ERRORS)
        and bool(_DAMAGE.search(error.stderr or str(error)))
    )


def forget_gone_worktrees(mirror: Path) -> int:
    """What ``git worktree prune`` does, without starting git (so it can run in a thread):
    remove the records (``worktrees/<id>``) of the working trees whose folders are gone. A
    record being created (git marks it ``locked``) is left alone. Returns how many went."""
    removed = 0
    for record in sorted((mirror / "worktrees").glob("*")):
        try:
            if not record.is_dir() or (record / "locked").exists():
                continue
            pointer = (record / "gitdir").read_text(encoding="utf-8").strip()
        except OSError:
            continue
        if pointer and not Path(pointer).exists():
            shutil.rmtree(record, ignore_errors=True)
            removed += 1
    with contextlib.suppress(OSError):
        (mirror / "worktrees").rmdir()  # as git does, once empty
    return removed


def _fingerprint(credentials: RepoCredentials | None) -> str:
    if credentials is None:
        return ""
    material = f"{credentials.username}\0{credentials.password.get_secret_value()}"
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


class _Bare(_Repo):
    """The mirror's repository, as :class:`_Repo` runs git in it."""


class Mirror:
    """One bare mirror (see the module docstring). Get it from a ``MirrorStore``."""

    def __init__(
        self,
        *,
        path: Path,
        url: str,
        blobless: bool,
        timeouts: Timeouts,
        process_started: float,
    ) -> None:
        self.path = path
        self.url = url
        self.blobless = blobless
        self.lock = ReadWriteLock()
        self._timeouts = timeouts
        self._process_started = process_started
        self._fetches: SharedRuns[tuple[object, ...], bool] = SharedRuns()
        self._branch_locks: dict[str, asyncio.Lock] = {}
        self._checked = False
        self._touched = 0.0
        self.last_used = 0.0
        #: Bumped by every repair: a caller that saw an older one knows it was repaired since.
        self.generation = 0

    @property
    def timeouts(self) -> Timeouts:
        """The time limits of its git commands."""
        return self._timeouts

    # -- running git -----------------------------------------------------------------------

    def _bare(self) -> _Bare:
        return _Bare(
            path=self.path, url=self.url, credentials=None, timeouts=self._timeouts, bare=True
        )

    async def run(
        self,
        *args: str,
        network: bool = False,
        credentials: RepoCredentials | None = None,
        config: Mapping[str, str] | None = None,
        env: Mapping[str, str] | None = None,
        stdin: bytes | None = None,
        check: bool = True,
        accept: Sequence[int] = (0,),
        time_limit: float | None = None,
    ) -> GitResult:
        """``git <args>`` in the mirror, without taking :attr:`lock` (callers hold it as needed).

        ``credentials`` only reach commands with ``network``; blobless mirrors never fetch
        missing objects on their own (``GIT_NO_LAZY_FETCH``).
        """
        return await self._bare()._run(
            *args,
            network=network,
            credentials=credentials if network else None,
            config=config,
            env={"GIT_NO_LAZY_FETCH": "1", **(env or {})},
            stdin=stdin,
            check=check,
            accept=accept,
            time_limit=time_limit,
        )

    # -- existence, use and repair ---------------------------------------------------------

    def touch(self) -> None:
        """Record a use now (for the sweep of unused mirrors)."""
        now = time.time()
        self.last_used = now
        if now - self._touched >= _TOUCH_EVERY:
            self._touched = now
            with contextlib.suppress(OSError):
                (self.path / LAST_USED_FILE).touch()

    def exists(self) -> bool:
        """Whether the mirror's repository is on disk (it may still be damaged)."""
        return all((self.path / name).exists() for name in ("HEAD", "config", "objects", "refs"))

    async def ensure(self) -> None:
        """Create the mirror if it is missing; clear locks left by an earlier process."""
        if self._checked and self.exists():
            return
        async with self.lock.write():
            await self._ensure_locked()

    async def _ensure_locked(self) -> None:
        if not self.exists():
            await self._create()
        elif not self._checked:
            self._clear_stale_locks(older_than=self._process_started, worktrees=True)
            with contextlib.suppress(OSError):
                self.last_used = max(self.last_used, (self.path / LAST_USED_FILE).stat().st_mtime)
        self._checked = True

    async def _create(self) -> None:
        if not self.url:
            raise GitError(f"the git mirror {self.path} is missing and its URL is unknown")
        staging = self.path.parent / f".tmp-{self.path.name}-{secrets.token_hex(4)}"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            await _Bare(
                path=self.path.parent, url=self.url, credentials=None, timeouts=self._timeouts
            )._run("init", "--quiet", "--bare", "--template=", str(staging))
            origin = {"url": self.url}
            extensions = {"worktreeConfig": "true"}
            if self.blobless:
                origin |= {"promisor": "true", "partialclonefilter": "blob:none"}
                extensions["partialClone"] = "origin"
            sections: dict[str, dict[str, str]] = {
                "core": {"repositoryformatversion": "1", "hooksPath": os.devnull},
                "extensions": extensions,
                "gc": {"auto": "0"},
                "maintenance": {"auto": "false"},
                "commit": {"gpgSign": "false"},
                "tag": {"gpgSign": "false"},
                "advice": {"detachedHead": "false"},
                'remote "origin"': origin,
                "shunter": {"mirror": "true", "url": normalize_git_url(self.url)},
            }
            with (staging / "config").open("a", encoding="utf-8") as config:
                config.write(config_text(sections))
            (staging / LAST_USED_FILE).touch()
            staging.rename(self.path)
        except BaseException:
            await asyncio.to_thread(shutil.rmtree, staging, True)
            raise
        self.last_used = time.time()
        _log.info("created git mirror %s for %s", self.path.name, normalize_git_url(self.url))

    def _clear_stale_locks(self, *, older_than: float | None, worktrees: bool) -> None:
        """Remove ``*.lock`` files of the mirror (and, with ``worktrees``, of its working trees'
        records); only those older than ``older_than``, if given."""
        places: list[Path] = [self.path, self.path / "objects" / "info"]
        trees = [p for p in (self.path / "worktrees").glob("*") if p.is_dir()] if worktrees else []
        candidates = [f for place in [*places, *trees] for f in place.glob("*.lock")]
        for refs in [self.path / "refs", *(tree / "refs" for tree in trees)]:
            candidates += list(refs.rglob("*.lock"))
        for lock in candidates:
            with contextlib.suppress(OSError):
                if older_than is None or lock.stat().st_mtime < older_than:
                    lock.unlink()
                    _log.warning("removed the stale lock file %s", lock)

    async def repair(self, error: BaseException, generation: int) -> None:
        """Make a damaged mirror usable again (see the module docstring).

        ``generation``: :attr:`generation` when the failed operation began; if the mirror was
        repaired since, nothing is done (every caller that shared a failed fetch repairs once).
        """
        async with self.lock.write():
            if generation != self.generation:
                return
            self.generation += 1
            stale = _LOCK_FILE.search(str(error) + "\n" + getattr(error, "stderr", ""))
            if stale is not None and Path(stale.group(1)).is_relative_to(self.path):
                # Only our writers make lock files outside the working trees' records, and we
                # hold the write lock: every one of them is stale.
                self._clear_stale_locks(older_than=None, worktrees=False)
                return
            await self.remove_locked(reason=f"it is damaged ({error})")
            await self._create()
            self._checked = True

    async def remove_locked(self, *, reason: str) -> None:
        """Delete the mirror from disk (the caller holds the write lock)."""
        if not self.path.exists():
            return
        _log.warning("removing git mirror %s: %s", self.path.name, reason)
        trash = self.path.parent / f".trash-{self.path.name}-{secrets.token_hex(4)}"
        self.path.rename(trash)
        self._checked = False
        await asyncio.to_thread(shutil.rmtree, trash, True)

    # -- fetching --------------------------------------------------------------------------

    async def fetch(
        self,
        url: str,
        refspecs: Sequence[str],
        *,
        credentials: RepoCredentials | None = None,
        config: Mapping[str, str] | None = None,
        env: Mapping[str, str] | None = None,
        prune: bool = False,
        time_limit: float | None = None,
        unless: Mapping[str, str] | None = None,
        on_fetch: Callable[[], None] | None = None,
    ) -> bool:
        """Fetch ``refspecs`` from ``url`` (shared with identical queued fetches); False when
        it was not needed: ``unless`` maps local refs to the shas the caller needs, and the
        mirror had them all when the fetch's turn came. ``on_fetch`` is called once per fetch
        git actually ran (by the caller whose run it was; callers that joined share it).

        Raises:
            GitCommandError: git failed; a subclass says why (authentication, not found, ...).
        """
        await self.ensure()
        key = (
            url,
            tuple(refspecs),
            _fingerprint(credentials),
            tuple(sorted((config or {}).items())),
            tuple(sorted((env or {}).items())),
            prune,
            tuple(sorted((unless or {}).items())),
        )

        async def work() -> bool:
            await self._ensure_locked()
            if unless and all([await self._ref_value(r) == sha for r, sha in unless.items()]):
                return False
            args = ["fetch", "--quiet", "--no-tags", "--no-write-fetch-head"]
            if prune:
                args.append("--prune")
            if self.blobless:
                args.append("--filter=blob:none")
            if on_fetch is not None:
                on_fetch()
            await self.run(
                *args,
                url,
                *refspecs,
                network=True,
                credentials=credentials,
                config=config,
                env=env,
                time_limit=time_limit,
            )
            self.touch()
            return True

        return await self._fetches.run(key, self.lock.write, work)

    async def _ref_value(self, ref: str) -> str | None:
        out = await self.run("for-each-ref", "--format=%(objectname)", ref)
        return out.stdout.strip() or None

    async def fetch_branches(
        self,
        url: str,
        branches: Iterable[str],
        *,
        tags: bool = False,
        credentials: RepoCredentials | None = None,
        config: Mapping[str, str] | None = None,
    ) -> set[str]:
        """Bring ``branches`` (and, with ``tags``, every tag) up to date; return the branches
        the remote does not have (their stale copies are deleted here)."""
        names = sorted({check_ref_name(branch) for branch in branches})
        refspecs = [f"+refs/heads/{name}:refs/heads/{name}" for name in names]
        if tags:
            refspecs.append("+refs/tags/*:refs/tags/*")
        if not refspecs:
            return set()
        try:
            await self.fetch(url, refspecs, credentials=credentials, config=config, prune=tags)
            return set()
        except GitCommandError as error:
            if not NO_REMOTE_REF.search(error.stderr):
                raise
        present = await self.ls_remote(
            url, *(f"refs/heads/{name}" for name in names), credentials=credentials, config=config
        )
        missing = {name for name in names if f"refs/heads/{name}" not in present}
        async with self.lock.write():
            for name in missing:
                await self.run("update-ref", "-d", f"refs/heads/{name}", check=False)
        remaining = [s for s in refspecs if not any(s == f"+refs/heads/{m}:refs/heads/{m}"
                                                    for m in missing)]  # fmt: skip
        if remaining:
            await self.fetch(url, remaining, credentials=credentials, config=config, prune=tags)
        return missing

    async def refresh_branch(
        self,
        url: str,
        branch: str,
        *,
        credentials: RepoCredentials | None = None,
        insecure_skip_tls_verify: bool = False,
    ) -> str | None:
        """Fetch ``branch`` now; return its tip, or None when the remote has no such branch."""
        config = tls_config(insecure_skip_tls_verify=insecure_skip_tls_verify)
        missing = await self.fetch_branches(url, [branch], credentials=credentials, config=config)
        return None if missing else await self.tip(branch)

    async def ls_remote(
        self,
        url: str,
        *patterns: str,
        symref: bool = False,
        credentials: RepoCredentials | None = None,
        config: Mapping[str, str] | None = None,
    ) -> dict[str, str]:
        """``{ref: sha}`` of the remote's refs matching ``patterns`` (``symref``: also
        ``{"ref: HEAD": "refs/heads/<default>"}``)."""
        await self.ensure()
        args = ["ls-remote", *(["--symref"] if symref else []), url, *patterns]
        result = await self.run(*args, network=True, credentials=credentials, config=config)
        refs: dict[str, str] = {}
        for line in result.stdout.splitlines():
            value, _, name = line.partition("\t")
            if not name:
                continue
            if value.startswith("ref: "):
                refs[f"ref: {name}"] = value.removeprefix("ref: ")
            else:
                refs[name] = value
        return refs

    # -- refs ------------------------------------------------------------------------------

    async def resolve(self, ref: str) -> str | None:
        """The commit ``ref`` names in the mirror, or None."""
        await self.ensure()
        return await self._bare()._resolve(ref)

    async def has_commit(self, rev: str) -> bool:
        """Whether the mirror holds commit ``rev``."""
        await self.ensure()
        return await self._bare()._has_commit(rev)

    async def tip(self, branch: str) -> str | None:
        """Where the mirror last saw ``branch`` (fetched, or pushed by us), or None."""
        return await self.resolve(f"refs/heads/{check_ref_name(branch)}")

    async def record_push(self, branch: str, sha: str) -> None:
        """The remote's ``branch`` is now ``sha`` (we just pushed it): remember it."""
        async with self.lock.write():
            await self.run("update-ref", f"refs/heads/{check_ref_name(branch)}", sha)
        self.touch()

    @contextlib.asynccontextmanager
    async def branch_lock(self, branch: str) -> AsyncIterator[None]:
        """Take turns with the other pushers of ``branch`` in this process."""
        lock = self._branch_locks.setdefault(branch, asyncio.Lock())
        async with lock:
            yield

    # -- working trees ---------------------------------------------------------------------

    async def prune_worktrees(self) -> None:
        """Forget the working trees whose folders are gone (finished promotions)."""
        if not self.exists():
            return
        async with self.lock.write():
            await self.run("worktree", "prune")

    async def live_worktrees(self) -> list[Path]:
        """The working trees whose folders still exist."""
        result = await self.run("worktree", "list", "--porcelain")
        paths: list[Path] = []
        current: Path | None = None
        bare = prunable = False
        for line in [*result.stdout.splitlines(), ""]:
            if line.startswith("worktree "):
                current, bare, prunable = Path(line.removeprefix("worktree ")), False, False
            elif line == "bare":
                bare = True
            elif line.startswith("prunable"):
                prunable = True
            elif not line and current is not None:
                if not bare and not prunable:
                    paths.append(current)
                current = None
        return paths
