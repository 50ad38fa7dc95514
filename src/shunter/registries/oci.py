"""An async OCI distribution (registry API v2) client for discovery: tags, manifests, blobs.

What it does, per request:

1. Resolve the registry endpoint once per host (cached ``ping_max_age``): ``GET /v2/`` over
   HTTPS; for loopback and RFC 1918 hosts, or with ``insecureSkipTLSVerify``, fall back to plain
   HTTP when HTTPS cannot connect (go-containerregistry's rule). The answer tells the auth scheme.
2. Authenticate: nothing (anonymous), ``Basic`` (credentials from the subscription's
   :class:`~shunter.registries.auth.BasicCredentials`), or a ``Bearer`` token from the challenge's
   realm for ``repository:<name>:pull`` (cached per host, scope and credentials until shortly
   before it expires). Credentials are never sent over plain HTTP to a non-loopback host unless
   ``allow_credentials_over_http``.
3. Take a token from the host's rate limiter, send, and map failures to
   :mod:`shunter.registries.errors` classes (401/403 auth, 404 not found, connection/TLS/timeout/
   502/503/504 unreachable, 429 rate limited - which also pauses the host).

On top of that:

* :meth:`OCIClient.list_tags`: every tag (``Link`` pagination), through a process-wide
  single-flight cache keyed by (host, repository, credentials identity): concurrent callers share
  one listing, later callers reuse it while it is younger than their ``max_age``.
* :meth:`OCIClient.head_manifest` (a tag's digest; ``HEAD`` is free of Docker Hub's pull
  limits), :meth:`OCIClient.get_manifest` (digest-verified) and :meth:`OCIClient.get_json_blob`
  (image configs): raw material for :mod:`shunter.registries.metadata`, which caches by digest.
* For the ``oci-download`` / ``oci-push`` steps: :meth:`OCIClient.download_blob` (streamed to a
  file, size-capped, digest-verified), :meth:`OCIClient.blob_exists`,
  :meth:`OCIClient.mount_blob`, :meth:`OCIClient.upload_blob` and :meth:`OCIClient.put_manifest`
  (token scope ``repository:<name>:pull,push``).

Docker Hub names are normalised (``nginx`` -> ``registry-1.docker.io``, ``library/nginx``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import ssl
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import IO, Any
from urllib.parse import urljoin, urlsplit

import certifi
import httpx

from shunter import metrics
from shunter.freight.urls import parse_image_reference, sanitize_url
from shunter.registries.auth import (
    BasicCredentials,
    BearerToken,
    Challenge,
    basic_header,
    is_loopback_host,
    is_private_host,
    parse_challenges,
    parse_token_response,
    pick_challenge,
    repository_scope,
)
from shunter.registries.cache import SingleFlightCache, credentials_identity
from shunter.registries.errors import (
    AuthenticationError,
    InvalidSubscriptionError,
    ProtocolError,
    RateLimitedError,
    RepositoryNotFoundError,
    UnreachableError,
)
from shunter.registries.ratelimit import RateLimiters
from shunter.registries.settings import DiscoverySettings

__all__ = [
    "DIGEST_PATTERN",
    "DOCKER_HUB_API_HOST",
    "DOCKER_MANIFEST",
    "DOCKER_MANIFEST_LIST",
    "MANIFEST_ACCEPT",
    "OCI_INDEX",
    "OCI_MANIFEST",
    "USER_AGENT",
    "Manifest",
    "OCIClient",
    "Repository",
    "identity_of",
    "parse_repository",
]

_log = logging.getLogger("shunter.registries.oci")

USER_AGENT = "shunter-discovery/1"
DOCKER_HUB_API_HOST = "registry-1.docker.io"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MANIFEST_ACCEPT = ", ".join([OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_MANIFEST_LIST])
DIGEST_PATTERN = re.compile(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$")
# The distribution spec's grammar (go-containerregistry's weak parser accepts more).
_REGISTRY_NAME = re.compile(
    r"^(?:[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?|\[[0-9a-f:.]+\])(?::[0-9]{1,5})?$"
)
_REPOSITORY_NAME = re.compile(
    r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$"
)
_BODY_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding"})
_MAX_TAG_PAGES = 100_000
_MAX_ERROR_TEXT = 200
#: A request body: bytes, or a factory of a fresh byte stream (called once per attempt).
RequestBody = bytes | Callable[[], AsyncIterator[bytes]]
_HTTP_FALLBACK_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout, httpx.RemoteProtocolError)


# -- names -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Repository:
    """An image (or OCI chart) repository: API host, repository path, TLS verification."""

    host: str
    name: str
    insecure_skip_tls_verify: bool = False

    def __str__(self) -> str:
        return f"{self.host}/{self.name}"


def parse_repository(repo_url: str, *, insecure_skip_tls_verify: bool = False) -> Repository:
    """The repository behind an image ``repoURL`` (or an ``oci://`` chart URL).

    Raises:
        InvalidSubscriptionError: not a valid repository reference.
    """
    text = sanitize_url(repo_url.lower()).removeprefix("oci://")
    reference = parse_image_reference(text)
    if (
        reference is None
        or not _REGISTRY_NAME.match(reference.registry)
        or not _REPOSITORY_NAME.match(reference.repository)
    ):
        raise InvalidSubscriptionError(f"{repo_url!r} is not a valid image repository")
    host = DOCKER_HUB_API_HOST if reference.is_docker_hub else reference.registry
    return Repository(host, reference.repository, insecure_skip_tls_verify)


# -- the client --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Endpoint:
    base_url: str
    challenge: Challenge | None

    @property
    def plain_http(self) -> bool:
        return self.base_url.startswith("http://")


@dataclass(frozen=True)
class Manifest:
    """A manifest as the registry stores it."""

    digest: str
    media_type: str
    body: bytes = field(repr=False)


def _error_summary(response: httpx.Response) -> str:
    """``CODE: message`` from a registry error body, short and single-line."""
    try:
        body = json.loads(response.content or b"null")
    except ValueError:
        body = None
    if isinstance(body, Mapping):
        errors = body.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], Mapping):
            first = errors[0]
            text = f"{first.get('code', '')}: {first.get('message', '')}".strip(": ")
            return " ".join(text.split())[:_MAX_ERROR_TEXT]
    return ""


def _error_codes(response: httpx.Response) -> set[str]:
    try:
        body = json.loads(response.content or b"null")
    except ValueError:
        return set()
    if not isinstance(body, Mapping) or not isinstance(body.get("errors"), list):
        return set()
    return {str(e.get("code")) for e in body["errors"] if isinstance(e, Mapping)}


def identity_of(creds: BasicCredentials | None) -> str:
    """The cache-key identity of optional credentials."""
    if creds is None:
        return credentials_identity(None, None)
    return credentials_identity(creds.username, creds.password.get_secret_value())


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After", "").strip()
    if value.isascii() and value.isdigit():
        return float(value)
    return None


class OCIClient:
    """Tag listings and image metadata from OCI registries; one per process (see module doc).

    Args:
        settings: operator-wide discovery settings.
        limiters: per-host rate limiters (shared with other clients of the same registries).
        transport: an httpx transport to use instead of the network (tests of odd registries).
    """

    def __init__(
        self,
        settings: DiscoverySettings | None = None,
        limiters: RateLimiters | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.settings = settings or DiscoverySettings()
        self.limiters = limiters or RateLimiters(
            self.settings.rate_limit, dict(self.settings.rate_limits_per_host)
        )
        self._transport = transport
        self._clients: dict[bool, httpx.AsyncClient] = {}
        self.endpoints: SingleFlightCache[tuple[str, bool], _Endpoint] = SingleFlightCache(1024)
        self.tokens: SingleFlightCache[tuple[str, str, str, str], BearerToken] = SingleFlightCache(
            10_000
        )
        self.tags: SingleFlightCache[tuple[str, str, str, bool], tuple[str, ...]] = (
            SingleFlightCache(10_000)
        )

    async def aclose(self) -> None:
        clients, self._clients = self._clients, {}
        for client in clients.values():
            await client.aclose()

    # -- HTTP plumbing ---------------------------------------------------------------------

    def _ssl_context(self, insecure: bool) -> ssl.SSLContext | bool:
        if insecure:
            return False
        context = ssl.create_default_context(cafile=certifi.where())
        if self.settings.ca_bundle is not None:
            context.load_verify_locations(cafile=str(self.settings.ca_bundle))
        return context

    def http_client(self, insecure: bool = False) -> httpx.AsyncClient:
        """The shared HTTP client (TLS verification off when ``insecure``)."""
        client = self._clients.get(insecure)
        if client is None:
            timeout = httpx.Timeout(self.settings.request_timeout)
            if self._transport is not None:
                client = httpx.AsyncClient(transport=self._transport, timeout=timeout)
            else:
                client = httpx.AsyncClient(
                    verify=self._ssl_context(insecure),
                    timeout=timeout,
                    limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
                )
            self._clients[insecure] = client
        return client

    async def _send(
        self,
        insecure: bool,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        params: Mapping[str, str] | None = None,
        max_bytes: int,
        rate_host: str,
        content: RequestBody | None = None,
        sink: Callable[[bytes], None] | None = None,
    ) -> httpx.Response:
        """One rate-limited request with a bounded body (transport errors propagate).

        ``content`` is sent as the request body (a callable is asked for a fresh stream). With
        ``sink``, the raw body of a 2xx answer goes to it chunk by chunk instead of the response.
        """
        await self.limiters.acquire(rate_host)
        client = self.http_client(insecure)
        body: bytes | AsyncIterator[bytes] | None = content() if callable(content) else content
        request = client.build_request(
            method,
            url,
            headers={"User-Agent": USER_AGENT, **headers},
            params=params,
            content=body,
        )
        try:
            response = await client.send(request, stream=True, follow_redirects=True)
        except httpx.TransportError:
            metrics.count_registry_request(rate_host, None)
            raise
        metrics.count_registry_request(rate_host, response.status_code)
        try:
            chunks: list[bytes] = []
            size = 0
            streaming = sink is not None and 200 <= response.status_code < 300
            chunk_source = response.aiter_raw() if streaming else response.aiter_bytes()
            async for chunk in chunk_source:
                size += len(chunk)
                if size > max_bytes:
                    raise ProtocolError(
                        f"{method} {urlsplit(url).path} on {rate_host} answered more than "
                        f"{max_bytes} bytes",
                        host=rate_host,
                    )
                if streaming and sink is not None:
                    sink(chunk)
                else:
                    chunks.append(chunk)
        finally:
            await response.aclose()
        # The body is already decoded: rebuild the response without the transfer headers.
        kept = [
            (name, value)
            for name, value in response.headers.multi_items()
            if name.lower() not in _BODY_HEADERS
        ]
        response = httpx.Response(
            response.status_code,
            headers=kept,
            content=b"".join(chunks),
            request=response.request,
        )
        if response.status_code == 429:
            pause = _retry_after(response) or self.settings.rate_limited_pause
            self.limiters.for_host(rate_host).pause(pause)
            raise RateLimitedError(
                f"registry {rate_host} is rate limiting requests (HTTP 429); pausing it for "
                f"{pause:g}s",
                host=rate_host,
                retry_after=pause,
            )
        return response

    def _http_capable(self, host: str, insecure: bool) -> bool:
        return insecure or is_loopback_host(host) or is_private_host(host)

    async def _ping(self, host: str, insecure: bool) -> _Endpoint:
        schemes = ["https", "http"] if self._http_capable(host, insecure) else ["https"]
        failures: list[str] = []
        for scheme in schemes:
            url = f"{scheme}://{host}/v2/"
            try:
                response = await self._send(
                    insecure, "GET", url, headers={}, max_bytes=64 * 1024, rate_host=host
                )
            except _HTTP_FALLBACK_ERRORS as error:
                failures.append(f"{scheme}: {_transport_error_text(error)}")
                continue
            except httpx.TimeoutException:
                failures.append(f"{scheme}: timed out")
                continue
            except httpx.TransportError as error:
                failures.append(f"{scheme}: {_transport_error_text(error)}")
                continue
            if response.status_code == 200:
                return _Endpoint(f"{scheme}://{host}", None)
            if response.status_code == 401:
                challenge = pick_challenge(
                    parse_challenges(response.headers.get("WWW-Authenticate", ""))
                )
                return _Endpoint(f"{scheme}://{host}", challenge)
            self._raise_for_status(response, host, "/v2/", "ping")
        raise UnreachableError(f"registry {host} is unreachable ({'; '.join(failures)})", host=host)

    async def _endpoint(self, repo: Repository) -> _Endpoint:
        key = (repo.host, repo.insecure_skip_tls_verify)
        return await self.endpoints.get(
            key,
            lambda: self._ping(repo.host, repo.insecure_skip_tls_verify),
            max_age=self.settings.ping_max_age,
        )

    def _may_send_credentials(self, url: str) -> bool:
        parts = urlsplit(url)
        if parts.scheme == "https":
            return True
        return is_loopback_host(parts.netloc) or self.settings.allow_credentials_over_http

    def _refuse_plain_http(self, url: str) -> AuthenticationError:
        host = urlsplit(url).netloc
        return AuthenticationError(
            f"refusing to send credentials over plain HTTP to {host} (enable "
            "allow_credentials_over_http to allow it)",
            host=host,
        )

    async def _fetch_token(
        self,
        repo: Repository,
        challenge: Challenge,
        scope: str,
        creds: BasicCredentials | None,
    ) -> BearerToken:
        realm = challenge.realm or ""
        parts = urlsplit(realm)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ProtocolError(
                f"registry {repo.host} announced an unusable token realm", host=repo.host
            )
        headers: dict[str, str] = {}
        if creds is not None:
            if not self._may_send_credentials(realm):
                raise self._refuse_plain_http(realm)
            headers["Authorization"] = basic_header(creds)
        params = {"scope": scope}
        if "service" in challenge.params:
            params["service"] = challenge.params["service"]
        try:
            response = await self._send(
                repo.insecure_skip_tls_verify,
                "GET",
                realm,
                headers=headers,
                params=params,
                max_bytes=1024 * 1024,
                rate_host=parts.netloc,
            )
        except httpx.TimeoutException:
            raise UnreachableError(
                f"token service {parts.netloc} of registry {repo.host} timed out",
                host=parts.netloc,
            ) from None
        except httpx.TransportError as error:
            raise UnreachableError(
                f"token service {parts.netloc} of registry {repo.host} is unreachable "
                f"({_transport_error_text(error)})",
                host=parts.netloc,
            ) from None
        if response.status_code in (401, 403):
            raise self._auth_error(repo, creds, response.status_code, "the token service")
        if response.status_code != 200:
            self._raise_for_status(response, parts.netloc, parts.path, "token")
        try:
            return parse_token_response(json.loads(response.content), time.monotonic())
        except ValueError as error:
            raise ProtocolError(
                f"token service {parts.netloc} answered badly: {error}", host=parts.netloc
            ) from None

    async def _token(
        self,
        repo: Repository,
        challenge: Challenge,
        scope: str,
        creds: BasicCredentials | None,
    ) -> BearerToken:
        identity = identity_of(creds)
        key = (challenge.realm or "", challenge.params.get("service", ""), scope, identity)
        token = await self.tokens.get(key, lambda: self._fetch_token(repo, challenge, scope, creds))
        if token.usable_until <= time.monotonic():
            self.tokens.invalidate(key)
            token = await self.tokens.get(
                key, lambda: self._fetch_token(repo, challenge, scope, creds)
            )
        return token

    def _auth_error(
        self, repo: Repository, creds: BasicCredentials | None, status: int, who: str
    ) -> AuthenticationError:
        if creds is None:
            message = (
                f"registry {repo.host} requires credentials for repository {repo.name} and none "
                f"are configured (HTTP {status} from {who})"
            )
        else:
            message = (
                f"registry {repo.host} refused the credentials of user {creds.username!r} for "
                f"repository {repo.name} (HTTP {status} from {who})"
            )
        return AuthenticationError(message, host=repo.host, status=status)

    async def _authorization(
        self,
        repo: Repository,
        endpoint: _Endpoint,
        creds: BasicCredentials | None,
        scope: str,
    ) -> str | None:
        challenge = endpoint.challenge
        if challenge is None or (creds is None and challenge.scheme == "basic"):
            return None
        if challenge.scheme == "basic" and creds is not None:
            if not self._may_send_credentials(endpoint.base_url):
                raise self._refuse_plain_http(endpoint.base_url)
            return basic_header(creds)
        if challenge.scheme == "bearer":
            token = await self._token(repo, challenge, scope, creds)
            return f"Bearer {token.token}"
        return None

    async def _request(
        self,
        repo: Repository,
        creds: BasicCredentials | None,
        method: str,
        path: str,
        *,
        accept: str | None = None,
        params: Mapping[str, str] | None = None,
        max_bytes: int,
        absolute_url: str | None = None,
        actions: str = "pull",
        content: RequestBody | None = None,
        content_type: str | None = None,
        sink: Callable[[bytes], None] | None = None,
    ) -> httpx.Response:
        """An authenticated request to ``repo``'s registry; re-authenticates once on 401.

        ``actions`` is the token scope's action list (``pull`` or ``pull,push``); ``content``,
        ``content_type`` and ``sink`` are passed to :meth:`_send`.
        """
        endpoint = await self._endpoint(repo)
        scope = repository_scope(repo.name, actions)
        url = absolute_url or f"{endpoint.base_url}{path}"
        for attempt in range(2):
            headers: dict[str, str] = {}
            if accept:
                headers["Accept"] = accept
            if content_type:
                headers["Content-Type"] = content_type
            authorization = await self._authorization(repo, endpoint, creds, scope)
            if authorization:
                headers["Authorization"] = authorization
            try:
                response = await self._send(
                    repo.insecure_skip_tls_verify,
                    method,
                    url,
                    headers=headers,
                    params=params,
                    max_bytes=max_bytes,
                    rate_host=repo.host,
                    content=content,
                    sink=sink,
                )
            except httpx.TimeoutException:
                raise UnreachableError(
                    f"registry {repo.host} timed out ({method} {urlsplit(url).path})",
                    host=repo.host,
                ) from None
            except httpx.TransportError as error:
                self.endpoints.invalidate((repo.host, repo.insecure_skip_tls_verify))
                raise UnreachableError(
                    f"registry {repo.host} is unreachable ({_transport_error_text(error)})",
                    host=repo.host,
                ) from None
            if response.status_code != 401 or attempt == 1:
                return response
            # The registry wants (other) credentials: learn its challenge and try once more.
            challenge = pick_challenge(
                parse_challenges(response.headers.get("WWW-Authenticate", ""))
            )
            if challenge is None:
                return response
            if challenge.scheme == "bearer":
                scope = challenge.params.get("scope", scope)
                identity = identity_of(creds)
                self.tokens.invalidate(
                    (challenge.realm or "", challenge.params.get("service", ""), scope, identity)
                )
            elif challenge.scheme == "basic" and creds is None:
                return response
            endpoint = _Endpoint(endpoint.base_url, challenge)
            self.endpoints.put((repo.host, repo.insecure_skip_tls_verify), endpoint)
        raise AssertionError("unreachable")  # pragma: no cover

    def _raise_for_status(self, response: httpx.Response, host: str, path: str, what: str) -> None:
        status = response.status_code
        summary = _error_summary(response)
        detail = f" ({summary})" if summary else ""
        if status in (502, 503, 504):
            raise UnreachableError(
                f"registry {host} is unavailable: HTTP {status} for {what}{detail}",
                host=host,
                status=status,
            )
        raise ProtocolError(
            f"registry {host} answered HTTP {status} for {what} {path}{detail}",
            host=host,
            status=status,
        )

    def _check(
        self,
        response: httpx.Response,
        repo: Repository,
        creds: BasicCredentials | None,
        what: str,
    ) -> None:
        status = response.status_code
        if status in (200, 202):
            return
        if status in (401, 403):
            raise self._auth_error(repo, creds, status, "the registry")
        if status == 404:
            raise RepositoryNotFoundError(
                f"repository {repo.name} not found on registry {repo.host} (HTTP 404 for {what})",
                host=repo.host,
                status=404,
            )
        self._raise_for_status(response, repo.host, urlsplit(str(response.url)).path, what)

    # -- tags ------------------------------------------------------------------------------

    async def _list_tags(self, repo: Repository, creds: BasicCredentials | None) -> tuple[str, ...]:
        tags: list[str] = []
        path: str | None = f"/v2/{repo.name}/tags/list"
        next_url: str | None = None
        seen: set[str] = set()
        for _ in range(_MAX_TAG_PAGES):
            page_size = self.settings.tag_page_size
            response = await self._request(
                repo,
                creds,
                "GET",
                path or "",
                params={"n": str(page_size)} if page_size and next_url is None else None,
                max_bytes=self.settings.max_tag_list_bytes,
                absolute_url=next_url,
            )
            self._check(response, repo, creds, "the tag list")
            try:
                body = json.loads(response.content)
            except ValueError:
                raise ProtocolError(
                    f"registry {repo.host} sent an invalid tag list for {repo.name}",
                    host=repo.host,
                ) from None
            page = body.get("tags") if isinstance(body, Mapping) else None
            tags.extend(str(t) for t in page or () if isinstance(t, str))
            link = response.links.get("next", {}).get("url")
            if not link:
                return tuple(tags)
            next_url = urljoin(str(response.url), link)
            if next_url in seen:
                return tuple(tags)
            seen.add(next_url)
            path = None
        raise ProtocolError(f"registry {repo.host} paginates endlessly", host=repo.host)

    async def list_tags(
        self,
        repo: Repository,
        creds: BasicCredentials | None = None,
        *,
        max_age: float | None = None,
    ) -> tuple[str, ...]:
        """Every tag of ``repo``, from a listing at most ``max_age`` seconds old.

        ``max_age`` is capped by ``settings.tag_list_max_age``; 0 forces a new listing (shared
        with any listing already running).
        """
        limit = self.settings.tag_list_max_age
        age = limit if max_age is None else min(max_age, limit)
        identity = identity_of(creds)
        key = (repo.host, repo.name, identity, repo.insecure_skip_tls_verify)
        return await self.tags.get(key, lambda: self._list_tags(repo, creds), max_age=age)

    # -- manifests -------------------------------------------------------------------------

    async def head_manifest(
        self, repo: Repository, reference: str, creds: BasicCredentials | None = None
    ) -> str | None:
        """The digest ``reference`` points at, by ``HEAD``; ``None`` if the registry does not say
        (no such tag, HEAD unsupported, no digest header: a GET tells more)."""
        response = await self._request(
            repo,
            creds,
            "HEAD",
            f"/v2/{repo.name}/manifests/{reference}",
            accept=MANIFEST_ACCEPT,
            max_bytes=0,
        )
        if response.status_code in (404, 405, 501):
            return None  # the GET that follows tells an unknown tag from an unknown repository
        self._check(response, repo, creds, f"manifest {reference}")
        digest = response.headers.get("Docker-Content-Digest", "")
        return digest if DIGEST_PATTERN.match(digest) else None

    async def get_manifest(
        self, repo: Repository, reference: str, creds: BasicCredentials | None = None
    ) -> Manifest | None:
        """A manifest by tag or digest (digest verified); ``None`` if there is no such manifest.

        Raises:
            RepositoryNotFoundError: the repository itself does not exist.
        """
        response = await self._request(
            repo,
            creds,
            "GET",
            f"/v2/{repo.name}/manifests/{reference}",
            accept=MANIFEST_ACCEPT,
            max_bytes=self.settings.max_manifest_bytes,
        )
        if response.status_code == 404:
            if "NAME_UNKNOWN" in _error_codes(response):
                self._check(response, repo, creds, f"manifest {reference}")
            return None
        self._check(response, repo, creds, f"manifest {reference}")
        body = response.content
        computed = "sha256:" + hashlib.sha256(body).hexdigest()
        digest = response.headers.get("Docker-Content-Digest", "") or computed
        if reference.startswith("sha256:") and computed != reference:
            raise ProtocolError(
                f"registry {repo.host} sent manifest {reference} of {repo.name} with the wrong "
                "content",
                host=repo.host,
            )
        if digest.startswith("sha256:") and digest != computed:
            digest = computed
        media_type = response.headers.get("Content-Type", "").split(";")[0].strip()
        return Manifest(digest, media_type, body)

    async def get_json_blob(
        self, repo: Repository, digest: str, creds: BasicCredentials | None = None
    ) -> Mapping[str, Any]:
        """A JSON blob (an image config) by digest, verified; ``{}`` if it is not a JSON object."""
        response = await self._request(
            repo,
            creds,
            "GET",
            f"/v2/{repo.name}/blobs/{digest}",
            max_bytes=self.settings.max_config_bytes,
        )
        self._check(response, repo, creds, f"config blob {digest}")
        body = response.content
        if digest.startswith("sha256:") and "sha256:" + hashlib.sha256(body).hexdigest() != digest:
            raise ProtocolError(
                f"registry {repo.host} sent config blob {digest} with the wrong content",
                host=repo.host,
            )
        try:
            config = json.loads(body)
        except ValueError:
            return {}
        return config if isinstance(config, Mapping) else {}

    # -- blobs and manifests for promotion steps (oci-download, oci-push) -------------------

    async def download_blob(
        self,
        repo: Repository,
        digest: str,
        out: IO[bytes],
        creds: BasicCredentials | None = None,
        *,
        max_bytes: int,
    ) -> int:
        """Stream blob ``digest`` into the binary file ``out``; its size.

        Raises:
            ProtocolError: more than ``max_bytes``, or content that does not match ``digest``
                (``out`` then holds garbage: callers write to a temporary file).
        """
        algorithm, _, expected = digest.partition(":")
        if algorithm not in hashlib.algorithms_guaranteed or not expected:
            raise ProtocolError(
                f"blob digest {digest!r} uses an unsupported algorithm", host=repo.host
            )
        hasher = hashlib.new(algorithm)
        size = 0

        def sink(chunk: bytes) -> None:
            nonlocal size
            size += len(chunk)
            hasher.update(chunk)
            out.write(chunk)

        response = await self._request(
            repo,
            creds,
            "GET",
            f"/v2/{repo.name}/blobs/{digest}",
            max_bytes=max_bytes,
            sink=sink,
        )
        self._check(response, repo, creds, f"blob {digest}")
        if hasher.hexdigest() != expected:
            raise ProtocolError(
                f"registry {repo.host} sent blob {digest} of {repo.name} with the wrong content",
                host=repo.host,
            )
        return size

    async def blob_exists(
        self, repo: Repository, digest: str, creds: BasicCredentials | None = None
    ) -> bool:
        """Whether ``repo`` already holds blob ``digest`` (``HEAD``)."""
        response = await self._request(
            repo, creds, "HEAD", f"/v2/{repo.name}/blobs/{digest}", max_bytes=0, actions="pull"
        )
        if response.status_code == 404:
            return False
        self._check(response, repo, creds, f"blob {digest}")
        return True

    async def mount_blob(
        self,
        repo: Repository,
        digest: str,
        from_repo: str,
        creds: BasicCredentials | None = None,
    ) -> bool:
        """Ask the registry to link blob ``digest`` of ``from_repo`` (same host) into ``repo``;
        ``False`` if it declined (the caller then uploads)."""
        response = await self._request(
            repo,
            creds,
            "POST",
            f"/v2/{repo.name}/blobs/uploads/",
            params={"mount": digest, "from": from_repo},
            max_bytes=64 * 1024,
            actions="pull,push",
        )
        if response.status_code == 201:
            return True
        self._check(response, repo, creds, f"mount of blob {digest}")
        location = response.headers.get("Location")
        if location:  # an upload session was opened instead: close it
            await self._request(
                repo,
                creds,
                "DELETE",
                "",
                absolute_url=urljoin(str(response.url), location),
                max_bytes=64 * 1024,
                actions="pull,push",
            )
        return False

    async def upload_blob(
        self,
        repo: Repository,
        digest: str,
        content: RequestBody,
        creds: BasicCredentials | None = None,
    ) -> None:
        """Upload a blob in one request (``POST`` then monolithic ``PUT ?digest=``); the
        registry checks ``digest`` against the content."""
        response = await self._request(
            repo,
            creds,
            "POST",
            f"/v2/{repo.name}/blobs/uploads/",
            max_bytes=64 * 1024,
            actions="pull,push",
        )
        self._check(response, repo, creds, "a blob upload")
        location = response.headers.get("Location")
        if not location:
            raise ProtocolError(
                f"registry {repo.host} opened a blob upload without a Location", host=repo.host
            )
        response = await self._request(
            repo,
            creds,
            "PUT",
            "",
            # The Location keeps its own query (upload state): add the digest to it.
            absolute_url=str(
                httpx.URL(urljoin(str(response.url), location)).copy_merge_params(
                    {"digest": digest}
                )
            ),
            content=content,
            content_type="application/octet-stream",
            max_bytes=64 * 1024,
            actions="pull,push",
        )
        if response.status_code != 201:
            self._check(response, repo, creds, f"upload of blob {digest}")
            if response.status_code != 201:
                self._raise_for_status(response, repo.host, f"/v2/{repo.name}/blobs", "upload")

    async def put_manifest(
        self,
        repo: Repository,
        reference: str,
        body: bytes,
        media_type: str,
        creds: BasicCredentials | None = None,
    ) -> str:
        """Store a manifest under a tag or digest; its (sha256) digest."""
        response = await self._request(
            repo,
            creds,
            "PUT",
            f"/v2/{repo.name}/manifests/{reference}",
            content=body,
            content_type=media_type,
            max_bytes=64 * 1024,
            actions="pull,push",
        )
        if response.status_code != 201:
            self._check(response, repo, creds, f"manifest {reference}")
            if response.status_code != 201:
                self._raise_for_status(
                    response, repo.host, f"/v2/{repo.name}/manifests/{reference}", "manifest put"
                )
        return "sha256:" + hashlib.sha256(body).hexdigest()


def _transport_error_text(error: httpx.TransportError) -> str:
    text = str(error) or type(error).__name__
    text = " ".join(text.split())
    return text[:_MAX_ERROR_TEXT]
