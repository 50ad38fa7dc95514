"""JSONPath selection of ``result`` and Rollouts' success/failure condition table."""

from __future__ import annotations

import itertools
import math
from typing import Any

import pytest

from shunter.expressions import ExpressionError
from shunter.verification.conditions import evaluate_condition, evaluate_result
from shunter.verification.jsonpath import JSONPathError, select
from shunter.verification.phases import AnalysisPhase, is_worse, worst
from shunter.verification.templates import parse_metric

DOC: dict[str, Any] = {
    "status": "ok",
    "data": {"ok": True, "successPercent": 0.95, "x-y": 1.0},
    "items": [{"name": "a"}, {"name": "b"}],
}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("{$}", [DOC]),
        ("$", [DOC]),
        ("", [DOC]),
        ("{$.status}", ["ok"]),
        ("{.status}", ["ok"]),
        ("$.data.ok", [True]),  # braces optional (shunter convenience)
        ("{$.data['x-y']}", [1.0]),
        ('{$["data"]["successPercent"]}', [0.95]),
        ("{$.items[1].name}", ["b"]),
        ("{$.items[-1].name}", ["b"]),
        ("{$.items[*].name}", ["a", "b"]),
        ("{$.data.*}", [True, 0.95, 1.0]),
    ],
)
def test_select(path: str, expected: list[Any]) -> None:
    assert select(DOC, path) == expected


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("{$.missing}", "missing is not found"),
        ("{$.data.ok.deeper}", "deeper is not found"),
        ("{$.items[5]}", r"array index out of bounds: index 5, length 2"),
        ("{$..name}", "recursive descent"),
        ("{$.items[?(@.name=='a')]}", "unsupported JSONPath"),
        ("x{$.status}", "only one"),
    ],
)
def test_select_errors(path: str, message: str) -> None:
    with pytest.raises(JSONPathError, match=message):
        select(DOC, path)


def _metric(success: str = "", failure: str = "") -> Any:
    fields: dict[str, Any] = {"name": "m", "provider": {"web": {"url": "u"}}}
    if success:
        fields["successCondition"] = success
    if failure:
        fields["failureCondition"] = failure
    return parse_metric(fields)


@pytest.mark.parametrize(
    ("success", "failure", "result", "phase"),
    [
        ("", "", {"anything": 1.0}, AnalysisPhase.SUCCESSFUL),
        ('result.status == "ok"', "", {"status": "ok"}, AnalysisPhase.SUCCESSFUL),
        ('result.status == "ok"', "", {"status": "down"}, AnalysisPhase.FAILED),
        ("", "result > 10", 3.0, AnalysisPhase.SUCCESSFUL),
        ("", "result > 10", 30.0, AnalysisPhase.FAILED),
        ("result > 10", "result < 5", 20.0, AnalysisPhase.SUCCESSFUL),
        ("result > 10", "result < 5", 1.0, AnalysisPhase.FAILED),
        ("result > 10", "result < 5", 7.0, AnalysisPhase.INCONCLUSIVE),
        ("result > 1", "result > 0", 2.0, AnalysisPhase.FAILED),  # failure wins
    ],
)
async def test_condition_table(
    success: str, failure: str, result: Any, phase: AnalysisPhase
) -> None:
    assert await evaluate_result(result, _metric(success, failure)) == (phase, "")


async def test_condition_errors() -> None:
    phase, message = await evaluate_result("text", _metric('result.status == "ok"'))
    assert phase is AnalysisPhase.ERROR
    assert message.startswith('could not evaluate successCondition "result.status == "ok"": ')
    phase, message = await evaluate_result({"a": 1.0}, _metric("result.a"))
    assert (phase, message) == (
        AnalysisPhase.ERROR,
        'could not evaluate successCondition "result.a": expected bool, but got float',
    )
    phase, message = await evaluate_result(None, _metric("result > 1"))
    assert phase is AnalysisPhase.ERROR
    assert message.endswith(
        "metric result is nil or empty: no data returned from the metric provider"
    )
    phase, message = await evaluate_result({}, _metric("", "result.x +"))
    assert phase is AnalysisPhase.ERROR
    assert message.startswith('could not evaluate failureCondition "result.x +": ')


async def test_rollouts_helper_functions() -> None:
    assert await evaluate_condition('asInt(result) == 42 && asFloat("1.5") == 1.5', "42")
    assert await evaluate_condition("asInt(result.n) == 3", {"n": 3.7})
    assert await evaluate_condition("isNaN(result)", math.nan)
    assert await evaluate_condition("isInf(result)", math.inf)
    assert await evaluate_condition("isNil(result)", None)
    assert not await evaluate_condition("isNil(0)", {"a": 1.0})  # looks at the result, as Rollouts
    assert await evaluate_condition("default(result, 5) == 5", None)
    assert await evaluate_condition("default(result, 5) == 7", 7.0)
    assert await evaluate_condition("len(result.items) == 2", {"items": [1.0, 2.0]})
    with pytest.raises(ExpressionError, match="invalid syntax"):
        await evaluate_condition("asInt(result) > 0", "forty")
    # Go's ParseInt / ParseFloat: ASCII digits only
    for text in ("\u0661\u0662", "\uff11"):
        with pytest.raises(ExpressionError, match="invalid syntax"):
            await evaluate_condition("asInt(result) > 0", text)
        with pytest.raises(ExpressionError, match="invalid syntax"):
            await evaluate_condition("asFloat(result) > 0", text)
    with pytest.raises(ExpressionError, match="out of range"):
        await evaluate_condition("asInt(result) > 0", "9" * 30)


async def test_a_hostile_condition_is_stopped_by_the_budgets() -> None:
    metric = _metric("len(filter(1..100000, # in [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11])) > 0")
    phase, message = await evaluate_result({}, metric, project="demo")
    assert phase is AnalysisPhase.ERROR
    assert "exceeded" in message


def test_phase_order() -> None:
    order = [
        AnalysisPhase.SUCCESSFUL,
        AnalysisPhase.RUNNING,
        AnalysisPhase.PENDING,
        AnalysisPhase.INCONCLUSIVE,
        AnalysisPhase.ERROR,
        AnalysisPhase.FAILED,
    ]
    for lower, higher in itertools.pairwise(order):
        assert is_worse(lower, higher)
        assert not is_worse(higher, lower)
        assert worst(higher, lower) is higher
    assert [p for p in AnalysisPhase if p.completed] == [
        AnalysisPhase.SUCCESSFUL,
        AnalysisPhase.FAILED,
        AnalysisPhase.ERROR,
        AnalysisPhase.INCONCLUSIVE,
    ]
