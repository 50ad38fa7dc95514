"""Harbor: ``PUSH_ARTIFACT`` events (Harbor's "Default" payload format).

Authentication: the ``Authorization`` header must equal the Secret's ``auth-header`` (the "Auth
Header" set on Harbor's webhook). Other event types are a 400. The Warehouses subscribed to the
first resource's ``resource_url`` (as an image or a chart: Harbor gives no media type) that
would consider one of the resources' tags.
"""

from __future__ import annotations

from shunter.api.v1alpha1.project import WebhookReceiverConfig
from shunter.receivers.events import (
    Inbound,
    Outcome,
    PayloadModel,
    RefreshWarehouses,
    Rejected,
    Text,
    parse_payload,
)
from shunter.receivers.media_types import normalized_repo_urls
from shunter.receivers.signatures import same_secret

__all__ = ["handle"]

AUTH_HEADER = "Authorization"


class _Resource(PayloadModel):
    tag: Text = ""
    resource_url: Text = ""


class _EventData(PayloadModel):
    resources: list[_Resource] | None = None


class _Event(PayloadModel):
    type: Text = ""
    event_data: _EventData | None = None


def handle(request: Inbound, secret: bytes, config: WebhookReceiverConfig) -> Outcome:
    """Authenticate and read one Harbor event."""
    sent = request.header(AUTH_HEADER)
    if not sent:
        raise Rejected(401, "missing authorization")
    if not same_secret(sent, secret):
        raise Rejected(401, "unauthorized")
    event = parse_payload(request.body, _Event)
    if event.type != "PUSH_ARTIFACT":
        raise Rejected(400, "unsupported event type")
    resources = (event.event_data.resources if event.event_data else None) or []
    if not resources:
        return RefreshWarehouses(())
    return RefreshWarehouses(
        normalized_repo_urls(resources[0].resource_url), tuple(r.tag for r in resources)
    )
