"""Registry of functions callable from expressions.

Owns `ExprFunction` (a callable plus its name and arity) and `FunctionRegistry`. Only functions
registered here can be called by an expression: values found in the variables (even Python
callables) are never called. Registries chain to a parent, so a per-step registry with Kargo's
functions can sit on top of the shared builtins without copying them.

Function implementations receive plain positional arguments (expression values) and return an
expression value. They report problems by raising `FunctionError` (or `TypeError` /
`ValueError`); the interpreter turns those into `ExpressionEvaluationError` with the position of
the call. Arity is checked before the call.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from shunter.expressions.nodes import PREDICATE_BUILTINS

__all__ = ["ExprFunction", "FunctionRegistry"]

F = TypeVar("F", bound=Callable[..., Any])

_INFER = -1  # max_args default: infer from the signature


@dataclass(frozen=True, slots=True)
class ExprFunction:
    """A callable exposed to expressions under `name`, taking `min_args`..`max_args` args."""

    name: str
    fn: Callable[..., Any]
    min_args: int
    max_args: int | None  # None: variadic

    def arity_text(self) -> str:
        if self.max_args is None:
            return f"at least {self.min_args}"
        if self.min_args == self.max_args:
            return str(self.min_args)
        return f"{self.min_args} to {self.max_args}"

    def accepts(self, count: int) -> bool:
        return count >= self.min_args and (self.max_args is None or count <= self.max_args)


def _infer_arity(fn: Callable[..., Any]) -> tuple[int, int | None]:
    signature = inspect.signature(fn)
    minimum = 0
    maximum: int | None = 0
    for parameter in signature.parameters.values():
        if parameter.kind is parameter.VAR_POSITIONAL:
            maximum = None
        elif parameter.kind in (parameter.POSITIONAL_ONLY, parameter.POSITIONAL_OR_KEYWORD):
            if parameter.default is parameter.empty:
                minimum += 1
            if maximum is not None:
                maximum += 1
    return minimum, maximum


class FunctionRegistry:
    """Named functions for expressions, optionally layered over a parent registry."""

    def __init__(self, parent: FunctionRegistry | None = None) -> None:
        self._parent = parent
        self._functions: dict[str, ExprFunction] = {}
        self._frozen = False
        self._overlays: dict[int, FunctionRegistry] = {}

    @property
    def parent(self) -> FunctionRegistry | None:
        return self._parent

    def register(
        self,
        name: str,
        fn: Callable[..., Any],
        *,
        min_args: int | None = None,
        max_args: int | None = _INFER,
    ) -> ExprFunction:
        """Register `fn` as `name`.

        Arity is inferred from the signature unless given; ``max_args=None`` means variadic.
        """
        if self._frozen:
            raise RuntimeError("this function registry is frozen; use .child()")
        if not name.isidentifier():
            raise ValueError(f"invalid function name {name!r}")
        if name in PREDICATE_BUILTINS:
            raise ValueError(f"{name!r} is a predicate builtin and cannot be redefined")
        inferred_min, inferred_max = _infer_arity(fn)
        entry = ExprFunction(
            name=name,
            fn=fn,
            min_args=inferred_min if min_args is None else min_args,
            max_args=inferred_max if max_args == _INFER else max_args,
        )
        self._functions[name] = entry
        self._overlays.clear()
        return entry

    def function(
        self,
        name: str | None = None,
        *,
        min_args: int | None = None,
        max_args: int | None = _INFER,
    ) -> Callable[[F], F]:
        """Decorator form of `register`; the name defaults to the function's ``__name__``."""

        def decorate(fn: F) -> F:
            self.register(name or fn.__name__, fn, min_args=min_args, max_args=max_args)
            return fn

        return decorate

    def update(self, functions: Mapping[str, ExprFunction]) -> None:
        """Add already-built entries (e.g. from a function bundle)."""
        for name, entry in functions.items():
            self.register(name, entry.fn, min_args=entry.min_args, max_args=entry.max_args)

    def lookup(self, name: str) -> ExprFunction | None:
        registry: FunctionRegistry | None = self
        while registry is not None:
            entry = registry._functions.get(name)
            if entry is not None:
                return entry
            registry = registry._parent
        return None

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.lookup(name) is not None

    def names(self) -> frozenset[str]:
        own = frozenset(self._functions)
        return own | self._parent.names() if self._parent is not None else own

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self.names()))

    def child(self) -> FunctionRegistry:
        """A new, empty registry whose lookups fall back to this one."""
        return FunctionRegistry(parent=self)

    def freeze(self) -> FunctionRegistry:
        """Forbid further registrations (shared registries are frozen)."""
        self._frozen = True
        return self

    def overlaid_with(self, overlay: FunctionRegistry) -> FunctionRegistry:
        """This registry with `overlay`'s own entries taking precedence (cached)."""
        key = id(overlay)
        cached = self._overlays.get(key)
        if cached is None:
            cached = FunctionRegistry(parent=self)
            cached._functions = dict(overlay._functions)
            cached._frozen = True
            self._overlays[key] = cached
        return cached
