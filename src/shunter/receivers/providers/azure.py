"""Azure: Azure Container Registry and Azure DevOps (Repos), told apart by ``User-Agent``.

Authentication: the URL only (the Secret's ``secret`` is hashed into the receiver's path).

* ``AzureContainerRegistry/...``: ``push`` refreshes the Warehouses subscribed to
  ``request.host/target.repository`` (image or chart by ``target.mediaType``) that would consider
  ``target.tag``; ``ping`` is answered 200; other actions are a 400.
* ``VSServices/...`` (Azure DevOps service hooks): ``git.push`` refreshes the Warehouses
  subscribed to ``resource.repository.remoteUrl`` whose subscription considers one of
  ``resource.refUpdates[].name``; ``git.pullrequest.merged``, and ``git.pullrequest.updated``
  when the PR was abandoned, refresh the running Promotions waiting on
  ``resource._links.web.href``; other events are a 400.
* Any other sender is a 400.
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
    Reply,
    Text,
    parse_payload,
)
from shunter.receivers.media_types import normalized_repo_urls
from shunter.receivers.providers.common import Link
from shunter.receivers.providers.github import PING_REPLY

__all__ = ["handle"]

ACR_AGENT = "AzureContainerRegistry"
DEVOPS_AGENT = "VSServices"


class _Target(PayloadModel):
    media_type: Text = Field(default="", alias="mediaType")
    repository: Text = ""
    tag: Text = ""


class _Request(PayloadModel):
    host: Text = ""


class _RegistryEvent(PayloadModel):
    action: Text = ""
    target: _Target | None = None
    request: _Request | None = None


class _Links(PayloadModel):
    web: Link | None = None


class _RefUpdate(PayloadModel):
    name: Text = ""


class _Repository(PayloadModel):
    remote_url: Text = Field(default="", alias="remoteUrl")


class _Resource(PayloadModel):
    status: Text = ""
    links: _Links | None = Field(default=None, alias="_links")
    ref_updates: list[_RefUpdate] | None = Field(default=None, alias="refUpdates")
    repository: _Repository | None = None


class _DevOpsEvent(PayloadModel):
    event_type: Text = Field(default="", alias="eventType")
    resource: _Resource | None = None


def handle(request: Inbound, secret: bytes, config: WebhookReceiverConfig) -> Outcome:
    """Read one Azure event."""
    agent = request.header("User-Agent")
    if agent.startswith(ACR_AGENT):
        return _registry(parse_payload(request.body, _RegistryEvent))
    if agent.startswith(DEVOPS_AGENT):
        return _devops(parse_payload(request.body, _DevOpsEvent))
    raise Rejected(400, "request does not appear to have originated from a supported service")


def _registry(event: _RegistryEvent) -> Outcome:
    if event.action == "ping":
        return PING_REPLY
    if event.action != "push":
        raise Rejected(400, f"event type {event.action} is not supported")
    target = event.target or _Target()
    host = event.request.host if event.request else ""
    urls = normalized_repo_urls(f"{host}/{target.repository}", target.media_type)
    return RefreshWarehouses(urls, (target.tag,))


def _devops(event: _DevOpsEvent) -> Outcome:
    resource = event.resource or _Resource()
    web = resource.links.web if resource.links else None
    pr_url = web.href if web else ""
    if event.event_type == "git.push":
        remote = resource.repository.remote_url if resource.repository else ""
        refs = tuple(update.name for update in resource.ref_updates or [])
        return RefreshWarehouses((normalize_git_url(remote),), refs)
    if event.event_type == "git.pullrequest.merged":
        return RefreshPromotions(pr_url)
    if event.event_type == "git.pullrequest.updated":
        return RefreshPromotions(pr_url) if resource.status == "abandoned" else Reply()
    raise Rejected(400, f"event type {event.event_type} is not supported")
