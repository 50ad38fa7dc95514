"""The Promotion controller: fills a new Promotion from its Stage, then runs it when the Stage
says it is its turn.

Order of business on each reconcile (Kargo's, adapted to having no admission webhook):

1. A Promotion without ``spec.steps`` gets the Stage's promotion template (tasks inflated,
   Stage vars + template vars) and, for ``spec.origin``, the current candidate Freight. Kargo
   does this in a mutating webhook; here it happens once, on the first reconcile, and the CRD
   then keeps ``steps`` and ``vars`` immutable.
2. No phase yet: ``Pending``.
3. An abort request (``kargo.akuity.io/abort: terminate``) ends it as ``Aborted``.
4. Wait until the Stage's ``status.currentPromotion`` names this Promotion.
5. Before the first step: the Freight must be available to the Stage, else ``Errored`` with the
   reason. Then the engine runs the steps, saving the status after every step.
6. On a terminal phase: an Event, and the Stage is woken to record the result.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shunter.api.v1alpha1 import Freight, Promotion, PromotionPhase, Stage, to_wire
from shunter.api.v1alpha1 import annotations as ann
from shunter.api.v1alpha1 import labels as lbl
from shunter.api.v1alpha1.common import FreightReference, PromotionTaskReference
from shunter.api.v1alpha1.promotion import PromotionStatus
from shunter.api.v1alpha1.promotion_task import PromotionTaskSpec
from shunter.cache import FREIGHTS, PROMOTIONS, STAGES, KargoCache
from shunter.controllers.availability import auto_promotion_candidate, freight_availability
from shunter.controllers.collections import freight_reference, with_freight
from shunter.controllers.lookups import stage_auto_promotion_enabled
from shunter.controllers.naming import shorten_label_value
from shunter.controllers.wiring import Enqueue, EventSink
from shunter.kube.client import KubeClient, NotFoundError
from shunter.kube.informer import Kind
from shunter.promotion.context import PromotionContext
from shunter.promotion.engine import Engine
from shunter.promotion.errors import InflationError
from shunter.promotion.tasks import inflate_stage_template

__all__ = ["PromotionReconciler"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PromotionOutcome:
    """Requeue hint for the work queue (seconds), or None."""

    requeue_after: float | None = None


class PromotionReconciler:
    """Reconciles one Promotion at a time (the work queue guarantees one worker per key)."""

    def __init__(
        self,
        kube: KubeClient,
        cache: KargoCache,
        engine: Engine,
        enqueue: Enqueue,
        events: EventSink,
    ) -> None:
        self._kube = kube
        self._cache = cache
        self._engine = engine
        self._enqueue = enqueue
        self._events = events

    async def reconcile(self, namespace: str, name: str) -> PromotionOutcome:
        """One pass over a Promotion."""
        promotion = self._cache.promotion(namespace, name)
        if promotion is None:
            return PromotionOutcome()
        status = promotion.status or PromotionStatus()
        refresh = (promotion.metadata.annotations or {}).get(ann.REFRESH)
        if refresh and refresh != status.last_handled_refresh:
            # Echo the refresh request (the CLI's --wait looks for it); a reconcile is under way.
            status = status.model_copy(update={"last_handled_refresh": refresh})
            await self._save(promotion, status)
        if status.phase is not None and status.phase.is_terminal:
            return PromotionOutcome()

        stage = await self._stage(namespace, promotion.spec.stage)
        if stage is None:
            await self._finish(
                promotion,
                status,
                PromotionPhase.ERRORED,
                f"Stage {promotion.spec.stage!r} not found in namespace {namespace!r}",
            )
            return PromotionOutcome()

        if not promotion.spec.steps or not promotion.spec.freight:
            problem = await self._fill_spec(promotion, stage)
            if problem:
                await self._finish(promotion, status, PromotionPhase.ERRORED, problem)
                return PromotionOutcome()
            return PromotionOutcome(requeue_after=0.0)

        if status.phase is None:
            status = status.model_copy(update={"phase": PromotionPhase.PENDING})
            await self._save(promotion, status)
            self._enqueue.stage(namespace, stage.metadata.name or "")

        pctx_abort = (promotion.metadata.annotations or {}).get(ann.ABORT)
        current = stage.status.current_promotion if stage.status else None
        is_current = current is not None and current.name == name
        if pctx_abort and (status.phase == PromotionPhase.PENDING and not is_current):
            await self._finish(
                promotion, status, PromotionPhase.ABORTED, "Promotion aborted before it started"
            )
            return PromotionOutcome()
        if not is_current:
            # The Stage wakes this Promotion when it is its turn; look again now and then anyway.
            return PromotionOutcome(requeue_after=30.0)

        freight = await self._freight(namespace, promotion.spec.freight or "")
        if freight is None:
            await self._finish(
                promotion,
                status,
                PromotionPhase.ERRORED,
                f"Freight {promotion.spec.freight!r} not found in namespace {namespace!r}",
            )
            return PromotionOutcome()
        if status.phase == PromotionPhase.PENDING:
            availability = freight_availability(stage, freight)
            if not availability.available:
                await self._finish(
                    promotion,
                    status,
                    PromotionPhase.ERRORED,
                    f"Freight {freight.metadata.name!r} is not available to Stage "
                    f"{stage.metadata.name!r}: {availability.reason}",
                )
                return PromotionOutcome()

        target = freight_reference(freight)
        last = stage.status.last_promotion if stage.status else None
        base = last.status.freight_collection if last and last.status else None
        if base is None and stage.status and stage.status.freight_history:
            base = stage.status.freight_history[0]
        collection = with_freight(
            base, target, [r.origin.key for r in stage.spec.requested_freight]
        )
        pctx = PromotionContext.from_promotion(
            promotion,
            stage=stage,
            target_freight=target,
            freight=collection,
            target_freight_alias=freight.alias or "",
        )

        async def save(new_status: PromotionStatus) -> None:
            await self._save(promotion, new_status)

        result = await self._engine.run(pctx, status, save=save)
        if result.terminal:
            await self._emit_terminal(promotion, result.status, freight)
            self._enqueue.stage(namespace, stage.metadata.name or "")
            return PromotionOutcome()
        if result.requeue_after is None:
            return PromotionOutcome()
        return PromotionOutcome(requeue_after=result.requeue_after.total_seconds())

    # -- steps and freight -----------------------------------------------------------------

    async def _fill_spec(self, promotion: Promotion, stage: Stage) -> str | None:
        """Copy steps/vars from the Stage and resolve ``origin``; returns a problem or None."""
        namespace = promotion.metadata.namespace or ""
        patch: dict[str, Any] = {"spec": {}}
        if not promotion.spec.freight:
            origin = promotion.spec.origin
            if origin is None:
                return "the Promotion names neither freight nor origin"
            request = next(
                (r for r in stage.spec.requested_freight if r.origin.key == origin.key), None
            )
            if request is None:
                return f"Stage {stage.metadata.name!r} does not request Freight from {origin.key}"
            freights = self._cache.freight_from(namespace, origin.key)
            candidate = auto_promotion_candidate(stage, request, freights)
            if candidate is None:
                return f"no Freight from {origin.key} is available to Stage {stage.metadata.name!r}"
            patch["spec"]["freight"] = candidate.metadata.name
            patch["spec"]["origin"] = None
        if not promotion.spec.steps:
            template = stage.spec.promotion_template
            if template is None or not template.spec.steps:
                return f"Stage {stage.metadata.name!r} has no promotion steps to run"
            try:
                inflated = await inflate_stage_template(stage, self._lookup_task)
            except InflationError as exc:
                return str(exc)
            patch["spec"]["steps"] = [to_wire(s) for s in inflated.steps]
            if inflated.vars:
                patch["spec"]["vars"] = [to_wire(v) for v in inflated.vars]
        stage_name = stage.metadata.name or ""
        patch["metadata"] = {
            "labels": {lbl.STAGE: shorten_label_value(stage_name)},
            "annotations": {ann.STAGE: stage_name, **await self._intent(promotion, stage, patch)},
        }
        if stage.spec.shard:
            patch["metadata"]["labels"][lbl.SHARD] = stage.spec.shard
        if stage.metadata.uid and not promotion.metadata.owner_references:
            patch["metadata"]["ownerReferences"] = [
                {
                    "apiVersion": "kargo.akuity.io/v1alpha1",
                    "kind": "Stage",
                    "name": stage_name,
                    "uid": stage.metadata.uid,
                    "blockOwnerDeletion": True,
                    "controller": True,
                }
            ]
        written = await self._kube.patch_custom(
            namespace, "promotions", promotion.metadata.name or "", patch
        )
        self._cache.apply(PROMOTIONS, written)
        return None

    async def _intent(
        self, promotion: Promotion, stage: Stage, patch: dict[str, Any]
    ) -> dict[str, str | None]:
        """Hold or resume auto-promotion: Kargo stamps this on user-created Promotions of
        Stages that auto-promote (a manual promotion of anything but the newest candidate holds
        automation back, so it cannot undo a rollback)."""
        annotations = promotion.metadata.annotations or {}
        actor = annotations.get(ann.CREATE_ACTOR, "")
        cleared: dict[str, str | None] = {
            ann.AUTO_PROMOTION_HOLD: None,
            ann.AUTO_PROMOTION_RESUME: None,
        }
        if actor.startswith("controller:"):
            return {}
        if not stage_auto_promotion_enabled(self._cache, stage):
            return cleared
        namespace = promotion.metadata.namespace or ""
        freight_name = patch["spec"].get("freight") or promotion.spec.freight
        freight = self._cache.freight(namespace, freight_name or "")
        if freight is None:
            return cleared
        request = next(
            (r for r in stage.spec.requested_freight if r.origin.key == freight.origin.key), None
        )
        if request is None:
            return cleared
        candidate = auto_promotion_candidate(
            stage, request, self._cache.freight_from(namespace, freight.origin.key)
        )
        key = freight.origin.key
        if candidate is not None and candidate.metadata.name == freight.metadata.name:
            return {ann.AUTO_PROMOTION_RESUME: key, ann.AUTO_PROMOTION_HOLD: None}
        return {ann.AUTO_PROMOTION_HOLD: key, ann.AUTO_PROMOTION_RESUME: None}

    async def _lookup_task(
        self, project: str, ref: PromotionTaskReference
    ) -> PromotionTaskSpec | None:
        if ref.kind is not None and ref.kind.value == "ClusterPromotionTask":
            raw = self._cache.cluster_promotion_task(ref.name)
        else:
            raw = self._cache.promotion_task(project, ref.name)
        if raw is None:
            return None
        return PromotionTaskSpec.model_validate(raw.get("spec") or {})

    async def _stage(self, namespace: str, name: str) -> Stage | None:
        """The Stage from the cache; on a miss, from the API server (its watch event may not
        have arrived yet)."""
        stage = self._cache.stage(namespace, name)
        if stage is None and await self._fetch(STAGES, namespace, name):
            stage = self._cache.stage(namespace, name)
        return stage

    async def _freight(self, namespace: str, name: str) -> Freight | None:
        """The Freight from the cache, else from the API server (see :meth:`_stage`)."""
        freight = self._cache.freight(namespace, name)
        if freight is None and name and await self._fetch(FREIGHTS, namespace, name):
            freight = self._cache.freight(namespace, name)
        return freight

    async def _fetch(self, kind: Kind, namespace: str, name: str) -> bool:
        try:
            self._cache.apply(kind, await self._kube.get_custom(namespace, kind.plural, name))
        except NotFoundError:
            return False
        return True

    # -- status ----------------------------------------------------------------------------

    async def _save(self, promotion: Promotion, status: PromotionStatus) -> None:
        body = to_wire(status)
        # A merge patch cannot remove keys it does not name: send every field (null clears).
        for key in PromotionStatus.model_fields:
            alias = PromotionStatus.model_fields[key].alias or key
            body.setdefault(alias, None)
        written = await self._kube.patch_custom(
            promotion.metadata.namespace or "",
            "promotions",
            promotion.metadata.name or "",
            {"status": body},
            status=True,
        )
        self._cache.apply(PROMOTIONS, written)

    async def _finish(
        self, promotion: Promotion, status: PromotionStatus, phase: PromotionPhase, message: str
    ) -> None:
        now = datetime.now(UTC).replace(microsecond=0)
        final = status.model_copy(update={"phase": phase, "message": message, "finished_at": now})
        await self._save(promotion, final)
        await self._emit_terminal(promotion, final, None)
        self._enqueue.stage(promotion.metadata.namespace or "", promotion.spec.stage)
        if promotion.metadata.uid:
            self._engine.cleanup(promotion.metadata.uid)

    async def _emit_terminal(
        self, promotion: Promotion, status: PromotionStatus, freight: Freight | None
    ) -> None:
        phase = status.phase or PromotionPhase.ERRORED
        reason = f"Promotion{phase.value}"
        ref: FreightReference | None = status.freight
        freight_name = (ref.name if ref else None) or promotion.spec.freight or ""
        message = f"Promotion {phase.value.lower()} for Stage {promotion.spec.stage!r}"
        if status.message:
            message += f": {status.message}"
        await self._events.emit(
            namespace=promotion.metadata.namespace or "",
            kind="Promotion",
            name=promotion.metadata.name or "",
            uid=promotion.metadata.uid,
            reason=reason,
            message=message,
            annotations={
                "event.kargo.akuity.io/project": promotion.metadata.namespace or "",
                "event.kargo.akuity.io/promotion-name": promotion.metadata.name or "",
                "event.kargo.akuity.io/stage-name": promotion.spec.stage,
                "event.kargo.akuity.io/freight-name": freight_name,
                "event.kargo.akuity.io/freight-alias": (freight.alias or "") if freight else "",
            },
            warning=phase not in (PromotionPhase.SUCCEEDED,),
        )
