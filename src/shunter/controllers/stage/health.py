"""The Stage's health, from the health checks its last Promotion registered.

While a Promotion runs the Stage is ``Unknown``; without Freight, ``Unknown`` (``NoFreight``);
after a Promotion that did not succeed, ``Unknown`` naming the outcome; with no health checks,
``Healthy``. ``argocd-update`` checks read the Argo CD Applications (the worst state wins);
any other step has no health checker here.
"""

from __future__ import annotations

from typing import Any

from shunter.api.v1alpha1 import PromotionPhase
from shunter.api.v1alpha1._base import ConditionStatus
from shunter.api.v1alpha1.stage import Health, HealthState
from shunter.argocd.health import check_argocd_health, worst
from shunter.controllers.conditions import set_condition
from shunter.controllers.stage.context import StageDeps, StagePass, current_collection

__all__ = ["assess_health", "has_health_checks"]

Cond = tuple[ConditionStatus | bool, str, str]


def has_health_checks(sp: StagePass) -> bool:
    """Whether the last Promotion left health checks to run (they need polling)."""
    last = sp.status.last_promotion
    return bool(last and last.status and last.status.health_checks)


async def assess_health(deps: StageDeps, sp: StagePass) -> None:
    """Set ``status.health`` and the ``Healthy`` condition."""
    status = sp.status
    condition: Cond
    if status.current_promotion is not None:
        status.health = Health(status=HealthState.UNKNOWN)
        condition = (ConditionStatus.UNKNOWN, "ActivePromotion", "A Promotion is running")
    elif status.last_promotion is None or current_collection(status) is None:
        status.health = None
        condition = (ConditionStatus.UNKNOWN, "NoFreight", "The Stage has no Freight")
    else:
        last = status.last_promotion
        phase = last.status.phase if last.status else None
        if phase != PromotionPhase.SUCCEEDED:
            label = phase.value if phase else "Unknown"
            condition = (
                ConditionStatus.UNKNOWN,
                f"LastPromotion{label}",
                f"The last Promotion {label.lower()}",
            )
        else:
            checks = (last.status.health_checks if last.status else None) or []
            condition = await _check(deps, sp, checks)
    status.conditions = set_condition(
        status.conditions, "Healthy", *condition, generation=sp.generation, now=sp.now
    )


async def _check(deps: StageDeps, sp: StagePass, checks: list[Any]) -> Cond:
    status = sp.status
    if not checks:
        status.health = Health(status=HealthState.HEALTHY)
        return (True, "Healthy", "Stage is healthy")
    states: list[HealthState] = []
    issues: list[str] = []
    outputs: list[Any] = []
    for check in checks:
        if check.uses == "argocd-update":
            result = await check_argocd_health(
                deps.kube, check.config or {}, default_namespace=deps.argocd_namespace
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
        return (True, "Healthy", "Stage is healthy")
    if state == HealthState.UNHEALTHY:
        return (False, "Unhealthy", "; ".join(issues) or "Stage is unhealthy")
    return (ConditionStatus.UNKNOWN, state.value, "; ".join(issues) or state.value)
