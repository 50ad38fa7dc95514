"""Trimmed read models of Argo CD's ``Application`` (``argoproj.io/v1alpha1``).

Only the fields shunter reads are typed; every model keeps unknown keys (``extra="allow"``),
and :class:`Application` also keeps the object exactly as the API server sent it
(:attr:`Application.raw`), so patches can be built from the live JSON and never drop fields
these models do not know.
Kubernetes may send ``null`` for any optional field, so collections are optional here and the
helpers (:meth:`Application.sources`, :meth:`Operation.info_value`...) hide that.
"""

from __future__ import annotations

import copy
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr
from pydantic.alias_generators import to_camel

__all__ = [
    "APPLICATION_GROUP",
    "APPLICATION_PLURAL",
    "APPLICATION_VERSION",
    "Application",
    "ApplicationCondition",
    "ApplicationMeta",
    "ApplicationSource",
    "ApplicationSpec",
    "ApplicationStatus",
    "HealthStatus",
    "HealthStatusCode",
    "Info",
    "Operation",
    "OperationInitiator",
    "OperationPhase",
    "OperationState",
    "SyncOperation",
    "SyncOperationResult",
    "SyncStatus",
    "SyncStatusCode",
    "is_completed",
    "is_failed",
]

APPLICATION_GROUP = "argoproj.io"
APPLICATION_VERSION = "v1alpha1"
APPLICATION_PLURAL = "applications"


class OperationPhase(StrEnum):
    """``status.operationState.phase``."""

    RUNNING = "Running"
    TERMINATING = "Terminating"
    FAILED = "Failed"
    ERROR = "Error"
    SUCCEEDED = "Succeeded"


class HealthStatusCode(StrEnum):
    """``status.health.status``."""

    UNKNOWN = "Unknown"
    PROGRESSING = "Progressing"
    HEALTHY = "Healthy"
    SUSPENDED = "Suspended"
    DEGRADED = "Degraded"
    MISSING = "Missing"


class SyncStatusCode(StrEnum):
    """``status.sync.status``."""

    UNKNOWN = "Unknown"
    SYNCED = "Synced"
    OUT_OF_SYNC = "OutOfSync"


_COMPLETED = frozenset({OperationPhase.FAILED, OperationPhase.ERROR, OperationPhase.SUCCEEDED})
_FAILED = frozenset({OperationPhase.FAILED, OperationPhase.ERROR})


def is_completed(phase: str | None) -> bool:
    """Whether an operation phase is final (Succeeded, Failed or Error)."""
    return phase in _COMPLETED


def is_failed(phase: str | None) -> bool:
    """Whether an operation phase is a failure (Failed or Error)."""
    return phase in _FAILED


class _Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow")


class ApplicationSource(_Model):
    """One source of an Application (``spec.source`` or an entry of ``spec.sources``)."""

    repo_url: str = Field(default="", alias="repoURL")
    target_revision: str | None = None
    chart: str | None = None
    path: str | None = None


class ApplicationSpec(_Model):
    """``spec``: the source(s), project, destination and sync policy."""

    source: ApplicationSource | None = None
    sources: list[ApplicationSource] | None = None
    project: str | None = None
    destination: dict[str, Any] | None = None
    sync_policy: dict[str, Any] | None = None


class Info(_Model):
    """A name/value pair of ``operation.info``."""

    name: str = ""
    value: str = ""


class OperationInitiator(_Model):
    """``operation.initiatedBy``."""

    username: str | None = None
    automated: bool | None = None


class SyncOperation(_Model):
    """``operation.sync``."""

    revision: str | None = None
    revisions: list[str] | None = None
    sync_options: list[str] | None = None


class Operation(_Model):
    """A requested operation (``operation``, and the copy in ``status.operationState``)."""

    sync: SyncOperation | None = None
    initiated_by: OperationInitiator | None = None
    info: list[Info | None] | None = None
    retry: dict[str, Any] | None = None

    def info_value(self, name: str) -> str | None:
        """The value of the first ``info`` entry called ``name`` (None: no such entry)."""
        for item in self.info or []:
            if item is not None and item.name == name:
                return item.value
        return None


