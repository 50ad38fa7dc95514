"""The operator's watch-fed object cache: every kind the controllers read, indexed.

:class:`Cache` is the :class:`~shunter.kube.informer.Sink` of the informers. It stores each
object once, as the JSON the API server sent minus ``managedFields`` and kubectl's
last-applied annotation (the two largest parts nobody reads), and parses it into its pydantic
model on first read, once per resourceVersion. Indexes (:mod:`shunter.cache.kinds`) are kept
up to date on every change. Listeners hear ``(kind, old, new)`` for every change (``None`` for
"did not exist"), which is how the operator decides which reconciles to queue.

Writes go to the API server; a controller that must see its own write before the watch brings
it back calls :meth:`Cache.apply` with the server's answer (ignored if the cache already holds
that version or a newer one).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from shunter.cache.kinds import INDEXES, Index
from shunter.kube.informer import Kind

__all__ = ["Cache", "Entry", "Listener"]

log = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)
ObjectKey = tuple[str, str]
#: ``(kind, old raw object or None, new raw object or None)``.
Listener = Callable[[Kind, Mapping[str, Any] | None, Mapping[str, Any] | None], None]
_LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def _compact(obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata")
    if isinstance(meta, dict):
        meta.pop("managedFields", None)
        annotations = meta.get("annotations")
        if isinstance(annotations, dict) and _LAST_APPLIED in annotations:
            annotations.pop(_LAST_APPLIED)
            if not annotations:
                meta.pop("annotations")
    return obj


def _version(obj: Mapping[str, Any]) -> int | None:
    value = (obj.get("metadata") or {}).get("resourceVersion")
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


class Entry:
    """One object: its raw JSON and, once read, its parsed model."""

    __slots__ = ("_model", "raw")

    def __init__(self, raw: dict[str, Any]) -> None:
        self.raw = raw
        self._model: BaseModel | None = None

    def model(self, model_type: type[M]) -> M:
        """The parsed object (raises ``ValidationError`` for an invalid one)."""
        model = self._model
        if not isinstance(model, model_type):
            model = model_type.model_validate(self.raw)
            self._model = model
        return model


class Cache:
    """Objects by kind and key, with indexes; implements the informers' Sink."""

    def __init__(self, indexes: Iterable[Index] = INDEXES) -> None:
        self._objects: dict[Kind, dict[ObjectKey, Entry]] = defaultdict(dict)
        self._indexes: dict[Kind, list[Index]] = defaultdict(list)
        for index in indexes:
            self._indexes[index.kind].append(index)
        self._index: dict[str, dict[Hashable, set[ObjectKey]]] = defaultdict(
            lambda: defaultdict(set)
        )
        self._listeners: list[Listener] = []
        self._invalid: set[tuple[Kind, ObjectKey, int | None]] = set()

    def listen(self, listener: Listener) -> None:
        """Call ``listener`` on every change from now on."""
        self._listeners.append(listener)

    # -- Sink --------------------------------------------------------------------------

    def upsert(self, kind: Kind, obj: dict[str, Any]) -> None:
        """An object was added or changed (informer events, write answers)."""
        meta = obj.get("metadata") or {}
        key = (str(meta.get("namespace") or ""), str(meta.get("name") or ""))
        objects = self._objects[kind]
        old = objects.get(key)
        if old is not None:
            old_version, new_version = _version(old.raw), _version(obj)
            if old_version is not None and new_version is not None and new_version <= old_version:
                return
        entry = Entry(_compact(obj))
        objects[key] = entry
        self._reindex(kind, key, old.raw if old else None, entry.raw)
        self._notify(kind, old.raw if old else None, entry.raw)

    def delete(self, kind: Kind, namespace: str, name: str) -> None:
        """An object went away."""
        old = self._objects[kind].pop((namespace, name), None)
        if old is None:
            return
        self._reindex(kind, (namespace, name), old.raw, None)
        self._notify(kind, old.raw, None)

    def apply(self, kind: Kind, obj: Mapping[str, Any]) -> None:
        """Take a write's answer now (the watch brings the same version back later)."""
        if isinstance(obj, dict) and obj.get("metadata"):
            self.upsert(kind, obj)

    def _reindex(
        self,
        kind: Kind,
        key: ObjectKey,
        old: Mapping[str, Any] | None,
        new: Mapping[str, Any] | None,
    ) -> None:
        for index in self._indexes.get(kind, ()):
            table = self._index[index.name]
            before = set(index.keys(old)) if old is not None else set()
            after = set(index.keys(new)) if new is not None else set()
            for gone in before - after:
                members = table.get(gone)
                if members is not None:
                    members.discard(key)
                    if not members:
                        del table[gone]
            for added in after - before:
                table[added].add(key)

    def _notify(
        self, kind: Kind, old: Mapping[str, Any] | None, new: Mapping[str, Any] | None
    ) -> None:
        for listener in self._listeners:
            try:
                listener(kind, old, new)
            except Exception:
                log.exception("cache listener failed on a %s change", kind.plural)

    # -- reads ---------------------------------------------------------------------------

    def raw(self, kind: Kind, namespace: str, name: str) -> Mapping[str, Any] | None:
        """The stored JSON of one object (do not modify it), or None."""
        entry = self._objects[kind].get((namespace, name))
        return entry.raw if entry else None

    def get(self, kind: Kind, model_type: type[M], namespace: str, name: str) -> M | None:
        """One object, parsed (raises ``ValidationError`` when it is invalid)."""
        entry = self._objects[kind].get((namespace, name))
        return entry.model(model_type) if entry else None

    def keys(self, kind: Kind) -> list[ObjectKey]:
        """Every key of a kind."""
        return list(self._objects[kind])

    def count(self, kind: Kind) -> int:
        """How many objects of a kind are held."""
        return len(self._objects[kind])

    def indexed(self, index: str, key: Hashable) -> list[ObjectKey]:
        """The keys of the objects an index holds under ``key`` (sorted)."""
        return sorted(self._index[index].get(key, ()))

    def models(self, kind: Kind, model_type: type[M], keys: Iterable[ObjectKey]) -> list[M]:
        """The parsed objects of ``keys`` (missing and invalid objects are left out; an
        invalid one is logged once per version)."""
        return list(self._parsed(kind, model_type, keys))

    def _parsed(self, kind: Kind, model_type: type[M], keys: Iterable[ObjectKey]) -> Iterator[M]:
        objects = self._objects[kind]
        for key in keys:
            entry = objects.get(key)
            if entry is None:
                continue
            try:
                yield entry.model(model_type)
            except ValidationError as exc:
                marker = (kind, key, _version(entry.raw))
                if marker not in self._invalid:
                    self._invalid.add(marker)
                    log.warning("%s %s/%s is invalid: %s", kind.plural, key[0], key[1], exc)
