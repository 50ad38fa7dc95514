"""PromotionTask (namespaced) and ClusterPromotionTask: reusable lists of steps with inputs."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from shunter.api.v1alpha1._base import AGE_COLUMN, CrdInfo, KubeModel, Resource, cel
from shunter.api.v1alpha1.common import ExpressionVariable, PromotionStep

__all__ = ["ClusterPromotionTask", "PromotionTask", "PromotionTaskSpec"]


class PromotionTaskSpec(KubeModel):
    """Declared inputs (``vars``; no value means required) and the task's steps."""

    vars: list[ExpressionVariable] | None = None
    steps: list[PromotionStep] = Field(
        min_length=1,
        json_schema_extra={
            "x-kubernetes-validations-items": [
                cel(
                    "has(self.uses) && !has(self.task)",
                    "PromotionTask step must have uses set and must not reference another task",
                )
            ]
        },
    )


class PromotionTask(Resource):
    """A reusable task in one project."""

    crd: ClassVar[CrdInfo] = CrdInfo(
        kind="PromotionTask",
        plural="promotiontasks",
        scope="Namespaced",
        short_names=("promotask", "promotasks"),
        status_subresource=False,
        printer_columns=(AGE_COLUMN,),
    )

    kind: Literal["PromotionTask"] = "PromotionTask"
    spec: PromotionTaskSpec


class ClusterPromotionTask(Resource):
    """A reusable task shared by every project."""

    crd: ClassVar[CrdInfo] = CrdInfo(
        kind="ClusterPromotionTask",
        plural="clusterpromotiontasks",
        scope="Cluster",
        short_names=("clusterpromotask", "clusterpromotasks"),
        status_subresource=False,
        printer_columns=(AGE_COLUMN,),
    )

    kind: Literal["ClusterPromotionTask"] = "ClusterPromotionTask"
    spec: PromotionTaskSpec
