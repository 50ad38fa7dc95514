"""Repository credentials as the git wrapper sees them, and the scrubbing of secrets from text.

:class:`RepoCredentials` holds the password as a :class:`pydantic.SecretStr`. The git wrapper
hands it to git through the environment of the child process only (see
:mod:`shunter.git.runner`); :func:`scrub` removes it (and any ``user:password@`` in URLs) from every
piece of git output that reaches a log line or an exception.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass

from pydantic import SecretStr

__all__ = [
    "MIN_SCRUB_LENGTH",
    "REDACTED",
    "RepoCredentials",
    "scrub",
    "secret_variants",
    "url_passwords",
]

REDACTED = "***"
#: Secrets shorter than this are not searched for in text (they would blank out ordinary words).
MIN_SCRUB_LENGTH = 4

# scheme://user:password@  (also matches when the password part is empty)
_URL_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://)([^/\s@:]*):([^/\s@]*)@")


@dataclass(frozen=True)
class RepoCredentials:
    """A username and a password (or token) for one remote repository."""

    username: str
    password: SecretStr

    def __repr__(self) -> str:
        return f"RepoCredentials(username={self.username!r}, password=SecretStr('**********'))"

    def secrets(self) -> tuple[str, ...]:
        """The strings that must never appear in logs, errors or argv."""
        return secret_variants(self.password.get_secret_value())


def secret_variants(secret: str) -> tuple[str, ...]:
    """``secret`` as it may appear in text: raw, percent-encoded (URL userinfo), form-encoded."""
    if not secret:
        return ()
    variants = {secret, urllib.parse.quote(secret, safe=""), urllib.parse.quote_plus(secret)}
    # Longest first, so that a variant that contains another one is replaced whole.
    return tuple(sorted(variants, key=len, reverse=True))


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with every secret replaced by ``***`` and URL passwords masked.

    ``secrets`` are literal strings (see :meth:`RepoCredentials.secrets`); ones shorter than
    :data:`MIN_SCRUB_LENGTH` are ignored. Independently of ``secrets``, the password part of any
    ``scheme://user:password@host`` is replaced, so credentials that a user embedded in a URL
    never show either.
    """
    for secret in sorted(set(secrets), key=len, reverse=True):
        if len(secret) >= MIN_SCRUB_LENGTH:
            text = text.replace(secret, REDACTED)
    return _URL_USERINFO.sub(lambda m: f"{m.group(1)}{m.group(2)}:{REDACTED}@", text)


def url_passwords(text: str) -> list[str]:
    """The passwords of the ``scheme://user:password@`` URLs in ``text``, percent-decoded."""
    return [urllib.parse.unquote(m.group(3)) for m in _URL_USERINFO.finditer(text)]
