"""JSON requests to the Kubernetes API server over ``http.client``, for the command line.

:class:`KubeAPI` keeps one connection open (kept alive between requests), sends the
credentials of :class:`shunter.cliclient.kubeconfig.Credentials` and returns decoded JSON.
Failures are one of three exceptions, so callers never see a bare ``OSError`` from a socket:
:class:`ApiError` (the server answered with an error status; :class:`NotFoundError` and
:class:`ConflictError` for 404 and 409), :class:`UnreachableError` (no answer: refused,
timed out, TLS not trusted) and :class:`~shunter.cliclient.kubeconfig.KubeconfigError`.
Writes carry the field manager ``shunter-cli``.
"""

from __future__ import annotations

import http.client
import json
import os
import ssl
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from shunter import __version__
from shunter.api.v1alpha1.group import GROUP, VERSION
from shunter.cliclient.kubeconfig import (
    EXEC_TIMEOUT,
    ClientCertificate,
    ClusterAccess,
    Credentials,
)

__all__ = [
    "FIELD_MANAGER",
    "ApiError",
    "ConflictError",
    "KubeAPI",
    "NotFoundError",
    "UnreachableError",
]

#: The field manager of every write the command line makes.
FIELD_MANAGER = "shunter-cli"
JSON = dict[str, Any]
_IDEMPOTENT = frozenset({"GET", "PATCH", "DELETE"})


