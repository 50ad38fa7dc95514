"""Types shared by several kinds: origins, Freight references, expression variables, steps."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from shunter.api.v1alpha1._base import (
    VAR_NAME_PATTERN,
    AnyJSON,
    JSONObject,
    K8sName,
    KubeModel,
    Time,
)

__all__ = [
    "ArtifactReference",
    "Chart",
    "ExpressionVariable",
    "FreightCollection",
    "FreightOrigin",
    "FreightOriginKind",
    "FreightReference",
    "GitCommit",
    "HealthCheckStep",
    "Image",
    "PromotionStep",
    "PromotionStepRetry",
    "PromotionTaskReference",
    "PromotionTaskReferenceKind",
    "VerificationInfo",
    "VerificationPhase",
]


class FreightOriginKind(StrEnum):
    """What kind of object Freight comes from (only Warehouses today)."""

    WAREHOUSE = "Warehouse"


class FreightOrigin(KubeModel):
    """Where a piece of Freight comes from."""

    kind: FreightOriginKind
    name: str = Field(min_length=1)

    @property
    def key(self) -> str:
        """Kargo's origin key, ``Warehouse/<name>``."""
        return f"{self.kind.value}/{self.name}"


class ExpressionVariable(KubeModel):
    """A named value that may hold ``${{ }}`` expressions; no value means a required input."""

    name: str = Field(min_length=1, pattern=VAR_NAME_PATTERN)
    value: str | None = None


class GitCommit(KubeModel):
    """A git commit carried by Freight."""

    repo_url: str | None = Field(default=None, alias="repoURL")
    id: str | None = None
    branch: str | None = None
    tag: str | None = None
    message: str | None = None
    author: str | None = None
    committer: str | None = None
    subscription_name: str | None = None


class Image(KubeModel):
    """A container image carried by Freight."""

    repo_url: str | None = Field(default=None, alias="repoURL")
    tag: str | None = None
    digest: str | None = None
    annotations: dict[str, str] | None = None
    subscription_name: str | None = None


class Chart(KubeModel):
    """A Helm chart carried by Freight."""

    repo_url: str | None = Field(default=None, alias="repoURL")
    name: str | None = None
    version: str | None = None
    subscription_name: str | None = None


class ArtifactReference(KubeModel):
    """A generic artifact (from a generic subscription)."""

    artifact_type: str | None = Field(default=None, min_length=1)
    subscription_name: str = Field(min_length=1)
    version: str = Field(min_length=1)
    metadata: AnyJSON = None


class FreightReference(KubeModel):
    """A copy of a piece of Freight's identity and artifacts, kept in Stage and Promotion status."""

    name: str | None = None
    origin: FreightOrigin | None = None
    commits: list[GitCommit] | None = None
    images: list[Image] | None = None
    charts: list[Chart] | None = None
    artifacts: list[ArtifactReference] | None = None


class VerificationPhase(StrEnum):
    """Phase of one verification of a FreightCollection."""

    PENDING = "Pending"
    RUNNING = "Running"
    SUCCESSFUL = "Successful"
    FAILED = "Failed"
    ERROR = "Error"
    ABORTED = "Aborted"
    INCONCLUSIVE = "Inconclusive"


class AnalysisRunReference(KubeModel):
    """The AnalysisRun behind a verification."""

    namespace: str
    name: str
    phase: str


class VerificationInfo(KubeModel):
    """One verification attempt of a FreightCollection in a Stage."""

    id: str | None = None
    actor: str | None = None
    start_time: Time | None = None
    phase: VerificationPhase | None = None
    message: str | None = None
    analysis_run: AnalysisRunReference | None = None
    finish_time: Time | None = None


class FreightCollection(KubeModel):
    """The Freight in a Stage at one time, one item per origin (key ``Warehouse/<name>``)."""

    id: str
    items: dict[str, FreightReference] | None = None
    verification_history: list[VerificationInfo] | None = None


class PromotionTaskReferenceKind(StrEnum):
    """Kinds of reusable task a step may reference."""

    PROMOTION_TASK = "PromotionTask"
    CLUSTER_PROMOTION_TASK = "ClusterPromotionTask"


class PromotionTaskReference(KubeModel):
    """A step that expands into the steps of a (Cluster)PromotionTask."""

    name: K8sName
    kind: PromotionTaskReferenceKind | None = None


class PromotionStepRetry(KubeModel):
    """How long and how often a step may be retried."""

    timeout: str | None = Field(
        default=None,
        description="Go duration (e.g. 5m, 1h30m) a step may keep running or retrying.",
        pattern=r"^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$",
    )
    error_threshold: int | None = Field(default=None, ge=0, le=4294967295)


class PromotionStep(KubeModel):
    """One step of a Promotion, a promotion template or a PromotionTask."""

    uses: str | None = Field(default=None, min_length=1, max_length=253)
    task: PromotionTaskReference | None = None
    as_: str | None = Field(
        default=None,
        alias="as",
        min_length=1,
        max_length=253,
        description="Alias of the step's outputs; step-<n> and task-<n> are reserved.",
    )
    if_: str | None = Field(default=None, alias="if")
    continue_on_error: bool | None = None
    retry: PromotionStepRetry | None = None
    vars: list[ExpressionVariable] | None = None
    config: JSONObject | None = None


class HealthCheckStep(KubeModel):
    """A health check a step registered for its Stage (e.g. by argocd-update)."""

    uses: str = Field(min_length=1)
    config: JSONObject | None = None
