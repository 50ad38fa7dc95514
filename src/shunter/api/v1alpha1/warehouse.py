"""Warehouse: subscriptions to git repositories, container images and Helm charts.

Kargo (v1.9+) keeps ``spec.subscriptions`` as raw JSON checked by an admission webhook. shunter
types them in the CRD so that the API server itself rejects bad subscriptions, and keeps the
deprecated fields (``allowTags``, ``ignoreTags``, image ``semverConstraint``) that older
manifests use.
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar, Literal

from pydantic import Field

from shunter.api.v1alpha1._base import (
    AGE_COLUMN,
    DURATION_PATTERN,
    AnyJSON,
    Condition,
    CrdInfo,
    KubeModel,
    PrinterColumn,
    Resource,
    Time,
    api_config,
    cel,
    rules,
)

__all__ = [
    "ChartDiscoveryResult",
    "ChartSubscription",
    "CommitSelectionStrategy",
    "DiscoveredArtifacts",
    "DiscoveredCommit",
    "DiscoveredImageReference",
    "FreightCreationCriteria",
    "FreightCreationPolicy",
    "GitDiscoveryResult",
    "GitSubscription",
    "ImageDiscoveryResult",
    "ImageSelectionStrategy",
    "ImageSubscription",
    "RepoSubscription",
    "Warehouse",
    "WarehouseSpec",
    "WarehouseStatus",
]

IMAGE_REPO_URL_PATTERN = r"^(\w+([\.-]\w+)*(:[\d]+)?/)?(\w+([\.-]\w+)*)(/\w+([\.-]\w+)*)*$"
GIT_REPO_URL_PATTERN = (
    r"(?:^(ssh|https?)://(?:([\w-]+)(:(.+))?@)?([\w-]+(?:\.[\w-]+)*)(?::(\d{1,5}))?(/.*)$)"
    r"|(?:^([\w-]+)@([\w+]+(?:\.[\w-]+)*):(/?.*))$"
)
CHART_REPO_URL_PATTERN = r"^(((https?)|(oci))://)(([\w\d\.\-]+)(:([\d]+)?)?(/.*)*)$"
GIT_BRANCH_PATTERN = r"^[a-zA-Z0-9]([a-zA-Z0-9._\/-]*[a-zA-Z0-9_-])?$"


class ImageSelectionStrategy(StrEnum):
    """How a Warehouse picks image tags."""

    DIGEST = "Digest"
    LEXICAL = "Lexical"
    NEWEST_BUILD = "NewestBuild"
    SEMVER = "SemVer"


class CommitSelectionStrategy(StrEnum):
    """How a Warehouse picks git commits."""

    NEWEST_FROM_BRANCH = "NewestFromBranch"
    SEMVER = "SemVer"
    LEXICAL = "Lexical"
    NEWEST_TAG = "NewestTag"


class FreightCreationPolicy(StrEnum):
    """Whether Freight is created automatically from discovered artifacts."""

    AUTOMATIC = "Automatic"
    MANUAL = "Manual"


class ImageSubscription(KubeModel):
    """Subscription to a container image repository."""

    model_config = api_config(
        rules(
            cel(
                "!has(self.imageSelectionStrategy) || self.imageSelectionStrategy != 'Digest'"
                " || (has(self.constraint) && self.constraint != '')",
                "constraint (the mutable tag to follow) is required when "
                "imageSelectionStrategy is Digest",
            ),
        )
    )

    repo_url: str = Field(
        alias="repoURL", min_length=1, max_length=1024, pattern=IMAGE_REPO_URL_PATTERN
    )
    image_selection_strategy: ImageSelectionStrategy = ImageSelectionStrategy.SEMVER
    strict_semvers: bool = True
    constraint: str | None = None
    semver_constraint: str | None = Field(
        default=None, description="Deprecated: use constraint (accepted for older manifests)."
    )
    allow_tags: str | None = Field(
        default=None, description="Deprecated: use allowTagsRegexes (accepted)."
    )
    allow_tags_regexes: list[str] | None = None
    ignore_tags: list[str] | None = Field(
        default=None, description="Deprecated: use ignoreTagsRegexes (accepted)."
    )
    ignore_tags_regexes: list[str] | None = None
    platform: str | None = Field(default=None, pattern=r"^\w+/\w+(/\w+)?$")
    insecure_skip_tls_verify: bool | None = Field(default=None, alias="insecureSkipTLSVerify")
    discovery_limit: int = Field(default=20, ge=1, le=100)
    cache_by_tag: bool | None = None


class GitSubscription(KubeModel):
    """Subscription to a git repository."""

    repo_url: str = Field(
        alias="repoURL", min_length=1, max_length=2048, pattern=GIT_REPO_URL_PATTERN
    )
    commit_selection_strategy: CommitSelectionStrategy = CommitSelectionStrategy.NEWEST_FROM_BRANCH
    branch: str | None = Field(
        default=None, min_length=1, max_length=255, pattern=GIT_BRANCH_PATTERN
    )
    strict_semvers: bool = True
    semver_constraint: str | None = None
    allow_tags: str | None = Field(default=None, description="Deprecated: use allowTagsRegexes.")
    allow_tags_regexes: list[str] | None = None
    ignore_tags: list[str] | None = Field(
        default=None, description="Deprecated: use ignoreTagsRegexes."
    )
    ignore_tags_regexes: list[str] | None = None
    expression_filter: str | None = None
    insecure_skip_tls_verify: bool | None = Field(default=None, alias="insecureSkipTLSVerify")
    blobless: bool | None = None
    include_paths: list[str] | None = None
    exclude_paths: list[str] | None = None
    discovery_limit: int = Field(default=20, ge=1, le=100)
    since: Time | None = None


class ChartSubscription(KubeModel):
    """Subscription to a Helm chart in a classic (HTTP) or OCI repository."""

    model_config = api_config(
        rules(
            cel(
                "self.repoURL.startsWith('oci://') ? (!has(self.name) || self.name == '')"
                " : (has(self.name) && self.name != '')",
                "name is required for an http(s) chart repository and must be empty for "
                "an oci:// repository",
            ),
        )
    )

    repo_url: str = Field(
        alias="repoURL", min_length=1, max_length=2048, pattern=CHART_REPO_URL_PATTERN
    )
    name: str | None = None
    semver_constraint: str | None = None
    discovery_limit: int = Field(default=20, ge=1, le=100)
    insecure_skip_tls_verify: bool | None = Field(default=None, alias="insecureSkipTLSVerify")


class RepoSubscription(KubeModel):
    """One subscription: exactly one of ``git``, ``image`` or ``chart``, optionally named."""

    model_config = api_config(
        rules(
            cel(
                "(has(self.git) ? 1 : 0) + (has(self.image) ? 1 : 0) + "
                "(has(self.chart) ? 1 : 0) == 1",
                "a subscription must have exactly one of git, image or chart",
            ),
        )
    )

    name: str | None = Field(
        default=None, max_length=63, pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
    )
    git: GitSubscription | None = None
    image: ImageSubscription | None = None
    chart: ChartSubscription | None = None


class FreightCreationCriteria(KubeModel):
    """An expression that must be truthy for Freight to be created automatically."""

    expression: str | None = None


class WarehouseSpec(KubeModel):
    """Desired state of a Warehouse."""

    shard: str | None = None
    interval: str = Field(default="5m0s", pattern=DURATION_PATTERN)
    freight_creation_policy: FreightCreationPolicy = FreightCreationPolicy.AUTOMATIC
    subscriptions: list[RepoSubscription] = Field(min_length=1)
    freight_creation_criteria: FreightCreationCriteria | None = None


class DiscoveredCommit(KubeModel):
    """A commit found by discovery."""

    id: str | None = Field(default=None, min_length=1)
    branch: str | None = None
    tag: str | None = None
    subject: str | None = None
    author: str | None = None
    committer: str | None = None
    creator_date: Time | None = None


class DiscoveredRef(KubeModel):
    """A tag seen by ``git ls-remote``."""

    name: str = Field(min_length=1)
    id: str = Field(min_length=1)


class GitDiscoveryRefs(KubeModel):
    """What ``git ls-remote`` saw, to skip unchanged repositories."""

    branch_head: str | None = None
    tags: list[DiscoveredRef] | None = None


class GitDiscoveryResult(KubeModel):
    """Commits discovered for one git subscription, best first."""

    repo_url: str = Field(alias="repoURL", min_length=1)
    subscription_name: str | None = None
    commits: list[DiscoveredCommit] | None = None
    observed_refs: GitDiscoveryRefs | None = None


class DiscoveredImageReference(KubeModel):
    """An image tag found by discovery."""

    tag: str = Field(min_length=1, max_length=128, pattern=r"^[\w.\-\_]+$")
    digest: str = Field(min_length=1, pattern=r"^[a-z0-9]+:[a-f0-9]+$")
    annotations: dict[str, str] | None = None
    created_at: Time | None = None


class ImageDiscoveryResult(KubeModel):
    """Image references discovered for one image subscription, best first."""

    repo_url: str = Field(alias="repoURL", min_length=1)
    platform: str | None = None
    subscription_name: str | None = None
    references: list[DiscoveredImageReference] | None = None


class ChartDiscoveryResult(KubeModel):
    """Chart versions discovered for one chart subscription, best first."""

    repo_url: str = Field(alias="repoURL", min_length=1)
    name: str | None = None
    semver_constraint: str | None = None
    subscription_name: str | None = None
    versions: list[str] | None = None


class ArtifactDiscoveryReference(KubeModel):
    """A generic artifact version found by a generic subscription."""

    artifact_type: str | None = Field(default=None, min_length=1)
    subscription_name: str = Field(min_length=1)
    version: str = Field(min_length=1)
    metadata: AnyJSON = None


class DiscoveryResult(KubeModel):
    """Generic subscription results."""

    name: str = Field(min_length=1)
    artifact_references: list[ArtifactDiscoveryReference] | None = None


class DiscoveredArtifacts(KubeModel):
    """The latest discovery, per subscription, best first."""

    discovered_at: Time | None = None
    git: list[GitDiscoveryResult] | None = None
    images: list[ImageDiscoveryResult] | None = None
    charts: list[ChartDiscoveryResult] | None = None
    results: list[DiscoveryResult] | None = None


class WarehouseStatus(KubeModel):
    """Observed state of a Warehouse."""

    conditions: list[Condition] | None = Field(
        default=None,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]},
    )
    last_handled_refresh: str | None = None
    observed_generation: int | None = None
    last_freight_id: str | None = Field(default=None, alias="lastFreightID")
    discovered_artifacts: DiscoveredArtifacts | None = None


class Warehouse(Resource):
    """A source of Freight."""

    crd: ClassVar[CrdInfo] = CrdInfo(
        kind="Warehouse",
        plural="warehouses",
        scope="Namespaced",
        printer_columns=(PrinterColumn("Shard", ".spec.shard"), AGE_COLUMN),
    )

    kind: Literal["Warehouse"] = "Warehouse"
    spec: WarehouseSpec
    status: WarehouseStatus | None = None
