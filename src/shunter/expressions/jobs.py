"""Units of evaluation work that can run in another process: `Job`, `run_job`, `Outcome`.

A `Job` is plain, picklable data: what to evaluate (a raw expression, a template string, a
whole step config, or one expression over many sets of variables), the variables, and the
`FunctionContext` from which the worker rebuilds Kargo's functions - its ``reader`` a
`ResourceCache` holding the objects fetched so far (or a `StaticResources`), never a live
client. `run_job` executes a job in the current process under one wall-time deadline and
returns an `Outcome`: a value, the evaluator's error, or the object that must be fetched
first (``miss``; the caller fetches it, adds it to the cache and submits the job again).

`run_job` is what the worker processes of `shunter.expressions.pool` call, and what
`shunter.expressions.sandbox` calls inline for expressions whose cost is bounded.

Results are detached from the evaluator's bookkeeping types and, with ``plain``, converted to
JSON-shaped data (`to_plain`) inside the evaluation budget, so a value that is cheap to hold
but huge to expand (a list sharing itself) is refused here rather than expanded later.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from shunter.expressions.builtins import BUILTINS
from shunter.expressions.errors import (
    ExpressionError,
    ExpressionEvaluationError,
    ExpressionInterrupt,
    ExpressionLimitError,
    ExpressionSyntaxError,
    TemplateError,
)
from shunter.expressions.functions import FunctionContext, ResourceNotLoaded, ResourceRef
from shunter.expressions.functions import build_environment as _build_environment
from shunter.expressions.functions.analysis import analysis_functions
from shunter.expressions.functions.receiver import receiver_environment
from shunter.expressions.interpreter import OUT_OF_MEMORY, Environment, compile_expression, contain
from shunter.expressions.limits import MAX_SECONDS, charge_output, deadline_scope, detach
from shunter.expressions.template import (
    evaluate_template,
    evaluate_template_string,
    render_template_string,
)
from shunter.expressions.values import to_plain

__all__ = [
    "ERROR_TYPES",
    "Job",
    "JobKind",
    "Outcome",
    "error_from_fields",
    "error_to_fields",
    "run_job",
]

JobKind = Literal["evaluate", "evaluate_many", "template", "template_string", "render"]

#: The error classes a job may report, by name (the worker sends names, never classes).
ERROR_TYPES: dict[str, type[ExpressionError]] = {
    cls.__name__: cls
    for cls in (
        ExpressionError,
        ExpressionSyntaxError,
        ExpressionEvaluationError,
        ExpressionLimitError,
        TemplateError,
    )
}


@dataclass(frozen=True)
class Job:
    """What to evaluate and with what.

    Attributes:
        kind: ``evaluate`` (``source`` is a raw expression), ``evaluate_many`` (the raw
            expression once per entry of ``many``, each merged over ``variables``),
            ``template_string`` (one ``${{ }}`` template, Kargo's coercion), ``render`` (a
            template as text; ``require_string`` as for verification arguments) or
            ``template`` (every string inside a config structure).
        source: the expression, the template, or the config structure.
        variables: what the expression sees as variables (plain data).
        context: Kargo's functions to offer; None for the builtins only.
        plain: convert the result with `to_plain` (JSON-shaped data).
        require_string: with ``render``: refuse a non-string result.
        many: with ``evaluate_many``: the extra variables of each evaluation.
        functions: ``kargo`` (Kargo's functions from ``context``), ``analysis`` (Argo
            Rollouts' condition helpers over the ``result`` variable) or ``receiver`` (a
            generic webhook receiver's ``request`` and URL normalisations).
    """

    kind: JobKind
    source: Any
    variables: Mapping[str, Any] = field(default_factory=dict)
    context: FunctionContext | None = None
    plain: bool = False
    require_string: bool = False
    many: Sequence[Mapping[str, Any]] = ()
    functions: Literal["kargo", "analysis", "receiver"] = "kargo"

    def environment(self) -> Environment:
        if self.functions == "receiver":
            return receiver_environment(self.variables)
        if self.functions == "analysis":
            registry = BUILTINS.child()
            registry.update(analysis_functions(self.variables.get("result")))
            return Environment(variables=self.variables, functions=registry.freeze())
        return _build_environment(self.variables, self.context)


@dataclass(frozen=True)
class Outcome:
    """How a job ended: ``ok`` with a value, ``error`` with the evaluator's error, or
    ``miss`` with the object to fetch before submitting the job again."""

    status: Literal["ok", "error", "miss"]
    value: Any = None
    error: ExpressionError | None = None
    missing: ResourceRef | None = None
    seconds: float = 0.0
    #: The evaluation ran out of memory (a worker then retires: its heap is not trusted).
    out_of_memory: bool = False


def run_job(job: Job, seconds: float = MAX_SECONDS, *, steps: int | None = None) -> Outcome:
    """Execute `job` in this process within `seconds` of wall time (the evaluator's own
    budgets, each evaluation's step limit lowered to `steps` if given; a worker process adds
    a hard deadline and a memory cap around it)."""
    started = time.monotonic()
    try:
        with deadline_scope(seconds, steps=steps):
            value = _execute(job)
    except ResourceNotLoaded as miss:
        return Outcome("miss", missing=miss.ref, seconds=time.monotonic() - started)
    except ExpressionInterrupt as exc:
        interrupted = ExpressionEvaluationError(f"evaluation was interrupted: {exc}")
        return Outcome("error", error=interrupted, seconds=time.monotonic() - started)
    except Exception as exc:  # the evaluator's errors, and a safety net for anything else
        error = contain(exc, None)
        return Outcome(
            "error",
            error=error,
            seconds=time.monotonic() - started,
            out_of_memory=error.message == OUT_OF_MEMORY,
        )
    return Outcome("ok", value=value, seconds=time.monotonic() - started)


def _execute(job: Job) -> Any:
    env = job.environment()
    if job.kind == "evaluate":
        return compile_expression(job.source).run(env, _finisher(job.plain))
    if job.kind == "evaluate_many":
        compiled = compile_expression(job.source)
        finish = _finisher(job.plain)
        return [compiled.run(env.with_variables(**dict(extra)), finish) for extra in job.many]
    if job.kind == "template_string":
        return _finish(evaluate_template_string(job.source, env), job.plain)
    if job.kind == "render":
        return render_template_string(job.source, env, require_string=job.require_string)
    if job.kind == "template":
        return _finish(evaluate_template(job.source, env), job.plain)
    raise ExpressionEvaluationError(f"unknown job kind {job.kind!r}")


def _finisher(plain: bool) -> Callable[[Any], Any]:
    return _plain if plain else detach


def _plain(value: Any) -> Any:
    charge_output(value, "the result")
    return to_plain(value)


def _finish(value: Any, plain: bool) -> Any:
    """Template results are coerced from text (plain data already, as large as the text)."""
    return to_plain(value) if plain else value


def error_to_fields(error: ExpressionError) -> tuple[Any, ...]:
    """An error as plain fields (to cross a process boundary)."""
    name = type(error).__name__ if type(error).__name__ in ERROR_TYPES else "ExpressionError"
    return (
        name,
        error.message,
        error.expression,
        error.offset,
        error.template,
        error.template_offset,
    )


def error_from_fields(fields: Sequence[Any]) -> ExpressionError:
    """The error `error_to_fields` described (an unknown class name reads as the base)."""
    name, message, expression, offset, template, template_offset = fields
    cls = ERROR_TYPES.get(str(name), ExpressionError)
    return cls(
        str(message),
        expression=expression if isinstance(expression, str) else None,
        offset=offset if isinstance(offset, int) else None,
        template=template if isinstance(template, str) else None,
        template_offset=template_offset if isinstance(template_offset, int) else None,
    )
