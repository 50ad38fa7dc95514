"""Tree-walking evaluator for parsed expressions, plus the compile/evaluate entry points.

Owns the runtime semantics of every node: member access (maps, lists, strings, records), nil
handling (``?.`` chains, ``??``), operators, registered function calls, method calls on
`ExprObject` values, closures of predicate builtins, ``let`` scopes, and the budgets of
`shunter.expressions.limits`.

Semantics (expr-lang v1.17 as Kargo runs it, without a typed environment):

* An unknown variable is nil; a missing map key is nil (``""`` for `StrMap`); member access on
  nil is an error unless ``?.`` is used, and a ``?.`` on nil makes the rest of the chain nil.
* ``&&``, ``||``, ``!`` and ``?:`` require bools (expr-lang is looser for ``&&``/``||`` over
  untyped values; we report the type error instead).
* ``+ - *`` keep ``int`` when both sides are ints (wrapping at 64 bits like Go), ``/`` and
  ``**`` always give a float, ``%`` needs ints and truncates like Go. Division by zero is an
  error (Go yields ±Inf for ``/``, which Kargo cannot render anyway).
* ``matches`` uses RE2 (the ``google-re2`` package): Go's regexp syntax, linear time.
* Only registered functions are callable; variables are never called; attributes of Python
  objects are never read: only `ExprObject` fields and methods are visible.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, NoReturn, TypeVar

import re2  # type: ignore[import-untyped]

from shunter.expressions import nodes as n
from shunter.expressions.builtins import (
    BUILTINS,
    PREDICATE_IMPLEMENTATIONS,
    make_range,
)
from shunter.expressions.errors import (
    ExpressionError,
    ExpressionEvaluationError,
    ExpressionInterrupt,
    ExpressionLimitError,
    FunctionError,
)
from shunter.expressions.gotime import GoDuration, GoTime
from shunter.expressions.limits import (
    REGEX_CHARACTERS,
    Budget,
    BudgetExceeded,
    charge_scan,
    charge_steps,
    current_budget,
    detach,
)
from shunter.expressions.parser import parse
from shunter.expressions.registry import FunctionRegistry
from shunter.expressions.values import (
    ExprObject,
    StrMap,
    compare,
    equal,
    go_int,
    go_sprint,
    is_list,
    is_number,
    type_name,
    wrap_int64,
)

__all__ = [
    "OUT_OF_MEMORY",
    "CompiledExpression",
    "Environment",
    "compile_expression",
    "contain",
    "evaluate",
]


@dataclass(frozen=True, slots=True)
class Environment:
    """What an expression can see: variables (plain data) and callable functions."""

    variables: Mapping[str, Any]
    functions: FunctionRegistry = BUILTINS

    @classmethod
    def of(cls, env: Environment | Mapping[str, Any]) -> Environment:
        """Accept an Environment or a plain mapping of variables (builtins only)."""
        if isinstance(env, Environment):
            return env
        return cls(variables=env)

    def with_variables(self, **variables: Any) -> Environment:
        merged = dict(self.variables)
        merged.update(variables)
        return Environment(variables=merged, functions=self.functions)


class _ShortCircuit(Exception):  # noqa: N818 - control flow for `?.`
    pass


_NO_ACC = object()


@functools.lru_cache(maxsize=256)
def _regex(pattern: str) -> Any:
    options = re2.Options()
    options.log_errors = False
    try:
        return re2.compile(pattern, options)
    except re2.error as exc:
        detail = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else exc
        raise FunctionError(f"error parsing regexp {pattern!r}: {detail}") from None


def _key_text(key: Any) -> str:
    return go_sprint(key)


class _Interpreter:
    def __init__(self, source: str, env: Environment, budget: Budget) -> None:
        self.source = source
        self.variables = env.variables
        self.functions = env.functions
        self.budget = budget
        self.scopes: list[dict[str, Any]] = []
        self.frames: list[tuple[Any, int, Any]] = []
        self.dispatch: dict[type[n.Node], Callable[[Any], Any]] = {
            n.Literal: self.literal,
            n.Identifier: self.identifier,
            n.Pointer: self.pointer,
            n.Member: self.member,
            n.Slice: self.slice,
            n.MethodCall: self.method_call,
            n.Chain: self.chain,
            n.Call: self.call,
            n.PredicateCall: self.predicate_call,
            n.Unary: self.unary,
            n.Binary: self.binary,
            n.Conditional: self.conditional,
            n.ArrayLit: self.array,
            n.MapLit: self.map,
            n.Let: self.let,
            n.Sequence: self.sequence,
        }

    # -- plumbing --------------------------------------------------------------------------

    def fail(self, message: str, node: n.Node) -> NoReturn:
        raise ExpressionEvaluationError(message, expression=self.source, offset=node.pos)

    def limit(self, message: str, node: n.Node) -> NoReturn:
        raise ExpressionLimitError(message, expression=self.source, offset=node.pos)

    def visit(self, node: n.Node) -> Any:
        budget = self.budget
        budget.steps += 1
        if budget.steps > budget.mark:
            try:
                budget.tick()
            except BudgetExceeded as exc:
                self.limit(str(exc), node)
        return self.dispatch[type(node)](node)

    def guarded(self, node: n.Node, fn: Callable[..., Any], *args: Any) -> Any:
        """Run a helper, turning FunctionError into a positioned evaluation error."""
        try:
            return fn(*args)
        except BudgetExceeded as exc:
            self.limit(str(exc), node)
        except FunctionError as exc:
            self.fail(str(exc), node)

    def charge(self, value: Any, node: n.Node) -> Any:
        """Check and charge a value an operation produced (see `Budget.adopt`)."""
        try:
            return self.budget.adopt(value)
        except BudgetExceeded as exc:
            self.limit(str(exc), node)

    # -- leaves ----------------------------------------------------------------------------

    def literal(self, node: n.Literal) -> Any:
        return node.value

    def identifier(self, node: n.Identifier) -> Any:
        name = node.name
        for scope in reversed(self.scopes):
            if name in scope:
                return scope[name]
        if name in self.variables:
            return self.variables[name]
        if name == "$env":
            return MappingProxyType(dict(self.variables))
        return None

    def pointer(self, node: n.Pointer) -> Any:
        if not self.frames:
            self.fail("# is only available inside a predicate", node)
        element, index, acc = self.frames[-1]
        if node.name == "":
            return element
        if node.name == "index":
            return index
        if acc is _NO_ACC:
            self.fail("#acc is only available inside reduce()", node)
        return acc

    # -- access ----------------------------------------------------------------------------

    def member(self, node: n.Member) -> Any:
        obj = self.visit(node.obj)
        key = self.visit(node.key)
        return self.fetch(obj, key, node, optional=node.optional)

    def fetch(self, obj: Any, key: Any, node: n.Node, *, optional: bool = False) -> Any:
        if obj is None:
            if optional:
                raise _ShortCircuit
            self.fail(f"cannot fetch {_key_text(key)} from nil", node)
        if isinstance(obj, Mapping):
            try:
                if key in obj:
                    return obj[key]
            except TypeError:
                self.fail(f"cannot use {type_name(key)} as a map key", node)
            if isinstance(obj, StrMap):
                return ""
            return None
        if is_list(obj) or isinstance(obj, str):
            if isinstance(key, bool) or not is_number(key):
                self.fail(
                    f"array elements can only be selected using an integer (got {type_name(key)})",
                    node,
                )
            index = requested = go_int(key)
            length = len(obj)
            if index < 0:
                index += length
            if not 0 <= index < length:
                self.fail(f"index out of range: {requested} (array length is {length})", node)
            return obj[index]
        if isinstance(obj, ExprObject):
            if not isinstance(key, str):
                self.fail(f"cannot fetch {_key_text(key)} from {obj.expr_type_name}", node)
            try:
                return obj.expr_field(key)
            except KeyError:
                self.fail(f"type {obj.expr_type_name} has no field {key}", node)
        self.fail(f"cannot fetch {_key_text(key)} from {type_name(obj)}", node)

    def slice(self, node: n.Slice) -> Any:
        obj = self.visit(node.obj)
        if not (is_list(obj) or isinstance(obj, str)):
            self.fail(f"cannot slice {type_name(obj)}", node)
        length = len(obj)
        start = self.slice_bound(node.start, 0, node)
        end = self.slice_bound(node.end, length, node)
        if start < 0:
            start = max(start + length, 0)
        if end < 0:
            end = max(end + length, 0)
        end = min(end, length)
        start = min(start, end)
        return self.charge(obj[start:end], node)

    def slice_bound(self, bound: n.Node | None, default: int, node: n.Node) -> int:
        if bound is None:
            return default
        value = self.visit(bound)
        if isinstance(value, bool) or not is_number(value):
            self.fail(f"slice bounds must be integers (got {type_name(value)})", node)
        return go_int(value)

    def method_call(self, node: n.MethodCall) -> Any:
        obj = self.visit(node.obj)
        if obj is None:
            if node.optional:
                raise _ShortCircuit
            self.fail(f"cannot call method {node.name}() on nil", node)
        args = [self.visit(arg) for arg in node.args]
        if not isinstance(obj, ExprObject):
            self.fail(f"type {type_name(obj)} has no method {node.name}()", node)
        try:
            result = obj.expr_method(node.name, args)
        except KeyError:
            self.fail(f"type {obj.expr_type_name} has no method {node.name}()", node)
        except BudgetExceeded as exc:
            self.limit(str(exc), node)
        except FunctionError as exc:
            self.fail(str(exc), node)
        except (ExpressionError, ExpressionInterrupt):
            raise
        except RecursionError:
            self.limit("expression recursion too deep", node)
        except MemoryError:
            raise
        except Exception as exc:  # an object's own bug or bad input it did not check
            self.fail(f"{node.name}(): {exc}", node)
        return self.charge(result, node)

    def chain(self, node: n.Chain) -> Any:
        try:
            return self.visit(node.node)
        except _ShortCircuit:
            return None

    # -- calls -----------------------------------------------------------------------------

    def call(self, node: n.Call) -> Any:
        entry = self.functions.lookup(node.name)
        if entry is None:
            if any(node.name in scope for scope in self.scopes) or node.name in self.variables:
                self.fail(f"{node.name} is not a function", node)
            self.fail(f"unknown function {node.name}()", node)
        if not entry.accepts(len(node.args)):
            self.fail(
                f"{node.name}() takes {entry.arity_text()} argument(s), got {len(node.args)}",
                node,
            )
        args = [self.visit(arg) for arg in node.args]
        try:
            result = entry.fn(*args)
        except (ExpressionError, ExpressionInterrupt):
            raise
        except BudgetExceeded as exc:
            self.limit(str(exc), node)
        except FunctionError as exc:
            self.fail(str(exc), node)
        except RecursionError:
            self.limit("expression recursion too deep", node)
        except MemoryError:
            raise
        except Exception as exc:  # a function's own bug or bad input it did not check
            self.fail(f"{node.name}(): {exc}", node)
        return self.charge(result, node)

    def predicate_call(self, node: n.PredicateCall) -> Any:
        impl = PREDICATE_IMPLEMENTATIONS[node.name]
        args: list[Any] = []
        for arg in node.args:
            if isinstance(arg, n.Closure):
                args.append(self.closure(arg))
            else:
                args.append(self.visit(arg))
        try:
            result = impl(*args)
        except BudgetExceeded as exc:
            self.limit(str(exc), node)
        except FunctionError as exc:
            self.fail(str(exc), node)
        except (ExpressionError, ExpressionInterrupt, _ShortCircuit):
            raise
        except RecursionError:
            self.limit("expression recursion too deep", node)
        return self.charge(result, node)

    def closure(self, closure: n.Closure) -> Callable[..., Any]:
        body = closure.body

        def run(element: Any, index: int, acc: Any = _NO_ACC) -> Any:
            self.frames.append((element, index, acc))
            try:
                return self.visit(body)
            finally:
                self.frames.pop()

        return run

    # -- operators -------------------------------------------------------------------------

    def unary(self, node: n.Unary) -> Any:
        value = self.visit(node.operand)
        if node.op == "not":
            if not isinstance(value, bool):
                self.fail(f"invalid operation: ! (mismatched type {type_name(value)})", node)
            return not value
        if isinstance(value, bool) or not (is_number(value) or isinstance(value, GoDuration)):
            self.fail(f"invalid operation: {node.op} {type_name(value)}", node)
        if node.op == "+":
            return value
        if isinstance(value, GoDuration):
            return GoDuration(-value.ns)
        return wrap_int64(-value) if isinstance(value, int) else -value

    def conditional(self, node: n.Conditional) -> Any:
        cond = self.visit(node.cond)
        if not isinstance(cond, bool):
            self.fail(f"non-bool expression (type {type_name(cond)}) used as condition", node)
        return self.visit(node.then if cond else node.otherwise)

    def binary(self, node: n.Binary) -> Any:
        op = node.op
        if op in ("and", "or"):
            left = self.visit(node.left)
            if not isinstance(left, bool):
                self.fail(f"invalid operation: {op} on {type_name(left)} (bool expected)", node)
            if (op == "and" and not left) or (op == "or" and left):
                return left
            right = self.visit(node.right)
            if not isinstance(right, bool):
                self.fail(f"invalid operation: {op} on {type_name(right)} (bool expected)", node)
            return right
        if op == "??":
            left = self.visit(node.left)
            return self.visit(node.right) if left is None else left
        left = self.visit(node.left)
        right = self.visit(node.right)
        handler = _BINARY_OPS[op]
        try:
            result = handler(left, right)
        except BudgetExceeded as exc:
            self.limit(str(exc), node)
        except FunctionError as exc:
            self.fail(str(exc), node)
        except RecursionError:
            self.limit("expression recursion too deep", node)
        except (OverflowError, ValueError, TypeError) as exc:
            self.fail(f"invalid operation: {op}: {exc}", node)
        return self.charge(result, node) if op in ("+", "..") else result

    # -- composites ------------------------------------------------------------------------

    def array(self, node: n.ArrayLit) -> Any:
        return self.charge([self.visit(item) for item in node.items], node)

    def map(self, node: n.MapLit) -> Any:
        result: dict[str, Any] = {}
        for key_node, value_node in node.pairs:
            key = self.visit(key_node)
            if not isinstance(key, str):
                self.fail(f"map keys must be strings (got {type_name(key)})", key_node)
            result[key] = self.visit(value_node)
        return self.charge(result, node)

    def let(self, node: n.Let) -> Any:
        value = self.visit(node.value)
        self.scopes.append({node.name: value})
        try:
            return self.visit(node.body)
        finally:
            self.scopes.pop()

    def sequence(self, node: n.Sequence) -> Any:
        result: Any = None
        for item in node.nodes:
            result = self.visit(item)
        return result


# --- binary operator implementations (raise FunctionError on type errors) -------------------


def _mismatch(op: str, left: Any, right: Any) -> NoReturn:
    raise FunctionError(
        f"invalid operation: {op} (mismatched types {type_name(left)} and {type_name(right)})"
    )


def _numbers(op: str, left: Any, right: Any) -> None:
    if isinstance(left, bool) or isinstance(right, bool):
        _mismatch(op, left, right)
    if not (is_number(left) and is_number(right)):
        _mismatch(op, left, right)


def _add(left: Any, right: Any) -> Any:
    if isinstance(left, str) and isinstance(right, str):
        return left + right
    if isinstance(left, GoTime) and isinstance(right, GoDuration):
        return left.plus(right)
    if isinstance(left, GoDuration) and isinstance(right, GoTime):
        return right.plus(left)
    if isinstance(left, GoDuration) and isinstance(right, GoDuration):
        return GoDuration(wrap_int64(left.ns + right.ns))
    _numbers("+", left, right)
    if isinstance(left, int) and isinstance(right, int):
        return wrap_int64(left + right)
    return float(left) + float(right)


def _sub(left: Any, right: Any) -> Any:
    if isinstance(left, GoTime) and isinstance(right, GoTime):
        return left.minus(right)
    if isinstance(left, GoTime) and isinstance(right, GoDuration):
        return left.plus(right, -1)
    if isinstance(left, GoDuration) and isinstance(right, GoDuration):
        return GoDuration(wrap_int64(left.ns - right.ns))
    _numbers("-", left, right)
    if isinstance(left, int) and isinstance(right, int):
        return wrap_int64(left - right)
    return float(left) - float(right)


def _mul(left: Any, right: Any) -> Any:
    if isinstance(left, GoDuration) and is_number(right) and not isinstance(right, bool):
        product = left.ns * right
        if isinstance(product, float) and not math.isfinite(product):
            raise FunctionError(f"invalid operation: duration * {go_sprint(right)} overflows")
        return GoDuration(wrap_int64(int(product)))
    _numbers("*", left, right)
    if isinstance(left, int) and isinstance(right, int):
        return wrap_int64(left * right)
    return float(left) * float(right)


def _div(left: Any, right: Any) -> Any:
    _numbers("/", left, right)
    if right == 0:
        raise FunctionError("division by zero")
    return float(left) / float(right)


def _mod(left: Any, right: Any) -> Any:
    if isinstance(left, bool) or isinstance(right, bool):
        _mismatch("%", left, right)
    if not (isinstance(left, int) and isinstance(right, int)):
        _mismatch("%", left, right)
    if right == 0:
        raise FunctionError("integer divide by zero")
    remainder = abs(left) % abs(right)
    return -remainder if left < 0 else remainder


def _pow(left: Any, right: Any) -> Any:
    _numbers("**", left, right)
    try:
        result = math.pow(float(left), float(right))
    except (OverflowError, ValueError):
        raise FunctionError(
            f"invalid operation: {left} ** {right} is not a finite number"
        ) from None
    return result


def _compare(op: str) -> Callable[[Any, Any], bool]:
    def apply(left: Any, right: Any) -> bool:
        result = compare(left, right)
        if op == "<":
            return result < 0
        if op == "<=":
            return result <= 0
        if op == ">":
            return result > 0
        return result >= 0

    return apply


def _in(needle: Any, haystack: Any) -> bool:
    if haystack is None:
        return False
    if is_list(haystack):
        charge_steps(len(haystack))  # one comparison per element (containers charge their own)
        return any(equal(item, needle) for item in haystack)
    if isinstance(haystack, Mapping):
        try:
            return needle in haystack
        except TypeError:
            raise FunctionError(f"cannot use {type_name(needle)} as a map key") from None
    if isinstance(haystack, ExprObject):
        if not isinstance(needle, str):
            raise FunctionError(
                f"cannot use {type_name(needle)} as field name of {haystack.expr_type_name}"
            )
        return haystack.expr_has_field(needle)
    raise FunctionError(f'operator "in" not defined on {type_name(haystack)}')


def _strings(op: str, left: Any, right: Any) -> bool:
    if left is None or right is None:
        return False
    if not isinstance(left, str) or not isinstance(right, str):
        _mismatch(op, left, right)
    charge_scan(left, right)
    if op == "contains":
        return right in left
    if op == "startsWith":
        return left.startswith(right)
    return left.endswith(right)


def _matches(left: Any, right: Any) -> bool:
    if left is None or right is None:
        return False
    if not isinstance(left, str) or not isinstance(right, str):
        _mismatch("matches", left, right)
    charge_scan(left, right, characters=REGEX_CHARACTERS)
    return _regex(right).search(left) is not None


_BINARY_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "==": equal,
    "!=": lambda a, b: not equal(a, b),
    "<": _compare("<"),
    "<=": _compare("<="),
    ">": _compare(">"),
    ">=": _compare(">="),
    "+": _add,
    "-": _sub,
    "*": _mul,
    "/": _div,
    "%": _mod,
    "**": _pow,
    "..": make_range,
    "in": _in,
    "contains": lambda a, b: _strings("contains", a, b),
    "startsWith": lambda a, b: _strings("startsWith", a, b),
    "endsWith": lambda a, b: _strings("endsWith", a, b),
    "matches": _matches,
}


# --- public entry points --------------------------------------------------------------------


#: The message of the limit error an evaluation that ran out of memory reports.
OUT_OF_MEMORY = "evaluation ran out of memory"


def contain(error: BaseException, source: str | None) -> ExpressionError:
    """The evaluator's error for any exception an evaluation let through (a safety net: the
    operations raise `ExpressionError` themselves; nothing else may reach a caller)."""
    if isinstance(error, ExpressionError):
        return error
    if isinstance(error, RecursionError):
        return ExpressionLimitError("expression recursion too deep", expression=source)
    if isinstance(error, MemoryError):
        return ExpressionLimitError(OUT_OF_MEMORY, expression=source)
    if isinstance(error, BudgetExceeded):
        return ExpressionLimitError(str(error), expression=source)
    if isinstance(error, FunctionError):
        return ExpressionEvaluationError(str(error), expression=source)
    return ExpressionEvaluationError(
        f"evaluation failed: {type(error).__name__}: {error}", expression=source
    )


T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class CompiledExpression:
    """A parsed expression, reusable across environments and threads."""

    source: str
    root: n.Node

    def evaluate(self, env: Environment | Mapping[str, Any]) -> Any:
        """Evaluate against `env` (an Environment or a mapping of variables)."""
        return self.run(env, detach)

    def run(self, env: Environment | Mapping[str, Any], finish: Callable[[Any], T]) -> T:
        """Evaluate, then `finish(value)` under the same budget (rendering the result as text
        or plain data is work the expression caused, so it is charged to it).

        Raises only `ExpressionError` (and `ExpressionInterrupt`, which is control flow).
        """
        environment = Environment.of(env)
        budget = Budget()
        token = current_budget().set(budget)
        try:
            try:
                value = _Interpreter(self.source, environment, budget).visit(self.root)
            except _ShortCircuit:
                value = None
            return finish(value)
        except ExpressionInterrupt:
            raise
        except Exception as exc:  # every failure becomes the evaluator's error
            raise contain(exc, self.source) from None
        finally:
            current_budget().reset(token)


@functools.lru_cache(maxsize=2048)
def compile_expression(text: str) -> CompiledExpression:
    """Parse `text` once (cached); raise `ExpressionSyntaxError` with the position."""
    return CompiledExpression(source=text, root=parse(text))


def evaluate(text: str, env: Environment | Mapping[str, Any]) -> Any:
    """Compile (cached) and evaluate one raw expression (no ``${{ }}`` delimiters)."""
    try:
        compiled = compile_expression(text)
    except ExpressionError:
        raise
    except Exception as exc:  # the parser's own limits make this a bug, but contain it
        raise contain(exc, text) from None
    return compiled.evaluate(env)
