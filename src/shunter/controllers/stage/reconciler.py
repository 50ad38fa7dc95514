"""The Stage reconcile: reads the Stage, its Promotions and its Freight from the cache, runs
the parts in Kargo's order, and writes the status if it changed."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from shunter.api.v1alpha1 import PromotionPhase
from shunter.api.v1alpha1 import annotations as ann
from shunter.api.v1alpha1.stage import StageStatus
from shunter.controllers.lookups import stage_auto_promotion_enabled, stage_freight
from shunter.controllers.stage.autopromotion import auto_promote
from shunter.controllers.stage.context import StageDeps, StagePass, patch_freight_status, phase_of
from shunter.controllers.stage.freight import mark_control_flow, mark_verified, sync_currently_in
from shunter.controllers.stage.health import assess_health, has_health_checks
from shunter.controllers.stage.promotions import sync_promotions
from shunter.controllers.stage.rollback import auto_rollback
from shunter.controllers.stage.status import (
    settling,
    summarize,
    summarize_control_flow,
    write_status,
)
from shunter.controllers.stage.verification import verify
from shunter.controllers.windows import stage_window_state, window_status
from shunter.kube.client import ConflictError, NotFoundError

__all__ = ["StageOutcome", "StageReconciler"]

log = logging.getLogger(__name__)

#: Seconds after a promotion window's edge at which the Stage looks again.
_EDGE_MARGIN = 0.2


@dataclass(frozen=True)
class StageOutcome:
    """Requeue hint (seconds)."""

    requeue_after: float | None = None


def _soaks(sp: StagePass) -> bool:
    return any(r.sources.required_soak_time for r in sp.stage.spec.requested_freight)


class StageReconciler:
    """Reconciles one Stage at a time."""

    def __init__(self, deps: StageDeps, *, resync_seconds: float = 300.0) -> None:
        self.deps = deps
        self._resync = resync_seconds

    @property
    def analysis_enabled(self) -> bool:
        """Whether AnalysisRuns can be created (the analysis CRDs exist)."""
        return self.deps.analysis_enabled

    @analysis_enabled.setter
    def analysis_enabled(self, value: bool) -> None:
        self.deps.analysis_enabled = value

    async def reconcile(self, namespace: str, name: str) -> StageOutcome:
        """One pass over a Stage."""
        deps = self.deps
        stage = deps.cache.stage(namespace, name)
        if stage is None or stage.metadata.deletion_timestamp:
            return StageOutcome()
        old_status = stage.status or StageStatus()
        status = old_status.model_copy(deep=True)
        current = status.freight_history[0] if status.freight_history else None
        in_use = {i.name or "" for i in (current.items or {}).values()} if current else set()
        template = stage.spec.promotion_template
        control_flow = template is None or not template.spec.steps
        # Only control flow and auto-promotion look at every Freight of the requested origins.
        origins = control_flow or stage_auto_promotion_enabled(deps.cache, stage)
        sp = StagePass(
            stage=stage,
            status=status,
            promotions=deps.cache.promotions_for(namespace, name),
            freights=stage_freight(deps.cache, stage, in_use, origins=origins),
            now=datetime.now(UTC).replace(microsecond=0),
        )
        requeue: float | None = None
        windows = None if control_flow else stage_window_state(deps.cache, stage, sp.now)
        sp.status.promotion_window_status = window_status(windows)
        if control_flow:
            await mark_control_flow(deps, sp)
            summarize_control_flow(sp)
        else:
            sync_promotions(sp)
            await sync_currently_in(deps, sp)
            await assess_health(deps, sp)
            await verify(deps, sp)
            await mark_verified(deps, sp)
            await auto_rollback(deps, sp)
            await auto_promote(deps, sp)
            summarize(sp)
            if any(phase_of(p) in (None, PromotionPhase.PENDING) for p in sp.promotions) and (
                sp.status.current_promotion is None
            ):
                requeue = 1.0
            elif settling(sp.status):
                requeue = 2.0
            elif has_health_checks(sp) or _soaks(sp):
                # Health lives outside the cluster's objects; soak time passes without events.
                requeue = self._resync
            if windows is not None and windows.next_change is not None:
                # Look again when the schedule opens or closes, not only on events.
                edge = (windows.next_change - datetime.now(UTC)).total_seconds() + _EDGE_MARGIN
                requeue = max(edge, 0.0) if requeue is None else min(requeue, max(edge, 0.0))
        sp.status = sp.status.model_copy(
            update={
                "observed_generation": stage.metadata.generation,
                "last_handled_refresh": (stage.metadata.annotations or {}).get(
                    ann.REFRESH, sp.status.last_handled_refresh
                ),
            }
        )
        if sp.status != old_status:
            try:
                await write_status(deps, sp)
            except ConflictError:
                # Someone changed the Stage since it was read: look again with fresh data.
                return StageOutcome(requeue_after=0.5)
        if sp.status.current_promotion is not None:
            # Only now can the Promotion controller see that it is this Promotion's turn.
            deps.enqueue.promotion(namespace, sp.status.current_promotion.name)
        if sp.status.promotion_window_status != old_status.promotion_window_status:
            # Waiting Promotions say why they wait (or stop saying it).
            for promotion in sp.promotions:
                if not (phase_of(promotion) or PromotionPhase.PENDING).is_terminal:
                    deps.enqueue.promotion(namespace, promotion.metadata.name or "")
        return StageOutcome(requeue_after=requeue)

    async def forget(self, namespace: str, name: str) -> None:
        """A Stage was deleted: remove it from every Freight's currentlyIn, verifiedIn and
        approvedFor (Kargo does this in the Stage's finalizer). A Stage that only left this
        operator's cache - relabelled for another shard - is still there: nothing to forget."""
        try:
            await self.deps.kube.get_custom(namespace, "stages", name)
        except NotFoundError:
            pass
        else:
            return
        for freight in self.deps.cache.freight_for_stage(namespace, name):
            fstatus = freight.status
            if fstatus is None:
                continue
            patch = {
                key: {name: None}
                for key, entries in (
                    ("currentlyIn", fstatus.currently_in),
                    ("verifiedIn", fstatus.verified_in),
                    ("approvedFor", fstatus.approved_for),
                )
                if entries and name in entries
            }
            if patch:
                await patch_freight_status(self.deps, freight, patch)
