"""One module per sender: each authenticates a request the way that provider signs it and turns
its payload into an :data:`~shunter.receivers.events.Outcome` (no cluster access).

:data:`HANDLERS` maps a receiver type (``github``, ``dockerhub``...) to its handler,
``handle(request, secret, config) -> Outcome``, where ``secret`` is the value of the type's key
in the receiver's Secret.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from shunter.api.v1alpha1.project import WebhookReceiverConfig
from shunter.receivers.events import Inbound, Outcome
from shunter.receivers.providers import (
    artifactory,
    azure,
    bitbucket,
    dockerhub,
    generic,
    gitea,
    github,
    gitlab,
    harbor,
    quay,
)

__all__ = ["HANDLERS", "Handler"]

Handler = Callable[[Inbound, bytes, WebhookReceiverConfig], Outcome]

HANDLERS: Mapping[str, Handler] = {
    "artifactory": artifactory.handle,
    "azure": azure.handle,
    "bitbucket": bitbucket.handle,
    "dockerhub": dockerhub.handle,
    "generic": generic.handle,
    "gitea": gitea.handle,
    "github": github.handle,
    "gitlab": gitlab.handle,
    "harbor": harbor.handle,
    "quay": quay.handle,
}
