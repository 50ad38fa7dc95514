"""PromotionTask inflation: a Stage's promotion template becomes a Promotion's steps and vars.

Kargo does this in its Promotion mutating webhook; shunter's Promotion controller calls
:func:`inflate_stage_template` when a Promotion has no steps yet. The rules:

* Promotion vars = Stage ``spec.vars`` followed by the template's ``spec.vars``.
* A template step ``{task: {name, kind}, as: X, vars: [...]}`` is replaced by a copy of every
  step of the referenced (Cluster)PromotionTask. Each copy is aliased ``X::<step alias>`` (a
  task step without ``as`` is ``step-<n>`` within the task; ``X`` defaults to ``task-<i+1>``).
* Task inputs: for each declared task var, a non-empty Promotion var of that name wins (nothing
  is added); otherwise the task's default is added; otherwise the task-ref step's own vars must
  supply it (else :class:`MissingTaskVariableError`). The task-ref step's vars follow. That list
  is put in front of every inflated step's own vars (later entries win at evaluation time).
* A step that uses a runner directly keeps its fields; an empty alias becomes ``step-<i+1>``
  (index in the template list), as Kargo's webhook does.

Tasks are fetched through an injected async :class:`TaskLookup`, so this module never talks to
the API server itself.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from shunter.api.v1alpha1.common import (
    ExpressionVariable,
    PromotionStep,
    PromotionTaskReference,
    PromotionTaskReferenceKind,
)
from shunter.api.v1alpha1.promotion_task import PromotionTaskSpec
from shunter.api.v1alpha1.stage import Stage
from shunter.promotion.errors import (
    InflationError,
    InvalidStepsError,
    MissingTaskVariableError,
    TaskNotFoundError,
)

__all__ = [
    "ALIAS_SEPARATOR",
    "RESERVED_ALIAS",
    "InflatedTemplate",
    "TaskLookup",
    "alias_namespace",
    "default_alias",
    "inflate_stage_template",
    "inflate_steps",
    "promotion_vars",
    "task_input_vars",
    "validate_template_steps",
]

#: Separates a task-ref alias from the alias of a step inside the task (``task-1::commit``).
ALIAS_SEPARATOR = "::"
#: Aliases the engine generates; users may not write them.
RESERVED_ALIAS = re.compile(r"^(step|task)-\d+$")


class TaskLookup(Protocol):
    """Fetch the spec of a (Cluster)PromotionTask; ``None`` when it does not exist.

    ``ref.kind`` is ``None``/``PromotionTask`` (looked up in ``project``) or
    ``ClusterPromotionTask`` (cluster-scoped).
    """

    async def __call__(
        self, project: str, ref: PromotionTaskReference
    ) -> PromotionTaskSpec | None: ...


@dataclass(frozen=True)
class InflatedTemplate:
    """What goes into a new Promotion's spec: its ``steps`` and ``vars``."""

    steps: list[PromotionStep]
    vars: list[ExpressionVariable]


def default_alias(step: PromotionStep, index: int) -> str:
    """``as`` when set, else ``task-<index+1>`` for a task ref or ``step-<index+1>``."""
    if step.as_:
        return step.as_
    if step.task is not None:
        return f"task-{index + 1}"
    return f"step-{index + 1}"


def alias_namespace(alias: str) -> str:
    """The task alias of an inflated step (``X`` of ``X::y``); ``""`` for other aliases."""
    parts = alias.split(ALIAS_SEPARATOR)
    return parts[0] if len(parts) == 2 else ""


def promotion_vars(stage: Stage) -> list[ExpressionVariable]:
    """Stage ``spec.vars`` then ``promotionTemplate.spec.vars`` (copies)."""
    out = [v.model_copy() for v in stage.spec.vars or []]
    template = stage.spec.promotion_template
    if template is not None:
        out.extend(v.model_copy() for v in template.spec.vars or [])
    return out


def validate_template_steps(steps: Sequence[PromotionStep]) -> None:
    """Check template steps the way Kargo's Stage validation does.

    Raises:
        InvalidStepsError: listing every problem found.
    """
    problems: list[str] = []
    seen: dict[str, int] = {}
    for i, step in enumerate(steps):
        where = f"steps[{i}]"
        if (step.uses is None) == (step.task is None):
            problems.append(f"{where}: exactly one of uses or task must be set")
        if step.task is not None:
            for field, present in (
                ("if", step.if_ is not None),
                ("config", step.config is not None),
                ("continueOnError", step.continue_on_error is not None),
                ("retry", step.retry is not None),
            ):
                if present:
                    problems.append(f"{where}: a step referencing a task cannot set {field}")
        alias = (step.as_ or "").strip()
        if not alias:
            continue
        if alias in seen:
            problems.append(f"{where}.as: step alias duplicates that of steps[{seen[alias]}]")
        else:
            seen[alias] = i
        if RESERVED_ALIAS.match(alias):
            problems.append(f'{where}.as: step alias "{alias}" is reserved')
        if ALIAS_SEPARATOR in alias:
            problems.append(f'{where}.as: step alias "{alias}" must not contain "::"')
    if problems:
        raise InvalidStepsError(problems)


