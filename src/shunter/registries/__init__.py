"""Artifact discovery for Warehouses: container images, git commits and Helm charts.

Entry point: :class:`Discoverer` (one per process; :func:`discover` uses a default one) and its
``discover(spec, credentials, previous=..., max_age=...) -> DiscoveredArtifacts``. Underneath:

* :mod:`~shunter.registries.oci` (registry API v2 client: auth, rate limits, shared tag cache),
  :mod:`~shunter.registries.metadata` (image build time, platforms; cached by digest),
  :mod:`~shunter.registries.images` (SemVer / Lexical / NewestBuild / Digest selection);
* :mod:`~shunter.registries.git` (commit strategies over shared bare mirrors);
* :mod:`~shunter.registries.charts` (``index.yaml`` and ``oci://`` chart repositories);
* :mod:`~shunter.registries.semver` (Masterminds-compatible versions and constraints),
  :mod:`~shunter.registries.patterns` (RE2 regexes, doublestar globs, path selectors),
  :mod:`~shunter.registries.ratelimit`, :mod:`~shunter.registries.cache`,
  :mod:`~shunter.registries.errors`, :mod:`~shunter.registries.settings`.
"""

from shunter.registries.discovery import (
    CredentialKind,
    CredentialsLookup,
    Discoverer,
    RepositoryCredentials,
    default_discoverer,
    discover,
)
from shunter.registries.errors import (
    AuthenticationError,
    DiscoveryError,
    InvalidSubscriptionError,
    ProtocolError,
    RateLimitedError,
    RemoteError,
    RepositoryNotFoundError,
    UnreachableError,
)
from shunter.registries.ratelimit import RateLimit
from shunter.registries.settings import CacheByTagPolicy, DiscoverySettings

__all__ = [
    "AuthenticationError",
    "CacheByTagPolicy",
    "CredentialKind",
    "CredentialsLookup",
    "Discoverer",
    "DiscoveryError",
    "DiscoverySettings",
    "InvalidSubscriptionError",
    "ProtocolError",
    "RateLimit",
    "RateLimitedError",
    "RemoteError",
    "RepositoryCredentials",
    "RepositoryNotFoundError",
    "UnreachableError",
    "default_discoverer",
    "discover",
]
