"""The expression environment of one promotion step (Kargo's ``pkg/promotion/evaluator.go``).

Owns :class:`StepEvaluator`, which evaluates a step's ``if``, ``vars`` and ``config`` with:

* ``ctx``: ``uiBaseUrl``, ``project``, ``stage``, ``promotion``, ``targetFreight`` (``name``,
  ``alias``, ``origin.kind``/``origin.name``) and ``meta`` (``promotion.actor``,
  ``promotion.rollback``, ``step.alias``);
* ``vars``: the Promotion's vars (each sees ``ctx`` and the vars before it, not ``outputs``),
  then the step's own vars (which also see ``outputs`` and ``task``); a later var of the same
  name wins;
* ``outputs``: ``status.state`` (outputs of earlier steps by alias);
* ``task``: ``{outputs: {<alias within task>: output}}`` for steps inflated from a task;
* functions: freight (``imageFrom``...) over the Promotion's FreightCollection, utility
  (``semverParse``...), data (``configMap``/``secret``/``freightMetadata``/``stageMetadata``)
  when a :class:`ResourceFetcher` is injected, and the status functions (``success()``,
  ``failure()``, ``always()``, ``status()``) in ``if`` and ``config`` only.

Objects read by data functions are fetched lazily and cached for the step (one cache per step,
as Kargo does). ``if`` must produce a bool; like Kargo, it is a ``${{ }}`` template.
Evaluation never blocks the event loop (`shunter.expressions.sandbox`).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, Protocol

from shunter.api.v1alpha1 import to_wire
from shunter.api.v1alpha1.common import PromotionStep
from shunter.api.v1alpha1.promotion import StepExecutionMetadata
from shunter.expressions import ExpressionEvaluationError, sandbox
from shunter.expressions.functions import (
    FunctionContext,
    ResourceCache,
    ResourceRef,
    StepOutcome,
)
from shunter.expressions.jobs import Job
from shunter.expressions.values import type_name
from shunter.promotion.context import PromotionContext
from shunter.promotion.step import ExpressionEvaluator
from shunter.promotion.tasks import ALIAS_SEPARATOR, alias_namespace

__all__ = [
    "ConditionError",
    "ResourceFetcher",
    "StepEvaluator",
    "build_ctx",
    "task_outputs",
]


class ResourceFetcher(Protocol):
    """Read one object for the data and freight functions; ``None`` when it does not exist.

    ``ref.kind`` is ConfigMap, Secret, Freight, Stage or Warehouse; ``ref.shared`` selects the
    shared-resources namespace instead of ``project``. Return the object as a wire dict.
    """

    async def __call__(self, project: str, ref: ResourceRef) -> Mapping[str, Any] | None: ...


class ConditionError(ValueError):
    """A step's ``if`` did not produce a bool."""


def build_ctx(pctx: PromotionContext, alias: str) -> dict[str, Any]:
    """The ``ctx`` variable for the step ``alias``."""
    origin = pctx.target_freight.origin
    return {
        "uiBaseUrl": pctx.ui_base_url,
        "project": pctx.project,
        "stage": pctx.stage,
        "promotion": pctx.promotion,
        "targetFreight": {
            "name": pctx.target_freight.name or "",
            "alias": pctx.target_freight_alias,
            "origin": {
                "kind": origin.kind.value if origin is not None else "",
                "name": origin.name if origin is not None else "",
            },
        },
        "meta": {
            "promotion": {"actor": pctx.actor, "rollback": pctx.rollback},
            "step": {"alias": alias},
        },
    }


def task_outputs(alias: str, state: Mapping[str, Any]) -> dict[str, Any] | None:
    """Outputs of the steps of the same task as ``alias``, keyed by alias within the task."""
    namespace = alias_namespace(alias)
    if not namespace:
        return None
    prefix = namespace + ALIAS_SEPARATOR
    return {
        key[len(prefix) :]: copy.deepcopy(value)
        for key, value in state.items()
        if alias_namespace(key) == namespace
    }


