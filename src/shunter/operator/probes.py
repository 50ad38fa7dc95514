"""The operator's small HTTP endpoints, over the standard library's asyncio streams: the probes
(``/healthz``, ``/readyz``) and Prometheus' ``/metrics``, each server on its own port.

Live: the event loop answers and every informer (and, on the leader, every work queue worker)
is running. Ready: live, and every informer has listed its kind (the cache is synced). A standby
replica is ready too: it serves metrics (and webhooks) while it waits to lead.

Only ``GET`` of the known paths is answered; a request line must arrive within 5 seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass

__all__ = ["EndpointServer", "Response", "probe_routes"]

log = logging.getLogger(__name__)
_REASONS = {200: "OK", 404: "Not Found", 405: "Method Not Allowed", 503: "Service Unavailable"}


@dataclass(frozen=True)
class Response:
    """What a route answers."""

    status: int
    body: bytes
    content_type: str = "text/plain; charset=utf-8"


Route = Callable[[], Response]


def probe_routes(*, live: Callable[[], bool], ready: Callable[[], bool]) -> dict[str, Route]:
    """``/healthz`` and ``/readyz`` answering 200 ``ok`` or 503 ``not ok``."""

    def answer(ok: bool) -> Response:
        return Response(200, b"ok") if ok else Response(503, b"not ok")

    return {
        "/healthz": lambda: answer(live()),
        "/readyz": lambda: answer(live() and ready()),
    }


class EndpointServer:
    """Serves ``GET`` of a few paths on ``host:port`` (``:port`` listens everywhere)."""

    def __init__(self, address: str, routes: Mapping[str, Route], *, name: str = "probes"):
        host, _, port = address.rpartition(":")
        self._host = host or "0.0.0.0"  # noqa: S104 - probes and metrics listen for the cluster
        self._port = int(port)
        self._routes = dict(routes)
        self._name = name
        self._server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        """The bound port (useful with port 0)."""
        if self._server is None or not self._server.sockets:
            return self._port
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        """Start listening (raises OSError when the address cannot be bound)."""
        self._server = await asyncio.start_server(self._handle, self._host, self._port)
        log.info(
            "%s listening on %s:%d (%s)", self._name, self._host, self.port, ", ".join(self._routes)
        )

    async def stop(self) -> None:
        """Stop listening."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readline(), timeout=5)
            parts = request.decode("latin-1").split()
            method = parts[0] if parts else ""
            path = parts[1].split("?", 1)[0] if len(parts) >= 2 else ""
            route = self._routes.get(path)
            if route is None:
                response = Response(404, b"not found")
            elif method not in ("GET", "HEAD"):
                response = Response(405, b"method not allowed")
            else:
                response = route()
            await self._respond(writer, response, head=method == "HEAD")
        except (TimeoutError, ConnectionError, UnicodeDecodeError):
            pass
        finally:
            with contextlib.suppress(ConnectionError):
                writer.close()

    @staticmethod
    async def _respond(writer: asyncio.StreamWriter, response: Response, *, head: bool) -> None:
        reason = _REASONS.get(response.status, "")
        writer.write(
            f"HTTP/1.1 {response.status} {reason}\r\nContent-Type: {response.content_type}\r\n"
            f"Content-Length: {len(response.body)}\r\nConnection: close\r\n\r\n".encode()
            + (b"" if head else response.body)
        )
        await writer.drain()
