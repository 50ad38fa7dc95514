"""The Stage controller: the Promotion queue, Freight bookkeeping, health, verification and
auto-promotion of one Stage (Kargo's Stage reconcile, in the same order).

Each pass reads the Stage, its Promotions and the namespace's Freight, then:

1. **Promotions.** Terminal Promotions not yet recorded are replayed oldest first: each becomes
   ``lastPromotion``; a Succeeded one pushes its FreightCollection onto ``freightHistory``;
   hold/resume intents update ``autoPromotionHolds``. When nothing is running (and the current
   Freight is not waiting for verification), the oldest pending Promotion becomes
   ``currentPromotion`` - which is what lets the Promotion controller run it.
2. **Freight.** ``currentlyIn`` of the Freight in (and no longer in) the current collection.
3. **Health.** From the health checks the last Promotion registered (none: Healthy).
4. **Verification.** A healthy Stage with a new collection records a verification. With no
   ``spec.verification`` it succeeds at once (Kargo's rule); with ``analysisTemplates`` an
   AnalysisRun is created (:mod:`shunter.verification`) and its phase is followed on later
   passes. Without the analysis CRDs the verification is recorded as ``Error``, so unverified
   Freight never moves on by mistake. An unhealthy Stage starts no verification.
5. **verifiedIn** on the collection's Freight once verified, waking downstream Stages.
6. **Auto-promotion** of the newest available Freight per origin where the project's policy
   allows it, unless a hold (a manual promotion of other Freight) is in force, or that Freight's
   last automatic Promotion did not succeed (never retried automatically).

A Stage without promotion steps is a control-flow Stage: every Freight available to it is
verified in it at once.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shunter.api.v1alpha1 import Freight, Promotion, PromotionPhase, Stage, to_wire
from shunter.api.v1alpha1 import annotations as ann
from shunter.api.v1alpha1._base import ConditionStatus
from shunter.api.v1alpha1.common import (
    AnalysisRunReference,
    FreightCollection,
    FreightOrigin,
    FreightReference,
    VerificationInfo,
    VerificationPhase,
)
from shunter.api.v1alpha1.stage import (
    AutoPromotionHold,
    Health,
    HealthState,
    PromotionReference,
    StageStatus,
)
from shunter.argocd.health import check_argocd_health, worst
from shunter.controllers.availability import (
    auto_promotion_candidate,
    freight_availability,
    parse_duration,
)
from shunter.controllers.collections import push_history
from shunter.controllers.conditions import get_condition, remove_condition, set_condition
from shunter.controllers.lookups import list_freight, stage_auto_promotion_enabled
from shunter.controllers.naming import promotion_name
from shunter.controllers.wiring import Enqueue, EventSink
from shunter.expressions import ExpressionError, sandbox
from shunter.expressions.functions import FunctionContext, ResourceCache, ResourceRef
from shunter.expressions.jobs import Job
from shunter.kube.client import ConflictError, KubeClient, KubeError, NotFoundError
from shunter.promotion.environment import ResourceFetcher
from shunter.verification import abort_analysis_run, analysis_run_status, start_verification

__all__ = ["CONTROLLER_ACTOR", "StageOutcome", "StageReconciler", "sort_promotions"]

log = logging.getLogger(__name__)

#: ``kargo.akuity.io/create-actor`` of Promotions the Stage controller creates.
CONTROLLER_ACTOR = "controller:shunter"
#: Verifications kept per FreightCollection (Kargo's cap).
MAX_VERIFICATIONS = 10
_TERMINAL_VERIFICATION = {
    VerificationPhase.SUCCESSFUL,
    VerificationPhase.FAILED,
    VerificationPhase.ERROR,
    VerificationPhase.ABORTED,
    VerificationPhase.INCONCLUSIVE,
}


@dataclass(frozen=True)
class StageOutcome:
    """Requeue hint (seconds)."""

    requeue_after: float | None = None


def _phase(p: Promotion) -> PromotionPhase | None:
    return p.status.phase if p.status else None


def _order_key(p: Promotion) -> tuple[str, str]:
    return (p.metadata.creation_timestamp or "", p.metadata.name or "")


def sort_promotions(promotions: Sequence[Promotion]) -> list[Promotion]:
    """Kargo's queue order: Running first, other non-terminal oldest first, terminal newest
    first."""
    running = [p for p in promotions if _phase(p) == PromotionPhase.RUNNING]
    waiting = [p for p in promotions if _phase(p) is None or _phase(p) == PromotionPhase.PENDING]
    done = [p for p in promotions if (ph := _phase(p)) is not None and ph.is_terminal]
    return (
        sorted(running, key=_order_key)
        + sorted(waiting, key=_order_key)
        + sorted(done, key=_order_key, reverse=True)
    )


def _finish_key(p: Promotion) -> tuple[str, str, str]:
    finished = p.status.finished_at.isoformat() if p.status and p.status.finished_at else ""
    return (finished, *_order_key(p))


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


class StageReconciler:
    """Reconciles one Stage at a time."""

    def __init__(
        self,
        kube: KubeClient,
        enqueue: Enqueue,
        events: EventSink,
        *,
        resync_seconds: float = 300.0,
        argocd_namespace: str = "argocd",
        analysis_enabled: bool = True,
        data: ResourceFetcher | None = None,
    ) -> None:
        self._kube = kube
        #: Reads for the data and freight functions of verification arguments.
        self._data = data
        self._enqueue = enqueue
        self._events = events
        self._resync = resync_seconds
        self._argocd_namespace = argocd_namespace
        #: Whether AnalysisRuns can be created (the analysis CRDs exist).
        self.analysis_enabled = analysis_enabled

    async def reconcile(self, namespace: str, name: str) -> StageOutcome:
        """One pass over a Stage."""
        try:
            raw = await self._kube.get_custom(namespace, "stages", name)
        except NotFoundError:
            return StageOutcome()
        stage = Stage.model_validate(raw)
        promotions = [
            p
            for p in (
                Promotion.model_validate(o)
                for o in await self._kube.list_custom(namespace, "promotions")
            )
            if p.spec.stage == name
        ]
        freights = await list_freight(self._kube, namespace)
        log.debug(
            "stage %s/%s: promotions %s",
            namespace,
            name,
            [(p.metadata.name, _phase(p), bool(p.spec.steps)) for p in promotions],
        )
        old_status = stage.status or StageStatus()
        status = old_status.model_copy(deep=True)
        now = _now()
        requeue: float | None = self._resync

        template = stage.spec.promotion_template
        if template is None or not template.spec.steps:
            await self._control_flow(stage, freights, now)
            status = self._summarize_control_flow(stage, status, now)
        else:
            status = self._sync_promotions(stage, status, promotions, now)
            await self._sync_freight(stage, status, freights, now)
            status = await self._assess_health(stage, status, promotions, now)
            status = await self._verify(stage, status, freights, now)
            await self._mark_verified(stage, status, freights, now)
            status = await self._auto_promote(stage, status, promotions, freights, now)
            status = self._summarize(stage, status, promotions, now)
            if any(_phase(p) in (None, PromotionPhase.PENDING) for p in promotions) and (
                status.current_promotion is None
            ):
                requeue = 1.0
            elif self._settling(status):
                requeue = 2.0

        status = status.model_copy(
            update={
                "observed_generation": stage.metadata.generation,
                "last_handled_refresh": (stage.metadata.annotations or {}).get(
                    ann.REFRESH, status.last_handled_refresh
                ),
            }
        )
        if status != old_status:
            try:
                await self._write_status(raw, status)
            except ConflictError:
                # Someone changed the Stage since it was read: look again with fresh data.
                return StageOutcome(requeue_after=0.0)
        if status.current_promotion is not None:
            # Only now can the Promotion controller see that it is this Promotion's turn.
            self._enqueue.promotion(namespace, status.current_promotion.name)
        return StageOutcome(requeue_after=requeue)

    async def forget(self, namespace: str, name: str) -> None:
        """A Stage was deleted: remove it from every Freight's currentlyIn, verifiedIn and
        approvedFor (Kargo does this in the Stage's finalizer), and wake the other Stages,
        whose available Freight may change."""
        for freight in await list_freight(self._kube, namespace):
            fstatus = freight.status
            if fstatus is None:
                continue
            patch: dict[str, Any] = {}
            for key, entries in (
                ("currentlyIn", fstatus.currently_in),
                ("verifiedIn", fstatus.verified_in),
                ("approvedFor", fstatus.approved_for),
            ):
                if entries and name in entries:
                    patch[key] = {name: None}
            if patch:
                await self._patch_freight_status(freight, patch)
        self._enqueue.stages(namespace)

    # -- 1. the Promotion queue ------------------------------------------------------------

    def _sync_promotions(
        self, stage: Stage, status: StageStatus, promotions: list[Promotion], now: datetime
    ) -> StageStatus:
        current = status.current_promotion
        by_name = {p.metadata.name: p for p in promotions}
        if current is not None:
            still = by_name.get(current.name)
            if still is None or (ph := _phase(still)) is None or ph.is_terminal:
                status = status.model_copy(update={"current_promotion": None})
                status.conditions = remove_condition(status.conditions, "Promoting")
        status = self._replay_terminal(stage, status, promotions, now)
        if status.current_promotion is not None:
            return status
        if self._awaiting_verification(status):
            return status
        queue = [
            p
            for p in sort_promotions(promotions)
            if not (_phase(p) or PromotionPhase.PENDING).is_terminal
        ]
        if not queue:
            return status
        top = queue[0]
        if not top.spec.steps or not top.spec.freight:
            return status  # the Promotion controller has not filled it in yet
        freight_ref = FreightReference(name=top.spec.freight)
        status.current_promotion = PromotionReference(
            name=top.metadata.name or "", freight=freight_ref
        )
        status.conditions = set_condition(
            status.conditions,
            "Promoting",
            True,
            "ActivePromotion",
            f"Promotion {top.metadata.name} is running",
            generation=stage.metadata.generation,
            now=now,
        )
        return status

    def _replay_terminal(
        self, stage: Stage, status: StageStatus, promotions: list[Promotion], now: datetime
    ) -> StageStatus:
        last = status.last_promotion
        last_key: tuple[str, str, str] | None = None
        if last is not None:
            recorded = next((p for p in promotions if p.metadata.name == last.name), None)
            if recorded is not None:
                last_key = _finish_key(recorded)
            elif last.finished_at is not None:
                last_key = (last.finished_at.isoformat(), "", "")
        done = sorted(
            (p for p in promotions if (ph := _phase(p)) is not None and ph.is_terminal),
            key=_finish_key,
        )
        requested = {r.origin.key for r in stage.spec.requested_freight}
        for promo in done:
            if last_key is not None and _finish_key(promo) <= last_key:
                continue
            if (
                status.current_promotion is not None
                and status.current_promotion.name == promo.metadata.name
            ):
                continue
            pstatus = promo.status
            if pstatus is None:
                continue
            status = self._apply_intent(status, promo, requested)
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
                status.conditions = set_condition(
                    status.conditions,
                    "Healthy",
                    ConditionStatus.UNKNOWN,
                    "WaitingForHealthCheck",
                    "Waiting for health checks",
                    generation=stage.metadata.generation,
                    now=now,
                )
                status.conditions = set_condition(
                    status.conditions,
                    "Verified",
                    ConditionStatus.UNKNOWN,
                    "WaitingForVerification",
                    "Waiting for verification",
                    generation=stage.metadata.generation,
                    now=now,
                )
            last_key = _finish_key(promo)
        return status

    def _apply_intent(
        self, status: StageStatus, promo: Promotion, requested: set[str]
    ) -> StageStatus:
        annotations = promo.metadata.annotations or {}
        phase = _phase(promo)
        holds = dict(status.auto_promotion_holds or {})
        if phase != PromotionPhase.ABORTED:
            hold_origin = annotations.get(ann.AUTO_PROMOTION_HOLD)
            resume_origin = annotations.get(ann.AUTO_PROMOTION_RESUME)
            if hold_origin and hold_origin in requested:
                kind, _, wname = hold_origin.partition("/")
                holds[hold_origin] = AutoPromotionHold(
                    freight_name=promo.spec.freight or "",
                    origin=FreightOrigin.model_validate({"kind": kind, "name": wname}),
                    promotion_name=promo.metadata.name,
                    actor=annotations.get(ann.CREATE_ACTOR),
                    created_at=promo.status.finished_at if promo.status else None,
                )
            if resume_origin:
                holds.pop(resume_origin, None)
        holds = {k: v for k, v in holds.items() if k in requested}
        status.auto_promotion_holds = holds or None
        return status

    def _settling(self, status: StageStatus) -> bool:
        """Health or verification is still moving: look again soon."""
        current = self._current(status)
        if current is None or status.current_promotion is not None:
            return False
        if status.health is not None and status.health.status in (
            HealthState.PROGRESSING,
            HealthState.UNKNOWN,
        ):
            return True
        history = current.verification_history or []
        return bool(history) and history[0].phase not in _TERMINAL_VERIFICATION

    @staticmethod
    def _current(status: StageStatus) -> FreightCollection | None:
        return status.freight_history[0] if status.freight_history else None

    def _awaiting_verification(self, status: StageStatus) -> bool:
        current = self._current(status)
        if current is None:
            return False
        history = current.verification_history or []
        if history and history[0].phase not in _TERMINAL_VERIFICATION:
            return True
        healthy = status.health is None or status.health.status == HealthState.HEALTHY
        return healthy and not any(v.phase in _TERMINAL_VERIFICATION for v in history)

    # -- 2. Freight currentlyIn ------------------------------------------------------------

    async def _sync_freight(
        self, stage: Stage, status: StageStatus, freights: list[Freight], now: datetime
    ) -> None:
        name = stage.metadata.name or ""
        current = self._current(status)
        in_collection = {i.name for i in (current.items or {}).values()} if current else set()
        for freight in freights:
            fstatus = freight.status
            claims = bool(fstatus and fstatus.currently_in and name in fstatus.currently_in)
            fname = freight.metadata.name or ""
            if claims and fname not in in_collection:
                patch: dict[str, Any] = {"currentlyIn": {name: None}}
                verified = (
                    fstatus.verified_in.get(name) if fstatus and fstatus.verified_in else None
                )
                since = (
                    fstatus.currently_in[name].since if fstatus and fstatus.currently_in else None
                )
                if verified is not None and since is not None:
                    soak = now - since
                    previous = (
                        parse_duration(verified.longest_soak) if verified.longest_soak else None
                    )
                    if previous is None or soak > previous:
                        patch["verifiedIn"] = {name: {"longestSoak": _go_duration(soak)}}
                await self._patch_freight_status(freight, patch)
            elif not claims and fname in in_collection:
                await self._patch_freight_status(
                    freight, {"currentlyIn": {name: {"since": _ts(now)}}}
                )

    # -- 3. health -------------------------------------------------------------------------

    async def _assess_health(
        self, stage: Stage, status: StageStatus, promotions: list[Promotion], now: datetime
    ) -> StageStatus:
        gen = stage.metadata.generation
        if status.current_promotion is not None:
            status.health = Health(status=HealthState.UNKNOWN)
            status.conditions = set_condition(
                status.conditions,
                "Healthy",
                ConditionStatus.UNKNOWN,
                "ActivePromotion",
                "A Promotion is running",
                generation=gen,
                now=now,
            )
            return status
        last = status.last_promotion
        if last is None or self._current(status) is None:
            status.health = None
            status.conditions = set_condition(
                status.conditions,
                "Healthy",
                ConditionStatus.UNKNOWN,
                "NoFreight",
                "The Stage has no Freight",
                generation=gen,
                now=now,
            )
            return status
        phase = last.status.phase if last.status else None
        if phase != PromotionPhase.SUCCEEDED:
            label = phase.value if phase else "Unknown"
            status.conditions = set_condition(
                status.conditions,
                "Healthy",
                ConditionStatus.UNKNOWN,
                f"LastPromotion{label}",
                f"The last Promotion {label.lower()}",
                generation=gen,
                now=now,
            )
            return status
        checks = (last.status.health_checks if last.status else None) or []
        if not checks:
            status.health = Health(status=HealthState.HEALTHY)
            status.conditions = set_condition(
                status.conditions,
                "Healthy",
                True,
                "Healthy",
                "Stage is healthy",
                generation=gen,
                now=now,
            )
            return status
        states: list[HealthState] = []
        issues: list[str] = []
        outputs: list[Any] = []
        for check in checks:
            if check.uses == "argocd-update":
                result = await check_argocd_health(
                    self._kube, check.config or {}, default_namespace=self._argocd_namespace
                )
                states.append(HealthState(result.status))
                issues.extend(result.issues)
                if result.output:
                    outputs.append(result.output)
            else:
                states.append(HealthState.UNKNOWN)
                issues.append(f"no health checker for {check.uses!r} in this version")
        state = worst(*states)
        output: Any = outputs[0] if len(outputs) == 1 else (outputs or None)
        status.health = Health(status=state, issues=issues or None, output=output)
        if state == HealthState.HEALTHY:
            cond: tuple[ConditionStatus | bool, str, str] = (True, "Healthy", "Stage is healthy")
        elif state == HealthState.UNHEALTHY:
            cond = (False, "Unhealthy", "; ".join(issues) or "Stage is unhealthy")
        else:
            cond = (ConditionStatus.UNKNOWN, state.value, "; ".join(issues) or state.value)
        status.conditions = set_condition(
            status.conditions, "Healthy", cond[0], cond[1], cond[2], generation=gen, now=now
        )
        return status

    # -- 4. verification -------------------------------------------------------------------

    async def _verify(
        self, stage: Stage, status: StageStatus, freights: list[Freight], now: datetime
    ) -> StageStatus:
        current = self._current(status)
        gen = stage.metadata.generation
        if current is None or status.current_promotion is not None:
            return status
        if status.health is None or status.health.status != HealthState.HEALTHY:
            return status
        history = list(current.verification_history or [])
        annotations = stage.metadata.annotations or {}
        latest = history[0] if history else None
        if latest is not None and latest.phase not in _TERMINAL_VERIFICATION:
            history[0] = await self._poll_verification(stage, latest, annotations, now)
        elif latest is None or _request_id(annotations.get(ann.REVERIFY)) == latest.id:
            history.insert(0, await self._start_verification(stage, status, current, freights, now))
        current.verification_history = history[:MAX_VERIFICATIONS]
        latest = current.verification_history[0]
        if any(v.phase == VerificationPhase.SUCCESSFUL for v in current.verification_history):
            status.conditions = set_condition(
                status.conditions,
                "Verified",
                True,
                "Verified",
                "Freight has been verified",
                generation=gen,
                now=now,
            )
        elif latest.phase in (VerificationPhase.PENDING, VerificationPhase.RUNNING, None):
            status.conditions = set_condition(
                status.conditions,
                "Verified",
                ConditionStatus.UNKNOWN,
                "VerificationRunning",
                latest.message or "Verification is running",
                generation=gen,
                now=now,
            )
        else:
            phase = latest.phase.value
            status.conditions = set_condition(
                status.conditions,
                "Verified",
                ConditionStatus.UNKNOWN
                if latest.phase == VerificationPhase.INCONCLUSIVE
                else False,
                f"Verification{phase}",
                latest.message or f"Verification {phase.lower()}",
                generation=gen,
                now=now,
            )
        return status

    async def _start_verification(
        self,
        stage: Stage,
        status: StageStatus,
        current: FreightCollection,
        freights: list[Freight],
        now: datetime,
    ) -> VerificationInfo:
        info = VerificationInfo(id=str(uuid.uuid4()), start_time=now)
        verification = stage.spec.verification
        if verification is None or not verification.analysis_templates:
            return info.model_copy(
                update={"phase": VerificationPhase.SUCCESSFUL, "finish_time": now}
            )
        if not self.analysis_enabled:
            return info.model_copy(
                update={
                    "phase": VerificationPhase.ERROR,
                    "finish_time": now,
                    "message": "AnalysisRuns are not evaluated: Argo Rollouts' analysis CRDs "
                    "are missing and could not be installed",
                }
            )
        namespace = stage.metadata.namespace or ""
        items = current.items or {}
        try:
            args = await self._verification_args(stage, items)
        except ExpressionError as exc:
            return info.model_copy(
                update={
                    "phase": VerificationPhase.ERROR,
                    "finish_time": now,
                    "message": f"verification args: {exc}",
                }
            )
        last = status.last_promotion
        promotion = last.name if last is not None else None
        present = {f.metadata.name for f in freights}
        existing = [i.name or "" for i in items.values() if i.name in present]
        name, error = await start_verification(
            self._kube, stage, current.id, existing, promotion, args
        )
        if error is not None or name is None:
            return info.model_copy(
                update={
                    "phase": VerificationPhase.ERROR,
                    "finish_time": now,
                    "message": error or "the AnalysisRun could not be created",
                }
            )
        return info.model_copy(
            update={
                "phase": VerificationPhase.PENDING,
                "analysis_run": AnalysisRunReference(namespace=namespace, name=name, phase=""),
            }
        )

    async def _verification_args(
        self, stage: Stage, items: dict[str, FreightReference]
    ) -> dict[str, str]:
        """``spec.verification.args`` evaluated as Kargo does: ``ctx`` and the Stage's vars,
        with the freight (``commitFrom``...), data (``configMap``...) and utility functions.
        Evaluation runs off the event loop; any failure is an ``ExpressionError``."""
        verification = stage.spec.verification
        if verification is None or not verification.args:
            return {}
        namespace = stage.metadata.namespace or ""
        context = FunctionContext(
            freight=[to_wire(i) for i in items.values()],
            freight_requests=[to_wire(r) for r in stage.spec.requested_freight],
            reader=ResourceCache(),
        )
        data = self._data

        async def fetch(ref: ResourceRef) -> Mapping[str, Any] | None:
            return None if data is None else await data(namespace, ref)

        async def run(job: Job) -> Any:
            return await sandbox.run(job, project=namespace, fetch=fetch)

        ctx = {"project": namespace, "stage": stage.metadata.name or ""}
        env_vars: dict[str, Any] = {}
        for var in stage.spec.vars or []:
            variables = {"ctx": ctx, "vars": dict(env_vars)}
            env_vars[var.name] = await run(
                Job("template_string", var.value or "", variables, context, plain=True)
            )
        args: dict[str, str] = {}
        for arg in verification.args:
            if not arg.value:
                continue
            variables = {"ctx": ctx, "vars": env_vars}
            args[arg.name] = await run(
                Job("render", arg.value, variables, context, require_string=True)
            )
        return args

    async def _poll_verification(
        self,
        stage: Stage,
        latest: VerificationInfo,
        annotations: dict[str, str],
        now: datetime,
    ) -> VerificationInfo:
        run = latest.analysis_run
        if run is None:
            return latest.model_copy(
                update={
                    "phase": VerificationPhase.ERROR,
                    "finish_time": now,
                    "message": "the verification has no AnalysisRun",
                }
            )
        abort = _request(annotations.get(ann.ABORT))
        if abort is not None and abort[0] == latest.id:
            try:
                await abort_analysis_run(self._kube, run.namespace, run.name)
            except KubeError as exc:
                log.warning("could not abort AnalysisRun %s/%s: %s", run.namespace, run.name, exc)
            return latest.model_copy(
                update={
                    "phase": VerificationPhase.FAILED,
                    "finish_time": now,
                    "message": "Verification aborted by user",
                    "actor": abort[1] or latest.actor,
                }
            )
        try:
            state = await analysis_run_status(self._kube, run.namespace, run.name)
        except KubeError as exc:
            log.warning("could not read AnalysisRun %s/%s: %s", run.namespace, run.name, exc)
            return latest
        update: dict[str, Any] = {
            "phase": state.phase,
            "message": state.message or None,
            "analysis_run": AnalysisRunReference(
                namespace=run.namespace, name=run.name, phase=state.run_phase
            ),
        }
        if state.phase in _TERMINAL_VERIFICATION:
            update["finish_time"] = now
            await self._events.emit(
                namespace=stage.metadata.namespace or "",
                kind="Stage",
                name=stage.metadata.name or "",
                uid=stage.metadata.uid,
                reason=f"FreightVerification{_event_suffix(state.phase)}",
                message=f"Verification of Stage {stage.metadata.name!r}: {state.phase.value}"
                + (f": {state.message}" if state.message else ""),
                annotations={
                    "event.kargo.akuity.io/stage-name": stage.metadata.name or "",
                    "event.kargo.akuity.io/analysis-run-name": run.name,
                },
                warning=state.phase != VerificationPhase.SUCCESSFUL,
            )
        return latest.model_copy(update=update)

    # -- 5. verifiedIn ---------------------------------------------------------------------

    async def _mark_verified(
        self, stage: Stage, status: StageStatus, freights: list[Freight], now: datetime
    ) -> None:
        current = self._current(status)
        if current is None or status.health is None:
            return
        if status.health.status != HealthState.HEALTHY:
            return
        history = current.verification_history or []
        if not history or history[0].phase != VerificationPhase.SUCCESSFUL:
            return
        name = stage.metadata.name or ""
        names = {i.name for i in (current.items or {}).values()}
        changed = False
        for freight in freights:
            if freight.metadata.name not in names:
                continue
            verified = freight.status.verified_in if freight.status else None
            if verified and name in verified:
                continue
            when = history[0].finish_time or now
            await self._patch_freight_status(
                freight, {"verifiedIn": {name: {"verifiedAt": _ts(when)}}}
            )
            await self._events.emit(
                namespace=freight.metadata.namespace or "",
                kind="Freight",
                name=freight.metadata.name or "",
                uid=freight.metadata.uid,
                reason="FreightVerificationSucceeded",
                message=f"Freight verified in Stage {name!r}",
                annotations={"event.kargo.akuity.io/stage-name": name},
            )
            changed = True
        if changed:
            self._enqueue.stages(stage.metadata.namespace or "")

    # -- 6. auto-promotion -----------------------------------------------------------------

    async def _auto_promote(
        self,
        stage: Stage,
        status: StageStatus,
        promotions: list[Promotion],
        freights: list[Freight],
        now: datetime,
    ) -> StageStatus:
        enabled = await stage_auto_promotion_enabled(self._kube, stage)
        status.auto_promotion_enabled = enabled or None
        if not enabled:
            status.auto_promotion_holds = None
            status.effective_auto_promotion_holds = None
            return status
        effective = self._effective_holds(status, promotions)
        status.effective_auto_promotion_holds = effective or None
        current = self._current(status)
        current_names = {i.name for i in (current.items or {}).values()} if current else set()
        for request in stage.spec.requested_freight:
            if request.origin.key in effective:
                continue
            candidate = auto_promotion_candidate(stage, request, freights, now)
            if candidate is None:
                continue
            fname = candidate.metadata.name or ""
            if fname in current_names:
                continue
            if (
                status.current_promotion
                and status.current_promotion.freight
                and (status.current_promotion.freight.name == fname)
            ):
                continue
            same = [p for p in promotions if p.spec.freight == fname]
            if any(not (_phase(p) or PromotionPhase.PENDING).is_terminal for p in same):
                continue
            finished = sorted(same, key=_finish_key)
            if finished and _phase(finished[-1]) != PromotionPhase.SUCCEEDED:
                continue  # a failed automatic promotion is never retried automatically
            if (
                finished
                and _phase(finished[-1]) == PromotionPhase.SUCCEEDED
                and (
                    status.last_promotion is None
                    or status.last_promotion.name != finished[-1].metadata.name
                )
            ):
                # Succeeded but not yet recorded by this Stage: wait for the replay.
                continue
            await self._create_promotion(stage, candidate)
        return status

    def _effective_holds(
        self, status: StageStatus, promotions: list[Promotion]
    ) -> dict[str, AutoPromotionHold]:
        holds = dict(status.auto_promotion_holds or {})
        in_flight = sorted(
            (p for p in promotions if not (_phase(p) or PromotionPhase.PENDING).is_terminal),
            key=_order_key,
        )
        for promo in in_flight:
            annotations = promo.metadata.annotations or {}
            if origin := annotations.get(ann.AUTO_PROMOTION_HOLD):
                kind, _, wname = origin.partition("/")
                holds[origin] = AutoPromotionHold(
                    freight_name=promo.spec.freight or "",
                    origin=FreightOrigin.model_validate({"kind": kind, "name": wname}),
                    promotion_name=promo.metadata.name,
                    actor=annotations.get(ann.CREATE_ACTOR),
                )
            if origin := annotations.get(ann.AUTO_PROMOTION_RESUME):
                holds.pop(origin, None)
        return holds

    async def _create_promotion(self, stage: Stage, freight: Freight) -> None:
        namespace = stage.metadata.namespace or ""
        stage_name = stage.metadata.name or ""
        fname = freight.metadata.name or ""
        body = {
            "apiVersion": "kargo.akuity.io/v1alpha1",
            "kind": "Promotion",
            "metadata": {
                "name": promotion_name(stage_name, fname),
                "namespace": namespace,
                "annotations": {ann.CREATE_ACTOR: CONTROLLER_ACTOR},
            },
            "spec": {"stage": stage_name, "freight": fname},
        }
        try:
            created = await self._kube.create_custom(namespace, "promotions", body)
        except ConflictError:
            return
        pname = created.get("metadata", {}).get("name", "")
        log.info(
            "auto-promoting Freight %s to Stage %s/%s as %s", fname, namespace, stage_name, pname
        )
        await self._events.emit(
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
        self._enqueue.promotion(namespace, pname)

    # -- control-flow Stages ---------------------------------------------------------------

    async def _control_flow(self, stage: Stage, freights: list[Freight], now: datetime) -> None:
        name = stage.metadata.name or ""
        changed = False
        for freight in freights:
            verified = freight.status.verified_in if freight.status else None
            if verified and name in verified:
                continue
            if not freight_availability(stage, freight, now).available:
                continue
            await self._patch_freight_status(
                freight, {"verifiedIn": {name: {"verifiedAt": _ts(now)}}}
            )
            changed = True
        if changed:
            self._enqueue.stages(stage.metadata.namespace or "")

    def _summarize_control_flow(
        self, stage: Stage, status: StageStatus, now: datetime
    ) -> StageStatus:
        status.conditions = set_condition(
            status.conditions,
            "Ready",
            True,
            "ControlFlowStage",
            "Control-flow Stage: available Freight is verified here at once",
            generation=stage.metadata.generation,
            now=now,
        )
        return status

    # -- summary ---------------------------------------------------------------------------

    def _summarize(
        self, stage: Stage, status: StageStatus, promotions: list[Promotion], now: datetime
    ) -> StageStatus:
        gen = stage.metadata.generation
        current = self._current(status)
        requested = stage.spec.requested_freight
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
            status.conditions, "Ready", ready[0], ready[1], ready[2], generation=gen, now=now
        )
        return status

    # -- writes ----------------------------------------------------------------------------

    async def _write_status(self, raw: dict[str, Any], status: StageStatus) -> None:
        body = dict(raw)
        body["status"] = to_wire(status)
        await self._kube.replace_status_custom(
            raw["metadata"]["namespace"], "stages", raw["metadata"]["name"], body
        )

    async def _patch_freight_status(self, freight: Freight, patch: dict[str, Any]) -> None:
        try:
            await self._kube.patch_custom(
                freight.metadata.namespace or "",
                "freights",
                freight.metadata.name or "",
                {"status": patch},
                status=True,
            )
        except NotFoundError:
            log.info("Freight %s vanished before its status was updated", freight.metadata.name)


def _request(value: str | None) -> tuple[str, str | None] | None:
    """An abort/reverify annotation: a verification ID, or JSON ``{id, actor, ...}``."""
    if not value:
        return None
    text = value.strip()
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            return None
        if isinstance(data, dict) and isinstance(data.get("id"), str):
            actor = data.get("actor")
            return data["id"], actor if isinstance(actor, str) else None
        return None
    return text, None


def _request_id(value: str | None) -> str | None:
    request = _request(value)
    return request[0] if request else None


def _event_suffix(phase: VerificationPhase) -> str:
    return {
        VerificationPhase.SUCCESSFUL: "Succeeded",
        VerificationPhase.FAILED: "Failed",
        VerificationPhase.ERROR: "Errored",
        VerificationPhase.ABORTED: "Aborted",
        VerificationPhase.INCONCLUSIVE: "Inconclusive",
    }.get(phase, "Unknown")


def _ts(when: datetime) -> str:
    return when.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _go_duration(delta: Any) -> str:
    seconds = int(delta.total_seconds())
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"
