"""Docker Hub: repository push events.

Authentication: the URL only (Docker Hub signs nothing; the Secret's ``secret`` is hashed into
the receiver's path). The Warehouses subscribed to ``repository.repo_name`` (normalised as an
image or a chart as ``push_data.media_type`` says) that would consider ``push_data.tag``.
"""

from __future__ import annotations

from shunter.api.v1alpha1.project import WebhookReceiverConfig
from shunter.receivers.events import (
    Inbound,
    Outcome,
    PayloadModel,
    RefreshWarehouses,
    Text,
    parse_payload,
)
from shunter.receivers.media_types import normalized_repo_urls

__all__ = ["handle"]


class _PushData(PayloadModel):
    media_type: Text = ""
    tag: Text = ""


class _Repository(PayloadModel):
    repo_name: Text = ""


class _Push(PayloadModel):
    push_data: _PushData | None = None
    repository: _Repository | None = None


def handle(request: Inbound, secret: bytes, config: WebhookReceiverConfig) -> Outcome:
    """Read one Docker Hub event."""
    payload = parse_payload(request.body, _Push)
    data = payload.push_data or _PushData()
    name = payload.repository.repo_name if payload.repository else ""
    return RefreshWarehouses(normalized_repo_urls(name, data.media_type), (data.tag,))
