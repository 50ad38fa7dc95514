"""Helm chart discovery: classic HTTP(S) chart repositories and ``oci://`` repositories.

* Classic repositories: ``<repoURL>/index.yaml`` is downloaded (Basic credentials when the
  project has some; over plain HTTP only to loopback hosts unless allowed) and the versions of
  chart ``name`` are read. The parsed index (versions per chart only) is shared by concurrent
  callers and reused for ``max_age`` seconds, like image tag listings. A chart missing from the
  index is "nothing discovered", not an error.
* OCI repositories: the versions are the tags of the chart's repository (through the shared,
  cached tag listing of :class:`~shunter.registries.oci.OCIClient`), with Helm's ``_`` turned
  back into ``+``; only strict semantic versions count.

Then, as in Kargo: versions that parse as semantic versions and satisfy ``semverConstraint``,
newest first (equal versions by original text, descending), at most ``discoveryLimit``.
:func:`version_selected` says whether a pushed version would be considered at all (what a
webhook receiver checks before refreshing a Warehouse): it parses as a version and satisfies the
constraint.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from urllib.parse import urlsplit

import httpx
import yaml

from shunter import metrics
from shunter.api.v1alpha1.warehouse import ChartDiscoveryResult, ChartSubscription
from shunter.registries.auth import BasicCredentials, basic_header, is_loopback_host
from shunter.registries.cache import SingleFlightCache
from shunter.registries.errors import (
    AuthenticationError,
    InvalidSubscriptionError,
    ProtocolError,
    RateLimitedError,
    RepositoryNotFoundError,
    UnreachableError,
)
from shunter.registries.oci import USER_AGENT, OCIClient, identity_of, parse_repository
from shunter.registries.semver import (
    Version,
    parse_strict_version,
    parse_version,
    sort_descending,
    subscription_constraint,
)

__all__ = ["ChartDiscoverer", "parse_chart_index", "version_selected"]

_Index = Mapping[str, tuple[str, ...]]


def parse_chart_index(data: bytes) -> dict[str, tuple[str, ...]]:
    """Chart name -> versions listed in a repository's ``index.yaml`` (safe YAML loading)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        document = yaml.load(data, Loader=loader)  # noqa: S506 - a safe loader
    except yaml.YAMLError as error:
        raise ValueError(f"invalid YAML: {error}") from None
    entries = document.get("entries") if isinstance(document, Mapping) else None
    index: dict[str, tuple[str, ...]] = {}
    for name, versions in (entries or {}).items() if isinstance(entries, Mapping) else ():
        found = []
        for entry in versions if isinstance(versions, list) else ():
            version = entry.get("version") if isinstance(entry, Mapping) else None
            if isinstance(version, str):
                found.append(version)
        index[str(name)] = tuple(found)
    return index


