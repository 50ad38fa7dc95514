"""Where a receiver listens: ``/<type>/<hex SHA-256(project + receiver name + secret)>``.

The path is Kargo's, computed the same way, so a URL registered with a provider for Kargo keeps
working with shunter: the SHA-256 of the project name (empty for ClusterConfig receivers), the
receiver's name and the shared secret, concatenated, in lower-case hex, below the base URL's
path. Changing the secret changes the URL - which is what makes the URL of Docker Hub, Quay,
Azure and generic receivers (they have no other authentication) hard to guess.

``status.webhookReceivers[]`` carries ``{name, path, url}``: ``url`` is the base URL
(``SHUNTER_RECEIVERS_BASE_URL``) with its path replaced by ``path``; without a base URL it is
the path alone.
"""

from __future__ import annotations

import hashlib
import posixpath
from urllib.parse import urlsplit, urlunsplit

from shunter.api.v1alpha1.project import WebhookReceiverDetails

__all__ = ["receiver_details", "receiver_path", "redact_path"]


def receiver_path(base_path: str, project: str, kind: str, name: str, secret: bytes) -> str:
    """The path of one receiver below ``base_path`` (Go's ``url.JoinPath`` result)."""
    digest = hashlib.sha256((project + name).encode("utf-8") + secret).hexdigest()
    joined = posixpath.normpath(posixpath.join("/", base_path or "/", kind, digest))
    return "/" + joined.lstrip("/")


def receiver_details(
    base_url: str, project: str, kind: str, name: str, secret: bytes
) -> WebhookReceiverDetails:
    """The ``status.webhookReceivers[]`` entry of one receiver."""
    parts = urlsplit(base_url)
    path = receiver_path(parts.path, project, kind, name, secret)
    url = urlunsplit((parts.scheme, parts.netloc, path, parts.query, parts.fragment))
    return WebhookReceiverDetails(name=name, path=path, url=url)


def redact_path(path: str) -> str:
    """A receiver path fit for logs: the secret-derived hash cut to 8 characters (for Docker
    Hub, Quay, Azure and generic receivers the whole path is the credential)."""
    head, _, tail = path.rpartition("/")
    if len(tail) <= 8:
        return path[:80]
    return f"{head[:40]}/{tail[:8]}..."
