"""Verification of the Stage's current Freight.

A healthy Stage with a new collection records a verification. With no ``spec.verification`` it
succeeds at once (Kargo's rule); with ``analysisTemplates`` an AnalysisRun is created
(:mod:`shunter.verification`) and its phase is followed on later passes (read from the cache,
which watches the Stage-labelled AnalysisRuns). Without the analysis CRDs the verification is
recorded as ``Error``, so unverified Freight never moves on by mistake. An unhealthy Stage
starts no verification. ``kargo.akuity.io/reverify`` and ``kargo.akuity.io/abort`` requests are
honoured here.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Mapping
from typing import Any

from shunter.api.v1alpha1 import annotations as ann
from shunter.api.v1alpha1 import to_wire
from shunter.api.v1alpha1._base import ConditionStatus
from shunter.api.v1alpha1.common import (
    AnalysisRunReference,
    FreightCollection,
    FreightReference,
    VerificationInfo,
    VerificationPhase,
)
from shunter.api.v1alpha1.stage import HealthState, StageStatus
from shunter.controllers.conditions import set_condition
from shunter.controllers.stage.context import (
    TERMINAL_VERIFICATION,
    StageDeps,
    StagePass,
    current_collection,
)
from shunter.expressions import ExpressionError, sandbox
from shunter.expressions.functions import FunctionContext, ResourceCache, ResourceRef
from shunter.expressions.jobs import Job
from shunter.kube.client import KubeError
from shunter.verification import abort_analysis_run, analysis_run_status, start_verification
from shunter.verification.lifecycle import AnalysisRunState, state_of

__all__ = ["MAX_VERIFICATIONS", "awaiting_verification", "verify"]

log = logging.getLogger(__name__)

#: Verifications kept per FreightCollection (Kargo's cap).
MAX_VERIFICATIONS = 10


def awaiting_verification(status: StageStatus) -> bool:
    """The current Freight is being verified, or will be (no new Promotion may start)."""
    current = current_collection(status)
    if current is None:
        return False
    history = current.verification_history or []
    if history and history[0].phase not in TERMINAL_VERIFICATION:
        return True
    healthy = status.health is None or status.health.status == HealthState.HEALTHY
    return healthy and not any(v.phase in TERMINAL_VERIFICATION for v in history)


async def verify(deps: StageDeps, sp: StagePass) -> None:
    """Start or follow the verification of the current collection; set ``Verified``."""
    status = sp.status
    current = current_collection(status)
    if current is None or status.current_promotion is not None:
        return
    if status.health is None or status.health.status != HealthState.HEALTHY:
        return
    history = list(current.verification_history or [])
    annotations = sp.stage.metadata.annotations or {}
    latest = history[0] if history else None
    if latest is not None and latest.phase not in TERMINAL_VERIFICATION:
        history[0] = await _poll(deps, sp, latest, annotations)
    elif latest is None or _request_id(annotations.get(ann.REVERIFY)) == latest.id:
        history.insert(0, await _start(deps, sp, current))
    current.verification_history = history[:MAX_VERIFICATIONS]
    latest = current.verification_history[0]
    if any(v.phase == VerificationPhase.SUCCESSFUL for v in current.verification_history):
        verified: tuple[ConditionStatus | bool, str, str] = (
            True,
            "Verified",
            "Freight has been verified",
        )
    elif latest.phase in (VerificationPhase.PENDING, VerificationPhase.RUNNING, None):
        verified = (
            ConditionStatus.UNKNOWN,
            "VerificationRunning",
            latest.message or "Verification is running",
        )
    else:
        phase = latest.phase.value
        verified = (
            ConditionStatus.UNKNOWN if latest.phase == VerificationPhase.INCONCLUSIVE else False,
            f"Verification{phase}",
            latest.message or f"Verification {phase.lower()}",
        )
    status.conditions = set_condition(
        status.conditions, "Verified", *verified, generation=sp.generation, now=sp.now
    )


def _errored(info: VerificationInfo, sp: StagePass, message: str) -> VerificationInfo:
    return info.model_copy(
        update={"phase": VerificationPhase.ERROR, "finish_time": sp.now, "message": message}
    )


async def _start(deps: StageDeps, sp: StagePass, current: FreightCollection) -> VerificationInfo:
    info = VerificationInfo(id=str(uuid.uuid4()), start_time=sp.now)
    verification = sp.stage.spec.verification
    if verification is None or not verification.analysis_templates:
        return info.model_copy(
            update={"phase": VerificationPhase.SUCCESSFUL, "finish_time": sp.now}
        )
    if not deps.analysis_enabled:
        return _errored(
            info,
            sp,
            "AnalysisRuns are not evaluated: Argo Rollouts' analysis CRDs "
            "are missing and could not be installed",
        )
    items = current.items or {}
    try:
        args = await _verification_args(deps, sp, items)
    except ExpressionError as exc:
        return _errored(info, sp, f"verification args: {exc}")
    last = sp.status.last_promotion
    promotion = last.name if last is not None else None
    present = {f.metadata.name for f in sp.freights}
    existing = [i.name or "" for i in items.values() if i.name in present]
    name, error = await start_verification(
        deps.kube, sp.stage, current.id, existing, promotion, args
    )
    if error is not None or name is None:
        return _errored(info, sp, error or "the AnalysisRun could not be created")
    return info.model_copy(
        update={
            "phase": VerificationPhase.PENDING,
            "analysis_run": AnalysisRunReference(namespace=sp.namespace, name=name, phase=""),
        }
    )


async def _verification_args(
    deps: StageDeps, sp: StagePass, items: dict[str, FreightReference]
) -> dict[str, str]:
    """``spec.verification.args`` evaluated as Kargo does: ``ctx`` and the Stage's vars, with the
    freight (``commitFrom``...), data (``configMap``...) and utility functions. Evaluation runs
    off the event loop; any failure is an ``ExpressionError``."""
    stage = sp.stage
    verification = stage.spec.verification
    if verification is None or not verification.args:
        return {}
    namespace = sp.namespace
    context = FunctionContext(
        freight=[to_wire(i) for i in items.values()],
        freight_requests=[to_wire(r) for r in stage.spec.requested_freight],
        reader=ResourceCache(),
    )
    data = deps.data

    async def fetch(ref: ResourceRef) -> Mapping[str, Any] | None:
        return None if data is None else await data(namespace, ref)

    async def run(job: Job) -> Any:
        return await sandbox.run(job, project=namespace, fetch=fetch)

    ctx = {"project": namespace, "stage": sp.name}
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


async def _run_state(deps: StageDeps, namespace: str, name: str) -> AnalysisRunState:
    """The AnalysisRun's state: from the cache, else (not watched yet) from the API server."""
    cached = deps.cache.analysis_run(namespace, name)
    if cached is not None:
        return state_of(cached)
    return await analysis_run_status(deps.kube, namespace, name)


