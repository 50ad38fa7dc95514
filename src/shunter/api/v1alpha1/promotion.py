"""Promotion: a request to move one piece of Freight into one Stage, and its execution state.

Kargo requires ``spec.steps`` and fills it through a mutating webhook. shunter makes ``steps``
optional in the schema: when a Promotion arrives without steps, the Promotion controller copies
them (tasks inflated) from the Stage's promotion template before running anything.
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar, Literal

from pydantic import Field, JsonValue

from shunter.api.v1alpha1._base import (
    AGE_COLUMN,
    CrdInfo,
    JSONObject,
    K8sName,
    KubeModel,
    PrinterColumn,
    Resource,
    Time,
    api_config,
    cel,
    rules,
)
from shunter.api.v1alpha1.common import (
    ExpressionVariable,
    FreightCollection,
    FreightOrigin,
    FreightReference,
    HealthCheckStep,
    PromotionStep,
)

__all__ = [
    "Promotion",
    "PromotionPhase",
    "PromotionSpec",
    "PromotionStatus",
    "PromotionStepStatus",
    "StepExecutionMetadata",
]


class PromotionPhase(StrEnum):
    """Lifecycle phase of a Promotion."""

    PENDING = "Pending"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    ERRORED = "Errored"
    ABORTED = "Aborted"

    @property
    def is_terminal(self) -> bool:
        """Whether the Promotion has finished."""
        return self not in (PromotionPhase.PENDING, PromotionPhase.RUNNING)


class PromotionStepStatus(StrEnum):
    """Status of one step."""

    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    ERRORED = "Errored"
    ABORTED = "Aborted"
    SKIPPED = "Skipped"


_PROMOTION_STEP_RULE: JsonValue = cel(
    "has(self.uses) && !has(self.task)",
    "Promotion step must have uses set and must not reference a task",
)


class PromotionSpec(KubeModel):
    """What to promote where. Immutable once created."""

    model_config = api_config(
        rules(
            cel(
                "has(self.freight) != has(self.origin)",
                "exactly one of freight or origin must be set",
            ),
            cel("self.stage == oldSelf.stage", "stage is immutable"),
            cel(
                "!has(oldSelf.freight) || (has(self.freight) && self.freight == oldSelf.freight)",
                "freight is immutable once set",
            ),
            cel(
                "!has(oldSelf.steps) || (has(self.steps) && self.steps == oldSelf.steps)",
                "steps are immutable once set",
            ),
            cel(
                "!has(oldSelf.steps) || (has(self.vars) == has(oldSelf.vars)"
                " && (!has(self.vars) || self.vars == oldSelf.vars))",
                "vars are immutable once steps are set",
            ),
        )
    )

    stage: K8sName
    freight: K8sName | None = None
    origin: FreightOrigin | None = None
    vars: list[ExpressionVariable] | None = None
    steps: list[PromotionStep] | None = Field(
        default=None,
        min_length=1,
        json_schema_extra={"x-kubernetes-validations-items": [_PROMOTION_STEP_RULE]},
    )


class StepExecutionMetadata(KubeModel):
    """How one step ran."""

    alias: str | None = None
    started_at: Time | None = None
    finished_at: Time | None = None
    error_count: int | None = None
    status: PromotionStepStatus | None = None
    message: str | None = None
    continue_on_error: bool | None = None


class PromotionStatus(KubeModel):
    """Observed state of a Promotion."""

    last_handled_refresh: str | None = None
    phase: PromotionPhase | None = None
    message: str | None = None
    freight: FreightReference | None = None
    freight_collection: FreightCollection | None = None
    health_checks: list[HealthCheckStep] | None = None
    started_at: Time | None = None
    finished_at: Time | None = None
    current_step: int | None = None
    step_execution_metadata: list[StepExecutionMetadata] | None = None
    state: JSONObject | None = None


class Promotion(Resource):
    """A Promotion."""

    crd: ClassVar[CrdInfo] = CrdInfo(
        kind="Promotion",
        plural="promotions",
        scope="Namespaced",
        short_names=("promo", "promos"),
        printer_columns=(
            PrinterColumn("Shard", ".metadata.labels.kargo\\.akuity\\.io/shard"),
            PrinterColumn("Stage", ".spec.stage"),
            PrinterColumn("Freight", ".spec.freight"),
            PrinterColumn("Phase", ".status.phase"),
            AGE_COLUMN,
        ),
    )

    kind: Literal["Promotion"] = "Promotion"
    spec: PromotionSpec
    status: PromotionStatus | None = None
