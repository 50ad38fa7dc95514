"""The generic receiver: any POST, turned into the request its actions' expressions see.

Authentication: the URL only (the Secret's ``secret`` is hashed into the receiver's path). The
body, when there is one, must be JSON (any JSON value); its actions run in
:mod:`shunter.receivers.actions`.
"""

from __future__ import annotations

import json

from shunter.api.v1alpha1.project import WebhookReceiverConfig
from shunter.receivers.events import INVALID_BODY, Inbound, Outcome, Rejected, RunActions

__all__ = ["handle"]


def handle(request: Inbound, secret: bytes, config: WebhookReceiverConfig) -> Outcome:
    """Read one request for a generic receiver."""
    body = None
    if request.body:
        try:
            body = json.loads(request.body)
        except (ValueError, UnicodeDecodeError, RecursionError) as error:
            raise Rejected(400, f"{INVALID_BODY}: {error}") from None
    headers = {key.lower(): tuple(request.headers.getall(key)) for key in request.headers}
    query = {key: tuple(request.query.getall(key)) for key in request.query}
    return RunActions(body, headers, query)
