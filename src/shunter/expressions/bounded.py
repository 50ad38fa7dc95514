"""Which evaluations are cheap enough to run inline, on the caller's event loop.

Owns `is_bounded(job)`. Most of Kargo's ``${{ }}`` expressions are a path (``vars.image``,
``ctx.stage``), a freight or data lookup (``imageFrom(vars.repo).Tag``, ``secret('x').token``),
a status check (``success()``) or a small combination of these. Their cost is bounded by the
size of the expression and of the data they look up, never by what the expression builds, so
they need no worker process. Anything that could grow - ranges, predicates (``map``,
``filter``...), slices, most builtins, membership tests, rendering of arbitrary values - is
not bounded and goes to a worker.

A job is bounded when every expression in it is made only of: literals, variables, member
access with a bounded key, ``?.``/``??``, ``!``/``-``, ``&&``/``||``, ``?:``, arithmetic and
ordering comparisons, equality with a literal scalar on one side, a few ``+``, array/map
literals and ``let``, calls of the functions in `INLINE_FUNCTIONS` and methods in
`INLINE_METHODS` - and when it holds at most `MAX_INLINE_EXPRESSIONS` expressions. The
caller still checks the result is small before using it (`is_small`).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from typing import Any

from shunter.expressions import nodes as n
from shunter.expressions.errors import ExpressionError
from shunter.expressions.interpreter import compile_expression
from shunter.expressions.jobs import Job
from shunter.expressions.template import compile_template, has_expression

__all__ = [
    "INLINE_FUNCTIONS",
    "INLINE_METHODS",
    "MAX_INLINE_EXPRESSIONS",
    "is_bounded",
    "is_small",
]

#: Functions whose cost is bounded by their (bounded) arguments and the data they look up.
INLINE_FUNCTIONS = frozenset(
    {
        # Kargo's freight, data, status and utility functions
        "warehouse",
        "commitFrom",
        "imageFrom",
        "chartFrom",
        "configMap",
        "sharedConfigMap",
        "secret",
        "sharedSecret",
        "freightMetadata",
        "freightStatus",
        "stageMetadata",
        "success",
        "failure",
        "always",
        "status",
        "semverParse",
        "semverDiff",
        # Argo Rollouts' condition helpers
        "asInt",
        "asFloat",
        "isNaN",
        "isInf",
        "isNil",
        "default",
        # a generic webhook receiver's URL normalisations (linear in their argument)
        "normalizeGit",
        "normalizeImage",
        "normalizeChart",
        # builtins linear in one string argument
        "len",
        "lower",
        "upper",
        "trim",
        "trimPrefix",
        "trimSuffix",
        "hasPrefix",
        "hasSuffix",
        "type",
    }
)
#: Methods of constant cost (versions, times).
INLINE_METHODS = frozenset(
    {
        "Major",
        "Minor",
        "Patch",
        "Prerelease",
        "Metadata",
        "Original",
        "IncMajor",
        "IncMinor",
        "IncPatch",
        "Compare",
        "LessThan",
        "GreaterThan",
        "Equal",
        "Year",
        "Month",
        "Day",
        "Hour",
        "Minute",
        "Second",
        "Unix",
        # a generic webhook receiver's request: one header or query parameter
        "header",
        "headers",
        "params",
    }
)
MAX_INLINE_EXPRESSIONS = 64
#: `+` nodes allowed in one inline expression (string concatenation copies its operands).
_MAX_CONCATENATIONS = 8
_CHEAP_OPERATORS = frozenset({"and", "or", "??", "-", "*", "/", "%", "<", "<=", ">", ">="})
#: Nodes of a result `is_small` accepts for inline use.
_SMALL_RESULT = 10_000


def is_bounded(job: Job) -> bool:
    """Whether `job` may run inline (see the module docstring)."""
    try:
        if job.kind in ("evaluate", "evaluate_many"):
            if job.kind == "evaluate_many" and len(job.many) > MAX_INLINE_EXPRESSIONS:
                return False
            return isinstance(job.source, str) and _bounded_expression(job.source)
        if job.kind in ("template_string", "render"):
            return isinstance(job.source, str) and _bounded_template(job.source)
        if job.kind == "template":
            for count, text in enumerate(_strings(job.source, 0), 1):
                if count > MAX_INLINE_EXPRESSIONS or not _bounded_template(text):
                    return False
            return True
    except ExpressionError:
        return True  # a syntax error: reported at once, inline
    return False


def _strings(value: Any, depth: int) -> Iterator[str]:
    if depth > 200:
        raise _TooDeepError
    if isinstance(value, str):
        if has_expression(value):
            yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item, depth + 1)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _strings(item, depth + 1)


class _TooDeepError(ExpressionError):
    def __init__(self) -> None:
        super().__init__("configuration is nested too deeply")


@functools.lru_cache(maxsize=4096)
def _bounded_template(text: str) -> bool:
    if not has_expression(text):
        return True
    template = compile_template(text)
    pieces = [piece for piece in template.pieces if piece.expression is not None]
    if len(pieces) > MAX_INLINE_EXPRESSIONS:
        return False
    return all(
        piece.expression is not None and _bounded_node(piece.expression.root, [0])
        for piece in pieces
    )


@functools.lru_cache(maxsize=4096)
def _bounded_expression(text: str) -> bool:
    return _bounded_node(compile_expression(text).root, [0])


def _bounded_node(node: n.Node, pluses: list[int]) -> bool:
    def ok(child: n.Node | None) -> bool:
        return child is None or _bounded_node(child, pluses)

    if isinstance(node, (n.Literal, n.Identifier)):
        return True
    if isinstance(node, n.Member):
        return ok(node.obj) and ok(node.key)
    if isinstance(node, n.Chain):
        return ok(node.node)
    if isinstance(node, n.Unary):
        return ok(node.operand)
    if isinstance(node, n.Conditional):
        return ok(node.cond) and ok(node.then) and ok(node.otherwise)
    if isinstance(node, n.Binary):
        if node.op == "+":
            pluses[0] += 1
            if pluses[0] > _MAX_CONCATENATIONS:
                return False
        elif node.op in ("==", "!="):
            if not (_scalar_literal(node.left) or _scalar_literal(node.right)):
                return False
        elif node.op not in _CHEAP_OPERATORS:
            return False
        return ok(node.left) and ok(node.right)
    if isinstance(node, n.Call):
        return node.name in INLINE_FUNCTIONS and all(ok(arg) for arg in node.args)
    if isinstance(node, n.MethodCall):
        return node.name in INLINE_METHODS and ok(node.obj) and all(ok(a) for a in node.args)
    if isinstance(node, n.ArrayLit):
        return all(ok(item) for item in node.items)
    if isinstance(node, n.MapLit):
        return all(ok(key) and ok(value) for key, value in node.pairs)
    if isinstance(node, n.Let):
        return ok(node.value) and ok(node.body)
    if isinstance(node, n.Sequence):
        return all(ok(item) for item in node.nodes)
    return False  # ranges, predicates, slices, closures, other builtins


def _scalar_literal(node: n.Node) -> bool:
    return isinstance(node, n.Literal) and (
        node.value is None or isinstance(node.value, (bool, int, float, str))
    )


def is_small(value: Any, limit: int = _SMALL_RESULT) -> bool:
    """Whether `value` has at most `limit` elements in all (counted without recursion)."""
    pending = [value]
    seen = 0
    while pending:
        item = pending.pop()
        seen += 1
        if seen > limit:
            return False
        if isinstance(item, Mapping):
            pending.extend(item.values())
            seen += len(item)
        elif isinstance(item, (list, tuple)):
            pending.extend(item)
    return True
