"""The operator's watch-fed object cache: every kind the controllers read, indexed.

:class:`Cache` is the :class:`~shunter.kube.informer.Sink` of the informers. It keeps each
object as compact JSON bytes (about a fifth of the memory of the parsed dict or model), minus
``managedFields`` and kubectl's last-applied annotation, the two largest parts nobody reads.
Reads parse on demand: :meth:`Cache.raw` gives a fresh dict, :meth:`Cache.get` the pydantic
model, parsed once per resourceVersion and kept in a bounded most-recently-used table (a
reconcile reads the same few dozen objects again and again; a 10,000-Freight cache does not
hold 10,000 models). Indexes (:mod:`shunter.cache.kinds`) are kept up to date on every change.
Listeners hear ``(kind, old, new)`` for every change (``None`` for "did not exist"), which is how
the operator decides which reconciles to queue.

Writes go to the API server; a controller that must see its own write before the watch brings
it back calls :meth:`Cache.apply` with the server's answer (ignored if the cache already holds
that version or a newer one).
"""

from __future__ import annotations

import json
import logging
import sys
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from shunter.cache.kinds import INDEXES, Index
from shunter.kube.informer import Kind

__all__ = ["MODEL_CACHE_SIZE", "Cache", "Listener"]

log = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)
ObjectKey = tuple[str, str]
#: ``(kind, old raw object or None, new raw object or None)``.
Listener = Callable[[Kind, Mapping[str, Any] | None, Mapping[str, Any] | None], None]
#: Parsed models kept (most recently used first). A reconcile reads a few dozen objects, again and
#: again within a burst; a resync of 1,000 Stages reads more objects than any such table holds,
#: so a bigger one costs memory (about 8 kB a model, Stages and Promotions included) and saves
#: no parsing.
MODEL_CACHE_SIZE = 1024
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


class _Entry:
    """One stored object: its JSON and its version. (The index keys it is filed under are
    computed again from the JSON when it changes or goes: storing them would cost more memory
    than the object itself.)"""

    __slots__ = ("data", "version")

    def __init__(self, data: bytes, version: int | None) -> None:
        self.data = data
        self.version = version

    def load(self) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(self.data)
        return value


class Cache:
    """Objects by kind and key, with indexes; implements the informers' Sink."""

    def __init__(
        self, indexes: Iterable[Index] = INDEXES, *, model_cache_size: int = MODEL_CACHE_SIZE
    ) -> None:
        self._objects: dict[Kind, dict[ObjectKey, _Entry]] = defaultdict(dict)
        self._indexes: dict[Kind, list[Index]] = defaultdict(list)
        for index in indexes:
            self._indexes[index.kind].append(index)
        self._index: dict[str, dict[Hashable, set[ObjectKey]]] = defaultdict(
            lambda: defaultdict(set)
        )
        self._models: OrderedDict[tuple[Kind, ObjectKey], tuple[_Entry, BaseModel]] = OrderedDict()
        self._model_cache_size = model_cache_size
        self._listeners: list[Listener] = []
        self._invalid: set[tuple[Kind, ObjectKey, int | None]] = set()
        #: Models parsed (cache misses), for tests and benchmarks.
        self.parsed = 0

    def listen(self, listener: Listener) -> None:
        """Call ``listener`` on every change from now on."""
        self._listeners.append(listener)

    # -- Sink --------------------------------------------------------------------------

    def upsert(self, kind: Kind, obj: dict[str, Any]) -> None:
        """An object was added or changed (informer events, write answers)."""
        meta = obj.get("metadata") or {}
        namespace = str(meta.get("namespace") or "")
        if namespace and isinstance(meta, dict):
            # One string per namespace for the keys and index values of all its objects.
            namespace = meta["namespace"] = sys.intern(namespace)
        key = (namespace, str(meta.get("name") or ""))
        objects = self._objects[kind]
        old = objects.get(key)
        version = _version(obj)
        known = old.version if old is not None else None
        if known is not None and version is not None and version <= known:
            return
        _compact(obj)
        data = json.dumps(obj, separators=(",", ":")).encode()
        objects[key] = _Entry(data, version)
        before = old.load() if old is not None else None
        self._reindex(kind, key, before, obj)
        if self._listeners:
            self._notify(kind, before, obj)

    def delete(self, kind: Kind, namespace: str, name: str) -> None:
        """An object went away."""
        old = self._objects[kind].pop((namespace, name), None)
        if old is None:
            return
        self._models.pop((kind, (namespace, name)), None)
        before = old.load()
        self._reindex(kind, (namespace, name), before, None)
        if self._listeners:
            self._notify(kind, before, None)

    def apply(self, kind: Kind, obj: Mapping[str, Any]) -> None:
        """Take a write's answer now (the watch brings the same version back later)."""
        if isinstance(obj, dict) and obj.get("metadata"):
            self.upsert(kind, obj)

    def _index_keys(self, kind: Kind, obj: Mapping[str, Any] | None) -> set[tuple[str, Hashable]]:
        """``(index name, key)`` of every index entry ``obj`` is filed under."""
        if obj is None:
            return set()
        return {
            (index.name, value)
            for index in self._indexes.get(kind, ())
            for value in index.keys(obj)
        }

    def _reindex(
        self,
        kind: Kind,
        key: ObjectKey,
        before: Mapping[str, Any] | None,
        after: Mapping[str, Any] | None,
    ) -> None:
        old, new = self._index_keys(kind, before), self._index_keys(kind, after)
        for name, value in old - new:
            table = self._index[name]
            members = table.get(value)
            if members is not None:
                members.discard(key)
                if not members:
                    del table[value]
        for name, value in new - old:
            self._index[name][value].add(key)

    def _notify(
        self, kind: Kind, old: Mapping[str, Any] | None, new: Mapping[str, Any] | None
    ) -> None:
        for listener in self._listeners:
            try:
                listener(kind, old, new)
            except Exception:
                log.exception("cache listener failed on a %s change", kind.plural)

    # -- reads ---------------------------------------------------------------------------

    def raw(self, kind: Kind, namespace: str, name: str) -> dict[str, Any] | None:
        """One object as JSON (a fresh dict), or None."""
        entry = self._objects[kind].get((namespace, name))
        return entry.load() if entry else None

    def get(self, kind: Kind, model_type: type[M], namespace: str, name: str) -> M | None:
        """One object, parsed (raises ``ValidationError`` when it is invalid)."""
        key = (namespace, name)
        entry = self._objects[kind].get(key)
        return self._model(kind, key, entry, model_type) if entry else None

    def _model(self, kind: Kind, key: ObjectKey, entry: _Entry, model_type: type[M]) -> M:
        slot = (kind, key)
        held = self._models.get(slot)
        if held is not None and held[0] is entry and isinstance(held[1], model_type):
            self._models.move_to_end(slot)
            return held[1]
        model = model_type.model_validate_json(entry.data)
        self.parsed += 1
        self._models[slot] = (entry, model)
        self._models.move_to_end(slot)
        while len(self._models) > self._model_cache_size:
            self._models.popitem(last=False)
        return model

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
                yield self._model(kind, key, entry, model_type)
            except ValidationError as exc:
                marker = (kind, key, entry.version)
                if marker not in self._invalid:
                    self._invalid.add(marker)
                    log.warning("%s %s/%s is invalid: %s", kind.plural, key[0], key[1], exc)
