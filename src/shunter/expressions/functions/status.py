"""Kargo's step-status functions: ``success()``, ``failure()``, ``always()``, ``status(alias)``.

Owns `StepOutcome`, the caller's view of one earlier step (alias, status, continueOnError), and
the functions over a list of them:

* ``failure()``: some step not marked ``continueOnError`` is ``Failed`` or ``Errored``;
  ``success()`` is its negation; ``always()`` is true.
* ``status(alias)``: the status string of that step, or ``""``. Aliases resolve within the
  current step's task namespace: inside an inflated task step ``X::y``, ``status('z')`` means
  ``X::z``; at the top level only un-namespaced aliases match.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from shunter.expressions.errors import FunctionError
from shunter.expressions.registry import ExprFunction
from shunter.expressions.values import type_name

__all__ = ["ALIAS_SEPARATOR", "StepOutcome", "status_functions"]

ALIAS_SEPARATOR = "::"
_FAILING = frozenset({"Failed", "Errored"})


@dataclass(frozen=True, slots=True)
class StepOutcome:
    """One step's execution status as the status functions see it."""

    alias: str
    status: str
    continue_on_error: bool = False


def _split_alias(alias: str) -> tuple[str, str]:
    parts = alias.split(ALIAS_SEPARATOR)
    if len(parts) == 2:
        return parts[0], parts[1]
    return "", alias


def status_functions(
    outcomes: Sequence[StepOutcome], current_step_alias: str = ""
) -> dict[str, ExprFunction]:
    """success, failure, always and status over `outcomes` (earlier steps, in order)."""
    namespace, _ = _split_alias(current_step_alias)

    def failure() -> bool:
        return any(o.status in _FAILING for o in outcomes if not o.continue_on_error)

    def status(alias: Any) -> str:
        if not isinstance(alias, str):
            raise FunctionError(f"status(): argument must be string, got {type_name(alias)}")
        if not alias:
            raise FunctionError("status(): argument must not be empty")
        for outcome in outcomes:
            step_namespace, short = _split_alias(outcome.alias)
            if step_namespace == namespace and short == alias:
                return outcome.status
        return ""

    return {
        "success": ExprFunction("success", lambda: not failure(), 0, 0),
        "failure": ExprFunction("failure", failure, 0, 0),
        "always": ExprFunction("always", lambda: True, 0, 0),
        "status": ExprFunction("status", status, 1, 1),
    }
