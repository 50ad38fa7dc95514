"""Kargo's repository-URL normalisations (``normGit``, ``normImage``, ``normChart``).

Freight IDs hash normalised URLs, Freight validation matches commits and charts to
subscriptions by them, and Warehouses refuse two subscriptions to the same normalised URL. The
functions here reproduce Kargo's results exactly, including its corner cases (they are keys,
never URLs to fetch):

* :func:`normalize_git_url`: sanitised and lower-cased; ``http(s)://`` URLs lose their userinfo,
  then one trailing ``/`` and one trailing ``.git``; ``ssh://`` URLs keep their userinfo; SCP-style
  ``user@host:path`` becomes ``ssh://user@host/path``; a URL with a query string, or one Go's URL
  parser refuses, comes back as given.
* :func:`normalize_image_url`: parsed as an OCI reference (weak validation, like
  go-containerregistry); Docker Hub names collapse to the bare repository (``library/`` dropped),
  others become ``registry/repository``; unparseable input comes back lower-cased.
* :func:`normalize_chart_url`: ``oci://`` dropped, then :func:`normalize_image_url`. Classic
  ``https://`` repositories mostly come back lower-cased and unchanged.

:func:`parse_image_reference` is the go-containerregistry parser behind :func:`normalize_image_url`;
the registry client uses it too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from shunter.freight._gourl import parse_go_url

__all__ = [
    "DOCKER_HUB_REGISTRY",
    "ImageReference",
    "normalize_chart_url",
    "normalize_git_url",
    "normalize_image_url",
    "parse_image_reference",
    "sanitize_url",
]

#: go-containerregistry's name for Docker Hub (``docker.io`` is rewritten to it).
DOCKER_HUB_REGISTRY = "index.docker.io"
_DOCKER_HUB_ALIAS = "docker.io"
_DOCKER_HUB_NAMES = frozenset({DOCKER_HUB_REGISTRY, "registry-1.docker.io"})
_DEFAULT_NAMESPACE = "library"
_REPOSITORY_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_-./")
_TAG_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_-.ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_SHA256_HEX = re.compile(r"[a-f0-9]{64}\Z")
_SCP = re.compile(r"((?:[\w-]+@)?[\w-]+(?:\.[\w-]+)*)(?::(.*))?\Z", re.ASCII | re.DOTALL)


def sanitize_url(url: str) -> str:
    """Drop non-printable characters, then surrounding spaces (Kargo's ``SanitizeURL``)."""
    return "".join(ch for ch in url if ch.isprintable()).strip(" ")


def _trim_repo_path(path: bytes) -> bytes:
    return path.removesuffix(b"/").removesuffix(b".git")


def normalize_git_url(repo_url: str) -> str:
    """Kargo's ``NormalizeGit``."""
    original = repo_url
    repo = sanitize_url(repo_url.lower())
    if repo.startswith(("http://", "https://", "ssh://")):
        url = parse_go_url(repo)
        if url is None or url.has_query_values():
            return original
        if not repo.startswith("ssh://"):
            url.user = None
        url.path = _trim_repo_path(url.path)
        return url.string()
    match = _SCP.match(repo)
    if match is None:
        return original
    user_host = match.group(1)
    path_url = parse_go_url(match.group(2) or "")
    if path_url is None:
        return original
    path_url.path = _trim_repo_path(path_url.path)
    if not path_url.path:
        return f"ssh://{user_host}"
    return f"ssh://{user_host}/{path_url.string()}"


@dataclass(frozen=True)
class ImageReference:
    """An image reference as go-containerregistry parses it (weak validation).

    ``registry`` is ``index.docker.io`` for Docker Hub; ``repository`` has Docker Hub's implicit
    ``library/`` namespace added. Exactly one of ``tag`` and ``digest`` is set (``tag`` defaults
    to ``latest``).
    """

    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    @property
    def is_docker_hub(self) -> bool:
        return self.registry in _DOCKER_HUB_NAMES

    @property
    def name(self) -> str:
        """``registry/repository``."""
        return f"{self.registry}/{self.repository}"


def _check_registry(name: str) -> bool:
    url = parse_go_url("//" + name)
    return url is not None and url.host.decode("utf-8", "surrogateescape") == name


def _new_repository(name: str) -> tuple[str, str] | None:
    if not name:
        return None
    registry = ""
    repository = name
    first, sep, rest = name.partition("/")
    if sep and (first == "localhost" or "." in first or ":" in first):
        registry, repository = first, rest
    if not 2 <= len(repository) <= 255 or not set(repository) <= _REPOSITORY_CHARS:
        return None
    if not _check_registry(registry):
        return None
    if registry in ("", _DOCKER_HUB_ALIAS):
        registry = DOCKER_HUB_REGISTRY
    if "/" not in repository and registry == DOCKER_HUB_REGISTRY:
        repository = f"{_DEFAULT_NAMESPACE}/{repository}"
    return registry, repository


def _new_tag(name: str) -> ImageReference | None:
    base, tag = name, ""
    parts = name.split(":")
    if len(parts) > 1 and "/" not in parts[-1]:
        base, tag = ":".join(parts[:-1]), parts[-1]
        if not tag:
            return None
    if tag and (len(tag) > 128 or not set(tag) <= _TAG_CHARS):
        return None
    repo = _new_repository(base)
    if repo is None:
        return None
    return ImageReference(repo[0], repo[1], tag=tag or "latest")


def _new_digest(name: str) -> ImageReference | None:
    parts = name.split("@")
    if len(parts) != 2:
        return None
    base, digest = parts
    if not digest.startswith("sha256:") or not _SHA256_HEX.match(digest[len("sha256:") :]):
        return None
    tagged = _new_tag(base)
    if tagged is not None:
        base = tagged.name
    repo = _new_repository(base)
    if repo is None:
        return None
    return ImageReference(repo[0], repo[1], digest=digest)


def parse_image_reference(reference: str) -> ImageReference | None:
    """go-containerregistry's ``name.ParseReference(reference, name.WeakValidation)``.

    ``None`` where it returns an error. Case is kept (callers lower-case first, as Kargo does).
    """
    return _new_tag(reference) or _new_digest(reference)


def normalize_image_url(repo_url: str) -> str:
    """Kargo's ``NormalizeImage``."""
    original = repo_url
    parsed = parse_image_reference(sanitize_url(repo_url.lower()))
    if parsed is None:
        return original
    if parsed.is_docker_hub:
        return parsed.repository.removeprefix(f"{_DEFAULT_NAMESPACE}/")
    return parsed.name


def normalize_chart_url(repo_url: str) -> str:
    """Kargo's ``NormalizeChart``."""
    repo = sanitize_url(repo_url)
    if parse_go_url(repo) is None:
        return repo_url
    return normalize_image_url(repo.lower().removeprefix("oci://"))
