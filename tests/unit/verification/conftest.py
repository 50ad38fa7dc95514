"""Fixtures of the verification tests: a real HTTP metric endpoint on 127.0.0.1.

``metrics`` is a scripted server: ``metrics.script(path, (200, {...}), (500, "text")...)`` makes
successive requests to ``path`` get those replies (the last one repeats; str/bytes bodies are
sent as text, anything else as JSON); every request is recorded. ``make_run(metrics, ...)``
builds an AnalysisRun object; ``run_until_done(runner, run)`` steps it until it completes.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from shunter.verification.runner import AnalysisRunner
from shunter_devenv.localhttp import LocalHTTPServer, QuietHandler


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"


def _reply(spec: tuple[int, Any]) -> Reply:
    status, body = spec
    if isinstance(body, bytes):
        return Reply(status, body, "text/plain")
    if isinstance(body, str):
        return Reply(status, body.encode(), "text/plain")
    return Reply(status, json.dumps(body).encode())


@dataclass
class MetricApp:
    scripts: dict[str, list[Reply]] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    hold: set[str] = field(default_factory=set)
    """Paths whose replies wait until ``release`` is set (at teardown)."""
    release: threading.Event = field(default_factory=threading.Event)

    def script(self, path: str, *replies: Reply) -> None:
        with self.lock:
            self.scripts[path] = list(replies)

    def next_reply(self, path: str) -> Reply:
        with self.lock:
            replies = self.scripts.get(path)
            if not replies:
                return Reply(404, b"not found", "text/plain")
            return replies.pop(0) if len(replies) > 1 else replies[0]

    def hits(self, path: str) -> int:
        with self.lock:
            return sum(1 for r in self.requests if r["path"] == path)


class MetricHandler(QuietHandler):
    def _serve(self) -> None:
        app = self.app
        assert isinstance(app, MetricApp)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path = self.path.split("?", 1)[0]
        with app.lock:
            app.requests.append(
                {
                    "method": self.command,
                    "path": path,
                    "target": self.path,
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                    "body": body,
                    "at": time.monotonic(),
                }
            )
        reply = app.next_reply(path)
        if path in app.hold:
            app.release.wait(10)
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        self.wfile.write(reply.body)

    do_GET = do_POST = do_PUT = _serve  # noqa: N815


@dataclass
class MetricServer:
    app: MetricApp
    http: LocalHTTPServer

    def url(self, path: str) -> str:
        return self.http.base_url + path

    def script(self, path: str, *replies: tuple[int, Any]) -> None:
        self.app.script(path, *(_reply(r) for r in replies))

    def hits(self, path: str) -> int:
        return self.app.hits(path)

    @property
    def requests(self) -> list[dict[str, Any]]:
        return self.app.requests


@pytest.fixture
def metrics() -> Iterator[MetricServer]:
    app = MetricApp()
    http = LocalHTTPServer(MetricHandler, app, name="metric-endpoint")
    http.start()
    yield MetricServer(app, http)
    app.release.set()
    http.stop()


def _analysis_run(
    metrics: list[dict[str, Any]],
    *,
    args: list[dict[str, Any]] | None = None,
    status: dict[str, Any] | None = None,
    **spec: Any,
) -> dict[str, Any]:
    """An AnalysisRun object as the API server would return it."""
    run: dict[str, Any] = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AnalysisRun",
        "metadata": {"name": "run", "namespace": "demo", "labels": {"kargo.akuity.io/stage": "s"}},
        "spec": {"metrics": metrics, **spec},
    }
    if args is not None:
        run["spec"]["args"] = args
    if status is not None:
        run["status"] = status
    return run


async def _run_until_done(
    runner: AnalysisRunner, run: dict[str, Any], *, within: float = 30.0
) -> dict[str, Any]:
    """Step ``run`` (in place) until it completes; returns its status. Between steps it waits
    exactly as long as the runner asks (the scheduler's contract), within a deadline."""
    deadline = time.monotonic() + within
    while True:
        outcome = await runner.step(run)
        if outcome.status is not None:
            run["status"] = outcome.status
        if outcome.phase is not None and outcome.phase.completed:
            return dict(run["status"])
        if time.monotonic() > deadline:
            raise AssertionError(f"run did not complete in {within}s: {run.get('status')}")
        if outcome.requeue_after is None:
            raise AssertionError(f"runner stopped before completion: {run.get('status')}")
        await asyncio.sleep(min(outcome.requeue_after, max(0.0, deadline - time.monotonic())))


@pytest.fixture
def make_run() -> Any:
    return _analysis_run


@pytest.fixture
def run_until_done() -> Any:
    return _run_until_done
