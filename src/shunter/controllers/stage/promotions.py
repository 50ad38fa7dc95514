"""The Stage's Promotion queue: which Promotion runs next, and the record of finished ones.

Terminal Promotions not yet recorded are replayed oldest first: each becomes
``lastPromotion``; a Succeeded one pushes its FreightCollection onto ``freightHistory``;
hold/resume intents update ``autoPromotionHolds``. When nothing is running (and the current
Freight is not waiting for verification), the oldest pending Promotion becomes
``currentPromotion`` - which is what lets the Promotion controller run it - unless promotion
windows keep the Stage closed (the Promotion waits for them to open).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from shunter.api.v1alpha1 import Promotion, PromotionPhase
from shunter.api.v1alpha1 import annotations as ann
from shunter.api.v1alpha1._base import ConditionStatus
from shunter.api.v1alpha1.common import FreightOrigin, FreightReference
from shunter.api.v1alpha1.stage import AutoPromotionHold, PromotionReference, StageStatus
from shunter.controllers.collections import push_history
from shunter.controllers.conditions import remove_condition, set_condition
from shunter.controllers.stage.context import StagePass, phase_of, promotions_frozen
from shunter.controllers.stage.verification import awaiting_verification

__all__ = ["finish_key", "hold_of", "order_key", "sort_promotions", "sync_promotions"]


def order_key(p: Promotion) -> tuple[str, str]:
    """Creation order (then name)."""
    return (p.metadata.creation_timestamp or "", p.metadata.name or "")


def finish_key(p: Promotion) -> tuple[str, str, str]:
    """Finishing order (then creation order)."""
    finished = p.status.finished_at.isoformat() if p.status and p.status.finished_at else ""
    return (finished, *order_key(p))


def sort_promotions(promotions: Sequence[Promotion]) -> list[Promotion]:
    """Kargo's queue order: Running first, other non-terminal oldest first, terminal newest
    first."""
    running = [p for p in promotions if phase_of(p) == PromotionPhase.RUNNING]
    waiting = [
        p for p in promotions if phase_of(p) is None or phase_of(p) == PromotionPhase.PENDING
    ]
    done = [p for p in promotions if (ph := phase_of(p)) is not None and ph.is_terminal]
    return (
        sorted(running, key=order_key)
        + sorted(waiting, key=order_key)
        + sorted(done, key=order_key, reverse=True)
    )


def sync_promotions(sp: StagePass) -> None:
    """Record finished Promotions and pick the next one to run (updates ``sp.status``)."""
    status = sp.status
    current = status.current_promotion
    by_name = {p.metadata.name: p for p in sp.promotions}
    if current is not None:
        still = by_name.get(current.name)
        if still is None or (ph := phase_of(still)) is None or ph.is_terminal:
            status = status.model_copy(update={"current_promotion": None})
            status.conditions = remove_condition(status.conditions, "Promoting")
    sp.status = status
    _replay_terminal(sp)
    status = sp.status
    if status.current_promotion is not None or awaiting_verification(status):
        return
    if promotions_frozen(status):
        return  # pending Promotions wait for the promotion windows to open
    queue = [
        p
        for p in sort_promotions(sp.promotions)
        if not (phase_of(p) or PromotionPhase.PENDING).is_terminal
    ]
    if not queue:
        return
    top = queue[0]
    if not top.spec.steps or not top.spec.freight:
        return  # the Promotion controller has not filled it in yet
    status.current_promotion = PromotionReference(
        name=top.metadata.name or "", freight=FreightReference(name=top.spec.freight)
    )
    status.conditions = set_condition(
        status.conditions,
        "Promoting",
        True,
        "ActivePromotion",
        f"Promotion {top.metadata.name} is running",
        generation=sp.generation,
        now=sp.now,
    )


def _replay_terminal(sp: StagePass) -> None:
    status = sp.status
    last = status.last_promotion
    last_key: tuple[str, str, str] | None = None
    if last is not None:
        recorded = next((p for p in sp.promotions if p.metadata.name == last.name), None)
        if recorded is not None:
            last_key = finish_key(recorded)
        elif last.finished_at is not None:
            last_key = (last.finished_at.isoformat(), "", "")
    done = sorted(
        (p for p in sp.promotions if (ph := phase_of(p)) is not None and ph.is_terminal),
        key=finish_key,
    )
    requested = {r.origin.key for r in sp.stage.spec.requested_freight}
    for promo in done:
        if last_key is not None and finish_key(promo) <= last_key:
            continue
        if (
            status.current_promotion is not None
            and status.current_promotion.name == promo.metadata.name
        ):
            continue
        pstatus = promo.status
        if pstatus is None:
            continue
        _apply_intent(status, promo, requested)
        status.last_promotion = PromotionReference(
            name=promo.metadata.name or "",
            freight=pstatus.freight or FreightReference(name=promo.spec.freight),
            status=pstatus,
            finished_at=pstatus.finished_at,
        )
        if pstatus.phase == PromotionPhase.SUCCEEDED and pstatus.freight_collection:
            collection = pstatus.freight_collection.model_copy(deep=True)
            collection.verification_history = None
            history = status.freight_history or []
            if history and history[0].id == collection.id:
                # Re-promotion of the current Freight: verify it again.
                status.freight_history = [collection, *history[1:]]
            else:
                status.freight_history = push_history(status.freight_history, collection)
            status.health = None
            for condition, reason, message in (
                ("Healthy", "WaitingForHealthCheck", "Waiting for health checks"),
                ("Verified", "WaitingForVerification", "Waiting for verification"),
            ):
                status.conditions = set_condition(
                    status.conditions,
                    condition,
                    ConditionStatus.UNKNOWN,
                    reason,
                    message,
                    generation=sp.generation,
                    now=sp.now,
                )
        last_key = finish_key(promo)


def _apply_intent(status: StageStatus, promo: Promotion, requested: set[str]) -> None:
    annotations = promo.metadata.annotations or {}
    holds = dict(status.auto_promotion_holds or {})
    if phase_of(promo) != PromotionPhase.ABORTED:
        hold_origin = annotations.get(ann.AUTO_PROMOTION_HOLD)
        resume_origin = annotations.get(ann.AUTO_PROMOTION_RESUME)
        if hold_origin and hold_origin in requested:
            holds[hold_origin] = hold_of(
                promo, hold_origin, created_at=promo.status.finished_at if promo.status else None
            )
        if resume_origin:
            holds.pop(resume_origin, None)
    holds = {k: v for k, v in holds.items() if k in requested}
    status.auto_promotion_holds = holds or None


def hold_of(
    promo: Promotion, origin: str, *, created_at: datetime | None = None
) -> AutoPromotionHold:
    """The auto-promotion hold a manual Promotion places on ``origin``."""
    annotations = promo.metadata.annotations or {}
    kind, _, warehouse = origin.partition("/")
    return AutoPromotionHold(
        freight_name=promo.spec.freight or "",
        origin=FreightOrigin.model_validate({"kind": kind, "name": warehouse}),
        promotion_name=promo.metadata.name,
        actor=annotations.get(ann.CREATE_ACTOR),
        created_at=created_at,
    )
