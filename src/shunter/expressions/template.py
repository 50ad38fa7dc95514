"""Kargo's ``${{ }}`` templating over strings and step configurations.

Owns the rules Kargo applies to string values that contain expressions (its
``pkg/expressions/json_templates.go``):

* Expressions sit between ``${{`` and ``}}``, or ``${%`` and ``%}`` when the expression itself
  contains ``}}``. Several expressions and literal text may be mixed. An unclosed delimiter is a
  `TemplateError`. There is no escape syntax: write ``${{ '${{' }}`` for a literal ``${{``.
* A string without any start delimiter is returned untouched (``"42"`` stays a string).
* Each expression result becomes text: strings as they are, anything else as Go's JSON
  (compact, sorted keys). The pieces are concatenated, then the whole text is **coerced**:

  1. one trailing ``\\n`` is set aside;
  2. text wrapped in double quotes (length > 1) loses them and stays a string (this is how
     ``quote()`` forces a string) - no unescaping happens;
  3. text Go's ``strconv.ParseFloat`` accepts becomes a number, before bools so ``0``/``1``
     are numbers. Integral values within int64 come back as ``int`` (Kargo's JSON round trip
     prints them without a fraction), others as ``float``; ``NaN``/``Inf`` stay strings;
  4. text ``strconv.ParseBool`` accepts (``1 t T TRUE true True 0 f F FALSE false False``)
     becomes a bool;
  5. valid JSON becomes the decoded value (object, array, null...); integral numbers inside
     come back as ``int`` too;
  6. otherwise the text, newline restored, is the string result.

* Only values are evaluated, never keys, recursively through dicts and lists.
* Template-only functions (added on top of the environment's registry): ``quote(v)``
  (strings: Go ``%q``; others: JSON then wrapped in quotes), ``unsafeQuote(v)`` (JSON then
  wrapped in quotes), ``asJSON(v)`` (2-space JSON plus a newline, forced string) and
  ``asYAML(v)`` (YAML text, forced string; produced by ruamel.yaml in yaml.v3's layout - four
  spaces of indentation, sorted keys - but not guaranteed byte-identical to Go's output).
"""

from __future__ import annotations

import functools
import io
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

from ruamel.yaml import YAML
from ruamel.yaml.representer import RoundTripRepresenter

from shunter.expressions.errors import (
    ExpressionError,
    ExpressionEvaluationError,
    ExpressionInterrupt,
    FunctionError,
    TemplateError,
)
from shunter.expressions.interpreter import (
    CompiledExpression,
    Environment,
    compile_expression,
    contain,
)
from shunter.expressions.limits import MAX_STRING_LENGTH, BudgetExceeded, charge_output
from shunter.expressions.registry import FunctionRegistry
from shunter.expressions.values import (
    go_json,
    go_quote,
    parse_go_bool,
    parse_go_float,
    to_plain,
    type_name,
)

__all__ = [
    "DELIMITERS",
    "TEMPLATE_FUNCTIONS",
    "CompiledTemplate",
    "as_json",
    "as_yaml",
    "coerce_template_text",
    "compile_template",
    "evaluate_template",
    "evaluate_template_string",
    "has_expression",
    "quote",
    "render_template_string",
    "unsafe_quote",
]

DELIMITERS: tuple[tuple[str, str], ...] = (("${{", "}}"), ("${%", "%}"))
P = ParamSpec("P")
R = TypeVar("R")

_INT64_LIMIT = 2**63
#: Steps charged per unit of a value asYAML() writes: ruamel.yaml is much slower than JSON.
_YAML_WEIGHT = 50


# --- template-only functions ----------------------------------------------------------------


def unsafe_quote(value: Any) -> str:
    """``unsafeQuote(v)``: JSON of `v` wrapped in double quotes (strings keep visible quotes)."""
    charge_output(value, "unsafeQuote()")
    return f'"{go_json(value, limit=MAX_STRING_LENGTH)}"'


def quote(value: Any) -> str:
    """``quote(v)``: strings as Go ``%q``; other values as `unsafe_quote`."""
    if isinstance(value, str):
        charge_output(value, "quote()")
        return go_quote(value)
    return unsafe_quote(value)


def as_json(value: Any) -> str:
    """``asJSON(v)``: indented JSON plus a newline, wrapped in quotes (forced string)."""
    charge_output(value, "asJSON()")
    return f'"{go_json(value, indent="  ", limit=MAX_STRING_LENGTH)}\n"'


