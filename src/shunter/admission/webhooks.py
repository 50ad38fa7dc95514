"""The catalogue of admission webhooks: for each, its name, URL path, the resources and
operations it intercepts, and its handler. Paths are Kargo's
(``/mutate-kargo-akuity-io-v1alpha1-promotion``, ``/validate-...``), and so are the webhook
names (``promotion.kargo.akuity.io``).

The chart's webhook configurations are rendered from this table (``make crds`` writes it to
``charts/shunter/files/webhooks.yaml``), and the operator registers the same table itself in
local development (:mod:`shunter.admission.registration`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from shunter.admission.context import Handler
from shunter.admission.freights import mutate_freight, validate_freight
from shunter.admission.pipelines import (
    mutate_stage,
    mutate_warehouse,
    validate_cluster_promotion_task,
    validate_promotion_task,
    validate_stage,
    validate_warehouse,
)
from shunter.admission.projects import (
    validate_cluster_config,
    validate_project,
    validate_project_config,
)
from shunter.admission.promotions import mutate_promotion, validate_promotion

__all__ = ["WEBHOOKS", "Webhook"]

GROUP, VERSION = "kargo.akuity.io", "v1alpha1"
Scope = Literal["Namespaced", "Cluster"]
_CREATE_UPDATE = ("CREATE", "UPDATE")
_ALL = ("CREATE", "UPDATE", "DELETE")


@dataclass(frozen=True)
class Webhook:
    """One webhook of the Mutating- or ValidatingWebhookConfiguration."""

    kind: str
    mutating: bool
    resources: tuple[str, ...]
    operations: tuple[str, ...]
    scope: Scope
    handler: Handler

    @property
    def name(self) -> str:
        """``<kind>.kargo.akuity.io`` (unique within its configuration)."""
        return f"{self.kind.lower()}.{GROUP}"

    @property
    def path(self) -> str:
        """The URL path it is served at."""
        verb = "mutate" if self.mutating else "validate"
        return f"/{verb}-{GROUP.replace('.', '-')}-{VERSION}-{self.kind.lower()}"

    def rule(self) -> dict[str, object]:
        """Its ``rules`` entry."""
        return {
            "apiGroups": [GROUP],
            "apiVersions": [VERSION],
            "resources": list(self.resources),
            "operations": list(self.operations),
            "scope": self.scope,
        }


WEBHOOKS: tuple[Webhook, ...] = (
    Webhook("Freight", True, ("freights",), _CREATE_UPDATE, "Namespaced", mutate_freight),
    Webhook("Promotion", True, ("promotions",), _CREATE_UPDATE, "Namespaced", mutate_promotion),
    Webhook("Stage", True, ("stages",), _CREATE_UPDATE, "Namespaced", mutate_stage),
    Webhook("Warehouse", True, ("warehouses",), _CREATE_UPDATE, "Namespaced", mutate_warehouse),
    Webhook(
        "ClusterConfig",
        False,
        ("clusterconfigs",),
        _CREATE_UPDATE,
        "Cluster",
        validate_cluster_config,
    ),
    Webhook(
        "ClusterPromotionTask",
        False,
        ("clusterpromotiontasks",),
        _CREATE_UPDATE,
        "Cluster",
        validate_cluster_promotion_task,
    ),
    Webhook(
        "Freight", False, ("freights", "freights/status"), _ALL, "Namespaced", validate_freight
    ),
    Webhook("Project", False, ("projects",), _CREATE_UPDATE, "Cluster", validate_project),
    Webhook(
        "ProjectConfig",
        False,
        ("projectconfigs",),
        _CREATE_UPDATE,
        "Namespaced",
        validate_project_config,
    ),
    Webhook("Promotion", False, ("promotions",), _ALL, "Namespaced", validate_promotion),
    Webhook(
        "PromotionTask",
        False,
        ("promotiontasks",),
        _CREATE_UPDATE,
        "Namespaced",
        validate_promotion_task,
    ),
    Webhook("Stage", False, ("stages",), _CREATE_UPDATE, "Namespaced", validate_stage),
    Webhook("Warehouse", False, ("warehouses",), _CREATE_UPDATE, "Namespaced", validate_warehouse),
)
