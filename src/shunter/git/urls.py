"""Git repository URLs: Kargo's normalisation (for comparisons) and credential redaction.

:func:`normalize_git_url` mirrors Kargo's ``normGit``: two spellings of one repository
(``https://GitHub.com/org/repo.git/`` and ``https://github.com/org/repo``) normalise to the same
string; the result is for comparing and keying, never for cloning.
"""

from __future__ import annotations

import re
import urllib.parse

from shunter._internal.redaction import redact_url

__all__ = ["has_embedded_password", "normalize_git_url", "redact_url"]

_SCP = re.compile(r"^((?:[\w-]+@)?[\w-]+(?:\.[\w-]+)*)(?::(.*))?$", re.ASCII)


def _sanitize(url: str) -> str:
    return "".join(ch for ch in url.strip() if ch.isprintable())


def _trim_path(path: str) -> str:
    return path.removesuffix("/").removesuffix(".git")


def normalize_git_url(url: str) -> str:
    """The comparable form of a git URL (Kargo's ``normGit``); unrecognised input unchanged.

    Lower-cased; for ``http(s)://`` the userinfo is dropped; one trailing ``/`` then one trailing
    ``.git`` are removed from the path; SCP-style ``user@host:path`` becomes
    ``ssh://user@host/path``. URLs with a query string are returned unchanged.
    """
    original = url
    url = _sanitize(url).lower()
    if url.startswith(("http://", "https://", "ssh://")):
        try:
            parts = urllib.parse.urlsplit(url)
        except ValueError:
            return original
        if parts.query:
            return original
        netloc = parts.netloc
        if not url.startswith("ssh://"):
            netloc = netloc.rpartition("@")[2]
        return urllib.parse.urlunsplit(
            (parts.scheme, netloc, _trim_path(parts.path), "", parts.fragment)
        )
    match = _SCP.match(url)
    if match is None:
        return original
    user_host, path = match.group(1), match.group(2) or ""
    path = _trim_path(path.split("?", 1)[0].split("#", 1)[0])
    return f"ssh://{user_host}/{path}" if path else f"ssh://{user_host}"


def has_embedded_password(url: str) -> bool:
    """Whether ``url`` carries ``user:password@`` (refused: credentials belong in Secrets)."""
    try:
        return urllib.parse.urlsplit(url).password is not None
    except ValueError:
        return False
