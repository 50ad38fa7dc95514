"""Step kinds by name. Steps register with ``@register`` when :mod:`shunter.steps` is imported.

Tests build their own :class:`StepRegistry` so that test-only step kinds never leak into the
default one.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TypeVar

from shunter.promotion.effects import Effects
from shunter.promotion.step import StepRunner

__all__ = ["DEFAULT_REGISTRY", "StepRegistry", "UnknownStepError", "register"]

R = TypeVar("R", bound=type[StepRunner])


class UnknownStepError(LookupError):
    """No step kind of that name is registered."""


class StepRegistry:
    """A name to step-class map."""

    def __init__(self) -> None:
        self._steps: dict[str, type[StepRunner]] = {}

    def add(self, step: type[StepRunner]) -> None:
        """Register a step class under its ``name``; a second class of that name is an error,
        and so is one that does not declare its ``external_effects`` (a preview must know
        whether it may run it)."""
        if not isinstance(getattr(step, "external_effects", None), Effects):
            raise TypeError(
                f"step kind {step.name!r} must declare external_effects "
                "(shunter.promotion.effects.Effects)"
            )
        existing = self._steps.get(step.name)
        if existing is not None and existing is not step:
            raise ValueError(f"step kind {step.name!r} is already registered by {existing!r}")
        self._steps[step.name] = step

    def get(self, name: str) -> type[StepRunner]:
        """The step class for ``uses: name``."""
        try:
            return self._steps[name]
        except KeyError:
            raise UnknownStepError(f"step kind {name!r} is not registered") from None

    def __contains__(self, name: object) -> bool:
        return name in self._steps

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._steps))


DEFAULT_REGISTRY = StepRegistry()


def register(step: R) -> R:
    """Class decorator: add a step kind to the default registry."""
    DEFAULT_REGISTRY.add(step)
    return step