class StepEvaluator:
    """Evaluates one step's ``if``, vars and config against the Promotion's current state.

    Evaluation runs through `shunter.expressions.sandbox`: bounded expressions inline, the
    rest in a worker process with a hard deadline, never blocking the event loop.
    """

    def __init__(
        self,
        pctx: PromotionContext,
        *,
        step: PromotionStep,
        alias: str,
        metadata: Sequence[StepExecutionMetadata],
        state: Mapping[str, Any],
        data: ResourceFetcher | None = None,
    ) -> None:
        self._pctx = pctx
        self._step = step
        self._alias = alias
        self._metadata = metadata
        self._state = state
        self._data = data
        self._cache = ResourceCache()
        self._vars: dict[str, Any] | None = None
        freight = [to_wire(ref) for ref in (pctx.freight.items or {}).values()]
        requests = (
            [to_wire(r) for r in pctx.freight_requests]
            if data is not None and pctx.freight_requests
            else None
        )
        self._plain_context = FunctionContext(
            freight=freight,
            freight_requests=requests,
            reader=self._cache if data is not None else None,
        )

    # -- building blocks ----------------------------------------------------------------------

    def _status_context(self) -> FunctionContext:
        outcomes = [
            StepOutcome(
                alias=m.alias or "",
                status=m.status.value if m.status is not None else "",
                continue_on_error=bool(m.continue_on_error),
            )
            for m in self._metadata
        ]
        return replace(self._plain_context, step_outcomes=outcomes, current_step_alias=self._alias)

    def _step_variables(self, vars_: Mapping[str, Any]) -> dict[str, Any]:
        variables: dict[str, Any] = {
            "ctx": build_ctx(self._pctx, self._alias),
            "outputs": self._state,
            "vars": vars_,
        }
        task = task_outputs(self._alias, self._state)
        if task is not None:
            variables["task"] = {"outputs": task}
        return variables

    async def _fetch(self, ref: ResourceRef) -> Mapping[str, Any] | None:
        if self._data is None:  # pragma: no cover - no reader means no misses
            return None
        return await self._data(self._pctx.project, ref)

    async def _run(self, job: Job) -> Any:
        fetch = self._fetch if self._data is not None else None
        return await sandbox.run(job, project=self._pctx.project, fetch=fetch)

    # -- public API -----------------------------------------------------------------------------

    async def vars(self) -> dict[str, Any]:
        """Promotion vars, then step vars, evaluated in order (computed once per step)."""
        if self._vars is not None:
            return self._vars
        values: dict[str, Any] = {}
        ctx = build_ctx(self._pctx, self._alias)
        for var in self._pctx.vars:
            variables = {"ctx": ctx, "vars": dict(values)}
            values[var.name] = await self._evaluate_var(var.name, var.value, variables)
        for var in self._step.vars or []:
            variables = self._step_variables(dict(values))
            values[var.name] = await self._evaluate_var(var.name, var.value, variables)
        self._vars = values
        return values

    async def _evaluate_var(self, name: str, value: str | None, variables: dict[str, Any]) -> Any:
        job = Job("template_string", value or "", variables, self._plain_context, plain=True)
        try:
            return await self._run(job)
        except Exception as exc:
            raise ExpressionEvaluationError(
                f'error pre-processing promotion variable "{name}": {exc}'
            ) from exc

    async def condition(self) -> bool:
        """The step's ``if`` (must be set): True to run the step, False to skip it.

        Raises:
            ConditionError: the result is not a bool.
            ExpressionError: the template does not evaluate.
        """
        vars_ = await self.vars()
        variables = self._step_variables(vars_)
        job = Job("template_string", self._step.if_ or "", variables, self._status_context())
        result = await self._run(job)
        if not isinstance(result, bool):
            raise ConditionError(f"expression must evaluate to a boolean, got {type_name(result)}")
        return result

    async def config(self) -> dict[str, Any]:
        """The step's config with every expression evaluated (``{}`` when there is none)."""
        if self._step.config is None:
            return {}
        vars_ = await self.vars()
        variables = self._step_variables(vars_)
        job = Job("template", self._step.config, variables, self._status_context(), plain=True)
        result = await self._run(job)
        if not isinstance(result, dict):
            raise ExpressionEvaluationError(
                f"config must evaluate to an object, got {type_name(result)}"
            )
        return result

    async def raw_evaluator(self) -> ExpressionEvaluator:
        """``await evaluate(expression, extra_variables)`` for the step's own raw expressions.

        Sees ``ctx``, ``vars`` (as evaluated for this step), ``outputs``, ``task`` and all
        functions, the data functions included.
        """
        try:
            vars_ = await self.vars()
        except Exception:  # vars a step does not use must not break it
            vars_ = {}
        context = self._status_context()
        base = self._step_variables(vars_)

        async def run(expression: str, extra: Mapping[str, Any]) -> Any:
            variables = dict(base)
            variables.update(extra)
            return await self._run(Job("evaluate", expression, variables, context))

        return run
