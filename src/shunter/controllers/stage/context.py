"""What every part of a Stage reconcile shares: the pass (the Stage, its new status, its
Promotions and Freight, the time) and the operator services it may use."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shunter.api.v1alpha1 import Freight, Promotion, PromotionPhase, Stage
from shunter.api.v1alpha1.common import FreightCollection, VerificationPhase
from shunter.api.v1alpha1.stage import StageStatus
from shunter.cache import FREIGHTS, KargoCache
from shunter.controllers.wiring import Enqueue, EventSink
from shunter.kube.client import KubeClient, NotFoundError
from shunter.promotion.environment import ResourceFetcher

__all__ = [
    "TERMINAL_VERIFICATION",
    "StageDeps",
    "StagePass",
    "current_collection",
    "patch_freight_status",
    "phase_of",
    "promotions_frozen",
    "timestamp",
]

log = logging.getLogger(__name__)

TERMINAL_VERIFICATION = frozenset(
    {
        VerificationPhase.SUCCESSFUL,
        VerificationPhase.FAILED,
        VerificationPhase.ERROR,
        VerificationPhase.ABORTED,
        VerificationPhase.INCONCLUSIVE,
    }
)


@dataclass
class StageDeps:
    """The services a Stage reconcile uses."""

    kube: KubeClient
    cache: KargoCache
    enqueue: Enqueue
    events: EventSink
    argocd_namespace: str = "argocd"
    #: Whether AnalysisRuns can be created (the analysis CRDs exist).
    analysis_enabled: bool = True
    #: Reads for the data and freight functions of verification arguments.
    data: ResourceFetcher | None = None
    #: Told of every auto-rollback decision, ``(namespace, stage, outcome)`` with outcome
    #: ``rolled-back`` or ``no-verified-freight`` (a metrics counter hooks in here).
    rollbacks: Callable[[str, str, str], None] | None = None


@dataclass
class StagePass:
    """One reconcile of one Stage: what was read, and the status being built."""

    stage: Stage
    status: StageStatus
    promotions: list[Promotion]
    freights: list[Freight]
    now: datetime

    @property
    def namespace(self) -> str:
        return self.stage.metadata.namespace or ""

    @property
    def name(self) -> str:
        return self.stage.metadata.name or ""

    @property
    def generation(self) -> int | None:
        return self.stage.metadata.generation


def phase_of(p: Promotion) -> PromotionPhase | None:
    """A Promotion's phase (None before the controller set one)."""
    return p.status.phase if p.status else None


def promotions_frozen(status: StageStatus) -> bool:
    """Promotion windows keep the Stage from starting a Promotion now."""
    windows = status.promotion_window_status
    return windows is not None and windows.closed


def current_collection(status: StageStatus) -> FreightCollection | None:
    """The Stage's current FreightCollection (the head of its history)."""
    return status.freight_history[0] if status.freight_history else None


def timestamp(when: datetime) -> str:
    """RFC 3339, seconds precision, ``Z``."""
    return when.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


async def patch_freight_status(deps: StageDeps, freight: Freight, patch: dict[str, Any]) -> None:
    """Merge-patch a Freight's status and take the answer into the cache."""
    try:
        written = await deps.kube.patch_custom(
            freight.metadata.namespace or "",
            "freights",
            freight.metadata.name or "",
            {"status": patch},
            status=True,
        )
    except NotFoundError:
        log.info("Freight %s vanished before its status was updated", freight.metadata.name)
        return
    deps.cache.apply(FREIGHTS, written)
