"""Git repository URLs: which ones may be used, Kargo's normalisation, credential redaction.

:func:`check_repo_url` is the one policy for every repository URL that enters the operator (the
``git-clone`` step, Warehouse git subscriptions, the mirrors every checkout comes from): only
``https://``, ``http://``, ``ssh://`` and scp-style ``[user@]host:path`` remotes, never a local
path, ``file://`` or another transport (``ext::``, ``fd::``, ``git://``), and no password in the
URL (credentials belong in Secrets). The git runner enforces the same transports on git's side
(``protocol.allow``), which also covers submodules.

:func:`normalize_git_url` mirrors Kargo's ``normGit``: two spellings of one repository
(``https://GitHub.com/org/repo.git/`` and ``https://github.com/org/repo``) normalise to the same
string; the result is for comparing and keying, never for cloning.
"""

from __future__ import annotations

import re
import urllib.parse

from shunter._internal.redaction import redact_url

__all__ = [
    "ALLOWED_SCHEMES",
    "check_repo_url",
    "normalize_git_url",
    "redact_url",
    "repo_url_problem",
]

_SCP = re.compile(r"^((?:[\w-]+@)?[\w-]+(?:\.[\w-]+)*)(?::(.*))?$", re.ASCII)
#: The URL schemes a repository URL may use (besides the scp-style ``[user@]host:path``).
ALLOWED_SCHEMES = ("https", "http", "ssh")
#: ``[user@]host:path``: git's scp-like syntax (a colon before any slash; ``host::x`` is git's
#: ``transport::address`` syntax and is not scp-like).
_SCP_LIKE = re.compile(
    r"(?:[A-Za-z0-9._~%+-]+@)?(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])"
    r":(?!:)[^\x00-\x20\x7f]*",
    re.ASCII,
)
_ALLOWED = (
    "only https://, http://, ssh:// and scp-style (user@host:path) repository URLs are allowed"
)
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://", re.ASCII)
#: git's ``<transport>::<address>`` (remote helpers such as ``ext::``).
_TRANSPORT = re.compile(r"[A-Za-z0-9+.-]+::", re.ASCII)


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


def repo_url_problem(url: str) -> str | None:
    """Why ``url`` may not be used as a git remote, or None when it may (see the module doc)."""
    shown = redact_url(url)
    if not url or url != url.strip() or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in url):
        return f"{shown!r} is not a repository URL (empty, or with spaces or control characters)"
    if url.startswith("-"):
        return f"{shown!r} is not a repository URL"
    scheme = _SCHEME.match(url)
    if scheme is not None:
        name = scheme.group(1).lower()
        if name not in ALLOWED_SCHEMES:
            return f"{shown} uses the {name}:// transport; {_ALLOWED}"
        try:
            parts = urllib.parse.urlsplit(url)
            host = parts.hostname
            _ = parts.port
        except ValueError:
            return f"{shown} is not a valid URL"
        if not host:
            return f"{shown} names no host"
        if parts.password is not None:
            return f"{shown} embeds a password: store credentials in a Secret instead"
        return None
    if _TRANSPORT.match(url):
        return f"{shown!r} uses git's transport::address syntax; {_ALLOWED}"
    if _SCP_LIKE.fullmatch(url) is None:
        return f"{shown!r} is a local path; {_ALLOWED}"
    return None


def check_repo_url(url: str) -> str:
    """``url`` if it may be used as a git remote, else a :class:`ValueError` saying why."""
    problem = repo_url_problem(url)
    if problem is not None:
        raise ValueError(problem)
    return url
