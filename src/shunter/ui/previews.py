"""The UI's Preview button: a promotion preview run as the signed-in user, off the server's
event loop, bounded in time, one at a time per user.

A preview clones repositories and renders manifests, so it does not run on the loop that serves
every page: :class:`PreviewRunner` runs each in a worker thread with an event loop of its own
(at most ``workers`` at once on the server), stops it after ``seconds`` (the promotion engine
kills the git commands it started), and refuses a second preview of the same identity while
the first is still running. Every read the preview makes goes through :class:`UiReader`, which
hands it to the server loop's :class:`~shunter.ui.kubeapi.UserApi` of that user: the preview
reads with the user's identity, never the UI's.

:func:`report_view` turns the :class:`~shunter.preview.PreviewReport` into what the template
shows (each diff line with its kind, for colouring; the text is escaped by the template).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import tempfile
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from shunter.git import MirrorStore
from shunter.preview import AccessDenied, Previewer, PreviewReport
from shunter.preview.report import StepPreview, diff_lines
from shunter.ui.kubeapi import GROUP, ApiError, UserApi

__all__ = [
    "DiffLine",
    "PreviewBusy",
    "PreviewRunner",
    "PreviewView",
    "RepositoryView",
    "UiReader",
    "report_view",
]

JSON = dict[str, Any]
T = TypeVar("T")


class PreviewBusy(Exception):  # noqa: N818 - a refusal, said as the user reads it
    """This user's previous preview is still running, or every worker is busy."""


class UiReader:
    """:class:`shunter.preview.Reader` for a preview running on another event loop: each read
    runs on the UI server's loop, with the user's :class:`UserApi`."""

    def __init__(self, api: UserApi, loop: asyncio.AbstractEventLoop) -> None:
        self._api = api
        self._loop = loop

    async def _on_server_loop(self, call: Coroutine[Any, Any, T]) -> T:
        future = asyncio.run_coroutine_threadsafe(call, self._loop)
        try:
            return await asyncio.wrap_future(future)
        except ApiError as exc:
            if exc.forbidden:
                raise AccessDenied(exc.message) from None
            raise

    async def get(
        self, plural: str, namespace: str | None, name: str, *, group: str = GROUP
    ) -> JSON | None:
        """One object, or None."""
        try:
            return await self._on_server_loop(self._api.read(plural, namespace, name, group=group))
        except ApiError as exc:
            if exc.status == 404:
                return None
            raise

    async def list(
        self,
        plural: str,
        namespace: str,
        *,
        label_selector: str | None = None,
        group: str = GROUP,
    ) -> list[JSON]:
        """The objects of a namespace."""
        return await self._on_server_loop(
            self._api.select(plural, namespace, label_selector, group=group)
        )


class PreviewRunner:
    """Runs previews in worker threads, bounded in time and in number.

    Args:
        seconds: a preview still running after this long is stopped and reported as such.
        workers: previews running at once on this server (each in its own thread).
        allow_credentials_over_http: hand repository credentials to plain ``http://`` URLs.
    """

    def __init__(
        self, seconds: float = 120.0, workers: int = 2, *, allow_credentials_over_http: bool = False
    ) -> None:
        self.seconds = seconds
        self.workers = workers
        self._allow_http = allow_credentials_over_http
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=workers, thread_name_prefix="ui-preview"
        )
        self._running: set[str] = set()
        self._slots: asyncio.Semaphore | None = None

    def running(self, identity: str) -> bool:
        """Whether a preview of this identity is running."""
        return identity in self._running

    async def run(
        self, identity: str, api: UserApi, *, username: str, project: str, stage: str, freight: str
    ) -> PreviewReport:
        """Preview promoting ``freight`` into ``stage`` as the user (raises
        :class:`PreviewError`, :class:`PreviewBusy`, :class:`TimeoutError`)."""
        if identity in self._running:
            raise PreviewBusy(
                "your previous preview is still running: one preview at a time per user"
            )
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.workers)
        slots = self._slots
        self._running.add(identity)
        try:
            await asyncio.wait_for(slots.acquire(), self.seconds)
        except TimeoutError:
            self._running.discard(identity)
            raise PreviewBusy(
                f"{self.workers} previews have been running on this server for "
                f"{self.seconds:.0f} seconds: try again later"
            ) from None
        except BaseException:  # the page went away while waiting for a slot
            self._running.discard(identity)
            raise
        loop = asyncio.get_running_loop()
        reader = UiReader(api, loop)
        actor = f"kubernetes:{username}" if username else ""
        try:
            future = loop.run_in_executor(
                self._executor, self._in_thread, reader, actor, (project, stage, freight)
            )
        except RuntimeError:  # the server is stopping
            self._running.discard(identity)
            slots.release()
            raise

        def finished(_: object) -> None:
            # The user's turn and the slot end when the thread does, not when the page gave up.
            self._running.discard(identity)
            slots.release()

        future.add_done_callback(finished)
        # The thread stops itself at the limit; this bound is for a thread that could not.
        return await asyncio.wait_for(asyncio.shield(future), self.seconds + 15)

    def _in_thread(
        self, reader: UiReader, actor: str, promotion: tuple[str, str, str]
    ) -> PreviewReport:
        """One preview, in a worker thread: its own event loop, its own git mirrors (removed
        afterwards: a long-running server must not keep a clone per preview)."""
        with tempfile.TemporaryDirectory(
            prefix="shunter-ui-preview-", ignore_cleanup_errors=True
        ) as folder:
            previewer = Previewer(
                reader,
                actor=actor,
                allow_credentials_over_http=self._allow_http,
                git_mirrors=MirrorStore(Path(folder) / "mirrors"),
            )

            async def bounded() -> PreviewReport:
                return await asyncio.wait_for(previewer.preview(*promotion), self.seconds)

            return asyncio.run(bounded())

    def close(self) -> None:
        """Stop taking previews (running ones end at their time limit)."""
        self._executor.shutdown(wait=False, cancel_futures=True)


# -- what the page shows ---------------------------------------------------------------------


@dataclass(frozen=True)
class DiffLine:
    """One line of a diff: ``kind`` is add, del, hunk, file, meta or context."""

    kind: str
    text: str


@dataclass(frozen=True)
class RepositoryView:
    """One repository's change."""

    repository: str
    branch: str
    base: str
    head: str
    lines: list[DiffLine]
    added: int
    removed: int


@dataclass(frozen=True)
class PreviewView:
    """A preview report as the page shows it."""

    report: PreviewReport
    steps: list[StepPreview]
    repositories: list[RepositoryView]


_META = ("diff --git", "index ", "new file", "deleted file", "similarity", "rename", "old mode")


def _kind(line: str) -> str:
    if line.startswith(("+++", "---")):
        return "file"
    if line.startswith(_META):
        return "meta"
    if line.startswith("@@"):
        return "hunk"
    if line.startswith("+"):
        return "add"
    if line.startswith("-"):
        return "del"
    return "context"


def report_view(report: PreviewReport) -> PreviewView:
    """The report with each diff line classified for colouring."""
    repositories = []
    for change in report.changes:
        lines = [DiffLine(_kind(text), text) for text in diff_lines(change)] if change.diff else []
        repositories.append(
            RepositoryView(
                repository=change.repository,
                branch=change.branch,
                base=change.base[:7] if change.base else "",
                head=change.head[:7],
                lines=lines,
                added=sum(1 for line in lines if line.kind == "add"),
                removed=sum(1 for line in lines if line.kind == "del"),
            )
        )
    return PreviewView(report=report, steps=report.steps, repositories=repositories)