def task_input_vars(
    task_vars: Sequence[ExpressionVariable],
    global_vars: Sequence[ExpressionVariable],
    step_vars: Sequence[ExpressionVariable],
) -> list[ExpressionVariable]:
    """The vars put in front of every step inflated from one task reference.

    Raises:
        MissingTaskVariableError: a task var without default is set neither globally nor by
            the task-ref step.
    """
    set_globally = {v.name for v in global_vars if v.value}
    set_by_step = {v.name for v in step_vars if v.value}
    out: list[ExpressionVariable] = []
    for var in task_vars:
        if var.name in set_globally:
            continue
        if var.value:
            out.append(var.model_copy())
            continue
        if var.name not in set_by_step:
            raise MissingTaskVariableError(var.name)
    out.extend(v.model_copy() for v in step_vars)
    return out


async def _task_spec(
    project: str, ref: PromotionTaskReference, lookup: TaskLookup
) -> PromotionTaskSpec:
    spec = await lookup(project, ref)
    if spec is None:
        if ref.kind == PromotionTaskReferenceKind.CLUSTER_PROMOTION_TASK:
            raise TaskNotFoundError(f'ClusterPromotionTask "{ref.name}" not found')
        raise TaskNotFoundError(f'PromotionTask "{ref.name}" not found in namespace "{project}"')
    for j, step in enumerate(spec.steps):
        if step.uses is None or step.task is not None:
            raise InvalidStepsError(
                [f'task "{ref.name}" steps[{j}]: a task step must set uses and no task']
            )
    return spec


async def _inflate_task_ref(
    project: str,
    task_alias: str,
    step: PromotionStep,
    global_vars: Sequence[ExpressionVariable],
    lookup: TaskLookup,
) -> list[PromotionStep]:
    assert step.task is not None  # noqa: S101 - callers dispatch on it
    spec = await _task_spec(project, step.task, lookup)
    inputs = task_input_vars(spec.vars or [], global_vars, step.vars or [])
    out: list[PromotionStep] = []
    for j, task_step in enumerate(spec.steps):
        copy = task_step.model_copy(deep=True)
        copy.as_ = f"{task_alias}{ALIAS_SEPARATOR}{default_alias(task_step, j)}"
        merged = [v.model_copy() for v in inputs] + list(copy.vars or [])
        copy.vars = merged or None
        out.append(copy)
    return out


async def inflate_steps(
    project: str,
    steps: Sequence[PromotionStep],
    global_vars: Sequence[ExpressionVariable],
    lookup: TaskLookup,
) -> list[PromotionStep]:
    """Validate template ``steps`` and expand every task reference.

    Args:
        project: namespace where ``PromotionTask`` references are resolved.
        steps: the template's steps.
        global_vars: the Promotion-level vars (see :func:`promotion_vars`).
        lookup: fetches task specs.

    Raises:
        InflationError: invalid steps, unknown task, missing task variable.
    """
    validate_template_steps(steps)
    out: list[PromotionStep] = []
    for i, step in enumerate(steps):
        alias = default_alias(step, i)
        if step.task is None:
            copy = step.model_copy(deep=True)
            copy.as_ = alias
            out.append(copy)
            continue
        try:
            out.extend(await _inflate_task_ref(project, alias, step, global_vars, lookup))
        except InflationError as exc:
            exc.args = (f'inflate task steps for task "{step.task.name}" ("{alias}"): {exc}',)
            raise
    aliases = [s.as_ for s in out]
    duplicates = sorted({a for a in aliases if a is not None and aliases.count(a) > 1})
    if duplicates:
        raise InvalidStepsError([f'step alias "{a}" is used more than once' for a in duplicates])
    return out


async def inflate_stage_template(stage: Stage, lookup: TaskLookup) -> InflatedTemplate:
    """The ``steps`` and ``vars`` of a new Promotion to ``stage``.

    Raises:
        InflationError: the Stage defines no steps, or inflation fails.
    """
    project = stage.metadata.namespace or ""
    template = stage.spec.promotion_template
    if template is None or not template.spec.steps:
        raise InvalidStepsError(
            [f'Stage "{stage.metadata.name}" in namespace "{project}" defines no promotion steps']
        )
    global_vars = promotion_vars(stage)
    steps = await inflate_steps(project, template.spec.steps, global_vars, lookup)
    return InflatedTemplate(steps=steps, vars=global_vars)
