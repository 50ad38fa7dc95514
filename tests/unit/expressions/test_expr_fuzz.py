"""Fuzzing the evaluator: whatever the expression, the answer is a value or the evaluator's own
error, within the evaluation deadline, without the worker hitting its hard deadline or memory
cap (the evaluator's budgets must stop every runaway first).

Expressions are generated from the grammar: literals (hostile numbers and strings included),
ranges, operators, builtins and methods with hostile arguments, nested closures, ``let``,
optional chains, and ``${{ }}`` templates. Every reproducer of issue 12 is a fixed example.

The seed is fixed; ``SHUNTER_FUZZ_EXAMPLES`` sets the number of generated examples (the default
runs in about a minute on two cores; raise it by hand for a longer hunt).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, seed, settings
from hypothesis import strategies as st

from shunter.expressions import ExpressionError
from shunter.expressions.functions import FunctionContext, ResourceRef, StaticResources
from shunter.expressions.jobs import Job
from shunter.expressions.pool import PoolSettings, WorkerPool

EXAMPLES = int(os.environ.get("SHUNTER_FUZZ_EXAMPLES", "4000"))
DEADLINE = 5.0
GRACE = 1.0

REPRODUCERS = [
    # finding 1: work the budgets did not charge
    "reduce(1..40, [#acc, #acc], 0)",
    "let L = 1..90000; len(filter(L, # in L))",
    "let L = 1..100000; len(map(1..3000, L[1:]))",
    "toJSON(reduce(1..20, [#acc, #acc], 0))",
    "string(reduce(1..20, [#acc, #acc], 0))",
    "let x = reduce(1..20, [#acc, #acc], 0); x == x",
    "date(repeat('1', 60) + 'x', repeat('2', 40))",
    # finding 2: Python exceptions instead of the evaluator's error
    "[1][1e400]",
    "'abc'[1e400:]",
    "1..1e400",
    "duration('1s') * 1e400",
    "now().AddDate(10000, 0, 0)",
    "now().AddDate(nil, 0, 0)",
    "date('9999-12-31T23:59:59Z').Add(duration('1h'))",
    "reduce(1..5000, [#acc], [])",
]
TEMPLATE_REPRODUCERS = [
    "${{ repeat('0', 4400) }}1",
    "${{ '\u0661\u0662\u0663' }}",
    "${{ reduce(1..20, [#acc, #acc], 0) }}",
]

# -- the grammar ------------------------------------------------------------------------------

NUMBERS = [
    "0", "1", "2", "3", "-1", "7", "10", "64", "100", "1000", "100000", "1e400", "-1e400",
    "9223372036854775807", "(-9223372036854775807 - 1)", "1.5", "0.1", "1e21", "2e-7",
    "float('NaN')", "float('Inf')",
]  # fmt: skip
STRINGS = [
    "''", "'a'", "'abc'", "'a,b,c'", "'\u0661\u0662\u0663'", "'2023-08-14'",
    "'2023-08-14T10:20:30Z'", "'2006-01-02'", "'Jan 2 2006 3:04PM'", "'1h30m'", "'[1, [2]]'",
    "'{\"a\": {\"b\": 1}}'", "'1.2.3'", "'v2.0.0-rc.1'", "'%'", "'${{'", "'(a+)+$'", "'\\\\'",
]  # fmt: skip
VARIABLES = ["vars.list", "vars.map", "vars.s", "vars.n", "vars.big", "vars.nested", "ctx"]
POINTERS = ["#", "#index", "#acc"]
BINARY = [
    "+", "-", "*", "/", "%", "**", "==", "!=", "<", ">=", "&&", "||", "??", "in", "..",
    "contains", "startsWith", "matches",
]  # fmt: skip
FUNCTIONS = [
    "len", "type", "abs", "int", "float", "string", "trim", "upper", "split", "replace",
    "repeat", "join", "indexOf", "toJSON", "fromJSON", "toBase64", "fromBase64", "first",
    "last", "take", "keys", "values", "toPairs", "fromPairs", "reverse", "uniq", "concat",
    "flatten", "sort", "max", "min", "mean", "median", "duration", "date", "timezone",
    "bitand", "bitshl", "get", "semverParse", "semverDiff", "imageFrom", "commitFrom",
    "warehouse", "configMap",
]  # fmt: skip
PREDICATES = ["map", "filter", "all", "any", "count", "sum", "find", "groupBy", "sortBy"]
METHODS = [
    "Year", "Format", "Add", "AddDate", "Sub", "Unix", "In", "String", "Hours", "Major",
    "IncMinor", "Compare", "Tag",
]  # fmt: skip


RANGES = ["1..3", "1..vars.n", "0..100", "1..1000", "1..100000", "-5..5", "vars.big", "vars.list"]


def _tree(atoms: st.SearchStrategy[str], closure: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Expressions over `atoms`; predicate bodies come from `closure` (where ``#`` exists)."""

    def grow(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        args = st.lists(inner, min_size=0, max_size=3).map(", ".join)
        sources = st.one_of(st.sampled_from(RANGES), inner)
        return st.one_of(
            st.tuples(inner, st.sampled_from(BINARY), inner).map(
                lambda t: f"({t[0]} {t[1]} {t[2]})"
            ),
            st.tuples(st.sampled_from(["-", "!"]), inner).map(lambda t: f"{t[0]}({t[1]})"),
            st.tuples(inner, inner, inner).map(lambda t: f"({t[0]} ? {t[1]} : {t[2]})"),
            st.tuples(st.sampled_from(FUNCTIONS), args).map(lambda t: f"{t[0]}({t[1]})"),
            st.tuples(st.sampled_from(PREDICATES), sources, closure).map(
                lambda t: f"{t[0]}({t[1]}, ({t[2]}))"
            ),
            st.tuples(sources, closure, inner).map(lambda t: f"reduce({t[0]}, ({t[1]}), {t[2]})"),
            st.tuples(inner, inner).map(lambda t: f"repeat({t[0]}, {t[1]})"),
            st.tuples(inner, inner).map(lambda t: f"({t[0]})[{t[1]}]"),
            st.tuples(inner, inner, inner).map(lambda t: f"({t[0]})[{t[1]}:{t[2]}]"),
            st.tuples(inner, st.sampled_from(["a", "b", "x", "Tag", "ID"])).map(
                lambda t: f"({t[0]})?.{t[1]}"
            ),
            st.tuples(inner, st.sampled_from(METHODS), args).map(
                lambda t: f"({t[0]}).{t[1]}({t[2]})"
            ),
            st.lists(inner, min_size=1, max_size=3).map(lambda items: "[" + ", ".join(items) + "]"),
            st.tuples(inner, inner).map(lambda t: "{'k': " + t[0] + ", 'v': " + t[1] + "}"),
            st.tuples(inner, inner).map(lambda t: f"(let x = {t[0]}; [x, x, {t[1]}])"),
        )

    return st.recursive(atoms, grow, max_leaves=10)


def _expressions() -> st.SearchStrategy[str]:
    plain = st.one_of(
        st.sampled_from(NUMBERS),
        st.sampled_from(STRINGS),
        st.sampled_from(["true", "false", "nil", "now()", "[]", "{}"]),
        st.sampled_from(VARIABLES),
        st.sampled_from(RANGES),
    )
    with_pointers = st.one_of(st.sampled_from(POINTERS), plain)
    innermost = st.recursive(
        with_pointers,
        lambda inner: st.tuples(inner, st.sampled_from(BINARY), inner).map(
            lambda t: f"({t[0]} {t[1]} {t[2]})"
        ),
        max_leaves=4,
    )
    closure = _tree(with_pointers, innermost)  # closures nest two deep
    return _tree(plain, closure)


EXPRESSIONS = _expressions()
TEMPLATES = st.tuples(
    st.sampled_from(["", "v", "1", '"', "[", "\n"]),
    EXPRESSIONS,
    st.sampled_from(["", "1", "x", '"', "]", "\n"]),
).map(lambda t: f"{t[0]}${{{{ {t[1]} }}}}{t[2]}")

VARIABLES_VALUE = {
    "vars": {
        "list": [1, 2, 3],
        "map": {"a": 1, "b": [1, 2]},
        "s": "text",
        "n": 5,
        "big": list(range(2000)),
        "nested": [[[[1]]]],
    },
    "ctx": {"stage": "preprod", "project": "demo"},
}
CONTEXT = FunctionContext(
    freight=[
        {
            "name": "f1",
            "origin": {"kind": "Warehouse", "name": "w"},
            "images": [{"repoURL": "reg/app", "tag": "1.2.3", "digest": "sha256:a"}],
            "commits": [{"repoURL": "https://git.example.com/repo.git", "id": "abc"}],
        }
    ],
    reader=StaticResources({ResourceRef("ConfigMap", "a"): {"data": {"k": "v"}}}),
)


@pytest.fixture(scope="module")
def pool() -> Iterator[WorkerPool]:
    workers = WorkerPool(PoolSettings(workers=2, deadline_seconds=DEADLINE, grace_seconds=GRACE))
    asyncio.run(workers.start())
    yield workers
    workers.close()


def _check(pool: WorkerPool, job: Job) -> Any:
    """Evaluate in a worker: a value or the evaluator's error, within the deadline, with no
    hard limit reached."""
    killed, memory, crashed = pool.stats.killed, pool.stats.out_of_memory, pool.stats.crashed
    started = time.monotonic()
    outcome = asyncio.run(pool.submit(job, project="fuzz"))
    elapsed = time.monotonic() - started
    assert outcome.status in ("ok", "error"), outcome
    if outcome.status == "error":
        assert isinstance(outcome.error, ExpressionError)
    assert elapsed < DEADLINE + GRACE, (job.source, elapsed)
    assert (pool.stats.killed, pool.stats.crashed) == (killed, crashed), (
        f"the hard deadline had to stop {job.source!r}"
    )
    assert pool.stats.out_of_memory == memory, f"{job.source!r} reached the memory cap"
    return outcome.value


_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize=False,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


#: pytest-timeout for one whole hypothesis run (the default 300 s is per test).
_TIMEOUT = max(300, EXAMPLES)


@pytest.mark.timeout(_TIMEOUT)
@seed(20261212)
@_SETTINGS
@given(expression=EXPRESSIONS)
@example(expression=REPRODUCERS[0])
def test_expressions(pool: WorkerPool, expression: str) -> None:
    _check(pool, Job("evaluate", expression, VARIABLES_VALUE, CONTEXT, plain=True))


@pytest.mark.parametrize("expression", REPRODUCERS)
def test_reproducers(pool: WorkerPool, expression: str) -> None:
    _check(pool, Job("evaluate", expression, VARIABLES_VALUE, CONTEXT, plain=True))


@pytest.mark.timeout(_TIMEOUT)
@seed(20261213)
@settings(_SETTINGS, max_examples=max(1, EXAMPLES // 4))
@given(template=TEMPLATES)
def test_templates(pool: WorkerPool, template: str) -> None:
    _check(pool, Job("template_string", template, VARIABLES_VALUE, CONTEXT, plain=True))
    _check(pool, Job("render", template, VARIABLES_VALUE, CONTEXT))


@pytest.mark.parametrize("template", TEMPLATE_REPRODUCERS)
def test_template_reproducers(pool: WorkerPool, template: str) -> None:
    _check(pool, Job("template_string", template, VARIABLES_VALUE, CONTEXT, plain=True))
