"""The Kubernetes client of the steps that change Kargo objects (set-metadata, set-freight-alias).

Owns :func:`kube_client`: the operator's :class:`~shunter.kube.KubeClient` from
``ctx.capabilities.extras["kube"]``, or a terminal error naming the step when none is configured.
"""

from __future__ import annotations

from shunter.kube import KubeClient
from shunter.promotion.step import StepContext, TerminalStepError

__all__ = ["KUBE_EXTRA", "kube_client"]

#: The ``Capabilities.extras`` key holding the operator's :class:`KubeClient`.
KUBE_EXTRA = "kube"


def kube_client(ctx: StepContext, step: str) -> KubeClient:
    """The Kubernetes client the engine gave the steps."""
    client = ctx.capabilities.extras.get(KUBE_EXTRA)
    if not isinstance(client, KubeClient):
        raise TerminalStepError(
            f"the {step} step needs a Kubernetes client, and none is configured"
        )
    return client
