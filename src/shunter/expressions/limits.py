"""Work and size budgets that keep a hostile expression from exhausting CPU or memory.

Owns the limits and the per-evaluation `Budget`. The interpreter installs a fresh `Budget` in a
context variable for each evaluation; builtins call `charge_steps` / `charge_allocation` /
`check_string_length` / `check_collection_length` before producing large values. Exceeding a
limit raises `BudgetExceeded`, which the interpreter reports as `ExpressionLimitError`.

Limits (per evaluation of one expression):

* `MAX_STEPS`: AST nodes evaluated plus work units charged by builtins (sorting, closures...).
* `MAX_ALLOCATION`: total characters and items of strings and collections produced.
* `MAX_STRING_LENGTH`: length of any single produced string.
* `MAX_COLLECTION_LENGTH`: length of any single produced list or map.
"""

from __future__ import annotations

from contextvars import ContextVar

from shunter.expressions.errors import FunctionError

__all__ = [
    "MAX_ALLOCATION",
    "MAX_COLLECTION_LENGTH",
    "MAX_STEPS",
    "MAX_STRING_LENGTH",
    "Budget",
    "BudgetExceeded",
    "charge_allocation",
    "charge_steps",
    "check_collection_length",
    "check_string_length",
    "current_budget",
]

MAX_STEPS = 1_000_000
MAX_ALLOCATION = 10_000_000
MAX_STRING_LENGTH = 1_000_000
MAX_COLLECTION_LENGTH = 100_000


class BudgetExceeded(FunctionError):  # noqa: N818 - reported as ExpressionLimitError
    """A limit was exceeded during evaluation."""


class Budget:
    """Counters for one evaluation."""

    __slots__ = ("allocation", "max_allocation", "max_steps", "steps")

    def __init__(self, max_steps: int = MAX_STEPS, max_allocation: int = MAX_ALLOCATION) -> None:
        self.steps = 0
        self.allocation = 0
        self.max_steps = max_steps
        self.max_allocation = max_allocation

    def charge_steps(self, count: int) -> None:
        self.steps += count
        if self.steps > self.max_steps:
            raise BudgetExceeded(f"evaluation exceeded {self.max_steps} steps")

    def charge_allocation(self, size: int) -> None:
        self.allocation += size
        if self.allocation > self.max_allocation:
            raise BudgetExceeded(f"evaluation exceeded the memory budget ({self.max_allocation})")


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
