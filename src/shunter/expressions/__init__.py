"""Kargo-compatible expressions: expr-lang syntax and ``${{ }}`` templates, sandboxed.

Public entry points:

* ``compile_expression(text) -> CompiledExpression`` - parse once (LRU-cached); raises
  `ExpressionSyntaxError`. ``CompiledExpression.evaluate(env)`` runs it.
* ``evaluate(text, env) -> Any`` - one raw expression (no delimiters), e.g. an ``if`` written
  without ``${{ }}``, a ``fromExpression``, freight-creation criteria.
* ``evaluate_template(value, env) -> Any`` - a step config: every string value inside dicts and
  lists is evaluated with Kargo's coercion (keys are not); returns a new structure.
* ``evaluate_template_string(text, env) -> Any`` - one template string, Kargo's coercion.
* ``render_template_string(text, env, *, require_string=False) -> str`` - a template as text.
* ``to_plain(value)`` - JSON-shaped data from any result (records become dicts).

`env` is an `Environment` (variables + a `FunctionRegistry`) or a plain mapping of variables
(then only the builtins are callable). Only registered functions can be called; variables are
data. `shunter.expressions.functions` builds registries with Kargo's functions
(``imageFrom``, ``secret``, ``success``...) from injected data.

Errors: `ExpressionError` and subclasses carry the expression text, the offset and a message.
Every entry point raises nothing else, whatever the input.

Sandbox: no Python ``eval``/``exec``/``compile``; no attribute access on Python objects (only
`ExprObject` fields/methods); expressions are limited to 10,000 characters and 64 levels of
nesting; each evaluation is limited in steps (every operation charged by the size of what it
touches), logical size of what it produces, string and collection sizes, nesting and wall
time (`shunter.expressions.limits`); regular expressions use RE2 (linear time).

Off the event loop: the operator evaluates through `shunter.expressions.sandbox` (async):
bounded expressions (`shunter.expressions.bounded`) inline, the rest as `jobs` in worker
processes (`shunter.expressions.pool`, `shunter.expressions.worker`) with a hard deadline and
a memory cap, fair between Projects.
"""

from __future__ import annotations

from shunter.expressions.builtins import BUILTINS
from shunter.expressions.errors import (
    ExpressionError,
    ExpressionEvaluationError,
    ExpressionInterrupt,
    ExpressionLimitError,
    ExpressionSyntaxError,
    FunctionError,
    TemplateError,
)
from shunter.expressions.interpreter import (
    CompiledExpression,
    Environment,
    compile_expression,
    evaluate,
)
from shunter.expressions.registry import ExprFunction, FunctionRegistry
from shunter.expressions.template import (
    TEMPLATE_FUNCTIONS,
    CompiledTemplate,
    coerce_template_text,
    compile_template,
    evaluate_template,
    evaluate_template_string,
    has_expression,
    quote,
    render_template_string,
    unsafe_quote,
)
from shunter.expressions.values import (
    ExprObject,
    Record,
    RecordField,
    RecordType,
    StrMap,
    go_json,
    to_plain,
)

__all__ = [
    "BUILTINS",
    "TEMPLATE_FUNCTIONS",
    "CompiledExpression",
    "CompiledTemplate",
    "Environment",
    "ExprFunction",
    "ExprObject",
    "ExpressionError",
    "ExpressionEvaluationError",
    "ExpressionInterrupt",
    "ExpressionLimitError",
    "ExpressionSyntaxError",
    "FunctionError",
    "FunctionRegistry",
    "Record",
    "RecordField",
    "RecordType",
    "StrMap",
    "TemplateError",
    "coerce_template_text",
    "compile_expression",
    "compile_template",
    "evaluate",
    "evaluate_template",
    "evaluate_template_string",
    "go_json",
    "has_expression",
    "quote",
    "render_template_string",
    "to_plain",
    "unsafe_quote",
]
