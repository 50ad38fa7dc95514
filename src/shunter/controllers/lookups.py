"""Reads several controllers share, answered from the cache: a Stage's auto-promotion policy,
the Freight a Stage can see, and what a new Promotion is completed from
(:class:`CachePromotionSources`)."""

from __future__ import annotations

from shunter.api.v1alpha1 import Freight, Stage
from shunter.api.v1alpha1.common import PromotionTaskReference, PromotionTaskReferenceKind
from shunter.api.v1alpha1.project import AutoRollback
from shunter.api.v1alpha1.promotion_task import PromotionTaskSpec
from shunter.cache import FREIGHTS, KargoCache
from shunter.controllers.policies import auto_promotion_enabled, matching_policy
from shunter.kube.client import KubeClient, NotFoundError

__all__ = [
    "CachePromotionSources",
    "stage_auto_promotion_enabled",
    "stage_auto_rollback",
    "stage_freight",
]


def stage_auto_promotion_enabled(cache: KargoCache, stage: Stage) -> bool:
    """Whether the project's policy (ProjectConfig, else the legacy Project spec) lets the
    Stage auto-promote."""
    namespace = stage.metadata.namespace or ""
    config = cache.project_config(namespace)
    project = cache.project(namespace) if config is None else None
    return auto_promotion_enabled(
        stage.metadata.name or "", stage.metadata.labels or {}, config, project
    )


def stage_auto_rollback(cache: KargoCache, stage: Stage) -> AutoRollback | None:
    """The ``autoRollback`` of the ProjectConfig policy that matches the Stage (None: off)."""
    namespace = stage.metadata.namespace or ""
    policy = matching_policy(
        stage.metadata.name or "", stage.metadata.labels or {}, cache.project_config(namespace)
    )
    return policy.auto_rollback if policy is not None else None


def stage_freight(
    cache: KargoCache, stage: Stage, names: set[str] | None = None, *, origins: bool = True
) -> list[Freight]:
    """The Freight that matters to a Stage: the Freight it is in, verified in or approved for,
    ``names``, and (``origins``) all Freight from the origins it requests - sorted by name,
    each once."""
    namespace = stage.metadata.namespace or ""
    found = (
        {f.metadata.name or "": f for f in cache.freight_of_stage_origins(stage)} if origins else {}
    )
    for freight in cache.freight_for_stage(namespace, stage.metadata.name or ""):
        found.setdefault(freight.metadata.name or "", freight)
    missing = (names or set()) - set(found)
    for freight in cache.freight_named(namespace, missing):
        found[freight.metadata.name or ""] = freight
    return [found[name] for name in sorted(found)]


class CachePromotionSources:
    """``controllers.promotion_spec.PromotionSources`` answered from the cache; a Freight
    missing there is read from the API server (its watch event may not have arrived yet)."""

    def __init__(self, cache: KargoCache, kube: KubeClient) -> None:
        self._cache = cache
        self._kube = kube

    async def freight(self, namespace: str, name: str) -> Freight | None:
        found = self._cache.freight(namespace, name)
        if found is None and name:
            try:
                self._cache.apply(
                    FREIGHTS, await self._kube.get_custom(namespace, "freights", name)
                )
            except NotFoundError:
                return None
            found = self._cache.freight(namespace, name)
        return found

    async def freight_from(self, namespace: str, origin: str) -> list[Freight]:
        return self._cache.freight_from(namespace, origin)

    async def task(self, project: str, ref: PromotionTaskReference) -> PromotionTaskSpec | None:
        if ref.kind == PromotionTaskReferenceKind.CLUSTER_PROMOTION_TASK:
            raw = self._cache.cluster_promotion_task(ref.name)
        else:
            raw = self._cache.promotion_task(project, ref.name)
        return None if raw is None else PromotionTaskSpec.model_validate(raw.get("spec") or {})

    async def auto_promotion_enabled(self, stage: Stage) -> bool:
        return stage_auto_promotion_enabled(self._cache, stage)