async def _poll(
    deps: StageDeps, sp: StagePass, latest: VerificationInfo, annotations: dict[str, str]
) -> VerificationInfo:
    run = latest.analysis_run
    if run is None:
        return _errored(latest, sp, "the verification has no AnalysisRun")
    abort = _request(annotations.get(ann.ABORT))
    if abort is not None and abort[0] == latest.id:
        try:
            await abort_analysis_run(deps.kube, run.namespace, run.name)
        except KubeError as exc:
            log.warning("could not abort AnalysisRun %s/%s: %s", run.namespace, run.name, exc)
        return latest.model_copy(
            update={
                "phase": VerificationPhase.FAILED,
                "finish_time": sp.now,
                "message": "Verification aborted by user",
                "actor": abort[1] or latest.actor,
            }
        )
    try:
        state = await _run_state(deps, run.namespace, run.name)
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
    if state.phase in TERMINAL_VERIFICATION:
        update["finish_time"] = sp.now
        await deps.events.emit(
            namespace=sp.namespace,
            kind="Stage",
            name=sp.name,
            uid=sp.stage.metadata.uid,
            reason=f"FreightVerification{_event_suffix(state.phase)}",
            message=f"Verification of Stage {sp.name!r}: {state.phase.value}"
            + (f": {state.message}" if state.message else ""),
            annotations={
                "event.kargo.akuity.io/stage-name": sp.name,
                "event.kargo.akuity.io/analysis-run-name": run.name,
            },
            warning=state.phase != VerificationPhase.SUCCESSFUL,
        )
    return latest.model_copy(update=update)


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
