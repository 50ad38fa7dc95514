"""Fixtures of the verification integration tests: a KubeClient on the session's API server, the
analysis CRDs installed by ``ensure_rollouts_crds``, and a scripted HTTP metric endpoint.

``endpoint.script(path, (status, body), ...)``: successive requests to ``path`` get those replies
(the last one repeats; str bodies are text, anything else JSON); requests are recorded.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from shunter.kube import KubeClient
from shunter.verification import RolloutsCRDs, ensure_rollouts_crds
from shunter_devenv.localhttp import LocalHTTPServer, QuietHandler


@pytest.fixture
async def rollouts(client: KubeClient) -> RolloutsCRDs:
    """The analysis CRDs, created when the API server lacks them."""
    return await ensure_rollouts_crds(client)


@dataclass
class Endpoint:
    scripts: dict[str, list[tuple[int, bytes, str]]] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    base_url: str = ""

    def url(self, path: str) -> str:
        return self.base_url + path

    def script(self, path: str, *replies: tuple[int, Any]) -> None:
        encoded = []
        for status, body in replies:
            if isinstance(body, str):
                encoded.append((status, body.encode(), "text/plain"))
            else:
                encoded.append((status, json.dumps(body).encode(), "application/json"))
        with self.lock:
            self.scripts[path] = encoded

    def reply(self, path: str) -> tuple[int, bytes, str]:
        with self.lock:
            replies = self.scripts.get(path)
            if not replies:
                return 404, b"not found", "text/plain"
            return replies.pop(0) if len(replies) > 1 else replies[0]

    def hits(self, path: str) -> int:
        with self.lock:
            return sum(1 for r in self.requests if r["path"] == path)


class _Handler(QuietHandler):
    def _serve(self) -> None:
        app = self.app
        assert isinstance(app, Endpoint)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path = self.path.split("?", 1)[0]
        with app.lock:
            app.requests.append(
                {
                    "method": self.command,
                    "path": path,
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                    "body": body,
                }
            )
        status, payload, content_type = app.reply(path)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = _serve  # noqa: N815


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    app = Endpoint()
    http = LocalHTTPServer(_Handler, app, name="verification-endpoint")
    http.start()
    app.base_url = http.base_url
    yield app
    http.stop()
