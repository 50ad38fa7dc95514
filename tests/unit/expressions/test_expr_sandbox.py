"""The sandbox: no Python eval/exec, no Python attribute access, bounded work and memory."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest

import shunter.expressions
from shunter.expressions import (
    ExpressionEvaluationError,
    ExpressionLimitError,
    ExpressionSyntaxError,
    FunctionRegistry,
    evaluate,
    evaluate_template_string,
)
from shunter.expressions.interpreter import Environment
from shunter.expressions.limits import deadline_scope

PACKAGE = Path(shunter.expressions.__file__).parent


def test_package_never_uses_python_eval_or_exec() -> None:
    forbidden = re.compile(r"(?<![\w.])(eval|exec|compile|__import__)\s*\(|\bgetattr\s*\(")
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split("#", 1)[0]
            if forbidden.search(code):
                offenders.append(f"{path.name}:{number}: {line.strip()}")
    # dataclasses.fields()+getattr on our own AST nodes is the only reflective access.
    assert offenders == [
        o for o in offenders if o.startswith("parser.py") and "getattr(node, field.name)" in o
    ]


class Secretive:
    password = "hunter2"

    def method(self) -> str:
        return "called"


@pytest.mark.parametrize(
    "expression",
    [
        "obj.password",
        "obj.__class__",
        "obj['__dict__']",
        "obj.method()",
        "'x'.__class__",
        "vars.keys()",
        "fn()",
        "vars.fn()",
    ],
)
def test_python_objects_expose_nothing(expression: str) -> None:
    env = {"obj": Secretive(), "vars": {"fn": print}, "fn": print}
    with pytest.raises(ExpressionEvaluationError):
        evaluate(expression, env)


def test_dunder_keys_are_just_missing_map_keys() -> None:
    assert evaluate("vars.__class__", {"vars": {}}) is None
    assert evaluate("{}.__init__", {}) is None


def test_only_registered_functions_are_callable() -> None:
    registry = FunctionRegistry(parent=shunter.expressions.BUILTINS)
    registry.register("double", lambda x: x * 2)
    env = Environment(variables={"double": lambda x: x * 3}, functions=registry)
    assert evaluate("double(2)", env) == 4
    with pytest.raises(ValueError, match="predicate builtin"):
        registry.register("filter", lambda *a: a)
    with pytest.raises(RuntimeError, match="frozen"):
        shunter.expressions.BUILTINS.register("evil", lambda: None)


@pytest.mark.parametrize(
    ("expression", "fragment"),
    [
        ("repeat('a', 2000000)", "exceeds 1000000"),
        ("1..1000000", "exceeds 100000"),
        ("map(1..100000, map(1..100000, #))", "steps"),
        ("map(1..50, repeat('x', 999999))", "memory budget"),
        ("replace(repeat('a', 100000), 'a', repeat('b', 100))", "exceeds 1000000"),
        ("join(map(1..20000, repeat('y', 100)), ',')", "exceeds 1000000"),
        ("concat(1..60000, 1..60000)", "exceeds 100000"),
        ("fromJSON(repeat('[', 5000) + repeat(']', 5000))", "recursion"),
    ],
)
def test_budgets_stop_hostile_expressions(expression: str, fragment: str) -> None:
    started = time.monotonic()
    with deadline_scope(600), pytest.raises(ExpressionLimitError) as info:
        evaluate(expression, {})
    assert fragment in info.value.message
    assert time.monotonic() - started < 10


def test_expression_length_is_limited() -> None:
    with pytest.raises(ExpressionSyntaxError, match="too long"):
        evaluate("1" + " + 1" * 3000, {})


@pytest.mark.parametrize(
    "expression",
    [
        "(" * 100 + "1" + ")" * 100,
        "-" * 100 + "1",
        "[" * 100 + "]" * 100,
        " + ".join(["1"] * 300),
        "a" + ".b" * 300,
    ],
    ids=["parens", "unary", "arrays", "long-chain", "member-chain"],
)
def test_nesting_is_limited(expression: str) -> None:
    with pytest.raises(ExpressionSyntaxError, match=r"nested too deeply|too deeply nested"):
        evaluate(expression, {})


def test_reasonable_nesting_is_fine() -> None:
    assert evaluate("(" * 30 + "1" + ")" * 30, {}) == 1
    assert evaluate(" + ".join(["1"] * 150), {}) == 150


def test_regular_expressions_run_in_linear_time() -> None:
    started = time.monotonic()
    assert evaluate("s matches '(a+)+$'", {"s": "a" * 50_000 + "b"}) is False
    assert time.monotonic() - started < 2
    with pytest.raises(ExpressionEvaluationError, match="error parsing regexp"):
        evaluate("'aa' matches '(a)\\\\1'", {})


def test_deep_config_is_limited() -> None:
    value: Any = "${{ 1 }}"
    for _ in range(300):
        value = [value]
    with pytest.raises(shunter.expressions.TemplateError, match="nested deeper"):
        shunter.expressions.evaluate_template(value, {})


def test_template_budget_is_per_expression() -> None:
    text = "${{ repeat('a', 900000) }}${{ repeat('b', 900000) }}"
    assert len(evaluate_template_string(text, {})) == 1_800_000
