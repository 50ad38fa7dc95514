"""Project (cluster-scoped), ProjectConfig and ClusterConfig.

Kargo v1.7 removed ``Project.spec``; its ``promotionPolicies`` moved to ProjectConfig. shunter
accepts both: a Project may still carry the legacy ``spec.promotionPolicies``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar, Literal

from pydantic import Field, JsonValue

from shunter.api.v1alpha1._base import (
    AGE_COLUMN,
    K8S_NAME_PATTERN,
    READY_COLUMNS,
    Condition,
    CrdInfo,
    KubeModel,
    Resource,
    api_config,
    cel,
    rules,
)

__all__ = [
    "AutoRollback",
    "ClusterConfig",
    "ClusterConfigSpec",
    "ClusterConfigStatus",
    "DeepLink",
    "GitClientConfig",
    "LabelSelector",
    "LabelSelectorRequirement",
    "LegacyPromotionPolicy",
    "Project",
    "ProjectConfig",
    "ProjectConfigSpec",
    "ProjectConfigStatus",
    "ProjectSpec",
    "ProjectStats",
    "ProjectStatus",
    "PromotionPolicy",
    "PromotionPolicySelector",
    "PromotionWindow",
    "PromotionWindowKind",
    "WebhookReceiverConfig",
    "WebhookReceiverDetails",
]


class LabelSelectorRequirement(KubeModel):
    """``metav1.LabelSelectorRequirement``."""

    key: str
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"]
    values: list[str] | None = Field(
        default=None, json_schema_extra={"x-kubernetes-list-type": "atomic"}
    )


class LabelSelector(KubeModel):
    """``metav1.LabelSelector``."""

    match_labels: dict[str, str] | None = None
    match_expressions: list[LabelSelectorRequirement] | None = Field(
        default=None, json_schema_extra={"x-kubernetes-list-type": "atomic"}
    )


class PromotionPolicySelector(LabelSelector):
    """Selects Stages by name (exact, ``glob:`` or ``regex:``/``regexp:``) and labels."""

    name: str | None = Field(
        default=None,
        description="A Stage name, or a pattern prefixed glob:, regex: or regexp:.",
        pattern=r"^((glob|regex|regexp):.+|[^:]+)$",
    )


class AutoRollback(KubeModel):
    """When a Stage rolls back to the last Freight verified in it (Kargo Enterprise's field).

    ``onPromotion``: terminal Promotion phases that trigger a rollback (Failed, Errored; none by
    default). ``onVerification``: terminal verification phases that do (Failed, Error; absent
    or empty means ``[Failed]``).
    """

    on_promotion: list[Literal["Failed", "Errored"]] | None = Field(
        default=None, max_length=2, json_schema_extra={"x-kubernetes-list-type": "set"}
    )
    on_verification: list[Literal["Failed", "Error"]] | None = Field(
        default=None, max_length=2, json_schema_extra={"x-kubernetes-list-type": "set"}
    )


class PromotionPolicy(KubeModel):
    """Whether matching Stages auto-promote. First matching policy wins."""

    model_config = api_config(
        rules(
            cel(
                "has(self.stage) ? !has(self.stageSelector) : has(self.stageSelector)",
                "PromotionPolicy must have exactly one of stage or stageSelector set",
            )
        )
    )

    stage: str | None = Field(default=None, max_length=253, pattern=K8S_NAME_PATTERN)
    stage_selector: PromotionPolicySelector | None = None
    auto_promotion_enabled: bool | None = None
    auto_rollback: AutoRollback | None = None


class LegacyPromotionPolicy(KubeModel):
    """``Project.spec.promotionPolicies[]`` as Kargo v0.4-v1.6 wrote it."""

    stage: str = Field(min_length=1, max_length=253, pattern=K8S_NAME_PATTERN)
    auto_promotion_enabled: bool | None = None


class ProjectSpec(KubeModel):
    """Legacy Project spec (Kargo before v1.7); prefer ProjectConfig."""

    promotion_policies: list[LegacyPromotionPolicy] | None = None


class ProjectStatsCount(KubeModel):
    """Count of healthy objects."""

    healthy: int | None = None


class ProjectStatsKind(KubeModel):
    """Counts for one kind."""

    count: int | None = None
    health: ProjectStatsCount | None = None


class ProjectStats(KubeModel):
    """Summary of a project's Warehouses and Stages."""

    warehouses: ProjectStatsKind | None = None
    stages: ProjectStatsKind | None = None


class ProjectStatus(KubeModel):
    """Observed state of a Project."""

    conditions: list[Condition] | None = Field(
        default=None,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]},
    )
    stats: ProjectStats | None = None


