"""Operator-wide knobs of artifact discovery (one :class:`DiscoverySettings` per process).

Defaults follow Kargo where Kargo has one (20 requests/s per registry, 100 000 cached image
metadata entries, ``cacheByTag`` allowed); the rest are chosen to keep registries calm.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from shunter.registries.ratelimit import RateLimit

__all__ = ["CacheByTagPolicy", "DiscoverySettings"]


class CacheByTagPolicy(StrEnum):
    """Operator policy over image subscriptions' ``cacheByTag`` (Kargo's CACHE_BY_TAG_POLICY)."""

    FORBID = "Forbid"  # never cache metadata by tag, whatever subscriptions say
    ALLOW = "Allow"  # subscriptions decide
    REQUIRE = "Require"  # subscriptions without cacheByTag fail discovery
    FORCE = "Force"  # always cache by tag


@dataclass(frozen=True)
class DiscoverySettings:
    """How discovery talks to registries, git servers and chart repositories.

    Attributes:
        rate_limit: requests/second and burst per registry host (every request counts:
            ping, token, tag list page, manifest, blob).
        rate_limits_per_host: overrides of ``rate_limit`` by host (``ghcr.io``,
            ``registry-1.docker.io``, ``127.0.0.1:5000``).
        tag_list_max_age: the oldest tag listing, or tag-to-image lookup, any caller gets
            from the shared caches (seconds); callers may ask for fresher (a Warehouse passes
            its interval, a refresh 0).
        chart_index_max_age: the same for classic chart repositories' ``index.yaml``.
        git_refs_max_age: the same for ``git ls-remote`` results.
        metadata_cache_entries: image metadata entries kept (by digest, and by tag where
            allowed); least recently used go first.
        metadata_concurrency: manifest/config fetches one selection runs at once.
        request_timeout: seconds for one HTTP request (connect, read, write, pool).
        tag_page_size: tags asked for per page (``n``); ``None`` lets the registry decide
            (``Link`` headers are followed either way).
        ping_max_age: seconds a registry's ``/v2/`` answer (scheme, auth challenge) is reused.
        cache_by_tag_policy: see :class:`CacheByTagPolicy`.
        allow_credentials_over_http: send credentials over plain HTTP to hosts that are not
            loopback (private-network registries reached by the HTTP fallback).
        ca_bundle: extra PEM CA certificates to trust (registries, chart repositories, git).
        rate_limited_pause: seconds a host is left alone after a 429 without ``Retry-After``.
        git_cache_dir: where discovery keeps bare git mirrors when it is given no shared
            mirror store (default: a private temporary folder); the operator shares its
            store, ``<work_dir>/mirrors``, instead.
        git_timeout: seconds one git command may run.
        max_observed_tags: above this many matching git tags, the ``ls-remote`` short-circuit
            is disabled for the subscription (Kargo's cap).
    """

    rate_limit: RateLimit = field(default_factory=RateLimit)
    rate_limits_per_host: Mapping[str, RateLimit] = field(default_factory=dict)
    tag_list_max_age: float = 300.0
    chart_index_max_age: float = 300.0
    git_refs_max_age: float = 300.0
    metadata_cache_entries: int = 100_000
    metadata_concurrency: int = 8
    request_timeout: float = 30.0
    tag_page_size: int | None = None
    ping_max_age: float = 3600.0
    cache_by_tag_policy: CacheByTagPolicy = CacheByTagPolicy.ALLOW
    allow_credentials_over_http: bool = False
    ca_bundle: Path | None = None
    rate_limited_pause: float = 60.0
    max_manifest_bytes: int = 4 * 1024 * 1024
    max_config_bytes: int = 8 * 1024 * 1024
    max_tag_list_bytes: int = 64 * 1024 * 1024
    max_chart_index_bytes: int = 128 * 1024 * 1024
    git_cache_dir: Path | None = None
    git_timeout: float = 300.0
    max_observed_tags: int = 1000
