"""An httpx transport that refuses to connect to link-local addresses.

Owns :func:`safe_async_client`. Steps that send requests to user-given URLs (``http``) use it
so that a Promotion cannot reach a cloud metadata endpoint such as ``169.254.169.254``: the
host (or the proxy's host) is resolved first and the connection goes to the first resolved
address that is not link-local (``169.254.0.0/16``, ``fe80::/10``); a host that resolves only
to link-local addresses is refused, as Kargo's safe dialer does. Because the check happens at
connect time on the address actually dialled, DNS rebinding cannot get around it.

Without an explicit proxy the usual ``HTTP(S)_PROXY`` / ``NO_PROXY`` environment variables
apply, except for loopback hosts, which are never proxied (Go's rule).
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import urllib.parse
import urllib.request
from collections.abc import AsyncIterator, Iterable

import anyio
import certifi
import httpcore
import httpx

__all__ = ["LinkLocalRefusedError", "environment_proxy", "safe_async_client"]


class LinkLocalRefusedError(httpcore.ConnectError):
    """The host resolves only to link-local addresses."""


def _is_link_local(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.split("%", 1)[0]).is_link_local
    except ValueError:
        return False


class _SafeBackend(httpcore.AsyncNetworkBackend):
    def __init__(self) -> None:
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's backend interface
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            with anyio.fail_after(timeout):
                infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"timed out resolving {host!r}") from None
        except OSError as exc:
            raise httpcore.ConnectError(f"failed to resolve host {host!r}: {exc}") from None
        addresses = [str(info[4][0]) for info in infos]
        safe = [a for a in addresses if not _is_link_local(a)]
        if not safe:
            raise LinkLocalRefusedError(
                "connections to link-local addresses are not permitted "
                f"(host {host!r} resolved to link-local IPs only)"
            )
        return await self._inner.connect_tcp(
            safe[0],
            port,
            timeout=timeout,
            local_address=local_address,
            socket_options=socket_options,
        )

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's backend interface
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are not allowed")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def _ssl_context(verify: bool) -> ssl.SSLContext:
    if not verify:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    context = ssl.create_default_context()
    if not context.cert_store_stats().get("x509_ca"):
        context.load_verify_locations(cafile=certifi.where())
    return context


class _ResponseStream(httpx.AsyncByteStream):
    def __init__(self, response: httpcore.Response) -> None:
        self._response = response

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._response.aiter_stream():
                yield chunk
        except httpcore.TimeoutException as exc:
            raise httpx.ReadTimeout(str(exc)) from exc
        except httpcore.NetworkError as exc:
            raise httpx.ReadError(str(exc)) from exc
        except httpcore.ProtocolError as exc:
            raise httpx.RemoteProtocolError(str(exc)) from exc

    async def aclose(self) -> None:
        await self._response.aclose()


class _SafeTransport(httpx.AsyncBaseTransport):
    def __init__(self, *, verify: bool, proxy: str | None) -> None:
        context = _ssl_context(verify)
        backend = _SafeBackend()
        self._pool: httpcore.AsyncConnectionPool
        if proxy:
            parts = urllib.parse.urlsplit(proxy)
            auth = None
            if parts.username is not None:
                auth = (
                    urllib.parse.unquote(parts.username),
                    urllib.parse.unquote(parts.password or ""),
                )
            host = parts.hostname or ""
            netloc = f"[{host}]" if ":" in host else host
            if parts.port:
                netloc += f":{parts.port}"
            self._pool = httpcore.AsyncHTTPProxy(
                proxy_url=f"{parts.scheme}://{netloc}",
                proxy_auth=auth,
                ssl_context=context,
                proxy_ssl_context=_ssl_context(True) if parts.scheme == "https" else None,
                network_backend=backend,
            )
        else:
            self._pool = httpcore.AsyncConnectionPool(ssl_context=context, network_backend=backend)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if not isinstance(request.stream, httpx.AsyncByteStream):
            raise TypeError("an async request body is required")
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        try:
            response = await self._pool.handle_async_request(core_request)
        except httpcore.TimeoutException as exc:
            raise httpx.TimeoutException(str(exc), request=request) from exc
        except (httpcore.ConnectError, httpcore.NetworkError) as exc:
            raise httpx.ConnectError(str(exc), request=request) from exc
        except httpcore.ProtocolError as exc:
            raise httpx.RemoteProtocolError(str(exc), request=request) from exc
        except httpcore.UnsupportedProtocol as exc:
            raise httpx.UnsupportedProtocol(str(exc), request=request) from exc
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_ResponseStream(response),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self._pool.aclose()


def environment_proxy(url: httpx.URL) -> str | None:
    """The proxy the environment sets for ``url`` (never for loopback hosts)."""
    host = url.host
    try:
        if ipaddress.ip_address(host).is_loopback:
            return None
    except ValueError:
        if host == "localhost" or host.endswith(".localhost"):
            return None
    proxies = urllib.request.getproxies()
    proxy = proxies.get(url.scheme)
    if not proxy or urllib.request.proxy_bypass(host):
        return None
    return proxy


def safe_async_client(
    *, verify: bool, proxy: str | None, timeout: float, max_redirects: int = 10
) -> httpx.AsyncClient:
    """An AsyncClient on the link-local-refusing transport, following up to 10 redirects."""
    return httpx.AsyncClient(
        transport=_SafeTransport(verify=verify, proxy=proxy),
        timeout=httpx.Timeout(timeout),
        trust_env=False,
        follow_redirects=True,
        max_redirects=max_redirects,
    )