class Project(Resource):
    """A project: a namespace labelled ``kargo.akuity.io/project: "true"`` and its policies."""

    crd: ClassVar[CrdInfo] = CrdInfo(
        kind="Project",
        plural="projects",
        scope="Cluster",
        printer_columns=(*READY_COLUMNS, AGE_COLUMN),
    )

    kind: Literal["Project"] = "Project"
    spec: ProjectSpec | None = None
    status: ProjectStatus | None = None


class SecretRef(KubeModel):
    """A reference to a Secret in the same namespace."""

    model_config = api_config({"x-kubernetes-map-type": "atomic"})

    name: str = ""


class SecretRefHolder(KubeModel):
    """A webhook receiver whose only setting is its Secret."""

    secret_ref: SecretRef


class ArtifactoryReceiver(SecretRefHolder):
    """Artifactory webhook receiver."""

    virtual_repo_name: str | None = None


class IndexSelectorRequirement(KubeModel):
    """One index match of a generic webhook target selection."""

    key: Literal["subscribedURLs", "receiverPaths"]
    operator: str
    value: str


class IndexSelector(KubeModel):
    """Selects targets through controller indexes."""

    match_indices: list[IndexSelectorRequirement] | None = Field(default=None, min_length=1)


class TargetSelectionCriteria(KubeModel):
    """Which objects a generic webhook action acts on (Kargo's docs also show Promotion)."""

    kind: Literal["Warehouse", "Promotion"]
    name: str | None = None
    label_selector: LabelSelector | None = None
    index_selector: IndexSelector | None = None


class GenericWebhookAction(KubeModel):
    """One action of a generic webhook receiver."""

    action: Literal["Refresh"]
    when_expression: str | None = None
    parameters: dict[str, str] | None = None
    target_selection_criteria: list[TargetSelectionCriteria] | None = Field(
        default=None, min_length=1
    )


class GenericReceiver(SecretRefHolder):
    """A generic webhook receiver."""

    actions: list[GenericWebhookAction] | None = Field(default=None, min_length=1)


class WebhookReceiverConfig(KubeModel):
    """An inbound webhook endpoint that refreshes Warehouses."""

    name: str = Field(min_length=1, max_length=253, pattern=K8S_NAME_PATTERN)
    artifactory: ArtifactoryReceiver | None = None
    azure: SecretRefHolder | None = None
    bitbucket: SecretRefHolder | None = None
    dockerhub: SecretRefHolder | None = None
    generic: GenericReceiver | None = None
    gitea: SecretRefHolder | None = None
    github: SecretRefHolder | None = None
    gitlab: SecretRefHolder | None = None
    harbor: SecretRefHolder | None = None
    quay: SecretRefHolder | None = None


class WebhookReceiverDetails(KubeModel):
    """A webhook receiver's computed endpoint."""

    name: str | None = None
    path: str | None = None
    url: str | None = None


class DeepLink(KubeModel):
    """A UI link shown for Freight or Stages."""

    title: str = Field(min_length=1)
    url: str = Field(min_length=1)
    description: str | None = None
    if_: str | None = Field(default=None, alias="if")


class PromotionWindowKind(StrEnum):
    """Whether an active window permits or forbids promotions."""

    ALLOW = "Allow"
    DENY = "Deny"


#: ``dtstart``/``dtend``: an iCal date-time, UTC (``Z``) or with a ``TZID=<zone>:`` prefix.
ICAL_DATE_TIME_PATTERN = r"^(TZID=[^:;]+:)?[0-9]{8}T[0-9]{6}Z?$"


