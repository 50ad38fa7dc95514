"""Bitbucket Cloud and Bitbucket Data Center (Server).

Authentication: ``X-Hub-Signature: sha256=<hex HMAC-SHA256 of the body>``, keyed by the
Secret's ``secret``. The event is named by ``X-Event-Key``; others are a 400 (checked first).

* Cloud ``repo:push``: the Warehouses subscribed to the repository (``repository.links.html.href``)
  whose subscription considers one of the pushed branches or tags (``push.changes[].new``, bare
  names that become ``refs/heads/...`` / ``refs/tags/...``; deletions have no ``new``).
* Data Center ``repo:refs_changed``: the same, with the clone links
  (``repository.links.clone[].href``) and full ref names (``changes[].ref.id``).
* Cloud ``pullrequest:fulfilled`` / ``pullrequest:rejected`` (merged / declined): the running
  Promotions waiting on ``pullrequest.links.html.href``; Data Center ``pr:merged`` /
  ``pr:declined``: on ``pullRequest.links.self[0].href``.

Cloud payloads carry no changed paths, so path filters are not applied to Bitbucket pushes.
"""

from __future__ import annotations

from pydantic import Field

from shunter.api.v1alpha1.project import WebhookReceiverConfig
from shunter.freight.urls import normalize_git_url
from shunter.receivers.events import (
    Inbound,
    Outcome,
    PayloadModel,
    RefreshPromotions,
    RefreshWarehouses,
    Rejected,
    Text,
    parse_payload,
)
from shunter.receivers.providers.common import Link, qualified_ref, require_signature

__all__ = ["handle"]

EVENT_HEADER = "X-Event-Key"
SIGNATURE_HEADER = "X-Hub-Signature"
_EVENTS = frozenset(
    {
        "repo:push",
        "repo:refs_changed",
        "pullrequest:fulfilled",
        "pullrequest:rejected",
        "pr:merged",
        "pr:declined",
    }
)


class _CloudLinks(PayloadModel):
    html: Link | None = None


class _CloudRepository(PayloadModel):
    links: _CloudLinks | None = None


class _NewRef(PayloadModel):
    type: Text = ""
    name: Text = ""


class _CloudChange(PayloadModel):
    new: _NewRef | None = None


class _CloudPushBody(PayloadModel):
    changes: list[_CloudChange] | None = None


class _CloudPush(PayloadModel):
    push: _CloudPushBody | None = None
    repository: _CloudRepository | None = None


class _ServerLinks(PayloadModel):
    clone: list[Link] | None = None
    self_: list[Link] | None = Field(default=None, alias="self")


class _ServerRepository(PayloadModel):
    links: _ServerLinks | None = None


class _Ref(PayloadModel):
    id: Text = ""


class _ServerChange(PayloadModel):
    ref: _Ref | None = None


class _RefsChanged(PayloadModel):
    changes: list[_ServerChange] | None = None
    repository: _ServerRepository | None = None


class _CloudPullRequest(PayloadModel):
    links: _CloudLinks | None = None


class _CloudPullRequestEvent(PayloadModel):
    pullrequest: _CloudPullRequest | None = None


class _ServerPullRequest(PayloadModel):
    links: _ServerLinks | None = None


class _ServerPullRequestEvent(PayloadModel):
    pull_request: _ServerPullRequest | None = Field(default=None, alias="pullRequest")


def handle(request: Inbound, secret: bytes, config: WebhookReceiverConfig) -> Outcome:
    """Authenticate and read one Bitbucket event."""
    event = request.header(EVENT_HEADER)
    if event not in _EVENTS:
        raise Rejected(400, f"event type {event} is not supported")
    require_signature(request, SIGNATURE_HEADER, secret)
    if event == "repo:push":
        return _cloud_push(parse_payload(request.body, _CloudPush))
    if event == "repo:refs_changed":
        return _refs_changed(parse_payload(request.body, _RefsChanged))
    if event.startswith("pullrequest:"):
        cloud = parse_payload(request.body, _CloudPullRequestEvent).pullrequest
        html = cloud.links.html if cloud and cloud.links else None
        return RefreshPromotions(html.href if html else "")
    server = parse_payload(request.body, _ServerPullRequestEvent).pull_request
    links = (server.links.self_ if server and server.links else None) or []
    return RefreshPromotions(links[0].href if links else "")


def _cloud_push(payload: _CloudPush) -> Outcome:
    links = payload.repository.links if payload.repository else None
    href = links.html.href if links and links.html else ""
    refs = tuple(
        qualified_ref(change.new.type, change.new.name)
        for change in (payload.push.changes if payload.push else None) or []
        if change.new is not None and change.new.name
    )
    return RefreshWarehouses((normalize_git_url(href),), refs)


def _refs_changed(payload: _RefsChanged) -> Outcome:
    links = payload.repository.links if payload.repository else None
    urls = tuple(normalize_git_url(link.href) for link in (links.clone if links else None) or [])
    refs = tuple(change.ref.id for change in payload.changes or [] if change.ref is not None)
    return RefreshWarehouses(urls, refs)
