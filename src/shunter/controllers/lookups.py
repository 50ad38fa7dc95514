"""Reads several controllers share: a Stage's auto-promotion policy and the Freight of a
namespace."""

from __future__ import annotations

from shunter.api.v1alpha1 import Freight, Stage
from shunter.api.v1alpha1.project import Project, ProjectConfig
from shunter.controllers.policies import auto_promotion_enabled
from shunter.kube.client import KubeClient, NotFoundError

__all__ = ["list_freight", "stage_auto_promotion_enabled"]


async def stage_auto_promotion_enabled(kube: KubeClient, stage: Stage) -> bool:
    """Whether the project's policy (ProjectConfig, else the legacy Project spec) lets the
    Stage auto-promote."""
    namespace = stage.metadata.namespace or ""
    config: ProjectConfig | None = None
    project: Project | None = None
    try:
        config = ProjectConfig.model_validate(
            await kube.get_custom(namespace, "projectconfigs", namespace)
        )
    except NotFoundError:
        try:
            project = Project.model_validate(await kube.get_cluster_custom("projects", namespace))
        except NotFoundError:
            project = None
    return auto_promotion_enabled(
        stage.metadata.name or "", stage.metadata.labels or {}, config, project
    )


async def list_freight(kube: KubeClient, namespace: str) -> list[Freight]:
    """Every Freight of a namespace, parsed."""
    return [Freight.model_validate(o) for o in await kube.list_custom(namespace, "freights")]
