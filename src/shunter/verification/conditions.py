"""A measurement's phase from its ``result``: ``successCondition`` and ``failureCondition``.

Owns Rollouts' decision table, evaluated with shunter's expr-lang interpreter:

* neither condition: ``Successful``;
* only ``successCondition``: ``Successful`` when true, else ``Failed``;
* only ``failureCondition``: ``Failed`` when true, else ``Successful``;
* both: ``Failed`` when the failure condition is true, ``Successful`` when only the success
  condition is, ``Inconclusive`` when neither is;
* a condition that does not evaluate to a bool, or fails to evaluate: ``Error`` with
  ``could not evaluate <which> "<expr>": <reason>``.

The expression sees ``result`` and Rollouts' helpers ``asInt(v)``, ``asFloat(v)`` (numbers or
numeric strings), ``isNaN(f)``, ``isInf(f)``, and - as in Rollouts, where they ignore their
argument and look at the whole result - ``isNil(x)`` (is the result nil) and ``default(x, d)``
(the result, or ``d`` when the result is nil); plus shunter's expr-lang builtins
(`shunter.expressions.functions.analysis`). Conditions are evaluated through
`shunter.expressions.sandbox`: never on the event loop when they could grow.
"""

from __future__ import annotations

from typing import Any

from shunter.expressions import ExpressionError, sandbox
from shunter.expressions.jobs import Job
from shunter.verification.phases import AnalysisPhase
from shunter.verification.templates import Metric

__all__ = ["evaluate_condition", "evaluate_result"]


async def evaluate_condition(condition: str, result: Any, *, project: str = "") -> bool:
    """Evaluate one condition with ``result`` bound, off the event loop when it could grow
    (raises ExpressionError/ValueError)."""
    job = Job("evaluate", condition, {"result": result}, functions="analysis")
    value = await sandbox.run(job, project=project)
    if not isinstance(value, bool):
        kind = "nil" if value is None else type(value).__name__
        raise ValueError(f"expected bool, but got {kind}")
    return value


def _nil_or_empty(result: Any) -> bool:
    return result is None or (isinstance(result, list) and not result)


async def _checked(which: str, condition: str, result: Any, project: str) -> bool:
    try:
        return await evaluate_condition(condition, result, project=project)
    except (ExpressionError, ValueError, TypeError) as exc:
        if _nil_or_empty(result):
            reason = "metric result is nil or empty: no data returned from the metric provider"
            raise ValueError(f'could not evaluate {which} "{condition}": {reason}') from None
        raise ValueError(f'could not evaluate {which} "{condition}": {exc}') from None


async def evaluate_result(
    result: Any, metric: Metric, *, project: str = ""
) -> tuple[AnalysisPhase, str]:
    """The measurement phase for ``result`` and, for ``Error``, the message (``project``: the
    AnalysisRun's namespace, for fairness between Projects)."""
    success = failure = False
    try:
        if metric.success_condition:
            success = await _checked("successCondition", metric.success_condition, result, project)
        if metric.failure_condition:
            failure = await _checked("failureCondition", metric.failure_condition, result, project)
    except ValueError as exc:
        return AnalysisPhase.ERROR, str(exc)
    if not metric.success_condition and not metric.failure_condition:
        return AnalysisPhase.SUCCESSFUL, ""
    if not metric.failure_condition:
        failure = not success
    elif not metric.success_condition:
        success = not failure
    if failure:
        return AnalysisPhase.FAILED, ""
    if not success:
        return AnalysisPhase.INCONCLUSIVE, ""
    return AnalysisPhase.SUCCESSFUL, ""
