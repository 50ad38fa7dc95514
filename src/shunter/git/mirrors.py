"""Where the operator keeps its git mirrors, one per repository URL, and when it removes them.

:class:`MirrorStore` owns a folder (the operator passes ``<work_dir>/mirrors``) holding one bare
:class:`~shunter.git.mirror.Mirror` per repository: ``<key>.git``, the key a hash of the URL
as Kargo normalises it (``https://Host/org/repo.git`` and ``https://host/org/repo`` share one),
with ``-blobless`` appended for the blobless (partial) mirror of a URL. Discovery and every
promotion of the process use the same store, so a repository is fetched incrementally into one
place and checked out as working trees from there.

Removal: :meth:`MirrorStore.sweep` (run periodically by the operator) prunes the working trees
of finished promotions and deletes every mirror that no Warehouse subscribes to, that nothing
used for ``max_idle`` seconds and that has no working tree left. :meth:`MirrorStore.prune_soon`
prunes working trees in the background after a promotion's folder was removed.

Mirror objects (and their asyncio locks) belong to one event loop; a store used from several
loops (tests) keeps a set per loop. Without a folder the store uses a private temporary one,
removed at exit.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import functools
import hashlib
import logging
import shutil
import tempfile
import time
import weakref
from collections.abc import Iterable
from pathlib import Path

from shunter.git.errors import GitError
from shunter.git.mirror import Mirror, forget_gone_worktrees
from shunter.git.repo import Timeouts
from shunter.git.urls import normalize_git_url

__all__ = ["MirrorStore", "default_mirror_store", "mirror_key"]

_log = logging.getLogger("shunter.git.mirrors")

#: Leftovers of interrupted creations and removals older than this are deleted by a sweep.
_LEFTOVER_AGE = 3600.0
#: A kept mirror with more loose objects or packs than these is repacked by a sweep.
_MAX_LOOSE_OBJECTS = 5000
_MAX_PACKS = 50


def mirror_key(url: str, *, blobless: bool = False) -> str:
    """The folder name of ``url``'s mirror: a hash of the normalised URL."""
    digest = hashlib.sha256(normalize_git_url(url).encode("utf-8")).hexdigest()[:32]
    return f"{digest}{'-blobless' if blobless else ''}.git"


