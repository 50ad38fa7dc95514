"""GitLab: ``Push Hook``, ``Tag Push Hook`` and ``Merge Request Hook`` events.

Authentication: ``X-Gitlab-Token`` must equal the Secret's ``secret-token`` (GitLab sends the
token as it is). The event is named by ``X-Gitlab-Event``; others are a 400.

* push and tag push: the Warehouses subscribed to the project's ``git_http_url`` or
  ``git_ssh_url`` whose subscription considers the pushed ``ref``; for a push, the paths its
  commits changed feed the path filters - unless GitLab cut the list (it sends at most 20
  commits; ``total_commits_count`` tells), when nothing is filtered out.
* merge request with action ``close`` or ``merge``: the running Promotions waiting on it.
"""

from __future__ import annotations

from shunter.api.v1alpha1.project import WebhookReceiverConfig
from shunter.freight.urls import normalize_git_url
from shunter.receivers.events import (
    Inbound,
    Outcome,
    PayloadModel,
    RefreshPromotions,
    RefreshWarehouses,
    Rejected,
    Reply,
    Text,
    parse_payload,
)
from shunter.receivers.providers.common import CommitFiles, changed_paths
from shunter.receivers.signatures import same_secret

__all__ = ["handle"]

TOKEN_HEADER = "X-Gitlab-Token"  # noqa: S105 - a header name
EVENT_HEADER = "X-Gitlab-Event"
_PUSH, _TAG_PUSH, _MERGE_REQUEST = "Push Hook", "Tag Push Hook", "Merge Request Hook"


class _Repository(PayloadModel):
    git_http_url: Text = ""
    git_ssh_url: Text = ""


class _Push(PayloadModel):
    ref: Text = ""
    repository: _Repository | None = None
    commits: list[CommitFiles] | None = None
    total_commits_count: int | None = None


class _Attributes(PayloadModel):
    action: Text = ""
    url: Text = ""


class _MergeRequest(PayloadModel):
    object_attributes: _Attributes | None = None


def handle(request: Inbound, secret: bytes, config: WebhookReceiverConfig) -> Outcome:
    """Authenticate and read one GitLab event."""
    if not same_secret(request.header(TOKEN_HEADER), secret):
        raise Rejected(401, "unauthorized")
    event = request.header(EVENT_HEADER)
    if event == _MERGE_REQUEST:
        attributes = parse_payload(request.body, _MergeRequest).object_attributes or _Attributes()
        if attributes.action not in ("close", "merge"):
            return Reply()
        return RefreshPromotions(attributes.url)
    if event not in (_PUSH, _TAG_PUSH):
        raise Rejected(400, f"event type {event} is not supported")
    push = parse_payload(request.body, _Push)
    repo = push.repository
    urls = (
        (normalize_git_url(repo.git_http_url), normalize_git_url(repo.git_ssh_url)) if repo else ()
    )
    changed: tuple[str, ...] = ()
    commits = push.commits or []
    if event == _PUSH and (push.total_commits_count or 0) <= len(commits):
        changed = changed_paths(commits)
    return RefreshWarehouses(urls, (push.ref,), changed)
