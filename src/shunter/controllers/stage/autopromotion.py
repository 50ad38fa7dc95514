"""Auto-promotion: a Promotion for the newest available Freight of each requested origin, where
the project's policy allows it.

Nothing is created while promotion windows keep the Stage closed (the reconcile at the next
opening promotes the then-newest Freight), while a hold is in force (a manual promotion of
other Freight holds the origin back), for Freight the Stage already has or is promoting, or
for Freight whose last automatic Promotion did not succeed (never retried automatically).
"""

from __future__ import annotations

import logging

from shunter.api.v1alpha1 import Freight, PromotionPhase
from shunter.api.v1alpha1 import annotations as ann
from shunter.api.v1alpha1.stage import AutoPromotionHold
from shunter.controllers.availability import auto_promotion_candidate
from shunter.controllers.lookups import stage_auto_promotion_enabled
from shunter.controllers.stage.context import (
    StageDeps,
    StagePass,
    current_collection,
    phase_of,
    promotions_frozen,
)
from shunter.controllers.stage.creation import create_promotion
from shunter.controllers.stage.promotions import finish_key, hold_of, order_key

__all__ = ["CONTROLLER_ACTOR", "auto_promote"]

log = logging.getLogger(__name__)

#: ``kargo.akuity.io/create-actor`` of Promotions the Stage controller creates.
CONTROLLER_ACTOR = "controller:shunter"


async def auto_promote(deps: StageDeps, sp: StagePass) -> None:
    """Create the Promotions auto-promotion calls for; record the holds in force."""
    status = sp.status
    enabled = stage_auto_promotion_enabled(deps.cache, sp.stage)
    status.auto_promotion_enabled = enabled or None
    if not enabled:
        status.auto_promotion_holds = None
        status.effective_auto_promotion_holds = None
        return
    effective = _effective_holds(sp)
    status.effective_auto_promotion_holds = effective or None
    if promotions_frozen(status):
        return  # promotion windows are closed: the next opening promotes the newest Freight
    current = current_collection(status)
    current_names = {i.name for i in (current.items or {}).values()} if current else set()
    for request in sp.stage.spec.requested_freight:
        if request.origin.key in effective:
            continue
        candidate = auto_promotion_candidate(sp.stage, request, sp.freights, sp.now)
        if candidate is None:
            continue
        fname = candidate.metadata.name or ""
        if fname in current_names:
            continue
        promoting = status.current_promotion
        if promoting and promoting.freight and promoting.freight.name == fname:
            continue
        same = [p for p in sp.promotions if p.spec.freight == fname]
        if any(not (phase_of(p) or PromotionPhase.PENDING).is_terminal for p in same):
            continue
        finished = sorted(same, key=finish_key)
        if finished and phase_of(finished[-1]) != PromotionPhase.SUCCEEDED:
            continue  # a failed automatic promotion is never retried automatically
        if finished and (
            status.last_promotion is None
            or status.last_promotion.name != finished[-1].metadata.name
        ):
            continue  # succeeded but not yet recorded by this Stage: wait for the replay
        await _create_promotion(deps, sp, candidate)


def _effective_holds(sp: StagePass) -> dict[str, AutoPromotionHold]:
    holds = dict(sp.status.auto_promotion_holds or {})
    in_flight = sorted(
        (p for p in sp.promotions if not (phase_of(p) or PromotionPhase.PENDING).is_terminal),
        key=order_key,
    )
    for promo in in_flight:
        annotations = promo.metadata.annotations or {}
        if origin := annotations.get(ann.AUTO_PROMOTION_HOLD):
            holds[origin] = hold_of(promo, origin)
        if origin := annotations.get(ann.AUTO_PROMOTION_RESUME):
            holds.pop(origin, None)
    return holds


async def _create_promotion(deps: StageDeps, sp: StagePass, freight: Freight) -> None:
    created = await create_promotion(
        deps,
        sp,
        freight,
        annotations={ann.CREATE_ACTOR: CONTROLLER_ACTOR},
        message=f"Automatically promoted Freight from origin {freight.origin.key} "
        f"for Stage {sp.name!r}",
    )
    if created is not None:
        log.info(
            "auto-promoting Freight %s to Stage %s/%s as %s",
            freight.metadata.name,
            sp.namespace,
            sp.name,
            created.metadata.name,
        )
