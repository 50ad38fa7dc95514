"""Async evaluation that never blocks the event loop: the entry points the operator uses.

Owns `run`, which evaluates a `shunter.expressions.jobs.Job` (a raw expression, a template,
a whole step config...) and returns its value or raises the evaluator's error
(`ExpressionError`) - whatever the input - and the shortcuts `evaluate_async` (one raw
expression) and `evaluate_many_async` (one expression over many sets of variables).

How a job runs:

1. If every expression in it is bounded (`shunter.expressions.bounded`), it is tried inline
   with a small step budget (`INLINE_STEPS`); a typical step config (paths, ``imageFrom()``,
   ``secret()``, ``success()``) never leaves the event loop.
2. Otherwise - or if the inline try ran out of its small budget, or produced a large value -
   it goes to the worker pool (`shunter.expressions.pool`): a separate process with a hard
   deadline and a memory cap, shared fairly between Projects (``project``).
3. Data functions read through the job's `ResourceCache`; a miss comes back here, ``fetch``
   (async) reads the object, the cache keeps it and the job is submitted again - once per
   distinct object, the deadline counting only time spent evaluating.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from shunter.expressions.bounded import is_bounded, is_small
from shunter.expressions.errors import ExpressionEvaluationError, ExpressionLimitError
from shunter.expressions.functions import FunctionContext, ResourceCache, ResourceRef
from shunter.expressions.jobs import Job, Outcome, run_job
from shunter.expressions.limits import steps_exceeded
from shunter.expressions.pool import WorkerPool, get_pool

__all__ = [
    "INLINE_STEPS",
    "MAX_FETCHES",
    "Fetch",
    "evaluate_async",
    "evaluate_many_async",
    "run",
]

Fetch = Callable[[ResourceRef], Awaitable[Mapping[str, Any] | None]]
#: Step limit of an inline try; beyond it the job goes to a worker.
INLINE_STEPS = 20_000
#: Distinct objects one evaluation may read through the data functions.
MAX_FETCHES = 64
_INLINE_EXCEEDED = steps_exceeded(INLINE_STEPS)


async def run(
    job: Job,
    *,
    project: str,
    fetch: Fetch | None = None,
    pool: WorkerPool | None = None,
) -> Any:
    """Evaluate `job`; return its value or raise the evaluator's error.

    `project` is the namespace the expression belongs to (fairness between Projects).
    `fetch` reads an object a data function asked for (None: such reads fail); fetched objects
    are kept in the job's context's `ResourceCache` (one is added if it has none).
    """
    pool = pool or get_pool()
    job, cache = _with_cache(job, fetch)
    remaining = pool.settings.deadline_seconds
    inline = is_bounded(job)
    fetches = 0
    while True:
        outcome: Outcome | None = None
        if inline:
            outcome = run_job(job, remaining, steps=INLINE_STEPS)
            if _needs_worker(outcome):
                inline = False
                outcome = None
        if outcome is None:
            outcome = await pool.submit(job, project=project, seconds=remaining)
        remaining -= outcome.seconds
        if outcome.status == "ok":
            return outcome.value
        if outcome.status == "error" or outcome.missing is None:
            raise outcome.error or ExpressionEvaluationError("evaluation failed")
        ref = outcome.missing
        if cache is None or fetch is None or ref in cache:
            raise ExpressionEvaluationError(f"{ref.kind} {ref.name!r} cannot be read here")
        fetches += 1
        if fetches > MAX_FETCHES:
            raise ExpressionEvaluationError(f"expression needed more than {MAX_FETCHES} objects")
        if remaining <= 0:
            raise ExpressionLimitError(
                f"evaluation exceeded its deadline ({pool.settings.deadline_seconds:g}s)"
            )
        cache.put(ref, await fetch(ref))


def _needs_worker(outcome: Outcome) -> bool:
    if outcome.status == "ok":
        return not is_small(outcome.value)
    return outcome.status == "error" and (
        outcome.error is not None and outcome.error.message == _INLINE_EXCEEDED
    )


def _with_cache(job: Job, fetch: Fetch | None) -> tuple[Job, ResourceCache | None]:
    context = job.context
    if context is None:
        return job, None
    if isinstance(context.reader, ResourceCache):
        return job, context.reader
    if context.reader is None and fetch is not None:
        cache = ResourceCache()
        return replace(job, context=replace(context, reader=cache)), cache
    return job, None


async def evaluate_async(
    expression: str,
    variables: Mapping[str, Any],
    context: FunctionContext | None = None,
    *,
    project: str,
    fetch: Fetch | None = None,
    plain: bool = False,
) -> Any:
    """One raw expression (no ``${{ }}``)."""
    job = Job("evaluate", expression, variables, context, plain=plain)
    return await run(job, project=project, fetch=fetch)


async def evaluate_many_async(
    expression: str,
    variables: Mapping[str, Any],
    many: Sequence[Mapping[str, Any]],
    context: FunctionContext | None = None,
    *,
    project: str,
    fetch: Fetch | None = None,
) -> list[Any]:
    """One raw expression once per entry of `many` (extra variables), in one job."""
    if not many:
        return []
    job = Job("evaluate_many", expression, variables, context, many=tuple(many))
    result: list[Any] = await run(job, project=project, fetch=fetch)
    return result
