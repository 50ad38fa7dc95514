"""Work, size and time budgets that keep a hostile expression from exhausting CPU or memory.

Owns the limits, the per-evaluation `Budget` and the logical size of values. The interpreter
installs a fresh `Budget` in a context variable for each evaluation; builtins call
`charge_steps` / `check_string_length` / `check_collection_length` / `charge_output` before
doing or producing something large, and the interpreter passes every value an operation
produces through `Budget.adopt`. Exceeding a limit raises `BudgetExceeded`, which the
interpreter reports as `ExpressionLimitError` naming the limit.

Limits (per evaluation of one expression):

* `MAX_STEPS`: AST nodes evaluated plus work units charged by operations, each by the size of
  what it touches: ``in`` and ``==`` by the elements compared, sorting by ``n log n``,
  ``toJSON``/``string()``/rendering by the logical size of the value, date layouts by their
  length, string searches, comparisons and regular expressions by the characters they scan
  (`SCAN_CHARACTERS` per step)...
* `MAX_ALLOCATION`: total logical size of the values produced. The logical size of a value is
  what it would take to write it out: 1 per scalar, characters + 1 per string, 1 + the sizes of
  the elements (and keys) per list or map - counting a sub-structure every time it appears, so
  ``reduce(1..40, [#acc, #acc], 0)``, which shares one list twice per step, is charged for the
  doubling. Lists and maps the interpreter produces remember their size (`SizedList`,
  `SizedDict`), so measuring a new container costs one look per element.
* `MAX_STRING_LENGTH` / `MAX_COLLECTION_LENGTH`: any single produced string / list or map.
* `MAX_NESTING`: lists and maps nested deeper than this are refused (recursive renderers and
  comparisons stay far from Python's recursion limit).
* `MAX_SECONDS`: wall time. The budget looks at the clock every `CLOCK_EVERY` steps; a caller
  can set one deadline for several evaluations (a whole step config) with `deadline_scope`,
  which replaces the default.
  This is the evaluator's own limit; the worker process that runs untrusted evaluations also
  has a hard deadline and a memory cap (`shunter.expressions.pool`).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from itertools import chain
from typing import Any

from shunter.expressions.errors import FunctionError

__all__ = [
    "CLOCK_EVERY",
    "MAX_ALLOCATION",
    "MAX_COLLECTION_LENGTH",
    "MAX_NESTING",
    "MAX_SECONDS",
    "MAX_STEPS",
    "MAX_STRING_LENGTH",
    "REGEX_CHARACTERS",
    "SCAN_CHARACTERS",
    "Budget",
    "BudgetExceeded",
    "SizedDict",
    "SizedList",
    "charge_allocation",
    "charge_output",
    "charge_scan",
    "charge_steps",
    "check_collection_length",
    "check_string_length",
    "current_budget",
    "deadline_scope",
    "detach",
    "measure",
    "steps_exceeded",
]

MAX_STEPS = 1_000_000
MAX_ALLOCATION = 10_000_000
MAX_STRING_LENGTH = 1_000_000
MAX_COLLECTION_LENGTH = 100_000
MAX_NESTING = 100
MAX_SECONDS = 5.0
CLOCK_EVERY = 2048
#: Characters a C-level scan (``contains``, ``==``...) may touch per step.
SCAN_CHARACTERS = 64
#: Characters a regular expression may scan (or compile) per step.
REGEX_CHARACTERS = 4

#: Logical size of an `ExprObject` that renders as a small, fixed-size value (time, version).
_OBJECT_SIZE = 8


class BudgetExceeded(FunctionError):  # noqa: N818 - reported as ExpressionLimitError
    """A limit was exceeded during evaluation."""


class SizedList(list[Any]):
    """A list produced by an evaluation, carrying its logical size and nesting depth."""

    __slots__ = ("depth", "logical_size")

    logical_size: int
    depth: int


class SizedDict(dict[Any, Any]):
    """A map produced by an evaluation, carrying its logical size and nesting depth."""

    __slots__ = ("depth", "logical_size")

    logical_size: int
    depth: int


_DEADLINE: ContextVar[float | None] = ContextVar("shunter_expression_deadline", default=None)
_STEPS: ContextVar[int | None] = ContextVar("shunter_expression_steps", default=None)


@contextmanager
def deadline_scope(seconds: float, *, steps: int | None = None) -> Iterator[float]:
    """Share one wall-time deadline between every evaluation inside the block (instead of
    `MAX_SECONDS` each; an enclosing scope's earlier deadline wins); with `steps`, also lower
    each evaluation's step limit (a quick try before handing work elsewhere)."""
    deadline = time.monotonic() + seconds
    outer = _DEADLINE.get()
    if outer is not None:
        deadline = min(deadline, outer)
    token = _DEADLINE.set(deadline)
    steps_token = _STEPS.set(steps) if steps is not None else None
    try:
        yield deadline
    finally:
        if steps_token is not None:
            _STEPS.reset(steps_token)
        _DEADLINE.reset(token)


def steps_exceeded(limit: int) -> str:
    """The message of the limit error for an evaluation that did more than `limit` steps."""
    return f"evaluation exceeded {limit} steps"


class Budget:
    """Counters and limits of one evaluation.

    `mark` is the step count at which the interpreter must call `tick`: the step limit or the
    next look at the clock, whichever comes first, so the hot path compares one number.
    """

    __slots__ = (
        "allocation",
        "deadline",
        "mark",
        "max_allocation",
        "max_steps",
        "memo",
        "seconds",
        "steps",
    )

    def __init__(
        self,
        max_steps: int = MAX_STEPS,
        max_allocation: int = MAX_ALLOCATION,
        seconds: float = MAX_SECONDS,
    ) -> None:
        self.steps = 0
        self.allocation = 0
        scoped_steps = _STEPS.get()
        self.max_steps = max_steps if scoped_steps is None else min(max_steps, scoped_steps)
        self.max_allocation = max_allocation
        self.seconds = seconds
        scoped = _DEADLINE.get()
        self.deadline = time.monotonic() + seconds if scoped is None else scoped
        self.mark = min(self.max_steps, CLOCK_EVERY)
        # id -> (value, logical size, depth) of containers measured without a size of their own
        # (inputs, inner containers of builtin results); the value is kept so ids stay unique.
        self.memo: dict[int, tuple[Any, int, int]] = {}

    def tick(self) -> None:
        """Called when `steps` passed `mark`: enforce the step limit, look at the clock."""
        if self.steps > self.max_steps:
            raise BudgetExceeded(steps_exceeded(self.max_steps))
        if time.monotonic() > self.deadline:
            raise BudgetExceeded(f"evaluation exceeded its time limit ({self.seconds:g}s)")
        self.mark = min(self.max_steps, self.steps + CLOCK_EVERY)

    def charge_steps(self, count: int) -> None:
        self.steps += count
        if self.steps > self.mark:
            self.tick()

    def charge_allocation(self, size: int) -> None:
        self.allocation += size
        if self.allocation > self.max_allocation:
            raise BudgetExceeded(f"evaluation exceeded the memory budget ({self.max_allocation})")

    def adopt(self, value: Any) -> Any:
        """Check and charge a value an operation produced; return it (lists and maps wrapped
        as `SizedList` / `SizedDict` so their size is known when they are reused)."""
        kind = type(value)
        if kind is str or isinstance(value, str):
            length = len(value)
            if length > MAX_STRING_LENGTH:
                raise BudgetExceeded(f"string of {length} characters exceeds {MAX_STRING_LENGTH}")
            self.charge_allocation(length + 1)
            return value
        if not isinstance(value, (list, tuple, Mapping)):
            return value
        if len(value) > MAX_COLLECTION_LENGTH:
            raise BudgetExceeded(
                f"collection of {len(value)} items exceeds {MAX_COLLECTION_LENGTH}"
            )
        if isinstance(value, (SizedList, SizedDict)):
            self.charge_allocation(value.logical_size)
            return value
        if kind is list or kind is tuple or kind is dict:
            sized: SizedList | SizedDict = SizedDict(value) if kind is dict else SizedList(value)
            sized.logical_size, sized.depth = _measure_container(value, self.memo, 0)
            self.charge_allocation(sized.logical_size)
            return sized
        self.charge_allocation(_measure(value, self.memo, 0)[0])  # a map subclass (StrMap)
        return value


def _measure_container(
    value: Any, memo: dict[int, tuple[Any, int, int]], level: int
) -> tuple[int, int]:
    """Logical size and depth of a list, tuple or map (keys count like elements)."""
    if level >= MAX_NESTING:
        raise BudgetExceeded(f"value nested deeper than {MAX_NESTING} levels")
    items = chain.from_iterable(value.items()) if isinstance(value, Mapping) else value
    size = 1
    depth = 0
    for item in items:
        kind = type(item)
        if kind is int or kind is bool or kind is float or item is None:
            size += 1
        elif kind is str:
            size += len(item) + 1
        else:
            item_size, item_depth = _measure(item, memo, level + 1)
            size += item_size
            depth = max(depth, item_depth)
    return size, depth + 1


def _measure(value: Any, memo: dict[int, tuple[Any, int, int]], level: int) -> tuple[int, int]:
    kind = type(value)
    if kind is SizedList or kind is SizedDict:
        if level + value.depth > MAX_NESTING:
            raise BudgetExceeded(f"value nested deeper than {MAX_NESTING} levels")
        return value.logical_size, value.depth
    if value is None or kind is bool or kind is int or kind is float:
        return 1, 0
    if isinstance(value, str):
        return len(value) + 1, 0
    known = memo.get(id(value))
    if known is not None:
        if level + known[2] > MAX_NESTING:
            raise BudgetExceeded(f"value nested deeper than {MAX_NESTING} levels")
        return known[1], known[2]
    if isinstance(value, (Mapping, list, tuple)):
        size, depth = _measure_container(value, memo, level)
    else:
        rendered = _object_json(value)
        if rendered is None or rendered is value:
            return _OBJECT_SIZE, 0
        size, depth = _measure(rendered, memo, level)
        size = max(size, _OBJECT_SIZE)
    memo[id(value)] = (value, size, depth)
    return size, depth


def _object_json(value: Any) -> Any:
    # `values` imports this module (equality charges its steps here): import it lazily.
    from shunter.expressions.values import ExprObject  # noqa: PLC0415

    if isinstance(value, ExprObject):
        return value.expr_json()
    return None


def measure(value: Any) -> int:
    """Logical size of `value` (see the module docstring); raises `BudgetExceeded` when it is
    nested deeper than `MAX_NESTING`."""
    budget = _CURRENT.get()
    memo = budget.memo if budget is not None else {}
    return _measure(value, memo, 0)[0]


def detach(value: Any) -> Any:
    """`value` with every `SizedList` / `SizedDict` replaced by a plain list / dict (shared
    containers stay shared: each is converted once). Charges a step per container."""
    if type(value) is not SizedList and type(value) is not SizedDict:
        return value
    return _detach(value, {})


def _detach(value: Any, done: dict[int, Any]) -> Any:
    kind = type(value)
    if kind is SizedList:
        known = done.get(id(value))
        if known is None:
            charge_steps(len(value))
            known = done[id(value)] = [_detach(item, done) for item in value]
        return known
    if kind is SizedDict:
        known = done.get(id(value))
        if known is None:
            charge_steps(len(value))
            known = done[id(value)] = {key: _detach(item, done) for key, item in value.items()}
        return known
    if kind is list:
        return [_detach(item, done) for item in value]
    if kind is dict:
        return {key: _detach(item, done) for key, item in value.items()}
    return value


_CURRENT: ContextVar[Budget | None] = ContextVar("shunter_expression_budget", default=None)


def current_budget() -> ContextVar[Budget | None]:
    """The context variable holding the active budget (set by the interpreter)."""
    return _CURRENT


def charge_steps(count: int) -> None:
    budget = _CURRENT.get()
    if budget is not None:
        budget.charge_steps(count)


def charge_allocation(size: int) -> None:
    budget = _CURRENT.get()
    if budget is not None:
        budget.charge_allocation(size)


def charge_scan(*texts: str, characters: int = SCAN_CHARACTERS) -> None:
    """Charge a scan of `texts` done in C (search, comparison): one step per `characters`
    characters (`REGEX_CHARACTERS` for regular expressions). Short texts are free (the node
    visit covers them)."""
    total = 0
    for text in texts:
        total += len(text)
    if total >= characters:
        charge_steps(total // characters)


def charge_output(value: Any, what: str, weight: int = 1) -> None:
    """Before rendering `value` as text: refuse it when the text would exceed
    `MAX_STRING_LENGTH` (the logical size is a lower bound of its length), charge the work
    (`weight` steps per unit of size, for renderers slower than the JSON encoder)."""
    size = measure(value)
    if size > MAX_STRING_LENGTH:
        raise BudgetExceeded(f"{what} of a value of size {size} exceeds {MAX_STRING_LENGTH}")
    charge_steps(size * weight)


def check_string_length(length: int) -> None:
    """Refuse to build a string longer than `MAX_STRING_LENGTH`; charge it to the budget."""
    if length > MAX_STRING_LENGTH:
        raise BudgetExceeded(f"string of {length} characters exceeds {MAX_STRING_LENGTH}")
    charge_allocation(length)


def check_collection_length(length: int) -> None:
    """Refuse to build a collection longer than `MAX_COLLECTION_LENGTH`; charge it."""
    if length > MAX_COLLECTION_LENGTH:
        raise BudgetExceeded(f"collection of {length} items exceeds {MAX_COLLECTION_LENGTH}")
    charge_allocation(length)
