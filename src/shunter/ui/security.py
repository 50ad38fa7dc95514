"""The UI's own security state: anti-forgery tokens, sign-in sessions, the local launch key.

- **Anti-forgery (CSRF).** Every browser gets a random nonce in an HttpOnly, SameSite=Strict
  cookie; pages carry ``HMAC(server secret, nonce)``. A state-changing request must send that
  token (form field or header) *and* come from the UI's own origin (``Origin``, else
  ``Referer``). Another site can neither read the token nor compute it.
- **Sessions.** A user signing in with a bearer token gets a random session ID in an HttpOnly,
  SameSite=Strict cookie; the token itself stays on the server, in memory, and is forgotten
  on sign-out, after ``idle`` seconds unused or ``lifetime`` seconds in all.
- **Launch key.** ``shunter ui`` acts with the caller's kubeconfig, so it prints a URL holding a
  random key: the first visit trades it for a cookie, and requests without it are refused. Other
  local users of the machine cannot borrow the caller's identity through the port.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

__all__ = [
    "CSRF_COOKIE",
    "CSRF_FIELD",
    "CSRF_HEADER",
    "KEY_COOKIE",
    "SESSION_COOKIE",
    "Csrf",
    "Session",
    "Sessions",
    "same_origin",
    "token_fingerprint",
]

CSRF_COOKIE = "shunter-csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
SESSION_COOKIE = "shunter-session"
KEY_COOKIE = "shunter-key"


def token_fingerprint(token: str) -> str:
    """A stable, non-reversible name for a credential (cache keys, never logs of the token)."""
    return hashlib.sha256(token.encode()).hexdigest()[:32]


class Csrf:
    """Issues and checks anti-forgery tokens bound to the browser's nonce cookie."""

    def __init__(self, secret: bytes | None = None) -> None:
        self._secret = secret or secrets.token_bytes(32)

    @staticmethod
    def new_nonce() -> str:
        """A new random nonce for the cookie."""
        return secrets.token_urlsafe(24)

    def token_for(self, nonce: str) -> str:
        """The token pages carry for this nonce."""
        return hmac.new(self._secret, nonce.encode(), hashlib.sha256).hexdigest()

    def valid(self, nonce: str | None, token: str | None) -> bool:
        """Whether ``token`` was issued for ``nonce``."""
        if not nonce or not token:
            return False
        return hmac.compare_digest(self.token_for(nonce), token)


def same_origin(host: str, origin: str | None, referer: str | None) -> bool:
    """Whether the request came from a page of this server (``host`` is its Host header)."""
    source = origin if origin and origin != "null" else referer
    if not source:
        return False
    return urlsplit(source).netloc.lower() == host.lower()


@dataclass
class Session:
    """A signed-in user."""

    token: str
    username: str
    created: float = field(default_factory=time.monotonic)
    last_seen: float = field(default_factory=time.monotonic)

    @property
    def identity(self) -> str:
        """The key of this user's caches."""
        return "token:" + token_fingerprint(self.token)


class Sessions:
    """Server-side sign-in sessions, in memory."""

    def __init__(self, idle: float = 3600.0, lifetime: float = 12 * 3600.0) -> None:
        self.idle = idle
        self.lifetime = lifetime
        self._sessions: dict[str, Session] = {}

    def create(self, token: str, username: str) -> str:
        """Start a session; returns its ID (the cookie's value)."""
        self.expire()
        sid = secrets.token_urlsafe(32)
        self._sessions[sid] = Session(token, username)
        return sid

    def get(self, sid: str | None) -> Session | None:
        """The live session with this ID, if any."""
        if not sid:
            return None
        session = self._sessions.get(sid)
        if session is None:
            return None
        now = time.monotonic()
        if now - session.last_seen > self.idle or now - session.created > self.lifetime:
            del self._sessions[sid]
            return None
        session.last_seen = now
        return session

    def drop(self, sid: str | None) -> Session | None:
        """End a session."""
        return self._sessions.pop(sid, None) if sid else None

    def expire(self) -> list[Session]:
        """Forget expired sessions; returns them."""
        now = time.monotonic()
        gone = [
            sid
            for sid, s in self._sessions.items()
            if now - s.last_seen > self.idle or now - s.created > self.lifetime
        ]
        return [self._sessions.pop(sid) for sid in gone]

    def in_use(self, identity: str) -> bool:
        """Whether a live session has this identity."""
        return any(s.identity == identity for s in self._sessions.values())
