"""The Stage's summary: ``freightSummary`` and the ``Ready`` condition, whether health or
verification is still moving, and writing the status."""

from __future__ import annotations

from typing import Any

from shunter.api.v1alpha1 import PromotionPhase, to_wire
from shunter.api.v1alpha1._base import ConditionStatus
from shunter.api.v1alpha1.stage import HealthState, StageStatus
from shunter.cache import STAGES
from shunter.controllers.conditions import get_condition, set_condition
from shunter.controllers.stage.context import (
    TERMINAL_VERIFICATION,
    StageDeps,
    StagePass,
    current_collection,
)

__all__ = ["settling", "summarize", "summarize_control_flow", "write_status"]


def summarize(sp: StagePass) -> None:
    """``freightSummary`` and ``Ready`` from the other conditions."""
    status = sp.status
    current = current_collection(status)
    requested = sp.stage.spec.requested_freight
    items = (current.items or {}) if current else {}
    if len(requested) == 1:
        item = items.get(requested[0].origin.key)
        status.freight_summary = item.name if item else None
    else:
        fulfilled = sum(1 for r in requested if r.origin.key in items)
        status.freight_summary = f"{fulfilled}/{len(requested)} Fulfilled"
    promoting = get_condition(status.conditions, "Promoting")
    healthy = get_condition(status.conditions, "Healthy")
    verified = get_condition(status.conditions, "Verified")
    last = status.last_promotion
    last_phase = last.status.phase if last and last.status else None
    if promoting is not None and promoting.status == ConditionStatus.TRUE:
        ready = (False, promoting.reason, promoting.message)
    elif last_phase is not None and last_phase != PromotionPhase.SUCCEEDED:
        message = (last.status.message if last and last.status else "") or ""
        ready = (False, f"LastPromotion{last_phase.value}", message)
    elif current is None:
        ready = (False, "NoFreight", "The Stage has no Freight yet")
    elif healthy is not None and healthy.status != ConditionStatus.TRUE:
        ready = (False, healthy.reason, healthy.message)
    elif verified is None or verified.status != ConditionStatus.TRUE:
        reason = verified.reason if verified else "PendingVerification"
        ready = (False, reason, verified.message if verified else "Waiting for verification")
    else:
        ready = (True, "Verified", "Stage is ready")
    status.conditions = set_condition(
        status.conditions, "Ready", *ready, generation=sp.generation, now=sp.now
    )


def summarize_control_flow(sp: StagePass) -> None:
    """A control-flow Stage is always Ready."""
    sp.status.conditions = set_condition(
        sp.status.conditions,
        "Ready",
        True,
        "ControlFlowStage",
        "Control-flow Stage: available Freight is verified here at once",
        generation=sp.generation,
        now=sp.now,
    )


def settling(status: StageStatus) -> bool:
    """Health or verification is still moving: look again soon."""
    current = current_collection(status)
    if current is None or status.current_promotion is not None:
        return False
    if status.health is not None and status.health.status in (
        HealthState.PROGRESSING,
        HealthState.UNKNOWN,
    ):
        return True
    history = current.verification_history or []
    return bool(history) and history[0].phase not in TERMINAL_VERIFICATION


async def write_status(deps: StageDeps, sp: StagePass) -> None:
    """Replace the Stage's status (guarded by its resourceVersion: a stale write raises
    ``ConflictError``) and take the answer into the cache."""
    meta = sp.stage.metadata
    body: dict[str, Any] = {
        "apiVersion": "kargo.akuity.io/v1alpha1",
        "kind": "Stage",
        "metadata": {
            "name": meta.name,
            "namespace": meta.namespace,
            "resourceVersion": meta.resource_version,
        },
        "status": to_wire(sp.status),
    }
    written = await deps.kube.replace_status_custom(sp.namespace, "stages", sp.name, body)
    deps.cache.apply(STAGES, written)
