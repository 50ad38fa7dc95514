"""Freight: an immutable set of artifacts (commits, images, charts) from one origin.

Freight has no ``spec``: its artifact fields are top-level. Its name is the Freight ID (a SHA-1
of origin and artifacts, computed by the Warehouse controller).
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field
from pydantic.config import JsonDict

from shunter.api.v1alpha1._base import (
    AGE_COLUMN,
    AnyJSON,
    CrdInfo,
    KubeModel,
    PrinterColumn,
    Resource,
    Time,
    cel,
    rules,
)
from shunter.api.v1alpha1.common import (
    ArtifactReference,
    Chart,
    FreightOrigin,
    GitCommit,
    Image,
)

__all__ = [
    "ApprovedStage",
    "CurrentStage",
    "Freight",
    "FreightStatus",
    "VerifiedStage",
]


class CurrentStage(KubeModel):
    """Since when the Freight is in a Stage."""

    since: Time | None = None


class VerifiedStage(KubeModel):
    """When the Freight was verified in a Stage, and its longest completed soak there."""

    verified_at: Time | None = None
    longest_soak: str | None = None


class ApprovedStage(KubeModel):
    """When the Freight was approved for a Stage."""

    approved_at: Time | None = None


class FreightStatus(KubeModel):
    """Where the Freight is, was verified, or is approved."""

    currently_in: dict[str, CurrentStage] | None = None
    verified_in: dict[str, VerifiedStage] | None = None
    approved_for: dict[str, ApprovedStage] | None = None
    metadata: dict[str, AnyJSON] | None = None


def _immutable(field: str) -> JsonDict:
    return rules(cel("self == oldSelf", f"{field} is immutable: Freight artifacts cannot change"))


class Freight(Resource):
    """A piece of Freight."""

    crd: ClassVar[CrdInfo] = CrdInfo(
        kind="Freight",
        plural="freights",
        singular="freight",
        scope="Namespaced",
        printer_columns=(
            PrinterColumn("Alias", ".metadata.labels.kargo\\.akuity\\.io/alias"),
            PrinterColumn("Origin (Kind)", ".origin.kind"),
            PrinterColumn("Origin (Name)", ".origin.name"),
            AGE_COLUMN,
        ),
        root_validations=(
            cel(
                "(has(self.commits) && size(self.commits) > 0) || "
                "(has(self.images) && size(self.images) > 0) || "
                "(has(self.charts) && size(self.charts) > 0) || "
                "(has(self.artifacts) && size(self.artifacts) > 0)",
                "Freight must contain at least one commit, image, chart or artifact",
            ),
        ),
    )

    kind: Literal["Freight"] = "Freight"
    alias: str | None = Field(default=None, max_length=63)
    discovered_at: Time | None = None
    origin: FreightOrigin = Field(json_schema_extra=_immutable("origin"))
    commits: list[GitCommit] | None = Field(default=None, json_schema_extra=_immutable("commits"))
    images: list[Image] | None = Field(default=None, json_schema_extra=_immutable("images"))
    charts: list[Chart] | None = Field(default=None, json_schema_extra=_immutable("charts"))
    artifacts: list[ArtifactReference] | None = Field(
        default=None, json_schema_extra=_immutable("artifacts")
    )
    status: FreightStatus | None = None
