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
(the result, or ``d`` when the result is nil); plus shunter's expr-lang builtins.
"""

from __future__ import annotations

import math
from typing import Any

from shunter.expressions import (
    BUILTINS,
    Environment,
    ExpressionError,
    FunctionError,
    FunctionRegistry,
    evaluate,
)
from shunter.verification.phases import AnalysisPhase
from shunter.verification.templates import Metric

__all__ = ["evaluate_condition", "evaluate_result"]


def _as_int(value: Any) -> int:
    if isinstance(value, bool):
        raise FunctionError(f"asInt() not supported on bool {value}")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise FunctionError(f"asInt() not supported on {value}")
        return int(value)
    if isinstance(value, str):
        try:
            return int(value, 10)
        except ValueError:
            raise FunctionError(f'strconv.ParseInt: parsing "{value}": invalid syntax') from None
    raise FunctionError(f"asInt() not supported on {type(value).__name__} {value!r}")


def _as_float(value: Any) -> float:
    if isinstance(value, bool):
        raise FunctionError(f"asFloat() not supported on bool {value}")
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            raise FunctionError(f'strconv.ParseFloat: parsing "{value}": invalid syntax') from None
    raise FunctionError(f"asFloat() not supported on {type(value).__name__} {value!r}")


def _number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise FunctionError(f"{name}() expects a float, not {type(value).__name__}")
    return float(value)


def _registry(result: Any) -> FunctionRegistry:
    registry = BUILTINS.child()
    registry.register("asInt", _as_int)
    registry.register("asFloat", _as_float)
    registry.register("isNaN", lambda value: math.isnan(_number(value, "isNaN")))
    registry.register("isInf", lambda value: math.isinf(_number(value, "isInf")))
    registry.register("isNil", lambda _ignored: result is None)
    registry.register("default", lambda _ignored, fallback: fallback if result is None else result)
    return registry


def evaluate_condition(condition: str, result: Any) -> bool:
    """Evaluate one condition with ``result`` bound (raises ExpressionError/ValueError)."""
    env = Environment(variables={"result": result}, functions=_registry(result))
    value = evaluate(condition, env)
    if not isinstance(value, bool):
        kind = "nil" if value is None else type(value).__name__
        raise ValueError(f"expected bool, but got {kind}")
    return value


def _nil_or_empty(result: Any) -> bool:
    return result is None or (isinstance(result, list) and not result)


def _checked(which: str, condition: str, result: Any) -> bool:
    try:
        return evaluate_condition(condition, result)
    except (ExpressionError, ValueError, TypeError) as exc:
        if _nil_or_empty(result):
            reason = "metric result is nil or empty: no data returned from the metric provider"
            raise ValueError(f'could not evaluate {which} "{condition}": {reason}') from None
        raise ValueError(f'could not evaluate {which} "{condition}": {exc}') from None


def evaluate_result(result: Any, metric: Metric) -> tuple[AnalysisPhase, str]:
    """The measurement phase for ``result`` and, for ``Error``, the message."""
    success = failure = False
    try:
        if metric.success_condition:
            success = _checked("successCondition", metric.success_condition, result)
        if metric.failure_condition:
            failure = _checked("failureCondition", metric.failure_condition, result)
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
