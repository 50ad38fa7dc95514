"""Webhook requests as each provider sends them: the headers, signed with a shared secret.

A sender double for the receiver tests (the providers themselves cannot run here): given a
provider, an event name, a body and the shared secret, :func:`provider_headers` gives the
headers that provider's documentation says it sends - event name header, signature or token,
user agent. ``wrong=True`` signs with another secret (or sends another token).
"""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["hub_signature", "provider_headers"]

_USER_AGENTS = {
    "acr": "AzureContainerRegistry/1.0",
    "azure-devops": "VSServices/16.255.35115.1",
}


def hub_signature(body: bytes, secret: str, algorithm: str = "sha256") -> str:
    """``<algorithm>=<hex HMAC of body>``, as GitHub, Gitea and Bitbucket sign."""
    digest = hmac.new(secret.encode(), body, getattr(hashlib, algorithm)).hexdigest()
    return f"{algorithm}={digest}"


def provider_headers(
    provider: str, event: str, body: bytes, secret: str, *, wrong: bool = False
) -> dict[str, str]:
    """The headers ``provider`` sends with ``body`` for ``event``.

    ``provider`` is a receiver type (``github``...), or ``acr`` / ``azure-devops`` for the two
    Azure senders. Unsigned providers (Docker Hub, Quay, generic) get only a content type.
    """
    key = secret + "-wrong" if wrong else secret
    headers = {"Content-Type": "application/json"}
    if provider == "github":
        headers |= {"X-GitHub-Event": event, "X-Hub-Signature-256": hub_signature(body, key)}
        headers["X-GitHub-Delivery"] = "72d3162e-cc78-11e3-81ab-4c9367dc0958"
    elif provider == "gitea":
        headers |= {
            "X-Gitea-Event": event,
            "X-Hub-Signature-256": hub_signature(body, key),
            "X-Gitea-Signature": hub_signature(body, key).removeprefix("sha256="),
        }
    elif provider == "bitbucket":
        headers |= {"X-Event-Key": event, "X-Hub-Signature": hub_signature(body, key)}
    elif provider == "gitlab":
        headers |= {"X-Gitlab-Event": event, "X-Gitlab-Token": key}
    elif provider == "harbor":
        headers["Authorization"] = key
    elif provider == "artifactory":
        headers["X-Jfrog-Event-Auth"] = hub_signature(body, key).removeprefix("sha256=")
    elif provider in _USER_AGENTS:
        headers["User-Agent"] = _USER_AGENTS[provider]
    return headers
