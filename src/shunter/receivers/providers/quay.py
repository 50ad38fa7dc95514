"""Quay: "Push to Repository" notifications.

Authentication: the URL only (the Secret's ``secret`` is hashed into the receiver's path). The
Warehouses subscribed to ``docker_url`` (as an image or a chart: Quay gives no media type) that
would consider one of ``updated_tags``.
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


class _Push(PayloadModel):
    docker_url: Text = ""
    updated_tags: list[str] | None = None


def handle(request: Inbound, secret: bytes, config: WebhookReceiverConfig) -> Outcome:
    """Read one Quay notification."""
    payload = parse_payload(request.body, _Push)
    return RefreshWarehouses(
        normalized_repo_urls(payload.docker_url), tuple(payload.updated_tags or ())
    )