class ChartDiscoverer:
    """Discovers chart versions; shares the registry client's HTTP clients and rate limits."""

    def __init__(self, oci: OCIClient) -> None:
        self.oci = oci
        self.settings = oci.settings
        self.indexes: SingleFlightCache[tuple[str, str, bool], _Index] = SingleFlightCache(1024)

    async def _fetch_index(
        self, url: str, creds: BasicCredentials | None, insecure: bool
    ) -> _Index:
        parts = urlsplit(url)
        host = parts.netloc
        headers = {"User-Agent": USER_AGENT}
        if creds is not None:
            may_send = (
                parts.scheme == "https"
                or is_loopback_host(host)
                or self.settings.allow_credentials_over_http
            )
            if not may_send:
                raise AuthenticationError(
                    f"refusing to send credentials over plain HTTP to {host} (enable "
                    "allow_credentials_over_http to allow it)",
                    host=host,
                )
            headers["Authorization"] = basic_header(creds)
        await self.oci.limiters.acquire(host)
        client = self.oci.http_client(insecure)
        limit = self.settings.max_chart_index_bytes
        try:
            async with client.stream("GET", url, headers=headers, follow_redirects=True) as reply:
                chunks: list[bytes] = []
                size = 0
                if reply.status_code == 200:
                    async for chunk in reply.aiter_bytes():
                        size += len(chunk)
                        if size > limit:
                            raise ProtocolError(
                                f"chart index {url} is larger than {limit} bytes", host=host
                            )
                        chunks.append(chunk)
                status = reply.status_code
                retry_after = reply.headers.get("Retry-After", "")
        except httpx.TimeoutException:
            metrics.count_registry_request(host, None)
            raise UnreachableError(f"chart repository {host} timed out", host=host) from None
        except httpx.TransportError as error:
            metrics.count_registry_request(host, None)
            text = " ".join(str(error).split())[:200] or type(error).__name__
            raise UnreachableError(
                f"chart repository {host} is unreachable ({text})", host=host
            ) from None
        metrics.count_registry_request(host, status)
        self._check_status(status, url, host, creds, retry_after)
        try:
            return await asyncio.to_thread(parse_chart_index, b"".join(chunks))
        except ValueError as error:
            raise ProtocolError(f"chart index {url} is not valid: {error}", host=host) from None

    def _check_status(
        self,
        status: int,
        url: str,
        host: str,
        creds: BasicCredentials | None,
        retry_after: str,
    ) -> None:
        if status == 200:
            return
        if status in (401, 403):
            who = f"the credentials of user {creds.username!r}" if creds else "anonymous access"
            raise AuthenticationError(
                f"chart repository {host} refused {who} (HTTP {status} for {url})",
                host=host,
                status=status,
            )
        if status == 404:
            raise RepositoryNotFoundError(
                f"chart repository index {url} not found (HTTP 404)", host=host, status=status
            )
        if status == 429:
            pause = (
                float(retry_after)
                if retry_after.isascii() and retry_after.isdigit()
                else self.settings.rate_limited_pause
            )
            self.oci.limiters.for_host(host).pause(pause)
            raise RateLimitedError(
                f"chart repository {host} is rate limiting requests (HTTP 429)",
                host=host,
                retry_after=pause,
            )
        if status in (502, 503, 504):
            raise UnreachableError(
                f"chart repository {host} is unavailable (HTTP {status})", host=host, status=status
            )
        raise ProtocolError(
            f"chart repository {host} answered HTTP {status} for {url}", host=host, status=status
        )

    async def _versions(
        self, sub: ChartSubscription, creds: BasicCredentials | None, max_age: float
    ) -> list[Version]:
        insecure = bool(sub.insecure_skip_tls_verify)
        if sub.repo_url.startswith("oci://"):
            repo = parse_repository(sub.repo_url, insecure_skip_tls_verify=insecure)
            tags = await self.oci.list_tags(repo, creds, max_age=max_age)
            versions = [parse_strict_version(tag.replace("_", "+")) for tag in tags]
            return [v for v in versions if v is not None]
        if not sub.name:
            raise InvalidSubscriptionError("a chart from an http(s) repository needs a name")
        url = sub.repo_url.removesuffix("/") + "/index.yaml"
        key = (url, identity_of(creds), insecure)
        age = min(max_age, self.settings.chart_index_max_age)
        index = await self.indexes.get(
            key, lambda: self._fetch_index(url, creds, insecure), max_age=age
        )
        parsed = [parse_version(text) for text in index.get(sub.name, ())]
        return [v for v in parsed if v is not None]

    async def discover(
        self,
        sub: ChartSubscription,
        creds: BasicCredentials | None = None,
        *,
        subscription_name: str | None = None,
        max_age: float | None = None,
    ) -> ChartDiscoveryResult:
        """The versions a chart subscription discovers, newest first.

        Raises:
            InvalidSubscriptionError, RemoteError: see :mod:`shunter.registries.errors`.
        """
        constraint = subscription_constraint(sub.semver_constraint, "semverConstraint")
        age = self.settings.chart_index_max_age if max_age is None else max_age
        versions = await self._versions(sub, creds, age)
        if constraint is not None:
            versions = [v for v in versions if constraint.check(v)]
        ordered = sort_descending(versions, _identity)
        return ChartDiscoveryResult(
            repoURL=sub.repo_url,
            name=sub.name,
            semver_constraint=sub.semver_constraint,
            subscription_name=subscription_name,
            versions=[v.original for v in ordered[: sub.discovery_limit]],
        )


def _identity(version: Version) -> Version:
    return version


def version_selected(sub: ChartSubscription, version: str) -> bool:
    """Whether the subscription would consider ``version`` (Kargo's ``MatchesVersion``: a
    version as Masterminds' ``NewVersion`` parses it, within ``semverConstraint``).

    Raises:
        InvalidSubscriptionError: a bad constraint.
    """
    constraint = subscription_constraint(sub.semver_constraint, "semverConstraint")
    parsed = parse_version(version)
    return parsed is not None and (constraint is None or constraint.check(parsed))
