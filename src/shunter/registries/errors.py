"""Exceptions of artifact discovery.

::

    DiscoveryError                      anything that made a discovery fail
    ├── InvalidSubscriptionError        the subscription itself is unusable (bad regex, constraint,
    │                                   platform, repository URL)
    └── RemoteError                     the remote side (registry, git server, chart repository)
        ├── AuthenticationError         401/403, refused or missing credentials
        ├── RepositoryNotFoundError     404: no such repository / chart index / git repository
        ├── UnreachableError            connection refused, DNS, TLS, timeout, 502/503/504
        ├── RateLimitedError            429 (``retry_after`` seconds when the server said)
        └── ProtocolError               any other unexpected answer

Messages name the host and the repository and never contain credentials: they are built only
from URLs without userinfo, status codes and short, scrubbed server messages. ``subscription``
is filled in by :mod:`shunter.registries.discovery` (e.g. ``"image 127.0.0.1:5000/app"``) and
prefixed to the message.
"""

from __future__ import annotations

__all__ = [
    "AuthenticationError",
    "DiscoveryError",
    "InvalidSubscriptionError",
    "ProtocolError",
    "RateLimitedError",
    "RemoteError",
    "RepositoryNotFoundError",
    "UnreachableError",
]


class DiscoveryError(Exception):
    """Artifact discovery failed."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        self.subscription: str | None = None

    def __str__(self) -> str:
        if self.subscription:
            return f"{self.subscription}: {self.message}"
        return self.message


class InvalidSubscriptionError(DiscoveryError):
    """The subscription cannot be used as written."""


class RemoteError(DiscoveryError):
    """The remote repository failed or refused a request."""

    def __init__(self, message: str, *, host: str = "", status: int | None = None) -> None:
        super().__init__(message)
        self.host = host
        self.status = status


class AuthenticationError(RemoteError):
    """The remote refused the credentials (401/403), or wants some and none were configured."""


class RepositoryNotFoundError(RemoteError):
    """The repository (or chart index, or git repository) does not exist (404)."""


class UnreachableError(RemoteError):
    """The remote could not be reached: connection, DNS, TLS, timeout, or a 502/503/504."""


class RateLimitedError(RemoteError):
    """The remote answered 429 Too Many Requests."""

    def __init__(
        self,
        message: str,
        *,
        host: str = "",
        status: int | None = 429,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, host=host, status=status)
        self.retry_after = retry_after


class ProtocolError(RemoteError):
    """The remote answered something unexpected."""
