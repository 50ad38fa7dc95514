"""Evaluation off the event loop: worker processes with a hard deadline and a memory cap, fair
between Projects; bounded expressions inline; data read lazily across the process boundary."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from shunter.expressions import (
    ExpressionEvaluationError,
    ExpressionLimitError,
    ExpressionSyntaxError,
)
from shunter.expressions.bounded import is_bounded, is_small
from shunter.expressions.functions import FunctionContext, ResourceCache, ResourceRef
from shunter.expressions.functions.http import HTTPResponse
from shunter.expressions.jobs import Job, run_job
from shunter.expressions.pool import PoolSettings, WorkerPool
from shunter.expressions.sandbox import run

#: A job that takes a good fraction of a second in a worker (not bounded: goes to a worker).
SLOW = "len(filter(1..100000, # % 7 == 0 && # % 11 == 0 && # % 13 == 0))"


@pytest.fixture(scope="module")
def pool() -> Iterator[WorkerPool]:
    workers = WorkerPool(PoolSettings(workers=2, deadline_seconds=10))
    yield workers
    workers.close()


async def test_a_worker_evaluates_and_reports_errors_with_their_position(pool: WorkerPool) -> None:
    assert await run(Job("evaluate", "map(1..3, # * 2)"), project="p", pool=pool) == [2, 4, 6]
    with pytest.raises(ExpressionEvaluationError) as info:
        await run(Job("evaluate", "map(1..3, #.x)"), project="p", pool=pool)
    assert info.value.offset == 12
    assert info.value.expression == "map(1..3, #.x)"
    with pytest.raises(ExpressionLimitError, match="memory budget"):
        await run(Job("evaluate", "reduce(1..40, [#acc, #acc], 0)"), project="p", pool=pool)
    with pytest.raises(ExpressionSyntaxError):
        await run(Job("evaluate", "map(1..3"), project="p", pool=pool)


async def test_every_job_kind_runs_in_a_worker(pool: WorkerPool) -> None:
    variables = {"vars": {"n": 3}}
    assert await run(
        Job("template", {"a": ["${{ map(1..vars.n, #) }}"], "b": 1}, variables, plain=True),
        project="p",
        pool=pool,
    ) == {"a": [[1, 2, 3]], "b": 1}
    assert (
        await run(
            Job("template_string", "${{ sum(1..vars.n) }}", variables), project="p", pool=pool
        )
        == 6
    )
    assert (
        await run(
            Job("render", "n=${{ sum(1..vars.n) }}", variables, require_string=True),
            project="p",
            pool=pool,
        )
        == "n=6"
    )
    assert await run(
        Job("evaluate_many", "sum(1..n)", {}, many=({"n": 1}, {"n": 4})), project="p", pool=pool
    ) == [1, 10]


async def test_values_that_cross_the_process_boundary(pool: WorkerPool) -> None:
    response = HTTPResponse(200, {"Content-Type": ["application/json"]}, {"items": [1, 2]})
    variables = {"response": response}
    result = await run(
        Job("evaluate", "[response.header('content-type'), map(response.body.items, # + 1)]",
            variables),
        project="p",
        pool=pool,
    )  # fmt: skip
    assert result == ["application/json", [2, 3]]
    when = await run(Job("evaluate", "date('2024-01-02', '2006-01-02', 'Europe/Zurich')"),
                     project="p", pool=pool)  # fmt: skip
    assert when.moment.utcoffset().total_seconds() == 3600
    job = Job("evaluate", "first(map([1], semverParse('1.2.3').IncMinor()))", {}, FunctionContext())
    assert not is_bounded(job)
    version = await run(job, project="p", pool=pool)
    assert version.text() == "1.3.0"


async def test_data_is_read_lazily_through_the_worker(pool: WorkerPool) -> None:
    reads: list[ResourceRef] = []

    async def fetch(ref: ResourceRef) -> Mapping[str, Any] | None:
        reads.append(ref)
        if ref.name == "settings":
            return {"data": {"replicas": "3"}}
        return None

    context = FunctionContext(reader=ResourceCache())
    job = Job(
        "evaluate",
        "map(1..int(configMap('settings').replicas), #) + [len(configMap('missing'))]",
        {},
        context,
    )
    with pytest.raises(ExpressionEvaluationError, match="mismatched types"):
        await run(job, project="p", fetch=fetch, pool=pool)
    assert [ref.name for ref in reads] == ["settings", "missing"]
    job = Job("evaluate", "sum(map(1..int(configMap('settings').replicas), #))", {}, context)
    assert await run(job, project="p", fetch=fetch, pool=pool) == 6
    assert len(reads) == 2  # the cache kept both


async def test_a_read_without_a_fetcher_is_an_error(pool: WorkerPool) -> None:
    job = Job("evaluate", "configMap('x')", {}, FunctionContext(reader=ResourceCache()))
    with pytest.raises(ExpressionEvaluationError, match="ConfigMap 'x' cannot be read here"):
        await run(job, project="p", pool=pool)


async def test_the_hard_deadline_kills_and_replaces_the_worker() -> None:
    pool = WorkerPool(PoolSettings(workers=1, deadline_seconds=0.001, grace_seconds=0.0))
    try:
        await pool.start()
        job = Job("evaluate", "len(fromJSON('[' + repeat('1,', 400000) + '1]'))")
        with pytest.raises(ExpressionLimitError, match=r"exceeded its deadline \(0.001s\)"):
            await run(job, project="p", pool=pool)
        assert pool.stats.killed == 1
        assert await run(Job("evaluate", "1 + 1"), project="p", pool=pool) == 2  # inline
    finally:
        pool.close()


async def test_the_memory_cap_stops_an_evaluation_and_replaces_the_worker() -> None:
    pool = WorkerPool(PoolSettings(workers=1, memory_mib=64, deadline_seconds=20))
    try:
        # 99 ranges of 99999 fresh ints: below the allocation budget, above 64 MiB.
        with pytest.raises(ExpressionLimitError, match=r"memory limit \(64 MiB\)"):
            await run(Job("evaluate", "len(map(1..99, 1..99999))"), project="p", pool=pool)
        assert pool.stats.out_of_memory == 1
        assert await run(Job("evaluate", "len(map(1..9, 1..9))"), project="p", pool=pool) == 9
        assert pool.stats.started == 2
    finally:
        pool.close()


async def test_one_projects_slow_evaluations_do_not_take_every_worker() -> None:
    pool = WorkerPool(PoolSettings(workers=2, per_project=1, deadline_seconds=20))
    finished: list[str] = []
    try:
        await pool.start()

        async def evaluate(project: str, expression: str) -> None:
            await run(Job("evaluate", expression), project=project, pool=pool)
            finished.append(project)

        hostile = [asyncio.create_task(evaluate("hostile", SLOW)) for _ in range(3)]
        await asyncio.sleep(0)  # the hostile jobs are queued first
        await evaluate("other", "len(map(1..10, #))")
        assert finished == ["other"]  # it did not wait behind the hostile Project's queue
        await asyncio.gather(*hostile)
        assert finished == ["other", "hostile", "hostile", "hostile"]
    finally:
        pool.close()


async def test_the_event_loop_keeps_running_during_an_evaluation(pool: WorkerPool) -> None:
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.005)
            ticks += 1

    task = asyncio.create_task(ticker())
    try:
        await run(Job("evaluate", SLOW), project="p", pool=pool)
    finally:
        task.cancel()
    assert ticks >= 3


async def test_a_cancelled_evaluation_gives_its_worker_back() -> None:
    pool = WorkerPool(PoolSettings(workers=1, deadline_seconds=20))
    try:
        task = asyncio.create_task(run(Job("evaluate", SLOW), project="p", pool=pool))
        waiting = asyncio.create_task(run(Job("evaluate", SLOW), project="p", pool=pool))
        await asyncio.sleep(0.3)
        task.cancel()
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        with pytest.raises(asyncio.CancelledError):
            await waiting
        assert pool.busy() == 0
        assert await run(Job("evaluate", "sum(1..4)"), project="p", pool=pool) == 10
    finally:
        pool.close()


async def test_bounded_jobs_run_inline() -> None:
    pool = WorkerPool(PoolSettings(workers=1))
    try:
        context = FunctionContext(
            freight=[{"origin": {"kind": "Warehouse", "name": "w"},
                      "images": [{"repoURL": "reg/app", "tag": "1.2.3"}]}],
        )  # fmt: skip
        config = {
            "path": "./src/${{ vars.env }}/values.yaml",
            "tag": "${{ imageFrom('reg/app').Tag }}",
            "prod": "${{ vars.env == 'prod' ? 'yes' : 'no' }}",
            "major": "${{ semverParse(imageFrom('reg/app').Tag).Major() }}",
        }
        job = Job("template", config, {"vars": {"env": "prod"}}, context, plain=True)
        assert is_bounded(job)
        assert await run(job, project="p", pool=pool) == {
            "path": "./src/prod/values.yaml",
            "tag": "1.2.3",
            "prod": "yes",
            "major": 1,
        }
        assert pool.stats.jobs == 0
        assert pool.stats.started == 0
    finally:
        pool.close()


async def test_a_bounded_job_with_a_large_result_goes_to_a_worker() -> None:
    pool = WorkerPool(PoolSettings(workers=1))
    try:
        big = {"items": list(range(50_000))}
        job = Job("template_string", "${{ vars.big }}", {"vars": {"big": big}}, plain=True)
        assert is_bounded(job)
        assert await run(job, project="p", pool=pool) == big
        assert pool.stats.jobs == 1
    finally:
        pool.close()


@pytest.mark.parametrize(
    ("expression", "bounded"),
    [
        ("vars.x", True),
        ("ctx.targetFreight.origin?.name ?? 'none'", True),
        ("imageFrom(vars.repo, warehouse('w')).Tag", True),
        ("secret('creds').token", True),
        ("success() && status('a') == 'Succeeded'", True),
        ("'prefix-' + ctx.stage + '-' + vars.x", True),
        ("semverDiff(vars.a, vars.b) == 'Major'", True),
        ("{'a': [vars.x, 1]}", True),
        ("vars.a == vars.b", False),
        ("1..10", False),
        ("map(vars.list, #)", False),
        ("vars.list[1:]", False),
        ("vars.x in vars.list", False),
        ("repeat('a', 10)", False),
        ("toJSON(vars)", False),
        ("date(vars.when).Format(vars.layout)", False),
        ("vars.a matches vars.b", False),
        (" + ".join(["vars.s"] * 12), False),
    ],
)
def test_what_is_bounded(expression: str, bounded: bool) -> None:
    assert is_bounded(Job("evaluate", expression)) is bounded
    assert is_bounded(Job("template_string", "x${{ " + expression + " }}")) is bounded


def test_many_expressions_are_not_bounded() -> None:
    config = {f"k{i}": "${{ vars.x }}" for i in range(100)}
    assert not is_bounded(Job("template", config))
    assert is_bounded(Job("template", dict(list(config.items())[:10])))


def test_small_results() -> None:
    assert is_small({"a": [1, 2, 3]})
    assert not is_small(list(range(20_000)))


def test_inline_runs_lower_the_step_limit() -> None:
    outcome = run_job(Job("evaluate", "len(map(1..10000, #))"), steps=100)
    assert outcome.error is not None
    assert outcome.error.message == "evaluation exceeded 100 steps"


#: Standard-library-only modules the worker may load besides the expression package: Kargo's
#: URL normalisations, which generic webhook receivers' expressions call.
WORKER_EXTRAS = {"shunter.freight", "shunter.freight.urls", "shunter.freight._gourl"}


def test_the_worker_process_imports_only_the_expression_package() -> None:
    code = (
        "import sys, shunter.expressions.worker, shunter.expressions.jobs;"
        "print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in"
        " ('shunter', 'kubernetes', 'kopf', 'pydantic', 'httpx', 'git'))))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    )
    modules = result.stdout.split()
    assert modules
    assert all(
        m == "shunter" or m.startswith("shunter.expressions") or m in WORKER_EXTRAS for m in modules
    ), modules