class _YAMLRepresenter(RoundTripRepresenter):
    pass


def _represent_str(representer: RoundTripRepresenter, data: str) -> Any:
    style = "|" if "\n" in data else None
    return representer.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_YAMLRepresenter.add_representer(str, _represent_str)


def as_yaml(value: Any) -> str:
    """``asYAML(v)``: YAML text of `v`, wrapped in quotes (forced string)."""
    charge_output(value, "asYAML()", weight=_YAML_WEIGHT)
    yaml = YAML(typ="rt")
    yaml.Representer = _YAMLRepresenter
    yaml.indent(mapping=4, sequence=6, offset=4)
    yaml.width = 1_000_000
    stream = io.StringIO()
    yaml.dump(_sorted(to_plain(value)), stream)
    text = stream.getvalue()
    if text.endswith("\n...\n"):
        text = text[: -len("...\n")]
    return f'"{text}"'


def _sorted(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _sorted(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_sorted(v) for v in value]
    return value


def _template_functions() -> FunctionRegistry:
    registry = FunctionRegistry()
    registry.register("quote", quote)
    registry.register("unsafeQuote", unsafe_quote)
    registry.register("asJSON", as_json)
    registry.register("asYAML", as_yaml)
    return registry.freeze()


TEMPLATE_FUNCTIONS = _template_functions()
"""``quote``, ``unsafeQuote``, ``asJSON``, ``asYAML``: available inside templates only."""


# --- coercion -------------------------------------------------------------------------------


def _as_number(value: float) -> int | float:
    if math.isfinite(value) and value.is_integer() and abs(value) < _INT64_LIMIT:
        return int(value)
    return value


def _parse_json_float(text: str) -> int | float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text} is out of range")
    return _as_number(value)


def _parse_json_int(text: str) -> int | float:
    if len(text.lstrip("-")) <= 19:
        value = int(text)
        if abs(value) < _INT64_LIMIT:
            return value
    return _parse_json_float(text)


def _reject_constant(name: str) -> Any:
    raise ValueError(name)


def coerce_template_text(text: str) -> Any:
    """Apply Kargo's coercion of an evaluated template's text (see the module docstring)."""
    removed_newline = text.endswith("\n")
    if removed_newline:
        text = text[:-1]
    if len(text) > 1 and text.startswith('"') and text.endswith('"'):
        inner = text[1:-1]
        return inner + "\n" if removed_newline else inner
    number = parse_go_float(text)
    if number is not None and math.isfinite(number):
        digits = text.lstrip("+-").lstrip("0")
        # An integer that fits int64 keeps every digit (float64 would round it); longer digit
        # strings go the float way, as in Kargo (and int() refuses more than 4300 digits).
        if digits.isascii() and digits.isdigit() and len(digits) <= 19:
            value = int(digits or "0") * (-1 if text.startswith("-") else 1)
            return value if abs(value) < _INT64_LIMIT else _as_number(number)
        return _as_number(number)
    boolean = parse_go_bool(text)
    if boolean is not None:
        return boolean
    if number is None:
        try:
            return json.loads(
                text,
                parse_float=_parse_json_float,
                parse_int=_parse_json_int,
                parse_constant=_reject_constant,
            )
        except (ValueError, RecursionError):
            pass
    return text + "\n" if removed_newline else text


# --- parsing templates ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Piece:
    text: str
    expression: CompiledExpression | None
    offset: int


@dataclass(frozen=True, slots=True)
class CompiledTemplate:
    """A template split into literal text and compiled expressions (cached per string)."""

    source: str
    pieces: tuple[_Piece, ...]

    @property
    def has_expressions(self) -> bool:
        return any(piece.expression is not None for piece in self.pieces)

    def render(self, env: Environment | Mapping[str, Any]) -> str:
        """The concatenated text before coercion (what Kargo builds, then coerces)."""
        environment = _with_template_functions(Environment.of(env))
        out: list[str] = []
        for piece in self.pieces:
            if piece.expression is None:
                out.append(piece.text)
                continue
            try:
                out.append(piece.expression.run(environment, _render_piece))
            except ExpressionError as exc:
                raise exc.in_template(self.source, piece.offset) from None
        return "".join(out)

    def evaluate(self, env: Environment | Mapping[str, Any]) -> Any:
        """Kargo's ``EvaluateTemplate``: render, then coerce to a typed value."""
        if not self.has_expressions:
            return self.source
        return coerce_template_text(self.render(env))


