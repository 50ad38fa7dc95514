"""AST node types of the expression language.

Owns the small set of frozen dataclasses the parser produces and the interpreter walks. Every
node carries `pos`, the 0-based offset of the token that best locates it in the source text.
Also owns `PREDICATE_BUILTINS`: the builtins whose arguments include a closure (``filter``,
``map``...), which the parser must recognise by name to parse ``#`` and ``.field``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "PREDICATE_BUILTINS",
    "ArrayLit",
    "Binary",
    "Call",
    "Chain",
    "Closure",
    "Conditional",
    "Identifier",
    "Let",
    "Literal",
    "MapLit",
    "Member",
    "MethodCall",
    "Node",
    "Pointer",
    "PredicateCall",
    "Sequence",
    "Slice",
    "Unary",
]


@dataclass(frozen=True, slots=True)
class Node:
    pos: int


@dataclass(frozen=True, slots=True)
class Literal(Node):
    value: Any


@dataclass(frozen=True, slots=True)
class Identifier(Node):
    name: str


@dataclass(frozen=True, slots=True)
class Pointer(Node):
    """``#`` (name ""), ``#index`` or ``#acc`` inside a closure."""

    name: str


@dataclass(frozen=True, slots=True)
class Member(Node):
    """``obj.name``, ``obj[key]``; `optional` for ``?.``."""

    obj: Node
    key: Node
    optional: bool = False


@dataclass(frozen=True, slots=True)
class Slice(Node):
    obj: Node
    start: Node | None
    end: Node | None


@dataclass(frozen=True, slots=True)
class MethodCall(Node):
    """``obj.Name(args)`` on an ExprObject (e.g. ``semverParse(v).Major()``)."""

    obj: Node
    name: str
    args: tuple[Node, ...]
    optional: bool = False


@dataclass(frozen=True, slots=True)
class Chain(Node):
    """Boundary of an optional chain: a ``?.`` on nil inside makes the whole chain nil."""

    node: Node


@dataclass(frozen=True, slots=True)
class Call(Node):
    """A call of a registered function by name."""

    name: str
    args: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Closure(Node):
    body: Node


@dataclass(frozen=True, slots=True)
class PredicateCall(Node):
    """A builtin taking a closure: ``filter(list, # > 1)``; closures appear as `Closure`."""

    name: str
    args: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Unary(Node):
    op: str
    operand: Node


@dataclass(frozen=True, slots=True)
class Binary(Node):
    op: str
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Conditional(Node):
    cond: Node
    then: Node
    otherwise: Node


@dataclass(frozen=True, slots=True)
class ArrayLit(Node):
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class MapLit(Node):
    pairs: tuple[tuple[Node, Node], ...]


@dataclass(frozen=True, slots=True)
class Let(Node):
    name: str
    value: Node
    body: Node


@dataclass(frozen=True, slots=True)
class Sequence(Node):
    nodes: tuple[Node, ...]


# name -> argument kinds: "e" expression, "p" predicate (closure); a trailing "?" = optional.
PREDICATE_BUILTINS: dict[str, tuple[str, ...]] = {
    "all": ("e", "p"),
    "none": ("e", "p"),
    "any": ("e", "p"),
    "one": ("e", "p"),
    "filter": ("e", "p"),
    "map": ("e", "p"),
    "count": ("e", "p?"),
    "sum": ("e", "p?"),
    "find": ("e", "p"),
    "findIndex": ("e", "p"),
    "findLast": ("e", "p"),
    "findLastIndex": ("e", "p"),
    "groupBy": ("e", "p"),
    "sortBy": ("e", "p", "e?"),
    "reduce": ("e", "p", "e?"),
}
