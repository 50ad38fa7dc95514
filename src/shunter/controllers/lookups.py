"""Reads several controllers share, answered from the cache: a Stage's auto-promotion policy
and the Freight a Stage can see."""

from __future__ import annotations

from shunter.api.v1alpha1 import Freight, Stage
from shunter.cache import KargoCache
from shunter.controllers.policies import auto_promotion_enabled

__all__ = ["stage_auto_promotion_enabled", "stage_freight"]


def stage_auto_promotion_enabled(cache: KargoCache, stage: Stage) -> bool:
    """Whether the project's policy (ProjectConfig, else the legacy Project spec) lets the
    Stage auto-promote."""
    namespace = stage.metadata.namespace or ""
    config = cache.project_config(namespace)
    project = cache.project(namespace) if config is None else None
    return auto_promotion_enabled(
        stage.metadata.name or "", stage.metadata.labels or {}, config, project
    )


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