class MirrorStore:
    """The operator's git mirrors (see the module docstring)."""

    def __init__(self, root: Path | None = None, *, timeouts: Timeouts | None = None) -> None:
        self._root = root
        self._owns_root = root is None
        self._resolved = False
        self._timeouts = timeouts or Timeouts()
        self._started = time.time()
        self._loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[Path, Mirror]]
        self._loops = weakref.WeakKeyDictionary()
        self._prunes: set[asyncio.Task[None]] = set()
        self._prune_again = False

    @property
    def root(self) -> Path:
        """The folder holding the mirrors (created on first use)."""
        if self._root is None:
            self._root = Path(tempfile.mkdtemp(prefix="shunter-git-mirrors-")).resolve()
            atexit.register(shutil.rmtree, self._root, True)
        self._root.mkdir(parents=True, exist_ok=True)
        if not self._resolved:
            # One spelling of every mirror's path (working trees record the resolved one).
            self._root = self._root.resolve()
            self._resolved = True
        return self._root

    def _mirrors(self) -> dict[Path, Mirror]:
        return self._loops.setdefault(asyncio.get_running_loop(), {})

    def _get(self, path: Path, url: str, blobless: bool) -> Mirror:
        mirrors = self._mirrors()
        mirror = mirrors.get(path)
        if mirror is None:
            mirror = Mirror(
                path=path,
                url=url,
                blobless=blobless,
                timeouts=self._timeouts,
                process_started=self._started,
            )
            mirrors[path] = mirror
        elif url and not mirror.url:
            mirror.url = url
        return mirror

    def mirror(self, url: str, *, blobless: bool = False) -> Mirror:
        """The mirror of ``url`` (created on disk when first needed)."""
        return self._get(self.root / mirror_key(url, blobless=blobless), url, blobless)

    def mirror_at(self, path: Path) -> Mirror:
        """The mirror whose repository is ``path`` (a working tree's ``mirror_path``)."""
        path = path.resolve()
        return self._get(path, "", path.name.endswith("-blobless.git"))

    def _on_disk(self) -> list[Mirror]:
        return [self.mirror_at(path) for path in sorted(self.root.glob("*.git")) if path.is_dir()]

    async def prune_worktrees(self) -> None:
        """Forget the working trees of every mirror whose folders are gone."""
        for mirror in self._on_disk():
            try:
                await mirror.prune_worktrees()
            except GitError as error:
                _log.warning("could not prune the working trees of %s: %s", mirror.path, error)

    def prune_soon(self) -> None:
        """Forget, in the background, the working trees whose folders are gone (a promotion's
        work directory was just removed). No git process: the records are removed in a thread
        (:func:`~shunter.git.mirror.forget_gone_worktrees`), so shutting the loop down never
        waits on one. No-op without a running loop."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._prune_again = True
        if any(not task.done() and task.get_loop() is loop for task in self._prunes):
            return  # the running prune goes round once more
        task = loop.create_task(self._prune_in_thread(), name="prune git worktrees")
        self._prunes.add(task)
        task.add_done_callback(self._prunes.discard)

    async def _prune_in_thread(self) -> None:
        while self._prune_again:
            self._prune_again = False
            mirrors = [path for path in self.root.glob("*.git") if path.is_dir()]
            await asyncio.to_thread(_forget_gone_worktrees, mirrors)

    async def sweep(
        self, keep: Iterable[str], *, max_idle: float, now: float | None = None
    ) -> list[Path]:
        """Remove the mirrors nobody needs (see the module docstring); return their folders.

        Args:
            keep: repository URLs that Warehouses subscribe to (any spelling).
            max_idle: seconds since its last use after which an unneeded mirror goes.
            now: the current time (``time.time()``), for tests.
        """
        wanted = {normalize_git_url(url) for url in keep}
        moment = time.time() if now is None else now
        removed: list[Path] = []
        for mirror in self._on_disk():
            if mirror.lock.busy:
                continue  # in use right now: certainly not idle
            try:
                if await self._sweep_one(mirror, wanted, max_idle, moment):
                    removed.append(mirror.path)
            except (GitError, OSError) as error:
                _log.warning("could not sweep git mirror %s: %s", mirror.path, error)
        await self._remove_leftovers(moment)
        return removed

    async def _sweep_one(
        self, mirror: Mirror, wanted: set[str], max_idle: float, now: float
    ) -> bool:
        await mirror.ensure()
        async with mirror.lock.write():
            await mirror.run("worktree", "prune")
            if await mirror.live_worktrees():
                return False
            url = (await mirror.run("config", "--get", "shunter.url", check=False)).stdout.strip()
            if url in wanted or now - mirror.last_used < max_idle:
                await _maintain(mirror)
                return False
            await mirror.remove_locked(reason="no Warehouse subscribes to it and it is unused")
            return True

    async def _remove_leftovers(self, now: float) -> None:
        for path in [*self.root.glob(".tmp-*"), *self.root.glob(".trash-*")]:
            with contextlib.suppress(OSError):
                if now - path.stat().st_mtime > _LEFTOVER_AGE:
                    await asyncio.to_thread(shutil.rmtree, path, True)

    async def aclose(self) -> None:
        """Wait for background prunes; remove the folder if it is a private temporary one."""
        for task in list(self._prunes):
            with contextlib.suppress(asyncio.CancelledError, GitError):
                await task
        if self._owns_root and self._root is not None:
            await asyncio.to_thread(shutil.rmtree, self._root, True)
            self._root = None


def _forget_gone_worktrees(mirrors: list[Path]) -> None:
    for path in mirrors:
        forget_gone_worktrees(path)


async def _maintain(mirror: Mirror) -> None:
    """Repack a mirror that gathered many loose objects or packs (the caller holds the lock)."""
    found = await mirror.run("count-objects", "-v")
    counts = dict(line.split(": ", 1) for line in found.stdout.splitlines() if ": " in line)
    if (
        int(counts.get("count", "0")) > _MAX_LOOSE_OBJECTS
        or int(counts.get("packs", "0")) > _MAX_PACKS
    ):
        await mirror.run("repack", "-d", "-q", time_limit=mirror.timeouts.network)


@functools.cache
def default_mirror_store() -> MirrorStore:
    """A process-wide store in a private temporary folder, for callers given none."""
    return MirrorStore()
