"""Kargo's data functions and the reader they read Kubernetes objects through.

Owns ``configMap(name)``, ``sharedConfigMap(name)``, ``secret(name)``, ``sharedSecret(name)``,
``freightMetadata(name[, key])``, ``freightStatus(name)`` and ``stageMetadata(name)``, plus the
`DataReader` protocol and its two implementations.

**Why the reader is synchronous.** The evaluator is a plain synchronous tree walk, while the
engine is async. Rather than block the event loop or run evaluation in threads, functions read
through a `DataReader` whose ``get`` is synchronous and never does I/O:

* `ResourceCache` holds objects already fetched. On a miss it raises `ResourceNotLoaded`
  (an `ExpressionInterrupt`, so it crosses the interpreter untouched). `shunter.expressions.sandbox`
  runs an evaluation (inline or in a worker process, the cache travelling with the job), gets
  the miss back, awaits the caller's async ``fetch(ref)``, stores the object and evaluates
  again - at most once per distinct object, because evaluations are deterministic (only
  ``now()`` is not, and it does not read data). One cache per step reproduces Kargo's per-step
  ConfigMap/Secret cache.
* `StaticResources` answers from a fixed mapping (missing objects are absent): for tests, the
  Warehouse freight-creation criteria, or callers that prefetch everything.

Objects are Kubernetes wire dicts (``{"metadata": ..., "data": ...}``, Freight/Stage as stored).
``secret()`` decodes base64 ``data`` to text. ``sharedSecret()`` only answers for Secrets
labelled ``kargo.akuity.io/cred-type: generic``. A missing ConfigMap/Secret reads as an empty
map; missing Freight/Stage metadata reads as nil.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from shunter.expressions.errors import ExpressionInterrupt, FunctionError
from shunter.expressions.registry import ExprFunction
from shunter.expressions.values import StrMap, type_name

__all__ = [
    "CRED_TYPE_LABEL",
    "DataReader",
    "ResourceCache",
    "ResourceKind",
    "ResourceNotLoaded",
    "ResourceRef",
    "StaticResources",
    "data_functions",
]

ResourceKind = Literal["ConfigMap", "Secret", "Freight", "Stage", "Warehouse"]
CRED_TYPE_LABEL = "kargo.akuity.io/cred-type"


@dataclass(frozen=True, slots=True)
class ResourceRef:
    """A namespaced object an expression wants: in the project, or the shared namespace."""

    kind: ResourceKind
    name: str
    shared: bool = False


class DataReader(Protocol):
    """Synchronous access to objects; return None when the object does not exist."""

    def get(self, ref: ResourceRef) -> Mapping[str, Any] | None: ...


class ResourceNotLoaded(ExpressionInterrupt):
    """Raised by `ResourceCache` on a miss; the sandbox fetches the object and retries."""

    def __init__(self, ref: ResourceRef) -> None:
        self.ref = ref
        super().__init__(f"{ref.kind} {ref.name!r} is not loaded")


class StaticResources:
    """A `DataReader` over a fixed mapping; anything not in it does not exist."""

    def __init__(self, objects: Mapping[ResourceRef, Mapping[str, Any] | None] | None = None):
        self._objects: dict[ResourceRef, Mapping[str, Any] | None] = dict(objects or {})

    def get(self, ref: ResourceRef) -> Mapping[str, Any] | None:
        return self._objects.get(ref)


class ResourceCache:
    """A `DataReader` that raises `ResourceNotLoaded` for objects not fetched yet."""

    def __init__(self) -> None:
        self._objects: dict[ResourceRef, Mapping[str, Any] | None] = {}

    def get(self, ref: ResourceRef) -> Mapping[str, Any] | None:
        try:
            return self._objects[ref]
        except KeyError:
            raise ResourceNotLoaded(ref) from None

    def put(self, ref: ResourceRef, obj: Mapping[str, Any] | None) -> None:
        """Record `obj` (None: it does not exist)."""
        self._objects[ref] = obj

    def __contains__(self, ref: object) -> bool:
        return ref in self._objects


def _name(fn: str, value: Any) -> str:
    if not isinstance(value, str):
        raise FunctionError(f"{fn}(): argument must be string, got {type_name(value)}")
    return value


def _decode_secret(obj: Mapping[str, Any]) -> StrMap:
    result = StrMap()
    for key, encoded in (obj.get("data") or {}).items():
        try:
            result[key] = base64.b64decode(str(encoded), validate=True).decode(
                "utf-8", errors="replace"
            )
        except (binascii.Error, ValueError):
            raise FunctionError(f"secret key {key!r} is not valid base64") from None
    return result


def data_functions(reader: DataReader) -> dict[str, ExprFunction]:
    """configMap, sharedConfigMap, secret, sharedSecret, freightMetadata, freightStatus,
    stageMetadata, reading through `reader`."""

    def config_map(name: Any, *, shared: bool = False) -> StrMap:
        fn = "sharedConfigMap" if shared else "configMap"
        obj = reader.get(ResourceRef("ConfigMap", _name(fn, name), shared))
        if obj is None:
            return StrMap()
        return StrMap({str(k): str(v) for k, v in (obj.get("data") or {}).items()})

    def secret(name: Any, *, shared: bool = False) -> StrMap:
        fn = "sharedSecret" if shared else "secret"
        obj = reader.get(ResourceRef("Secret", _name(fn, name), shared))
        if obj is None:
            return StrMap()
        if shared:
            labels = (obj.get("metadata") or {}).get("labels") or {}
            if labels.get(CRED_TYPE_LABEL) != "generic":
                return StrMap()
        return _decode_secret(obj)

    def status_of(kind: ResourceKind, fn: str, name: Any) -> Mapping[str, Any] | None:
        text = _name(fn, name)
        if not text:
            raise FunctionError(f"{fn}(): name must not be empty")
        obj = reader.get(ResourceRef(kind, text))
        if obj is None:
            return None
        status = obj.get("status")
        return status if isinstance(status, Mapping) else {}

    def freight_metadata(name: Any, key: Any = None) -> Any:
        status = status_of("Freight", "freightMetadata", name)
        metadata = None if status is None else status.get("metadata")
        if key is None:
            return dict(metadata) if metadata else None
        if not isinstance(key, str):
            raise FunctionError(f"freightMetadata(): key must be string, got {type_name(key)}")
        return (metadata or {}).get(key)

    def freight_status(name: Any) -> Any:
        status = status_of("Freight", "freightStatus", name)
        return None if status is None else dict(status)

    def stage_metadata(name: Any) -> Any:
        status = status_of("Stage", "stageMetadata", name)
        metadata = None if status is None else status.get("metadata")
        return dict(metadata) if metadata else None

    return {
        "configMap": ExprFunction("configMap", config_map, 1, 1),
        "sharedConfigMap": ExprFunction(
            "sharedConfigMap", lambda name: config_map(name, shared=True), 1, 1
        ),
        "secret": ExprFunction("secret", secret, 1, 1),
        "sharedSecret": ExprFunction("sharedSecret", lambda name: secret(name, shared=True), 1, 1),
        "freightMetadata": ExprFunction("freightMetadata", freight_metadata, 1, 2),
        "freightStatus": ExprFunction("freightStatus", freight_status, 1, 1),
        "stageMetadata": ExprFunction("stageMetadata", stage_metadata, 1, 1),
    }
