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
from shunter.api.v1alpha1 import labels as lbl
from shunter.api.v1alpha1.stage import AutoPromotionHold
from shunter.cache import PROMOTIONS
from shunter.controllers.availability import auto_promotion_candidate
from shunter.controllers.lookups import stage_auto_promotion_enabled
from shunter.controllers.naming import promotion_name
from shunter.controllers.stage.context import (
    StageDeps,
    StagePass,
    current_collection,
    phase_of,
    promotions_frozen,
)
from shunter.controllers.stage.promotions import finish_key, hold_of, order_key
from shunter.kube.client import ConflictError

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
    namespace, stage_name = sp.namespace, sp.name
    fname = freight.metadata.name or ""
    body = {
        "apiVersion": "kargo.akuity.io/v1alpha1",
        "kind": "Promotion",
        "metadata": {
            "name": promotion_name(stage_name, fname),
            "namespace": namespace,
            "annotations": {ann.CREATE_ACTOR: CONTROLLER_ACTOR},
            # A Promotion belongs to its Stage's shard from the start (Kargo's webhook).
            "labels": {lbl.SHARD: sp.stage.spec.shard} if sp.stage.spec.shard else {},
        },
        "spec": {"stage": stage_name, "freight": fname},
    }
    try:
        created = await deps.kube.create_custom(namespace, "promotions", body)
    except ConflictError:
        return
    # The next pass must see this Promotion, or it would create another one.
    deps.cache.apply(PROMOTIONS, created)
    pname = created.get("metadata", {}).get("name", "")
    log.info("auto-promoting Freight %s to Stage %s/%s as %s", fname, namespace, stage_name, pname)
    await deps.events.emit(
        namespace=namespace,
        kind="Promotion",
        name=pname,
        uid=created.get("metadata", {}).get("uid"),
        reason="PromotionCreated",
        message=f"Automatically promoted Freight from origin {freight.origin.key} "
        f"for Stage {stage_name!r}",
        annotations={
            "event.kargo.akuity.io/stage-name": stage_name,
            "event.kargo.akuity.io/freight-name": fname,
            "event.kargo.akuity.io/freight-alias": freight.alias or "",
            "event.kargo.akuity.io/actor": CONTROLLER_ACTOR,
        },
    )
    deps.enqueue.promotion(namespace, pname)
