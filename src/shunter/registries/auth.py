"""Registry authentication: ``WWW-Authenticate`` challenges, Basic headers, Bearer tokens.

OCI registries announce their scheme on ``GET /v2/``: ``200`` (anonymous), ``401`` with
``Basic realm=...``, or ``401`` with ``Bearer realm=...,service=...`` (Docker Hub style). For
Bearer, a client asks the realm for a token with ``service`` and ``scope``
(``repository:<name>:pull``), sending Basic credentials when it has some, and then presents the
token. This module parses challenges and token answers; :mod:`shunter.registries.oci` drives
the exchanges and caches tokens (per host, scope and credentials) until shortly before they
expire.

Nothing here ever formats a password into text: headers are built at the last moment and
:class:`BasicCredentials` hides its password from ``repr``.
"""

from __future__ import annotations

import base64
import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import SecretStr

__all__ = [
    "BasicCredentials",
    "BearerToken",
    "Challenge",
    "basic_header",
    "is_loopback_host",
    "is_private_host",
    "parse_challenges",
    "parse_token_response",
    "pick_challenge",
    "repository_scope",
]

_TCHARS = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
# Unquoted values are read up to the next comma or space (lenient: URLs appear unquoted).
_PARAM = re.compile(rf"\s*({_TCHARS})\s*=\s*(?:\"((?:[^\"\\]|\\.)*)\"|([^\s,\"]+))\s*")
_SCHEME = re.compile(rf"\s*({_TCHARS})(?=\s|$|,)")
#: Token lifetime assumed when the token endpoint does not say (the distribution spec's default).
DEFAULT_TOKEN_LIFETIME = 60.0
#: Tokens are dropped this long before they expire.
_EXPIRY_MARGIN = 10.0


@dataclass(frozen=True)
class BasicCredentials:
    """A username and password for a registry or repository."""

    username: str
    password: SecretStr = field(repr=False)

    def __repr__(self) -> str:
        return f"BasicCredentials(username={self.username!r}, password=SecretStr('**********'))"


def basic_header(credentials: BasicCredentials) -> str:
    """The ``Authorization`` header value for Basic authentication."""
    raw = f"{credentials.username}:{credentials.password.get_secret_value()}".encode()
    return "Basic " + base64.b64encode(raw).decode("ascii")


@dataclass(frozen=True)
class Challenge:
    """One ``WWW-Authenticate`` challenge: a lower-case scheme and its parameters."""

    scheme: str
    params: Mapping[str, str] = field(default_factory=dict)

    @property
    def realm(self) -> str | None:
        return self.params.get("realm")


def parse_challenges(header: str) -> list[Challenge]:
    """Every challenge in a ``WWW-Authenticate`` value (RFC 7235 syntax, leniently)."""
    challenges: list[Challenge] = []
    position = 0
    current: dict[str, str] | None = None
    scheme = ""
    while position < len(header):
        if header[position] in " ,":
            position += 1
            continue
        param = _PARAM.match(header, position)
        if param is not None and current is not None:
            value = param.group(2)
            value = re.sub(r"\\(.)", r"\1", value) if value is not None else param.group(3)
            current[param.group(1).lower()] = value
            position = param.end()
            continue
        scheme_match = _SCHEME.match(header, position)
        if scheme_match is None:
            break
        if current is not None:
            challenges.append(Challenge(scheme, current))
        scheme, current = scheme_match.group(1).lower(), {}
        position = scheme_match.end()
    if current is not None:
        challenges.append(Challenge(scheme, current))
    return challenges


def pick_challenge(challenges: list[Challenge]) -> Challenge | None:
    """The challenge to answer: Bearer or Basic (first of them), else the first one."""
    for challenge in challenges:
        if challenge.scheme in ("bearer", "basic"):
            return challenge
    return challenges[0] if challenges else None


def repository_scope(repository: str, actions: str = "pull") -> str:
    """``repository:<name>:pull``."""
    return f"repository:{repository}:{actions}"


@dataclass(frozen=True)
class BearerToken:
    """A registry token and the monotonic time after which it must not be used."""

    token: str = field(repr=False)
    usable_until: float


def parse_token_response(body: Any, now: float) -> BearerToken:
    """The token in a token endpoint's JSON answer (``token`` or ``access_token``).

    ``now`` is the caller's monotonic clock; ``expires_in`` (default 60 s) counts from it.

    Raises:
        ValueError: the answer has no token.
    """
    if not isinstance(body, Mapping):
        raise ValueError("the token endpoint did not answer a JSON object")
    token = body.get("token") or body.get("access_token")
    if not isinstance(token, str) or not token:
        raise ValueError("the token endpoint answered without a token")
    lifetime = body.get("expires_in")
    seconds = float(lifetime) if isinstance(lifetime, int | float) and lifetime > 0 else None
    if seconds is None:
        seconds = DEFAULT_TOKEN_LIFETIME
    margin = min(_EXPIRY_MARGIN, seconds / 4)
    return BearerToken(token, now + seconds - margin)


def _host_only(host: str) -> str:
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    if host.count(":") == 1:
        return host.split(":", 1)[0]
    return host


def is_loopback_host(host: str) -> bool:
    """``localhost``, ``*.localhost``, 127.0.0.0/8 or ::1 (with or without a port)."""
    name = _host_only(host).lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def is_private_host(host: str) -> bool:
    """An RFC 1918 IPv4 address (go-containerregistry tries plain HTTP for those too)."""
    try:
        address = ipaddress.ip_address(_host_only(host))
    except ValueError:
        return False
    return address.version == 4 and any(
        address in ipaddress.ip_network(block)
        for block in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")
    )
