"""Differences between two JSON objects, as the two patch formats Kubernetes takes: an RFC 6902
JSON patch (what a mutating admission webhook answers) and an RFC 7386 merge patch (what the
controllers send). Maps are compared key by key; lists and scalars are replaced whole.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["json_patch", "merge_patch"]


def _pointer(parts: Sequence[str]) -> str:
    return "".join("/" + p.replace("~", "~0").replace("/", "~1") for p in parts)


def json_patch(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The RFC 6902 operations that turn ``before`` into ``after``."""
    ops: list[dict[str, Any]] = []

    def walk(old: Mapping[str, Any], new: Mapping[str, Any], path: list[str]) -> None:
        for key in old:
            if key not in new:
                ops.append({"op": "remove", "path": _pointer([*path, key])})
        for key, value in new.items():
            if key not in old:
                ops.append({"op": "add", "path": _pointer([*path, key]), "value": value})
            elif isinstance(value, dict) and isinstance(old[key], dict):
                walk(old[key], value, [*path, key])
            elif value != old[key]:
                ops.append({"op": "replace", "path": _pointer([*path, key]), "value": value})

    walk(before, after, [])
    return ops


def merge_patch(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    """The RFC 7386 merge patch that turns ``before`` into ``after`` (``None`` removes a key;
    ``after`` must hold no ``None`` values of its own)."""
    patch: dict[str, Any] = {key: None for key in before if key not in after}
    for key, value in after.items():
        old = before.get(key)
        if isinstance(value, dict) and isinstance(old, dict):
            nested = merge_patch(old, value)
            if nested:
                patch[key] = nested
        elif key not in before or value != old:
            patch[key] = value
    return patch
