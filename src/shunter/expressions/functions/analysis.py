"""Argo Rollouts' helpers for AnalysisRun conditions: ``asInt asFloat isNaN isInf isNil
default``.

Owns `analysis_functions(result)`, the functions a metric's ``successCondition`` /
``failureCondition`` may call besides the builtins. As in Rollouts, ``isNil(x)`` and
``default(x, d)`` ignore their argument and look at the whole measured ``result``. Numbers
in strings are read like Go's ``strconv.ParseInt(s, 10, 64)`` / ``strconv.ParseFloat(s, 64)``:
ASCII digits only.
"""

from __future__ import annotations

import math
from typing import Any

from shunter.expressions.errors import FunctionError
from shunter.expressions.registry import ExprFunction
from shunter.expressions.values import parse_go_float, type_name

__all__ = ["analysis_functions"]

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def _parse_int(text: str) -> int:
    digits = text[1:] if text[:1] in "+-" else text
    if not (digits.isascii() and digits.isdigit()):
        raise FunctionError(f'strconv.ParseInt: parsing "{text}": invalid syntax')
    if len(digits.lstrip("0")) > 19 or not _INT64_MIN <= int(text) <= _INT64_MAX:
        raise FunctionError(f'strconv.ParseInt: parsing "{text}": value out of range')
    return int(text)


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
        return _parse_int(value)
    raise FunctionError(f"asInt() not supported on {type_name(value)}")


def _as_float(value: Any) -> float:
    if isinstance(value, bool):
        raise FunctionError(f"asFloat() not supported on bool {value}")
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        parsed = parse_go_float(value)
        if parsed is None:
            raise FunctionError(f'strconv.ParseFloat: parsing "{value}": invalid syntax')
        return parsed
    raise FunctionError(f"asFloat() not supported on {type_name(value)}")


def _number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise FunctionError(f"{name}() expects a float, not {type_name(value)}")
    return float(value)


def analysis_functions(result: Any) -> dict[str, ExprFunction]:
    """Rollouts' condition helpers for a measurement whose value is `result`."""
    return {
        "asInt": ExprFunction("asInt", _as_int, 1, 1),
        "asFloat": ExprFunction("asFloat", _as_float, 1, 1),
        "isNaN": ExprFunction("isNaN", lambda value: math.isnan(_number(value, "isNaN")), 1, 1),
        "isInf": ExprFunction("isInf", lambda value: math.isinf(_number(value, "isInf")), 1, 1),
        "isNil": ExprFunction("isNil", lambda _ignored: result is None, 1, 1),
        "default": ExprFunction(
            "default", lambda _ignored, fallback: fallback if result is None else result, 2, 2
        ),
    }
