"""Liveness (``/healthz``) and readiness (``/readyz``) over plain HTTP, with the standard
library's asyncio streams (no extra dependency).

Live: the event loop answers and every informer and work queue worker is running. Ready: live,
and every informer has listed its kind (the cache is synced) and the queues run.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

__all__ = ["ProbeServer"]

log = logging.getLogger(__name__)


class ProbeServer:
    """Serves ``GET /healthz`` and ``GET /readyz``."""

    def __init__(self, address: str, *, live: Callable[[], bool], ready: Callable[[], bool]):
        host, _, port = address.rpartition(":")
        self._host = host or "0.0.0.0"  # noqa: S104 - probes listen where the kubelet can reach
        self._port = int(port)
        self._live = live
        self._ready = ready
        self._server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        """The bound port (useful with port 0)."""
        if self._server is None or not self._server.sockets:
            return self._port
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        """Start listening."""
        self._server = await asyncio.start_server(self._handle, self._host, self._port)
        log.info("probes listening on %s:%d (/healthz, /readyz)", self._host, self.port)

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
            path = parts[1] if len(parts) >= 2 else ""
            if path == "/healthz":
                ok = self._live()
            elif path == "/readyz":
                ok = self._live() and self._ready()
            else:
                await self._respond(writer, 404, "not found")
                return
            await self._respond(writer, 200 if ok else 503, "ok" if ok else "not ok")
        except (TimeoutError, ConnectionError, UnicodeDecodeError):
            pass
        finally:
            with contextlib.suppress(ConnectionError):
                writer.close()

    @staticmethod
    async def _respond(writer: asyncio.StreamWriter, code: int, body: str) -> None:
        reason = {200: "OK", 404: "Not Found", 503: "Service Unavailable"}[code]
        payload = body.encode()
        writer.write(
            f"HTTP/1.1 {code} {reason}\r\nContent-Type: text/plain\r\n"
            f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n".encode()
            + payload
        )
        await writer.drain()
