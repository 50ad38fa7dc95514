"""The Promotion controller: fills a new Promotion from its Stage, then runs it when the Stage
says it is its turn.

Order of business on each reconcile:

1. A Promotion without ``spec.steps`` gets the Stage's promotion template (tasks inflated,
   Stage vars + template vars) and, for ``spec.origin``, the current candidate Freight
   (:mod:`shunter.controllers.promotion_spec`). The admission webhook does this at creation;
   this is the fallback for a namespace it does not serve. The CRD then keeps ``steps`` and
   ``vars`` immutable.
2. No phase yet: ``Pending``.
3. An abort request (``kargo.akuity.io/abort: terminate``) ends it as ``Aborted``.
4. Wait until the Stage's ``status.currentPromotion`` names this Promotion; while promotion
   windows keep the Stage closed, the message says so (``Waiting for a promotion window: ...``).
5. Before the first step: the Freight must be available to the Stage, else ``Errored`` with the
   reason. Then the engine runs the steps, saving the status after every step.
6. On a terminal phase: an Event, and the Stage is woken to record the result.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from shunter import metrics
from shunter._internal.jsondiff import merge_patch
from shunter.api.v1alpha1 import Freight, Promotion, PromotionPhase, Stage, to_wire
from shunter.api.v1alpha1 import annotations as ann
from shunter.api.v1alpha1.common import FreightReference
from shunter.api.v1alpha1.promotion import PromotionStatus
from shunter.cache import FREIGHTS, PROMOTIONS, STAGES, KargoCache
from shunter.controllers.availability import freight_availability
from shunter.controllers.collections import promotion_context
from shunter.controllers.lookups import CachePromotionSources
from shunter.controllers.promotion_spec import PromotionSpecError, complete_promotion
from shunter.controllers.windows import WAITING_PREFIX, waiting_message
from shunter.controllers.wiring import Enqueue, EventSink
from shunter.kube.client import KubeClient, NotFoundError
from shunter.kube.informer import Kind
from shunter.promotion.engine import Engine

__all__ = ["PromotionReconciler"]

#: Promotions whose start time is kept at most (a bound for Promotions deleted while running).
_MAX_TIMED = 10_000

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
        self._sources = CachePromotionSources(cache, kube)
        #: When this process started running a Promotion (by uid), to the microsecond: status
        #: timestamps have whole seconds only, too coarse for the duration metric.
        self._began: dict[str, datetime] = {}

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
            await self._note_window(promotion, status, stage)
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

        pctx = promotion_context(promotion, stage, freight)

        async def save(new_status: PromotionStatus) -> None:
            await self._save(promotion, new_status)

        uid = promotion.metadata.uid or ""
        if status.started_at is None and uid and uid not in self._began:
            if len(self._began) >= _MAX_TIMED:  # Promotions deleted while running
                self._began.pop(next(iter(self._began)))
            self._began[uid] = datetime.now(UTC)
        result = await self._engine.run(pctx, status, save=save)
        if result.terminal:
            await self._emit_terminal(promotion, result.status, freight)
            self._enqueue.stage(namespace, stage.metadata.name or "")
            return PromotionOutcome()
        if result.requeue_after is None:
            return PromotionOutcome()
        return PromotionOutcome(requeue_after=result.requeue_after.total_seconds())

    async def _note_window(
        self, promotion: Promotion, status: PromotionStatus, stage: Stage
    ) -> None:
        """A pending Promotion says when promotion windows hold it back (and stops saying it
        once they open)."""
        if status.phase != PromotionPhase.PENDING:
            return
        windows = stage.status.promotion_window_status if stage.status else None
        message = waiting_message(windows) if windows is not None and windows.closed else None
        if message is None and not (status.message or "").startswith(WAITING_PREFIX):
            return
        if message != status.message:
            await self._save(promotion, status.model_copy(update={"message": message}))

    # -- steps and freight -----------------------------------------------------------------

    async def _fill_spec(self, promotion: Promotion, stage: Stage) -> str | None:
        """Complete the Promotion from its Stage (what the admission webhook does when it
        serves the namespace); returns a problem or None."""
        namespace, name = promotion.metadata.namespace or "", promotion.metadata.name or ""
        raw = self._cache.raw(PROMOTIONS, namespace, name)
        if raw is None:
            raw = promotion.model_dump(mode="json", by_alias=True, exclude_none=True)
        actor = (promotion.metadata.annotations or {}).get(ann.CREATE_ACTOR, "")
        try:
            completed = await complete_promotion(
                raw, stage, self._sources, intent=not actor.startswith("controller:")
            )
        except PromotionSpecError as exc:
            return exc.message
        patch = merge_patch(
            {k: raw.get(k) or {} for k in ("spec", "metadata")},
            {k: completed[k] for k in ("spec", "metadata")},
        )
        written = await self._kube.patch_custom(namespace, "promotions", name, patch)
        self._cache.apply(PROMOTIONS, written)
        return None

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
        began = self._began.pop(promotion.metadata.uid or "", None)
        _record_terminal(promotion, status, phase, began)
        log.info(
            "Promotion %s/%s to Stage %s: %s%s",
            promotion.metadata.namespace,
            promotion.metadata.name,
            promotion.spec.stage,
            phase.value,
            f" ({status.message})" if status.message and phase != PromotionPhase.SUCCEEDED else "",
        )
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
                **(
                    {"event.kargo.akuity.io/rollback": "true"}
                    if (promotion.metadata.annotations or {}).get(ann.ROLLBACK) == "true"
                    else {}
                ),
            },
            warning=phase not in (PromotionPhase.SUCCEEDED,),
        )


def _record_terminal(
    promotion: Promotion,
    status: PromotionStatus,
    phase: PromotionPhase,
    began: datetime | None = None,
) -> None:
    """Count the Promotion's end and its duration: from when this process started it, to the
    microsecond, else from its first step (or creation) as the status says, in whole seconds."""
    labels = (promotion.metadata.namespace or "", promotion.spec.stage, phase.value)
    metrics.PROMOTIONS.labels(*labels).inc()
    if began is not None:
        seconds = (datetime.now(UTC) - began).total_seconds()
        metrics.PROMOTION_DURATION.labels(*labels).observe(max(0.0, seconds))
        return
    start = status.started_at or _timestamp(promotion.metadata.creation_timestamp)
    end = status.finished_at or datetime.now(UTC)
    if start is not None:
        if start.tzinfo is None:
            start = start.replace(tzinfo=UTC)
        if end.tzinfo is None:
            end = end.replace(tzinfo=UTC)
        metrics.PROMOTION_DURATION.labels(*labels).observe(max(0.0, (end - start).total_seconds()))


def _timestamp(text: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(text) if text else None
    except ValueError:
        return None
