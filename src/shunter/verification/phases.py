"""Argo Rollouts' analysis phases and their severity order.

Owns :class:`AnalysisPhase` (the phase of a measurement, a metric and a whole AnalysisRun) and
the "worst wins" order Rollouts uses to combine metric phases into the run's phase:
Successful < Running < Pending < Inconclusive < Error < Failed.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["AnalysisPhase", "is_worse", "worst"]


class AnalysisPhase(StrEnum):
    """Phase of an AnalysisRun, of one of its metrics, or of one measurement."""

    PENDING = "Pending"
    RUNNING = "Running"
    SUCCESSFUL = "Successful"
    FAILED = "Failed"
    ERROR = "Error"
    INCONCLUSIVE = "Inconclusive"

    @property
    def completed(self) -> bool:
        """Whether the phase is terminal (Successful, Failed, Error or Inconclusive)."""
        return self in _COMPLETED

    @classmethod
    def parse(cls, value: object) -> AnalysisPhase | None:
        """The phase named by ``value``, or None (empty or unknown text)."""
        try:
            return cls(str(value)) if value else None
        except ValueError:
            return None


_COMPLETED = frozenset(
    {
        AnalysisPhase.SUCCESSFUL,
        AnalysisPhase.FAILED,
        AnalysisPhase.ERROR,
        AnalysisPhase.INCONCLUSIVE,
    }
)
_ORDER = (
    AnalysisPhase.SUCCESSFUL,
    AnalysisPhase.RUNNING,
    AnalysisPhase.PENDING,
    AnalysisPhase.INCONCLUSIVE,
    AnalysisPhase.ERROR,
    AnalysisPhase.FAILED,
)


def is_worse(current: AnalysisPhase, new: AnalysisPhase) -> bool:
    """Whether ``new`` is more severe than ``current``."""
    return _ORDER.index(new) > _ORDER.index(current)


def worst(left: AnalysisPhase, right: AnalysisPhase) -> AnalysisPhase:
    """The more severe of two phases."""
    return right if is_worse(left, right) else left