class ApiError(Exception):
    """The API server answered with an error status."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(f"{message} (HTTP {status} {reason})" if message else f"HTTP {status}")
        self.status = status
        self.reason = reason
        self.message = message


class NotFoundError(ApiError):
    """404: the object (or its kind) does not exist."""


class ConflictError(ApiError):
    """409: the object exists already, or changed under us."""


class UnreachableError(Exception):
    """No usable answer from the API server (connection refused, timeout, TLS failure)."""


class _Connection(http.client.HTTPSConnection):
    """HTTPS with an optional TLS server name other than the host (``tls-server-name``)."""

    def __init__(
        self, host: str, port: int | None, *, context: ssl.SSLContext, server_name: str | None,
        timeout: float,
    ) -> None:  # fmt: skip
        super().__init__(host, port, context=context, timeout=timeout)
        self._tls_context = context
        self._server_name = server_name or host

    def connect(self) -> None:
        http.client.HTTPConnection.connect(self)
        self.sock = self._tls_context.wrap_socket(self.sock, server_hostname=self._server_name)


def _load_client_certificate(context: ssl.SSLContext, cert: ClientCertificate) -> None:
    if isinstance(cert.cert, bytes) or isinstance(cert.key, bytes):
        import tempfile  # noqa: PLC0415 - only certificates given as data need files

        # ssl loads certificates from files only: write them to a private folder, load, delete.
        with tempfile.TemporaryDirectory(prefix="shunter-cli-") as folder:
            paths = []
            for name, value in (("client.crt", cert.cert), ("client.key", cert.key)):
                if isinstance(value, bytes):
                    path = Path(folder) / name
                    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                    with os.fdopen(fd, "wb") as handle:
                        handle.write(value)
                    paths.append(str(path))
                else:
                    paths.append(str(value))
            context.load_cert_chain(paths[0], paths[1])
        return
    context.load_cert_chain(cert.cert, cert.key)


class KubeAPI:
    """A synchronous client of one API server (see the module docstring)."""

    def __init__(
        self,
        access: ClusterAccess,
        *,
        timeout: float = 30.0,
        interactive: bool = True,
        exec_timeout: float = EXEC_TIMEOUT,
    ) -> None:
        self.access = access
        self.timeout = timeout
        self._credentials = Credentials(access, interactive=interactive, exec_timeout=exec_timeout)
        parts = urlsplit(access.server)
        self._scheme = parts.scheme
        self._host = parts.hostname or ""
        self._port = parts.port
        self._prefix = parts.path.rstrip("/")
        self._connection: http.client.HTTPConnection | None = None

    # -- Kargo's kinds ------------------------------------------------------------------------

    @staticmethod
    def path(
        plural: str,
        namespace: str | None = None,
        name: str | None = None,
        *,
        subresource: str | None = None,
        group: str = GROUP,
        version: str = VERSION,
    ) -> str:
        """The URL path of a collection or an object (``namespace=None``: cluster-wide)."""
        path = f"/apis/{group}/{version}" if group else f"/api/{version}"
        if namespace:
            path += f"/namespaces/{quote(namespace, safe='')}"
        path += f"/{plural}"
        if name is not None:
            path += f"/{quote(name, safe='')}"
        if subresource:
            path += f"/{subresource}"
        return path

    def get(self, plural: str, name: str, namespace: str | None = None) -> JSON:
        """One object (``namespace=None`` for cluster-scoped kinds)."""
        return self._object("GET", self.path(plural, namespace, name))

    def list(
        self, plural: str, namespace: str | None = None, *, label_selector: str | None = None
    ) -> list[JSON]:
        """The items of a collection; ``namespace=None`` lists every namespace."""
        query = {"labelSelector": label_selector} if label_selector else None
        answer = self._object("GET", self.path(plural, namespace), query=query)
        items = answer.get("items") or []
        return [item for item in items if isinstance(item, dict)]

    def create(self, plural: str, namespace: str, body: JSON) -> JSON:
        """Create an object in ``namespace``."""
        query = {"fieldManager": FIELD_MANAGER}
        return self._object("POST", self.path(plural, namespace), query=query, body=body)

    def patch(
        self, plural: str, namespace: str, name: str, patch: JSON, *, status: bool = False
    ) -> JSON:
        """Merge-patch an object (its ``status`` subresource with ``status=True``)."""
        path = self.path(plural, namespace, name, subresource="status" if status else None)
        return self._object(
            "PATCH",
            path,
            query={"fieldManager": FIELD_MANAGER},
            body=patch,
            content_type="application/merge-patch+json",
        )

    def _object(self, method: str, path: str, **kwargs: Any) -> JSON:
        answer = self.request(method, path, **kwargs)
        if not isinstance(answer, dict):
            raise UnreachableError(f"the API server answered {method} {path} with no object")
        return answer

    # -- requests -----------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str] | None = None,
        body: Any = None,
        content_type: str = "application/json",
    ) -> Any:
        """Send one request and return the decoded JSON answer (raises, see the module doc)."""
        url = self._prefix + path + (f"?{urlencode(query)}" if query else "")
        payload = None if body is None else json.dumps(body).encode()
        retried_auth = False
        while True:
            status, reason, data = self._send(method, url, payload, content_type)
            if status == 401 and not retried_auth and self._credentials.forget():
                retried_auth = True
                self.close()
                continue
            break
        if status >= 400:
            raise _api_error(status, reason, data)
        if not data:
            return None
        try:
            return json.loads(data)
        except ValueError:
            raise UnreachableError(
                f"the API server's answer to {method} {path} is not JSON (HTTP {status})"
            ) from None

    def _send(
        self, method: str, url: str, payload: bytes | None, content_type: str
    ) -> tuple[int, str, bytes]:
        headers = {
            "Accept": "application/json",
            "User-Agent": f"shunter-cli/{__version__}",
        }
        token = self._credentials.bearer_token()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if payload is not None:
            headers["Content-Type"] = content_type
        reused = self._connection is not None
        try:
            connection = self._connect()
            try:
                connection.request(method, url, body=payload, headers=headers)
                response = connection.getresponse()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # The server closed an idle kept-alive connection: retry once, on a new one,
                # if doing the request twice cannot do harm.
                self.close()
                if not reused or method not in _IDEMPOTENT:
                    raise
                connection = self._connect()
                connection.request(method, url, body=payload, headers=headers)
                response = connection.getresponse()
            data = response.read()
            if response.will_close:
                self.close()
            return response.status, response.reason, data
        except ssl.SSLCertVerificationError as exc:
            self.close()
            raise UnreachableError(
                f"the API server's TLS certificate is not trusted ({exc.verify_message}); check "
                f"certificate-authority in the kubeconfig ({self.access.source})"
            ) from None
        except TimeoutError:
            self.close()
            raise UnreachableError(
                f"no answer from {self.access.server} within {self.timeout:g}s"
            ) from None
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            detail = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
            raise UnreachableError(f"{self.access.server}: {detail}") from None

    def _connect(self) -> http.client.HTTPConnection:
        if self._connection is not None:
            return self._connection
        if self._scheme == "http":
            connection = http.client.HTTPConnection(self._host, self._port, timeout=self.timeout)
        else:
            connection = _Connection(
                self._host,
                self._port,
                context=self._ssl_context(),
                server_name=self.access.tls_server_name,
                timeout=self.timeout,
            )
        self._connection = connection
        return connection

    def _ssl_context(self) -> ssl.SSLContext:
        access = self.access
        if access.insecure:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        elif access.ca_pem:
            try:
                context = ssl.create_default_context(cadata=access.ca_pem)
            except ssl.SSLError as exc:
                raise UnreachableError(
                    f"the certificate-authority of {access.source} is not a PEM certificate "
                    f"({exc.reason or exc})"
                ) from None
        else:
            context = ssl.create_default_context()
        certificate = self._credentials.client_certificate()
        if certificate is not None:
            try:
                _load_client_certificate(context, certificate)
            except (ssl.SSLError, OSError) as exc:
                reason = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or exc
                raise UnreachableError(
                    f"the client certificate or key of {access.source} cannot be used ({reason})"
                ) from None
        return context

    def close(self) -> None:
        """Close the kept-alive connection (a later request opens a new one)."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def _api_error(status: int, reason: str, data: bytes) -> ApiError:
    message = ""
    api_reason = reason
    try:
        answer = json.loads(data)
    except ValueError:
        answer = None
    if isinstance(answer, dict):
        message = str(answer.get("message") or "")
        api_reason = str(answer.get("reason") or reason)
    elif data:
        message = data.decode("utf-8", "replace").strip()[:300]
    error_type = {404: NotFoundError, 409: ConflictError}.get(status, ApiError)
    return error_type(status, api_reason, message)