class SyncOperationResult(_Model):
    """``status.operationState.syncResult``."""

    revision: str | None = None
    revisions: list[str] | None = None

    def observed_revisions(self) -> list[str]:
        """``revisions`` when set (multi-source), else ``[revision]``."""
        return list(self.revisions) if self.revisions else [self.revision or ""]


class OperationState(_Model):
    """``status.operationState``: the state of the last (or current) operation."""

    operation: Operation | None = None
    phase: str | None = None
    message: str | None = None
    sync_result: SyncOperationResult | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None


class SyncStatus(_Model):
    """``status.sync``."""

    status: str | None = None
    revision: str | None = None
    revisions: list[str] | None = None

    def observed_revisions(self) -> list[str]:
        """``revisions`` when set (multi-source), else ``[revision]``."""
        return list(self.revisions) if self.revisions else [self.revision or ""]


class HealthStatus(_Model):
    """``status.health``."""

    status: str | None = None
    message: str | None = None


class ApplicationCondition(_Model):
    """An entry of ``status.conditions``."""

    type: str = ""
    message: str = ""
    last_transition_time: datetime | None = None


class ApplicationStatus(_Model):
    """``status``: sync, health, the last operation and conditions."""

    health: HealthStatus | None = None
    sync: SyncStatus | None = None
    reconciled_at: datetime | None = None
    conditions: list[ApplicationCondition] | None = None
    operation_state: OperationState | None = None
    history: list[dict[str, Any]] | None = None


class ApplicationMeta(_Model):
    """The metadata shunter reads."""

    name: str = ""
    namespace: str = ""
    uid: str | None = None
    resource_version: str | None = None
    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None


class Application(_Model):
    """An Argo CD Application as read from the API server (see :attr:`raw`)."""

    metadata: ApplicationMeta = Field(default_factory=ApplicationMeta)
    spec: ApplicationSpec = Field(default_factory=ApplicationSpec)
    operation: Operation | None = None
    status: ApplicationStatus | None = None

    _raw: dict[str, Any] = PrivateAttr(default_factory=dict)

    @classmethod
    def from_object(cls, obj: dict[str, Any]) -> Application:
        """Parse an object from the API server, keeping a private copy of its JSON."""
        app = cls.model_validate(obj)
        app._raw = copy.deepcopy(obj)
        return app

    @property
    def raw(self) -> dict[str, Any]:
        """A deep copy of the JSON the model was parsed from (empty if built by hand)."""
        return copy.deepcopy(self._raw)

    def has_raw(self, key: str) -> bool:
        """Whether the JSON the model was parsed from has a non-null top-level ``key``."""
        return self._raw.get(key) is not None

    @property
    def name(self) -> str:
        return self.metadata.name

    @property
    def namespace(self) -> str:
        return self.metadata.namespace

    @property
    def annotations(self) -> dict[str, str]:
        return dict(self.metadata.annotations or {})

    @property
    def multi_source(self) -> bool:
        """Whether the Application uses ``spec.sources`` (rather than ``spec.source``)."""
        return bool(self.spec.sources)

    def sources(self) -> list[ApplicationSource]:
        """``spec.sources``, or ``[spec.source]``, or ``[]``."""
        if self.spec.sources:
            return list(self.spec.sources)
        return [self.spec.source] if self.spec.source is not None else []

    def raw_sources(self) -> list[dict[str, Any]]:
        """The live JSON of the sources, in the order of :meth:`sources`."""
        spec = self._raw.get("spec") or {}
        if spec.get("sources"):
            return [dict(s) for s in copy.deepcopy(spec["sources"])]
        source = spec.get("source")
        return [dict(copy.deepcopy(source))] if isinstance(source, dict) else []

    @property
    def operation_state(self) -> OperationState | None:
        return self.status.operation_state if self.status is not None else None

    @property
    def health_status(self) -> str:
        """``status.health.status`` ("" when absent)."""
        health = self.status.health if self.status is not None else None
        return (health.status or "") if health is not None else ""

    @property
    def sync_status(self) -> SyncStatus:
        sync = self.status.sync if self.status is not None else None
        return sync if sync is not None else SyncStatus()

    def conditions_of(self, *types: str) -> list[ApplicationCondition]:
        """The conditions whose type is one of ``types``."""
        conditions = (self.status.conditions if self.status is not None else None) or []
        return [c for c in conditions if c.type in types]
