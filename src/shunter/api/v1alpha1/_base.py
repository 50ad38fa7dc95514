"""Base model, shared field types and CRD metadata for every ``kargo.akuity.io/v1alpha1`` kind.

Python attributes are snake_case; the wire format is Kargo's camelCase (``repoURL``,
``lastFreightID``...), through an alias generator plus explicit aliases where Go's JSON tags
are not plain camelCase. Serialize with :func:`to_wire`.

Schema markers used by :mod:`shunter.api.crdgen` travel in ``json_schema_extra``:
``x-kubernetes-validations`` (CEL rules), ``x-kubernetes-list-type``,
``x-kubernetes-preserve-unknown-fields`` and friends are copied into the CRD as they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema
from pydantic.alias_generators import to_camel
from pydantic.config import JsonDict

from shunter.api.v1alpha1.group import GROUP, VERSION

__all__ = [
    "DURATION_PATTERN",
    "GROUP",
    "K8S_NAME_PATTERN",
    "VAR_NAME_PATTERN",
    "VERSION",
    "AnyJSON",
    "Condition",
    "ConditionStatus",
    "CrdInfo",
    "Duration",
    "JSONObject",
    "K8sName",
    "KubeModel",
    "ObjectMeta",
    "PrinterColumn",
    "Resource",
    "Time",
    "api_config",
    "cel",
    "rules",
    "to_wire",
]

#: RFC 1123 subdomain, as Kubernetes validates object names.
K8S_NAME_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
#: Kargo's duration fields (``interval``, ``requiredSoakTime``): e.g. ``5m``, ``1h30m``.
DURATION_PATTERN = r"^([0-9]+(\.[0-9]+)?(s|m|h))+$"
#: Expression variable names.
VAR_NAME_PATTERN = r"^[a-zA-Z_]\w*$"


def cel(rule: str, message: str) -> JsonDict:
    """One CEL rule for ``x-kubernetes-validations``."""
    return {"rule": rule, "message": message}


def api_config(schema_extra: JsonDict | None = None) -> ConfigDict:
    """The configuration every API type shares, with optional schema extensions."""
    config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")
    if schema_extra is not None:
        config["json_schema_extra"] = schema_extra
    return config


def rules(*cel_rules: JsonDict) -> JsonDict:
    """Schema extension carrying CEL rules."""
    return {"x-kubernetes-validations": list(cel_rules)}


class KubeModel(BaseModel):
    """Base for every API type: camelCase on the wire, unknown fields refused."""

    model_config = api_config()


def to_wire(model: BaseModel, *, exclude_unset: bool = False) -> dict[str, Any]:
    """The JSON-ready wire form of a model (camelCase, no ``None`` values)."""
    return model.model_dump(
        mode="json", by_alias=True, exclude_none=True, exclude_unset=exclude_unset
    )


#: Any JSON value, kept as it is (``x-kubernetes-preserve-unknown-fields`` with no type).
AnyJSON = Annotated[Any, WithJsonSchema({"x-kubernetes-preserve-unknown-fields": True})]
#: A free-form JSON object (step ``config``, Promotion ``state``).
JSONObject = Annotated[
    dict[str, Any],
    WithJsonSchema({"type": "object", "x-kubernetes-preserve-unknown-fields": True}),
]
#: A Kubernetes object name.
K8sName = Annotated[str, Field(min_length=1, max_length=253, pattern=K8S_NAME_PATTERN)]
#: A duration string such as ``5m0s``.
Duration = Annotated[str, Field(pattern=DURATION_PATTERN)]


#: A timestamp (RFC 3339 on the wire).
Time = datetime


class ObjectMeta(BaseModel):
    """The subset of Kubernetes ``ObjectMeta`` shunter reads; other keys are kept as they are."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow")

    name: str | None = None
    generate_name: str | None = None
    namespace: str | None = None
    uid: str | None = None
    resource_version: str | None = None
    generation: int | None = None
    creation_timestamp: str | None = None
    deletion_timestamp: str | None = None
    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None
    finalizers: list[str] | None = None
    owner_references: list[dict[str, Any]] | None = None


class ConditionStatus(StrEnum):
    """``metav1.ConditionStatus``."""

    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


class Condition(KubeModel):
    """A standard Kubernetes condition (``metav1.Condition``)."""

    type: str = Field(
        max_length=316,
        pattern=r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$",
    )
    status: ConditionStatus
    observed_generation: int | None = Field(default=None, ge=0)
    last_transition_time: Time
    reason: str = Field(
        min_length=1, max_length=1024, pattern=r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$"
    )
    message: str = Field(max_length=32768)


@dataclass(frozen=True)
class PrinterColumn:
    """One ``additionalPrinterColumns`` entry."""

    name: str
    json_path: str
    type: Literal["string", "integer", "number", "boolean", "date"] = "string"
    priority: int = 0


@dataclass(frozen=True)
class CrdInfo:
    """What kubebuilder markers say about a kind: names, scope, subresources, columns."""

    kind: str
    plural: str
    scope: Literal["Namespaced", "Cluster"]
    short_names: tuple[str, ...] = ()
    status_subresource: bool = True
    printer_columns: tuple[PrinterColumn, ...] = ()
    #: CEL rules on the root object (may use ``self.metadata.name``).
    root_validations: tuple[JsonDict, ...] = ()
    #: Defaults to the lower-cased kind.
    singular: str = ""


READY_COLUMNS = (
    PrinterColumn("Ready", '.status.conditions[?(@.type=="Ready")].status'),
    PrinterColumn("Status", '.status.conditions[?(@.type=="Ready")].message'),
)
AGE_COLUMN = PrinterColumn("Age", ".metadata.creationTimestamp", "date")


class Resource(KubeModel):
    """A top-level Kubernetes object of this API group."""

    crd: ClassVar[CrdInfo]

    api_version: Literal["kargo.akuity.io/v1alpha1"] = "kargo.akuity.io/v1alpha1"
    kind: str
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)

    @classmethod
    def from_wire(cls, obj: dict[str, Any]) -> Self:
        """Parse an object as the API server or a manifest gives it."""
        return cls.model_validate(obj)
