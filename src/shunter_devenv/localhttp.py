"""A threaded HTTP(S) server on 127.0.0.1:<random port>, run in a background thread.

The git server and the registry front build on it. It owns the plumbing they share: binding a
random loopback port, optional TLS (the handshake runs in the connection's own thread, so a slow
client never stalls ``accept``), a quiet request handler, and helpers to stream a request body
(``Content-Length`` or chunked) and to write a chunked response.
"""

from __future__ import annotations

import io
import logging
import socket
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = [
    "LocalHTTPServer",
    "QuietHandler",
    "RequestBodyError",
    "discard_request_body",
    "has_request_body",
    "iter_request_body",
    "write_chunk",
    "write_last_chunk",
]

_log = logging.getLogger(__name__)

_CHUNK = 64 * 1024
_MAX_LINE = 8 * 1024


class RequestBodyError(ValueError):
    """The request body is malformed (bad chunk framing, bad Content-Length)."""


class QuietHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 handler base: logs at debug level, finishes the TLS handshake in its thread."""

    protocol_version = "HTTP/1.1"
    timeout = 120.0
    server_version = "shunter-devenv/1"

    def setup(self) -> None:
        super().setup()
        if isinstance(self.connection, ssl.SSLSocket):
            self.connection.do_handshake()

    def log_message(self, format: str, *args: Any) -> None:
        _log.debug("%s %s", self.address_string(), format % args)

    @property
    def app(self) -> object:
        """The object the server was created for (a GitServer, a registry front...)."""
        server = self.server
        assert isinstance(server, _Server)  # noqa: S101 - narrows the type for mypy
        return server.app


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(
        self,
        handler: type[QuietHandler],
        app: object,
        ssl_context: ssl.SSLContext | None,
    ) -> None:
        self.app = app
        self.ssl_context = ssl_context
        super().__init__(("127.0.0.1", 0), handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, address = super().get_request()
        if self.ssl_context is not None:
            sock = self.ssl_context.wrap_socket(
                sock, server_side=True, do_handshake_on_connect=False
            )
        return sock, address

    def handle_error(self, request: Any, client_address: Any) -> None:
        _log.debug("error while serving %s", client_address, exc_info=True)


class LocalHTTPServer:
    """Serve ``handler`` on 127.0.0.1:<random port> from a daemon thread."""

    def __init__(
        self,
        handler: type[QuietHandler],
        app: object,
        *,
        ssl_context: ssl.SSLContext | None = None,
        name: str = "devenv-http",
    ) -> None:
        self._handler = handler
        self._app = app
        self._ssl_context = ssl_context
        self._name = name
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._server is not None:
            raise RuntimeError(f"{self._name} is already running")
        server = _Server(self._handler, self._app, self._ssl_context)
        thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.1}, name=self._name
        )
        thread.daemon = True
        thread.start()
        self._server, self._thread = server, thread

    def stop(self) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError(f"{self._name} is not running")
        port: int = self._server.server_address[1]
        return port

    @property
    def scheme(self) -> str:
        return "https" if self._ssl_context is not None else "http"

    @property
    def base_url(self) -> str:
        """``http(s)://127.0.0.1:<port>`` (no trailing slash)."""
        return f"{self.scheme}://127.0.0.1:{self.port}"


def _read_line(rfile: io.BufferedIOBase) -> bytes:
    line = rfile.readline(_MAX_LINE + 1)
    if len(line) > _MAX_LINE:
        raise RequestBodyError("chunk header line too long")
    if not line:
        raise RequestBodyError("connection closed inside a chunked body")
    return line


def _read_exactly(rfile: io.BufferedIOBase, size: int) -> Iterator[bytes]:
    remaining = size
    while remaining > 0:
        data = rfile.read(min(remaining, _CHUNK))
        if not data:
            raise RequestBodyError("connection closed before the end of the body")
        remaining -= len(data)
        yield data


def iter_request_body(handler: BaseHTTPRequestHandler) -> Iterator[bytes]:
    """Yield the request body as it arrives: chunked transfer-encoding or Content-Length."""
    transfer_encoding = handler.headers.get("Transfer-Encoding", "").lower()
    if "chunked" in transfer_encoding:
        while True:
            header = _read_line(handler.rfile).split(b";", 1)[0].strip()
            try:
                size = int(header, 16)
            except ValueError as exc:
                raise RequestBodyError("bad chunk size") from exc
            if size == 0:
                while _read_line(handler.rfile) not in (b"\r\n", b"\n"):
                    pass  # trailers: ignored
                return
            yield from _read_exactly(handler.rfile, size)
            if _read_line(handler.rfile) not in (b"\r\n", b"\n"):
                raise RequestBodyError("missing CRLF after a chunk")
    length_header = handler.headers.get("Content-Length")
    if length_header is None:
        return
    try:
        length = int(length_header)
    except ValueError as exc:
        raise RequestBodyError("bad Content-Length") from exc
    if length < 0:
        raise RequestBodyError("bad Content-Length")
    yield from _read_exactly(handler.rfile, length)


def has_request_body(handler: BaseHTTPRequestHandler) -> bool:
    """Whether the request announces a body (chunked, or a non-zero Content-Length)."""
    if "chunked" in handler.headers.get("Transfer-Encoding", "").lower():
        return True
    return handler.headers.get("Content-Length", "0").strip() not in ("", "0")


def discard_request_body(handler: BaseHTTPRequestHandler, limit: int = 1024 * 1024) -> None:
    """Read and drop a small body so the connection can be reused; otherwise close it."""
    length = handler.headers.get("Content-Length", "0").strip() or "0"
    chunked = "chunked" in handler.headers.get("Transfer-Encoding", "").lower()
    if not chunked and length.isdigit() and int(length) <= limit:
        for _ in iter_request_body(handler):
            pass
        return
    handler.close_connection = True


def write_chunk(wfile: io.BufferedIOBase, data: bytes) -> None:
    """Write one chunk of a chunked response (empty data is skipped: it would end the body)."""
    if data:
        wfile.write(b"%x\r\n%s\r\n" % (len(data), data))


def write_last_chunk(wfile: io.BufferedIOBase) -> None:
    wfile.write(b"0\r\n\r\n")
