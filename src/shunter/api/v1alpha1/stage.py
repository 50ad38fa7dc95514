"""Stage: a promotion target that requests Freight and describes how to promote it."""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar, Literal

from pydantic import Field, JsonValue

from shunter.api.v1alpha1._base import (
    AGE_COLUMN,
    DURATION_PATTERN,
    READY_COLUMNS,
    AnyJSON,
    Condition,
    CrdInfo,
    KubeModel,
    PrinterColumn,
    Resource,
    Time,
    cel,
)
from shunter.api.v1alpha1.common import (
    ExpressionVariable,
    FreightCollection,
    FreightOrigin,
    FreightReference,
    PromotionStep,
)
from shunter.api.v1alpha1.promotion import PromotionStatus

__all__ = [
    "AnalysisRunArgument",
    "AnalysisRunMetadata",
    "AnalysisTemplateReference",
    "AutoPromotionHold",
    "AutoPromotionOptions",
    "AutoPromotionSelectionPolicy",
    "FreightAvailabilityStrategy",
    "FreightRequest",
    "FreightSources",
    "Health",
    "HealthState",
    "PromotionReference",
    "PromotionTemplate",
    "PromotionTemplateSpec",
    "PromotionWindowStatus",
    "Stage",
    "StageSpec",
    "StageStatus",
    "Verification",
]


class FreightAvailabilityStrategy(StrEnum):
    """How many upstream Stages must have verified Freight (empty means OneOf)."""

    ALL = "All"
    ONE_OF = "OneOf"
    UNSET = ""


class AutoPromotionSelectionPolicy(StrEnum):
    """Which Freight auto-promotion picks."""

    NEWEST_FREIGHT = "NewestFreight"
    MATCH_UPSTREAM = "MatchUpstream"


class AutoPromotionOptions(KubeModel):
    """Auto-promotion options of one Freight request."""

    selection_policy: AutoPromotionSelectionPolicy | None = None


class FreightSources(KubeModel):
    """Where a Stage may take Freight of one origin from."""

    direct: bool | None = None
    stages: list[str] | None = None
    required_soak_time: str | None = Field(default=None, pattern=DURATION_PATTERN)
    availability_strategy: FreightAvailabilityStrategy | None = None
    auto_promotion_options: AutoPromotionOptions | None = None


class FreightRequest(KubeModel):
    """A Stage's request for Freight of one origin."""

    origin: FreightOrigin
    sources: FreightSources


_TEMPLATE_STEP_RULES: list[JsonValue] = [
    cel(
        "has(self.uses) ? !has(self.task) : has(self.task)",
        "PromotionTemplate step must have exactly one of uses or task set",
    ),
    cel(
        "!has(self.task) || !has(self.continueOnError)",
        "PromotionTemplate step referencing a task cannot set continueOnError",
    ),
    cel(
        "!has(self.task) || !has(self.retry)",
        "PromotionTemplate step referencing a task cannot set retry",
    ),
    cel(
        "!has(self.task) || !has(self.__if__)",
        "PromotionTemplate step referencing a task cannot set if (use if inside the task)",
    ),
    cel(
        "!has(self.task) || !has(self.config)",
        "PromotionTemplate step referencing a task cannot set config (use vars)",
    ),
]


class PromotionTemplateSpec(KubeModel):
    """The steps and variables every Promotion to the Stage starts from."""

    vars: list[ExpressionVariable] | None = None
    steps: list[PromotionStep] | None = Field(
        default=None,
        min_length=1,
        json_schema_extra={"x-kubernetes-validations-items": _TEMPLATE_STEP_RULES},
    )


class PromotionTemplate(KubeModel):
    """Wrapper of :class:`PromotionTemplateSpec`, as Kargo nests it."""

    spec: PromotionTemplateSpec


class AnalysisTemplateReference(KubeModel):
    """An Argo Rollouts (Cluster)AnalysisTemplate used for verification."""

    name: str = Field(min_length=1)
    kind: Literal["AnalysisTemplate", "ClusterAnalysisTemplate"] | None = None


class AnalysisRunMetadata(KubeModel):
    """Labels and annotations copied onto AnalysisRuns."""

    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None


class AnalysisRunArgument(KubeModel):
    """An argument passed to the analysis."""

    name: str = Field(min_length=1)
    value: str


class Verification(KubeModel):
    """How Freight is verified once promoted to the Stage."""

    analysis_templates: list[AnalysisTemplateReference] | None = None
    analysis_run_metadata: AnalysisRunMetadata | None = None
    args: list[AnalysisRunArgument] | None = None


class StageSpec(KubeModel):
    """Desired state of a Stage."""

    shard: str | None = None
    vars: list[ExpressionVariable] | None = None
    requested_freight: list[FreightRequest] = Field(min_length=1)
    promotion_template: PromotionTemplate | None = None
    verification: Verification | None = None


class HealthState(StrEnum):
    """A Stage's health."""

    HEALTHY = "Healthy"
    UNHEALTHY = "Unhealthy"
    PROGRESSING = "Progressing"
    UNKNOWN = "Unknown"
    NOT_APPLICABLE = "NotApplicable"


class Health(KubeModel):
    """A Stage's health and what made it so."""

    status: HealthState | None = None
    issues: list[str] | None = None
    config: AnyJSON = None
    output: AnyJSON = None


class PromotionReference(KubeModel):
    """A Promotion as the Stage status records it."""

    name: str
    freight: FreightReference | None = None
    status: PromotionStatus | None = None
    finished_at: Time | None = None


class AutoPromotionHold(KubeModel):
    """A manual promotion that stops auto-promotion of an origin from overriding it."""

    freight_name: str
    origin: FreightOrigin
    promotion_name: str | None = None
    actor: str | None = None
    created_at: Time | None = None


class PromotionWindowStatus(KubeModel):
    """Whether promotion windows let the Stage be promoted now, and when that changes.

    Advisory, as current as the Stage's last reconcile (shunter reconciles at every window edge).
    ``reason`` names the window responsible while ``closed``; a missing ``nextOpen`` while
    closed means no reopening is known.
    """

    closed: bool
    reason: str | None = None
    next_open: Time | None = None
    next_close: Time | None = None
    next_close_reason: str | None = None


class StageStatus(KubeModel):
    """Observed state of a Stage."""

    conditions: list[Condition] | None = Field(
        default=None,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]},
    )
    last_handled_refresh: str | None = None
    freight_history: list[FreightCollection] | None = None
    freight_summary: str | None = None
    health: Health | None = None
    observed_generation: int | None = None
    current_promotion: PromotionReference | None = None
    last_promotion: PromotionReference | None = None
    auto_promotion_enabled: bool | None = None
    promotion_window_status: PromotionWindowStatus | None = None
    metadata: dict[str, AnyJSON] | None = None
    auto_promotion_holds: dict[str, AutoPromotionHold] | None = None
    effective_auto_promotion_holds: dict[str, AutoPromotionHold] | None = None


class Stage(Resource):
    """A Stage."""

    crd: ClassVar[CrdInfo] = CrdInfo(
        kind="Stage",
        plural="stages",
        scope="Namespaced",
        printer_columns=(
            PrinterColumn("Shard", ".spec.shard"),
            PrinterColumn("Current Freight", ".status.freightSummary"),
            PrinterColumn("Health", ".status.health.status"),
            *READY_COLUMNS,
            AGE_COLUMN,
        ),
    )

    kind: Literal["Stage"] = "Stage"
    spec: StageSpec
    status: StageStatus | None = None