class PromotionWindow(KubeModel):
    """A one-shot or recurring time window that allows or denies promotions to the Stages it
    matches (Kargo Enterprise's ``PromotionWindow``; shunter enforces it).

    Without ``rrule`` the window is the interval ``dtstart``..``dtend`` (either end may be left
    open); with ``rrule`` (RFC 5545, e.g. ``FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR``) it repeats from
    ``dtstart``, each occurrence lasting ``dtend - dtstart``.
    """

    model_config = api_config(
        rules(
            cel(
                "!has(self.rrule) || (has(self.dtstart) && has(self.dtend))",
                "a recurring window (rrule) needs dtstart and dtend",
            )
        )
    )

    name: str = Field(min_length=1, max_length=253, pattern=K8S_NAME_PATTERN)
    stage_selector: PromotionPolicySelector | None = Field(
        default=None,
        description="The Stages the window applies to (all Stages in scope when omitted).",
    )
    project_selector: PromotionPolicySelector | None = Field(
        default=None,
        description="ClusterConfig only: the Projects the window applies to (all when omitted).",
    )
    kind: PromotionWindowKind
    rrule: str | None = Field(
        default=None,
        max_length=1024,
        description="An RFC 5545 recurrence rule; without it the window happens once.",
    )
    dtstart: str | None = Field(
        default=None,
        pattern=ICAL_DATE_TIME_PATTERN,
        description='Start, e.g. "TZID=Europe/Berlin:20260105T090000" or "20260105T080000Z".',
    )
    dtend: str | None = Field(
        default=None,
        pattern=ICAL_DATE_TIME_PATTERN,
        description="End (of the first occurrence), in the format of dtstart.",
    )


_WINDOWS_EXTRA: dict[str, JsonValue] = {
    "x-kubernetes-list-type": "map",
    "x-kubernetes-list-map-keys": ["name"],
}


class ProjectConfigSpec(KubeModel):
    """Project-level configuration."""

    promotion_policies: list[PromotionPolicy] | None = None
    webhook_receivers: list[WebhookReceiverConfig] | None = None
    freight_links: list[DeepLink] | None = None
    stage_links: list[DeepLink] | None = None
    promotion_windows: list[PromotionWindow] | None = Field(
        default=None,
        json_schema_extra={
            **_WINDOWS_EXTRA,
            "x-kubernetes-validations-items": [
                cel(
                    "!has(self.projectSelector)",
                    "projectSelector is only allowed on ClusterConfig promotion windows",
                )
            ],
        },
    )


class ConfigStatusBase(KubeModel):
    """Status shared by ProjectConfig and ClusterConfig."""

    conditions: list[Condition] | None = Field(
        default=None,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]},
    )
    observed_generation: int | None = None
    last_handled_refresh: str | None = None
    webhook_receivers: list[WebhookReceiverDetails] | None = None


class ProjectConfigStatus(ConfigStatusBase):
    """Observed state of a ProjectConfig."""


class ProjectConfig(Resource):
    """Configuration of one project; its name must equal the project's (namespace) name."""

    crd: ClassVar[CrdInfo] = CrdInfo(
        kind="ProjectConfig",
        plural="projectconfigs",
        scope="Namespaced",
        printer_columns=(*READY_COLUMNS, AGE_COLUMN),
    )

    kind: Literal["ProjectConfig"] = "ProjectConfig"
    spec: ProjectConfigSpec | None = None
    status: ProjectConfigStatus | None = None


class SigningKeySecretRef(SecretRef):
    """A Secret holding a GPG private key under ``signingKey``."""


class GitClientConfig(KubeModel):
    """Cluster-wide git identity for commits."""

    name: str = Field(min_length=1)
    email: str = Field(min_length=1, json_schema_extra={"format": "email"})
    signing_key_secret: SigningKeySecretRef | None = None


class ClusterConfigSpec(KubeModel):
    """Cluster-level configuration."""

    webhook_receivers: list[WebhookReceiverConfig] | None = None
    git_client: GitClientConfig | None = None
    freight_links: list[DeepLink] | None = None
    stage_links: list[DeepLink] | None = None
    promotion_windows: list[PromotionWindow] | None = Field(
        default=None, json_schema_extra=_WINDOWS_EXTRA
    )


class ClusterConfigStatus(ConfigStatusBase):
    """Observed state of the ClusterConfig."""


class ClusterConfig(Resource):
    """The single cluster-wide configuration object; its name must be ``cluster``."""

    crd: ClassVar[CrdInfo] = CrdInfo(
        kind="ClusterConfig",
        plural="clusterconfigs",
        scope="Cluster",
        short_names=("clusterconfig", "clusterconfigs"),
        printer_columns=(*READY_COLUMNS, AGE_COLUMN),
        root_validations=(
            cel("self.metadata.name == 'cluster'", "the ClusterConfig must be named 'cluster'"),
        ),
    )

    kind: Literal["ClusterConfig"] = "ClusterConfig"
    spec: ClusterConfigSpec | None = None
    status: ClusterConfigStatus | None = None
