"""Step-status arithmetic: failure detection and the final phase of a Promotion.

Owns the severity order Kargo uses to pick a Promotion's final phase (Succeeded < Skipped <
Running < Aborted < Failed < Errored, worst wins among steps that do not ``continueOnError``) and
the "has an earlier step failed" test behind implicit skips and ``success()``/``failure()``.
"""

from __future__ import annotations

from collections.abc import Sequence

from shunter.api.v1alpha1.promotion import (
    PromotionPhase,
    PromotionStepStatus,
    StepExecutionMetadata,
)

__all__ = ["STEP_STATUS_SEVERITY", "final_phase", "has_failures"]

STEP_STATUS_SEVERITY: dict[PromotionStepStatus, int] = {
    PromotionStepStatus.SUCCEEDED: 0,
    PromotionStepStatus.SKIPPED: 1,
    PromotionStepStatus.RUNNING: 2,
    PromotionStepStatus.ABORTED: 3,
    PromotionStepStatus.FAILED: 4,
    PromotionStepStatus.ERRORED: 5,
}

_PHASE_OF: dict[PromotionStepStatus, PromotionPhase] = {
    PromotionStepStatus.SUCCEEDED: PromotionPhase.SUCCEEDED,
    PromotionStepStatus.SKIPPED: PromotionPhase.SUCCEEDED,
    PromotionStepStatus.ABORTED: PromotionPhase.ABORTED,
    PromotionStepStatus.FAILED: PromotionPhase.FAILED,
    PromotionStepStatus.ERRORED: PromotionPhase.ERRORED,
}


def has_failures(metadata: Sequence[StepExecutionMetadata]) -> bool:
    """Whether a step not marked ``continueOnError`` is Failed or Errored."""
    return any(
        not m.continue_on_error
        and m.status in (PromotionStepStatus.FAILED, PromotionStepStatus.ERRORED)
        for m in metadata
    )


def final_phase(metadata: Sequence[StepExecutionMetadata]) -> tuple[PromotionPhase, str]:
    """The phase and message of a Promotion whose steps are all done.

    The worst status among steps without ``continueOnError`` decides; its message becomes the
    Promotion's. A step left Running (should not happen) makes the Promotion Errored.
    """
    worst = PromotionStepStatus.SUCCEEDED
    message = ""
    for meta in metadata:
        if meta.continue_on_error or meta.status is None:
            continue
        if STEP_STATUS_SEVERITY[meta.status] > STEP_STATUS_SEVERITY[worst]:
            worst = meta.status
            message = meta.message or ""
    return _PHASE_OF.get(worst, PromotionPhase.ERRORED), message
