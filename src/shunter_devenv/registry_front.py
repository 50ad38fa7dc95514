"""The test registry's front door: a counting, streaming reverse proxy (plus the token realm).

Clients talk to the front (127.0.0.1:<random port>, HTTP or HTTPS); it forwards every request to
the private ``docker-registry`` process unchanged (``Host`` kept, so the registry's upload
``Location`` URLs point back at the front; ``X-Forwarded-Proto`` set, so they carry the front's
scheme) and streams bodies both ways. Each request is recorded by kind (tags listing, manifest,
blob, upload, token...) so tests can assert "N tag listings happened". In Bearer-token mode the
front also serves ``/token`` from an in-process ``TokenIssuer``.
"""

from __future__ import annotations

import http.client
import re
import ssl
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from shunter_devenv.localhttp import (
    LocalHTTPServer,
    QuietHandler,
    RequestBodyError,
    discard_request_body,
    iter_request_body,
    write_chunk,
    write_last_chunk,
)
from shunter_devenv.ocipush import PUSHER_USER_AGENT
from shunter_devenv.registry_token import TokenIssuer

__all__ = ["TOKEN_PATH", "RegistryFront", "RegistryRequest", "RegistryRequestKind", "classify"]

TOKEN_PATH = "/token"  # noqa: S105 - a URL path, not a secret
_CHUNK = 64 * 1024
_MAX_TOKEN_BODY = 64 * 1024
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
    }
)


class RegistryRequestKind(StrEnum):
    """What a registry request was for (by URL pattern)."""

    BASE = "base"  # /v2/
    CATALOG = "catalog"  # /v2/_catalog
    TAGS = "tags"  # /v2/<name>/tags/list
    MANIFEST = "manifest"  # /v2/<name>/manifests/<reference>
    BLOB = "blob"  # /v2/<name>/blobs/<digest>
    BLOB_UPLOAD = "blob-upload"  # /v2/<name>/blobs/uploads/...
    REFERRERS = "referrers"  # /v2/<name>/referrers/<digest>
    TOKEN = "token"  # noqa: S105 - the token realm (Bearer mode)
    OTHER = "other"


_PATTERNS: tuple[tuple[re.Pattern[str], RegistryRequestKind], ...] = (
    (re.compile(r"^/v2/(.+)/blobs/uploads(?:/.*)?$"), RegistryRequestKind.BLOB_UPLOAD),
    (re.compile(r"^/v2/(.+)/blobs/[^/]+$"), RegistryRequestKind.BLOB),
    (re.compile(r"^/v2/(.+)/manifests/[^/]+$"), RegistryRequestKind.MANIFEST),
    (re.compile(r"^/v2/(.+)/tags/list$"), RegistryRequestKind.TAGS),
    (re.compile(r"^/v2/(.+)/referrers/[^/]+$"), RegistryRequestKind.REFERRERS),
)


def classify(path: str) -> tuple[RegistryRequestKind, str | None]:
    """(kind, repository name or None) of a request path (query string excluded)."""
    if path in ("/v2", "/v2/"):
        return RegistryRequestKind.BASE, None
    if path == "/v2/_catalog":
        return RegistryRequestKind.CATALOG, None
    if path == TOKEN_PATH:
        return RegistryRequestKind.TOKEN, None
    for pattern, kind in _PATTERNS:
        match = pattern.match(path)
        if match:
            return kind, match.group(1)
    return RegistryRequestKind.OTHER, None


@dataclass(frozen=True)
class RegistryRequest:
    """One request the front answered."""

    method: str
    kind: RegistryRequestKind
    repo: str | None
    path: str
    status: int
    from_devenv: bool  # sent by this package's pusher (test set-up), not by the code under test
    #: ``time.monotonic()`` when the registry's answer came back (before it is relayed).
    answered_at: float = field(default_factory=time.monotonic)


class _FrontHandler(QuietHandler):
    def _serve(self) -> None:
        front = self.app
        assert isinstance(front, RegistryFront)  # noqa: S101 - narrows the type for mypy
        front._serve(self)

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _serve  # noqa: N815


