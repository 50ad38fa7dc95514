"""Typed reads of the cache: Kargo's kinds as pydantic models, found through the indexes.

This is all the controllers know of the cache. Lists are sorted by name, so reconciles see
objects in a stable order.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shunter.api.v1alpha1 import (
    ClusterConfig,
    Freight,
    Project,
    ProjectConfig,
    Promotion,
    Stage,
    Warehouse,
)
from shunter.cache.kinds import (
    ANALYSIS_RUNS,
    CLUSTER_CONFIGS,
    CLUSTER_PROMOTION_TASKS,
    FREIGHTS,
    PROJECT_CONFIGS,
    PROJECTS,
    PROMOTION_TASKS,
    PROMOTIONS,
    SECRETS,
    STAGES,
    WAREHOUSES,
)
from shunter.cache.store import Cache

__all__ = ["KargoCache"]

ObjectKey = tuple[str, str]


class KargoCache(Cache):
    """The cache, with one read per question the controllers ask."""

    # -- projects ------------------------------------------------------------------------

    def project(self, name: str) -> Project | None:
        """The Project ``name``."""
        return self.get(PROJECTS, Project, "", name)

    def project_config(self, namespace: str) -> ProjectConfig | None:
        """The project's ProjectConfig (named after the project), if any."""
        return self.get(PROJECT_CONFIGS, ProjectConfig, namespace, namespace)

    # -- warehouses and stages -----------------------------------------------------------

    def warehouse(self, namespace: str, name: str) -> Warehouse | None:
        """One Warehouse."""
        return self.get(WAREHOUSES, Warehouse, namespace, name)

    def warehouses(self, namespace: str) -> list[Warehouse]:
        """Every Warehouse of a namespace."""
        keys = self.indexed("warehouses-by-namespace", namespace)
        return self.models(WAREHOUSES, Warehouse, keys)

    def stage(self, namespace: str, name: str) -> Stage | None:
        """One Stage."""
        return self.get(STAGES, Stage, namespace, name)

    def stages(self, namespace: str) -> list[Stage]:
        """Every Stage of a namespace."""
        return self.models(STAGES, Stage, self.stage_keys(namespace))

    def stage_keys(self, namespace: str) -> list[ObjectKey]:
        """The keys of every Stage of a namespace."""
        return self.indexed("stages-by-namespace", namespace)

    def stages_requesting(self, namespace: str, origin: str) -> list[ObjectKey]:
        """Stages that request Freight from ``origin`` (``Warehouse/<name>``)."""
        return self.indexed("stages-by-origin", (namespace, origin))

    def stages_downstream(self, namespace: str, stage: str) -> list[ObjectKey]:
        """Stages that take Freight from ``stage``."""
        return self.indexed("stages-by-upstream", (namespace, stage))

    # -- freight -------------------------------------------------------------------------

    def freight(self, namespace: str, name: str) -> Freight | None:
        """One Freight."""
        return self.get(FREIGHTS, Freight, namespace, name)

    def freight_raw(self, namespace: str, name: str) -> Mapping[str, Any] | None:
        """One Freight as stored (JSON)."""
        return self.raw(FREIGHTS, namespace, name)

    def freight_from(self, namespace: str, origin: str) -> list[Freight]:
        """Freight of one origin (``Warehouse/<name>``)."""
        keys = self.indexed("freight-by-origin", (namespace, origin))
        return self.models(FREIGHTS, Freight, keys)

    def freight_for_stage(self, namespace: str, stage: str) -> list[Freight]:
        """Freight currently in, verified in or approved for ``stage``."""
        keys = self.indexed("freight-by-stage", (namespace, stage))
        return self.models(FREIGHTS, Freight, keys)

    def freight_named(self, namespace: str, names: set[str]) -> list[Freight]:
        """The Freight among ``names`` that exists."""
        return self.models(FREIGHTS, Freight, [(namespace, n) for n in sorted(names)])

    def freight_with_alias(self, namespace: str, alias: str) -> list[ObjectKey]:
        """Keys of the Freight that carry ``alias``."""
        return self.indexed("freight-by-alias", (namespace, alias))

    def freight_of_stage_origins(self, stage: Stage) -> list[Freight]:
        """Freight from every origin the Stage requests."""
        namespace = stage.metadata.namespace or ""
        seen: dict[str, Freight] = {}
        for request in stage.spec.requested_freight:
            for freight in self.freight_from(namespace, request.origin.key):
                seen[freight.metadata.name or ""] = freight
        return [seen[name] for name in sorted(seen)]

    # -- promotions ----------------------------------------------------------------------

    def promotion(self, namespace: str, name: str) -> Promotion | None:
        """One Promotion."""
        return self.get(PROMOTIONS, Promotion, namespace, name)

    def promotions_for(self, namespace: str, stage: str) -> list[Promotion]:
        """The Promotions of one Stage."""
        keys = self.indexed("promotions-by-stage", (namespace, stage))
        return self.models(PROMOTIONS, Promotion, keys)

    def promotions_in_flight(self) -> list[ObjectKey]:
        """Keys of every Promotion not yet finished."""
        return [
            key
            for ns in list(self._index["promotions-in-flight"])
            for key in self.indexed("promotions-in-flight", ns)
        ]

    def promotion_task(self, namespace: str, name: str) -> Mapping[str, Any] | None:
        """A PromotionTask (JSON)."""
        return self.raw(PROMOTION_TASKS, namespace, name)

    def cluster_promotion_task(self, name: str) -> Mapping[str, Any] | None:
        """A ClusterPromotionTask (JSON)."""
        return self.raw(CLUSTER_PROMOTION_TASKS, "", name)

    # -- verification and credentials ----------------------------------------------------

    def analysis_run(self, namespace: str, name: str) -> Mapping[str, Any] | None:
        """An AnalysisRun labelled for a Stage (JSON)."""
        return self.raw(ANALYSIS_RUNS, namespace, name)

    def credential_secrets(self, namespace: str, cred_type: str) -> list[Mapping[str, Any]]:
        """The credentials Secrets of one type in a namespace (JSON, sorted by name)."""
        keys = self.indexed("secrets-by-type", (namespace, cred_type))
        found = (self.raw(SECRETS, *key) for key in keys)
        return [secret for secret in found if secret is not None]

    # -- webhook receivers ---------------------------------------------------------------

    def cluster_config(self) -> ClusterConfig | None:
        """The ClusterConfig (named ``cluster``), if there is a valid one."""
        found = self.models(CLUSTER_CONFIGS, ClusterConfig, [("", "cluster")])
        return found[0] if found else None

    def project_configs_with_receiver(self, path: str) -> list[ProjectConfig]:
        """ProjectConfigs whose ``status.webhookReceivers`` include ``path``."""
        keys = self.indexed("project-configs-by-receiver-path", path)
        return self.models(PROJECT_CONFIGS, ProjectConfig, keys)

    def warehouses_subscribed_to(self, url: str) -> list[Warehouse]:
        """Warehouses (of every namespace) with a subscription normalised to ``url``."""
        keys = self.indexed("warehouses-by-subscribed-url", url)
        return self.models(WAREHOUSES, Warehouse, keys)

    def all_warehouses(self) -> list[Warehouse]:
        """Every Warehouse."""
        return self.models(WAREHOUSES, Warehouse, sorted(self.keys(WAREHOUSES)))

    def promotions(self, namespace: str) -> list[Promotion]:
        """Every Promotion of a namespace."""
        keys = self.indexed("promotions-by-namespace", namespace)
        return self.models(PROMOTIONS, Promotion, keys)

    def all_promotions(self) -> list[Promotion]:
        """Every Promotion."""
        return self.models(PROMOTIONS, Promotion, sorted(self.keys(PROMOTIONS)))

    def promotions_waiting_on(self, pr_url: str) -> list[Promotion]:
        """Running Promotions (of every namespace) waiting on the pull request ``pr_url``."""
        keys = self.indexed("promotions-by-pull-request", pr_url)
        return self.models(PROMOTIONS, Promotion, keys)