def _render_piece(value: Any) -> str:
    """One expression's result as template text: strings as they are, the rest as Go JSON
    (compact, sorted keys), within the string length limit."""
    if isinstance(value, str):
        return value
    try:
        charge_output(value, "rendering")
        return go_json(value, limit=MAX_STRING_LENGTH)
    except BudgetExceeded:
        raise
    except FunctionError as exc:
        raise FunctionError(f"cannot render the result: {exc}") from None


def has_expression(text: str) -> bool:
    """Whether `text` contains a start delimiter (and so would be evaluated)."""
    return any(start in text for start, _ in DELIMITERS)


def _next_expression(text: str, position: int) -> tuple[int, str, str] | None:
    best: tuple[int, str, str] | None = None
    for start, end in DELIMITERS:
        index = text.find(start, position)
        if index >= 0 and (best is None or index < best[0]):
            best = (index, start, end)
    return best


@functools.lru_cache(maxsize=2048)
def compile_template(text: str) -> CompiledTemplate:
    """Split `text` into literal and expression pieces; compile each expression."""
    pieces: list[_Piece] = []
    position = 0
    while True:
        found = _next_expression(text, position)
        if found is None:
            if position < len(text):
                pieces.append(_Piece(text[position:], None, position))
            break
        index, start, end = found
        if index > position:
            pieces.append(_Piece(text[position:index], None, position))
        body_start = index + len(start)
        close = text.find(end, body_start)
        if close < 0:
            raise TemplateError(
                f"unclosed expression: expected {end!r} but reached end of template",
                template=text,
                template_offset=index,
                expression=text[body_start:],
            )
        body = text[body_start:close]
        try:
            compiled = compile_expression(body)
        except ExpressionError as exc:
            raise exc.in_template(text, body_start) from None
        pieces.append(_Piece(body, compiled, body_start))
        position = close + len(end)
    return CompiledTemplate(source=text, pieces=tuple(pieces))


def _with_template_functions(env: Environment) -> Environment:
    return Environment(
        variables=env.variables, functions=env.functions.overlaid_with(TEMPLATE_FUNCTIONS)
    )


# --- public entry points --------------------------------------------------------------------


def _contained(fn: Callable[P, R]) -> Callable[P, R]:
    """Let only the evaluator's errors (and `ExpressionInterrupt`) out of an entry point."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except (ExpressionError, ExpressionInterrupt):
            raise
        except Exception as exc:  # a bug or an unforeseen input must not escape as-is
            raise contain(exc, None) from None

    return wrapper


@_contained
def evaluate_template_string(text: str, env: Environment | Mapping[str, Any]) -> Any:
    """Evaluate one template string with Kargo's coercion (``EvaluateTemplate``)."""
    if not has_expression(text):
        return text
    return compile_template(text).evaluate(env)


@_contained
def render_template_string(
    text: str, env: Environment | Mapping[str, Any], *, require_string: bool = False
) -> str:
    """Evaluate a template and return text.

    The value is coerced as Kargo does (so ``${{ quote(x) }}`` loses its quotes); a non-string
    result is written as Go JSON (``42``, ``true``, ``{"a":1}``), or rejected with
    `ExpressionEvaluationError` when `require_string` is set (Kargo's rule for verification
    arguments).
    """
    value = evaluate_template_string(text, env)
    if isinstance(value, str):
        return value
    if require_string:
        raise ExpressionEvaluationError(
            f"the template must evaluate to a string, got {type_name(value)}",
            template=text,
            template_offset=0,
        )
    return go_json(value)


@_contained
def evaluate_template(value: Any, env: Environment | Mapping[str, Any]) -> Any:
    """Evaluate every string inside `value` (dicts and lists, recursively; keys untouched).

    Returns a new structure; `value` is not modified. Non-string scalars are returned as-is.
    """
    environment = Environment.of(env)
    return _walk(value, environment, 0)


_MAX_CONFIG_DEPTH = 200


def _walk(value: Any, env: Environment, depth: int) -> Any:
    if depth > _MAX_CONFIG_DEPTH:
        raise TemplateError(f"configuration is nested deeper than {_MAX_CONFIG_DEPTH} levels")
    if isinstance(value, str):
        return evaluate_template_string(value, env)
    if isinstance(value, Mapping):
        return {key: _walk(item, env, depth + 1) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_walk(item, env, depth + 1) for item in value]
    return value
