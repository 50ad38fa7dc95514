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
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from shunter.api.v1alpha1 import to_wire
from shunter.api.v1alpha1.common import PromotionStep
from shunter.api.v1alpha1.promotion import StepExecutionMetadata
from shunter.expressions import (
    Environment,
    ExpressionEvaluationError,
    FunctionRegistry,
    evaluate,
    evaluate_template,
    to_plain,
)
from shunter.expressions.functions import (
    FunctionContext,
    ResourceCache,
    ResourceNotLoaded,
    ResourceRef,
    StepOutcome,
    build_function_registry,
    evaluate_lazily,
)
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
    """Evaluates one step's ``if``, vars and config against the Promotion's current state."""

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
        reader = self._cache if data is not None else None
        self._plain_functions = build_function_registry(
            FunctionContext(freight=freight, freight_requests=requests, reader=reader)
        )
        self._freight = freight
        self._requests = requests
        self._reader = reader

    # -- building blocks ----------------------------------------------------------------------

    def _status_functions(self) -> FunctionRegistry:
        outcomes = [
            StepOutcome(
                alias=m.alias or "",
                status=m.status.value if m.status is not None else "",
                continue_on_error=bool(m.continue_on_error),
            )
            for m in self._metadata
        ]
        return build_function_registry(
            FunctionContext(
                freight=self._freight,
                freight_requests=self._requests,
                reader=self._reader,
                step_outcomes=outcomes,
                current_step_alias=self._alias,
            )
        )

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

    async def _template(self, value: Any, env: Environment) -> Any:
        return await evaluate_lazily(
            lambda: evaluate_template(value, env), self._cache, self._fetch
        )

    # -- public API -----------------------------------------------------------------------------

    async def vars(self) -> dict[str, Any]:
        """Promotion vars, then step vars, evaluated in order (computed once per step)."""
        if self._vars is not None:
            return self._vars
        values: dict[str, Any] = {}
        ctx = build_ctx(self._pctx, self._alias)
        for var in self._pctx.vars:
            env = Environment(
                variables={"ctx": ctx, "vars": dict(values)}, functions=self._plain_functions
            )
            values[var.name] = await self._evaluate_var(var.name, var.value, env)
        for var in self._step.vars or []:
            env = Environment(
                variables=self._step_variables(dict(values)), functions=self._plain_functions
            )
            values[var.name] = await self._evaluate_var(var.name, var.value, env)
        self._vars = values
        return values

    async def _evaluate_var(self, name: str, value: str | None, env: Environment) -> Any:
        try:
            return to_plain(await self._template(value or "", env))
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
        env = Environment(variables=self._step_variables(vars_), functions=self._status_functions())
        result = await self._template(self._step.if_ or "", env)
        if not isinstance(result, bool):
            raise ConditionError(f"expression must evaluate to a boolean, got {type_name(result)}")
        return result

    async def config(self) -> dict[str, Any]:
        """The step's config with every expression evaluated (``{}`` when there is none)."""
        if self._step.config is None:
            return {}
        vars_ = await self.vars()
        env = Environment(variables=self._step_variables(vars_), functions=self._status_functions())
        result = to_plain(await self._template(copy.deepcopy(self._step.config), env))
        if not isinstance(result, dict):
            raise ExpressionEvaluationError(
                f"config must evaluate to an object, got {type_name(result)}"
            )
        return result

    async def raw_evaluator(self) -> ExpressionEvaluator:
        """``evaluate(expression, extra_variables)`` for the step's own raw expressions.

        Sees ``ctx``, ``vars`` (as evaluated for this step), ``outputs``, ``task`` and all
        functions. Data functions only see objects this step's vars/config already read (the
        evaluator is synchronous); anything else is reported as an evaluation error.
        """
        try:
            vars_ = await self.vars()
        except Exception:  # vars a step does not use must not break it
            vars_ = {}
        registry = self._status_functions()
        base = self._step_variables(vars_)

        def run(expression: str, extra: Mapping[str, Any]) -> Any:
            variables = dict(base)
            variables.update(extra)
            try:
                return evaluate(expression, Environment(variables=variables, functions=registry))
            except ResourceNotLoaded as miss:
                raise ExpressionEvaluationError(
                    f"{miss.ref.kind} {miss.ref.name!r} can only be read in the step's config",
                    expression=expression,
                ) from None

        return run
