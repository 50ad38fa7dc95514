"""Every kind of ``kargo.akuity.io/v1alpha1`` in one place: the models, their list, a parser.

:mod:`shunter.api.v1alpha1` re-exports these names; they live here so that importing the
package's light submodules (``labels``, ``annotations``, ``group``) does not load pydantic.
"""

from shunter.api.v1alpha1._base import GROUP, VERSION, Condition, ObjectMeta, Resource, to_wire
from shunter.api.v1alpha1.common import (
    ExpressionVariable,
    FreightCollection,
    FreightOrigin,
    FreightReference,
    PromotionStep,
)
from shunter.api.v1alpha1.freight import Freight
from shunter.api.v1alpha1.project import ClusterConfig, Project, ProjectConfig
from shunter.api.v1alpha1.promotion import Promotion, PromotionPhase
from shunter.api.v1alpha1.promotion_task import ClusterPromotionTask, PromotionTask
from shunter.api.v1alpha1.stage import Stage
from shunter.api.v1alpha1.warehouse import Warehouse

__all__ = [
    "ALL_KINDS",
    "GROUP",
    "KINDS_BY_NAME",
    "VERSION",
    "ClusterConfig",
    "ClusterPromotionTask",
    "Condition",
    "ExpressionVariable",
    "Freight",
    "FreightCollection",
    "FreightOrigin",
    "FreightReference",
    "ObjectMeta",
    "Project",
    "ProjectConfig",
    "Promotion",
    "PromotionPhase",
    "PromotionStep",
    "PromotionTask",
    "Resource",
    "Stage",
    "Warehouse",
    "parse_object",
    "to_wire",
]

#: Every kind, in the order CRDs are generated.
ALL_KINDS: tuple[type[Resource], ...] = (
    Project,
    ProjectConfig,
    ClusterConfig,
    Warehouse,
    Freight,
    Stage,
    Promotion,
    PromotionTask,
    ClusterPromotionTask,
)
KINDS_BY_NAME: dict[str, type[Resource]] = {k.crd.kind: k for k in ALL_KINDS}


def parse_object(obj: dict[str, object]) -> Resource:
    """Parse any object of this API group into its model, by ``kind``."""
    kind = obj.get("kind")
    if not isinstance(kind, str) or kind not in KINDS_BY_NAME:
        raise ValueError(f"not a {GROUP}/{VERSION} kind: {kind!r}")
    return KINDS_BY_NAME[kind].model_validate(obj)
