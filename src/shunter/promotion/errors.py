"""Errors raised by the promotion engine outside of step execution.

Step failures are not exceptions at this level: they end up in a step's
``StepExecutionMetadata``. What is raised here concerns building a Promotion::

    PromotionError                  any problem the engine reports to its caller
    └── InflationError              a Stage's promotion template cannot become Promotion steps
        ├── InvalidStepsError       template steps break a rule (alias, task-ref fields, ...)
        ├── TaskNotFoundError       a referenced (Cluster)PromotionTask does not exist
        └── MissingTaskVariableError  a required task variable has no value
"""

from __future__ import annotations

__all__ = [
    "InflationError",
    "InvalidStepsError",
    "MissingTaskVariableError",
    "PromotionError",
    "TaskNotFoundError",
]


class PromotionError(Exception):
    """Base class of the engine's errors."""


class InflationError(PromotionError):
    """The promotion template cannot be turned into Promotion steps."""


class InvalidStepsError(InflationError):
    """One or more template steps break a validation rule; ``problems`` lists each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class TaskNotFoundError(InflationError):
    """A referenced PromotionTask or ClusterPromotionTask does not exist."""


class MissingTaskVariableError(InflationError):
    """A task variable without a default got no value from the task-ref step."""

    def __init__(self, name: str) -> None:
        super().__init__(f'missing value for variable "{name}"')
        self.name = name
