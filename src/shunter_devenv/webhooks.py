"""Webhooks for the tests, the demo and the benchmarks.

* :func:`provider_headers`: a sender double for the receiver tests (the providers themselves
  cannot run here): given a provider, an event name, a body and the shared secret, the headers
  that provider's documentation says it sends - event name header, signature or token, user
  agent. ``wrong=True`` signs with another secret (or sends another token).
* :func:`registry_receiver`: a generic receiver that turns the notifications of a CNCF
  Distribution registry (Debian's ``docker-registry``, started with
  ``Registry(notify_url=...)``) into refreshes of the Warehouses subscribed to the pushed
  repository - how ``make demo`` and ``benchmarks/receiver_latency.py`` deliver new tags.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

__all__ = ["hub_signature", "provider_headers", "registry_receiver"]

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


def registry_receiver(name: str, secret_name: str) -> dict[str, Any]:
    """A ``webhookReceivers[]`` entry for a Distribution registry's notifications.

    The registry sends ``{"events": [event]}``, one event per POST; a manifest push by tag
    refreshes the Warehouses subscribed to ``<request.host>/<target.repository>``.
    """
    event = "request.body.events[0]"
    return {
        "name": name,
        "generic": {
            "secretRef": {"name": secret_name},
            "actions": [
                {
                    "action": "Refresh",
                    "whenExpression": f"{event}.action == 'push' && {event}.target.tag != ''",
                    "targetSelectionCriteria": [
                        {
                            "kind": "Warehouse",
                            "indexSelector": {
                                "matchIndices": [
                                    {
                                        "key": "subscribedURLs",
                                        "operator": "Equals",
                                        "value": f"${{{{ normalizeImage({event}.request.host"
                                        f" + '/' + {event}.target.repository) }}}}",
                                    }
                                ]
                            },
                        }
                    ],
                }
            ],
        },
    }