class RegistryFront:
    """A counting reverse proxy to ``127.0.0.1:<upstream_port>``, optionally with TLS."""

    def __init__(
        self,
        upstream_port: int,
        *,
        ssl_context: ssl.SSLContext | None = None,
        token_issuer: TokenIssuer | None = None,
    ) -> None:
        self.upstream_port = upstream_port
        self.token_issuer = token_issuer
        self._http = LocalHTTPServer(
            _FrontHandler, self, ssl_context=ssl_context, name="registry-front"
        )
        self._lock = threading.Lock()
        self._requests: list[RegistryRequest] = []

    def start(self) -> None:
        self._http.start()

    def stop(self) -> None:
        self._http.stop()

    @property
    def port(self) -> int:
        return self._http.port

    @property
    def base_url(self) -> str:
        return self._http.base_url

    # -- recording -------------------------------------------------------------------------

    @property
    def requests(self) -> list[RegistryRequest]:
        """A snapshot of every request answered so far, oldest first."""
        with self._lock:
            return list(self._requests)

    def request_count(
        self,
        kind: RegistryRequestKind | str | None = None,
        *,
        method: str | None = None,
        repo: str | None = None,
        status: int | None = None,
        include_devenv: bool = False,
    ) -> int:
        """How many recorded requests match; the pusher's own traffic is left out by default."""
        return sum(
            1
            for r in self.requests
            if (kind is None or r.kind == kind)
            and (method is None or r.method == method.upper())
            and (repo is None or r.repo == repo)
            and (status is None or r.status == status)
            and (include_devenv or not r.from_devenv)
        )

    def request_counts(self, *, include_devenv: bool = False) -> Counter[tuple[str, str]]:
        """Counts per ``(method, kind)``."""
        return Counter(
            (r.method, r.kind.value) for r in self.requests if include_devenv or not r.from_devenv
        )

    def reset_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    # -- proxying --------------------------------------------------------------------------

    def _serve(self, handler: _FrontHandler) -> None:
        split = urllib.parse.urlsplit(handler.path)
        kind, repo = classify(split.path)
        from_devenv = handler.headers.get("User-Agent", "").startswith(PUSHER_USER_AGENT)

        def record(status: int) -> None:
            # Recorded before the response goes out, so a client that has its answer can count.
            entry = RegistryRequest(handler.command, kind, repo, split.path, status, from_devenv)
            with self._lock:
                self._requests.append(entry)

        if kind is RegistryRequestKind.TOKEN and self.token_issuer is not None:
            self._serve_token(handler, split.query, record)
        else:
            self._proxy(handler, record)

    def _serve_token(
        self, handler: _FrontHandler, query: str, record: Callable[[int], None]
    ) -> None:
        assert self.token_issuer is not None  # noqa: S101 - checked by the caller
        body = b""
        if handler.command == "POST":
            length = int(handler.headers.get("Content-Length", "0") or "0")
            if length > _MAX_TOKEN_BODY:
                record(413)
                handler.close_connection = True
                handler.send_error(413)
                return
            body = b"".join(iter_request_body(handler))
        else:
            discard_request_body(handler)
        answer = self.token_issuer.handle(
            handler.command, query, body, handler.headers.get("Authorization")
        )
        record(answer.status)
        handler.send_response(answer.status)
        for name, value in answer.headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(answer.body)))
        handler.end_headers()
        if handler.command != "HEAD":
            handler.wfile.write(answer.body)

    def _proxy(self, handler: _FrontHandler, record: Callable[[int], None]) -> None:
        upstream = http.client.HTTPConnection("127.0.0.1", self.upstream_port, timeout=120)
        try:
            try:
                response = self._forward_request(handler, upstream)
            except (OSError, http.client.HTTPException, RequestBodyError):
                record(502)
                handler.close_connection = True
                handler.send_error(502, "registry unreachable")
                return
            record(response.status)
            self._relay_response(handler, response)
        finally:
            upstream.close()

    def _forward_request(
        self, handler: _FrontHandler, upstream: http.client.HTTPConnection
    ) -> http.client.HTTPResponse:
        chunked = "chunked" in handler.headers.get("Transfer-Encoding", "").lower()
        upstream.putrequest(
            handler.command, handler.path, skip_host=True, skip_accept_encoding=True
        )
        for name, value in handler.headers.items():
            lower = name.lower()
            if lower in _HOP_BY_HOP or (chunked and lower == "content-length"):
                continue
            upstream.putheader(name, value)
        upstream.putheader("X-Forwarded-Proto", "https" if self._http.scheme == "https" else "http")
        upstream.putheader("X-Forwarded-For", str(handler.client_address[0]))
        if chunked:
            upstream.putheader("Transfer-Encoding", "chunked")
        upstream.endheaders()
        for data in iter_request_body(handler):
            upstream.send(b"%x\r\n%s\r\n" % (len(data), data) if chunked else data)
        if chunked:
            upstream.send(b"0\r\n\r\n")
        return upstream.getresponse()

    @staticmethod
    def _relay_response(handler: _FrontHandler, response: http.client.HTTPResponse) -> None:
        handler.send_response(response.status, response.reason)
        has_length = False
        for name, value in response.getheaders():
            lower = name.lower()
            if lower in _HOP_BY_HOP or lower in ("date", "server"):
                continue  # send_response wrote Date and Server already
            has_length = has_length or lower == "content-length"
            handler.send_header(name, value)
        bodiless = handler.command == "HEAD" or response.status in (204, 304)
        chunked = not bodiless and not has_length
        if chunked:
            handler.send_header("Transfer-Encoding", "chunked")
        if handler.close_connection:
            handler.send_header("Connection", "close")
        handler.end_headers()
        if bodiless:
            return
        while data := response.read1(_CHUNK):
            if chunked:
                write_chunk(handler.wfile, data)
            else:
                handler.wfile.write(data)
        if chunked:
            write_last_chunk(handler.wfile)
