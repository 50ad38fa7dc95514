"""A tiny Docker-style token issuer for the test registry's Bearer-token mode.

The registry (CNCF distribution 2.8, ``auth: token:``) challenges clients with
``WWW-Authenticate: Bearer realm=...,service=...,scope=...``; clients then ask the realm for a
token with Basic credentials (or none) and the requested scopes. ``TokenIssuer`` answers those
requests: it checks the credentials against its users and returns a JWT (ES256, signed by a
throw-away CA's leaf whose chain travels in the ``x5c`` header; the registry trusts the CA through
its ``rootcertbundle``). Known users get every action they ask for; anonymous callers get only
``anonymous_actions`` on repositories (none by default), like Docker Hub's private repositories.
"""

from __future__ import annotations

import base64
import datetime as dt
import hmac
import json
import secrets
import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from shunter_devenv.selfsigned import CertificateAuthority

__all__ = ["TokenIssuer", "TokenResponse"]

_LIFETIME = dt.timedelta(minutes=5)


@dataclass(frozen=True)
class TokenResponse:
    """What the token endpoint answers: HTTP status, headers and body."""

    status: int
    headers: Mapping[str, str]
    body: bytes


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _parse_scope(scope: str) -> tuple[str, str, list[str]] | None:
    """``repository:team/app:pull,push`` -> ("repository", "team/app", ["pull", "push"])."""
    kind, _, rest = scope.partition(":")
    name, _, actions = rest.rpartition(":")
    if not kind or not name:
        return None
    return kind, name, [a for a in actions.split(",") if a]


class TokenIssuer:
    """Issues registry tokens for ``users``; serves as the realm of a Bearer challenge."""

    def __init__(
        self,
        *,
        service: str,
        issuer: str,
        users: Mapping[str, str],
        anonymous_actions: Iterable[str] = (),
        realm: str = "shunter-test-token",
    ) -> None:
        self.service = service
        self.issuer = issuer
        self.users = dict(users)
        self.anonymous_actions = frozenset(anonymous_actions)
        self.realm = realm
        ca = CertificateAuthority("shunter devenv token CA")
        self._signer = ca.issue("shunter devenv token signer", server=False)
        self.root_bundle_pem = ca.cert_pem()

    def write_root_bundle(self, path: Path) -> Path:
        """Write the CA the registry must trust (its ``rootcertbundle``)."""
        path.write_bytes(self.root_bundle_pem)
        return path

    def _user(self, authorization: str | None) -> tuple[bool, str | None]:
        """(credentials acceptable, user name or None for anonymous)."""
        if not authorization:
            return True, None
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() != "basic":
            return False, None
        try:
            user, _, password = base64.b64decode(value.strip()).decode("utf-8").partition(":")
        except ValueError:
            return False, None
        expected = self.users.get(user)
        if expected is None or not hmac.compare_digest(expected.encode(), password.encode()):
            return False, None
        return True, user

    def _grant(self, user: str | None, scopes: Iterable[str]) -> list[dict[str, Any]]:
        access = []
        for scope in scopes:
            parsed = _parse_scope(scope)
            if parsed is None:
                continue
            kind, name, actions = parsed
            if user is None:
                if kind != "repository":
                    continue
                actions = [a for a in actions if a in self.anonymous_actions]
            if actions:
                access.append({"type": kind, "name": name, "actions": actions})
        return access

    def token(self, user: str | None, scopes: Iterable[str]) -> str:
        """A signed JWT granting ``user`` (None: anonymous) what it may have of ``scopes``."""
        now = dt.datetime.now(dt.UTC)
        header = {
            "typ": "JWT",
            "alg": "ES256",
            "x5c": [base64.b64encode(self._signer.cert_der()).decode("ascii")],
        }
        claims = {
            "iss": self.issuer,
            "sub": user or "",
            "aud": self.service,
            "iat": int(now.timestamp()),
            "nbf": int(now.timestamp()) - 60,
            "exp": int((now + _LIFETIME).timestamp()),
            "jti": secrets.token_hex(16),
            "access": self._grant(user, scopes),
        }
        signing_input = (
            _b64url(json.dumps(header, separators=(",", ":")).encode())
            + "."
            + _b64url(json.dumps(claims, separators=(",", ":")).encode())
        )
        der = self._signer.key.sign(signing_input.encode("ascii"), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
        return f"{signing_input}.{_b64url(signature)}"

    def handle(
        self, method: str, query: str, body: bytes, authorization: str | None
    ) -> TokenResponse:
        """Answer ``GET /token?service=..&scope=..`` (or the OAuth2 password-grant POST)."""
        params = urllib.parse.parse_qs(query)
        if method == "POST":
            form = urllib.parse.parse_qs(body.decode("utf-8", "replace"))
            params = {**params, **form}
            if form.get("grant_type", [""])[0] == "password":
                raw = f"{form.get('username', [''])[0]}:{form.get('password', [''])[0]}"
                authorization = "Basic " + base64.b64encode(raw.encode()).decode("ascii")
        ok, user = self._user(authorization)
        if not ok:
            return _json(
                401,
                {"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]},
                {"WWW-Authenticate": f'Basic realm="{self.realm}"'},
            )
        if params.get("service", [self.service])[0] != self.service:
            return _json(400, {"errors": [{"code": "DENIED", "message": "unknown service"}]})
        scopes = [s for value in params.get("scope", []) for s in value.split(" ") if s]
        token = self.token(user, scopes)
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        return _json(
            200,
            {
                "token": token,
                "access_token": token,
                "expires_in": int(_LIFETIME.total_seconds()),
                "issued_at": now.isoformat().replace("+00:00", "Z"),
            },
        )


def _json(status: int, document: Any, headers: Mapping[str, str] | None = None) -> TokenResponse:
    return TokenResponse(
        status=status,
        headers={"Content-Type": "application/json", **(headers or {})},
        body=json.dumps(document).encode("utf-8"),
    )
