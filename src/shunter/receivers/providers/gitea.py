"""Gitea: ``push`` and ``pull_request`` events.

Authentication: the HMAC-SHA256 of the body keyed by the Secret's ``secret``. Gitea sends it
twice: ``X-Hub-Signature-256: sha256=<hex>`` (what Kargo checks, and what is checked here when
present) and ``X-Gitea-Signature: <hex>`` (checked when the first is absent, as older Gitea
versions send only it). The event is named by ``X-Gitea-Event``; others are a 501, as in Kargo.

* ``push``: the Warehouses subscribed to the repository's ``clone_url`` whose subscription
  considers the pushed ``ref``; the commits' changed paths feed the path filters unless Gitea
  cut the list (``total_commits`` larger than the commits sent).
* ``pull_request`` with action ``closed``: the running Promotions waiting on that PR.
"""

from __future__ import annotations

from shunter.api.v1alpha1.project import WebhookReceiverConfig
from shunter.freight.urls import normalize_git_url
from shunter.receivers.events import (
    Inbound,
    Outcome,
    PayloadModel,
    RefreshWarehouses,
    Rejected,
    Text,
    parse_payload,
)
from shunter.receivers.providers.common import (
    CommitFiles,
    changed_paths,
    closed_pull_request,
    require_signature,
)
from shunter.receivers.signatures import hex_hmac_sha256_valid

__all__ = ["handle"]

EVENT_HEADER = "X-Gitea-Event"
SIGNATURE_HEADER = "X-Hub-Signature-256"
GITEA_SIGNATURE_HEADER = "X-Gitea-Signature"


class _Repository(PayloadModel):
    clone_url: Text = ""


class _Push(PayloadModel):
    ref: Text = ""
    repository: _Repository | None = None
    commits: list[CommitFiles] | None = None
    total_commits: int | None = None


def handle(request: Inbound, secret: bytes, config: WebhookReceiverConfig) -> Outcome:
    """Authenticate and read one Gitea event."""
    event = request.header(EVENT_HEADER)
    if event not in ("push", "pull_request"):
        raise Rejected(501, f"event type {event} is not supported")
    if request.header(SIGNATURE_HEADER) or not request.header(GITEA_SIGNATURE_HEADER):
        require_signature(request, SIGNATURE_HEADER, secret)
    else:
        require_signature(request, GITEA_SIGNATURE_HEADER, secret, hex_hmac_sha256_valid)
    if event == "pull_request":
        return closed_pull_request(request.body)
    push = parse_payload(request.body, _Push)
    commits = push.commits or []
    changed = changed_paths(commits) if (push.total_commits or 0) <= len(commits) else ()
    clone_url = push.repository.clone_url if push.repository else ""
    return RefreshWarehouses((normalize_git_url(clone_url),), (push.ref,), changed)
