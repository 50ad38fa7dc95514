"""Repository credentials as the git wrapper sees them, and the scrubbing of secrets from text.

:class:`RepoCredentials` holds the password as a :class:`pydantic.SecretStr`. The git wrapper
hands it to git through the environment of the child process only (see
:mod:`shunter.git.runner`); :func:`scrub` removes it from every piece of git output that reaches
a log line or an exception, on top of the process-wide redaction of
:mod:`shunter._internal.redaction` (every value read from a Secret, and URL credentials).
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass

from pydantic import SecretStr

from shunter._internal.redaction import MASK, redact, secret_forms

__all__ = [
    "REDACTED",
    "RepoCredentials",
    "scrub",
    "url_passwords",
]

REDACTED = MASK

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
        """The password in every spelling that must never appear in logs, errors or argv."""
        password = self.password.get_secret_value()
        return tuple(sorted(secret_forms(password), key=len, reverse=True)) if password else ()


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` redacted (:func:`shunter._internal.redaction.redact`), ``secrets`` masked too.

    ``secrets`` are literal strings (see :meth:`RepoCredentials.secrets`); short ones (under
    :data:`shunter._internal.redaction.MIN_SECRET_LENGTH`) are ignored. Whatever the
    ``secrets``, URLs lose their credentials.
    """
    return redact(text, secrets)


def url_passwords(text: str) -> list[str]:
    """The passwords of the ``scheme://user:password@`` URLs in ``text``, percent-decoded."""
    return [urllib.parse.unquote(m.group(3)) for m in _URL_USERINFO.finditer(text)]
