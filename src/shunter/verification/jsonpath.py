"""The subset of Kubernetes JSONPath that web metrics use to pick ``result`` out of a body.

Owns :func:`compile_json_path` and :func:`select`. Supported: the root (``{$}``, ``$``, or
empty), member access (``{$.data.ok}``, ``{.data.ok}``, ``$.data.ok`` - the braces are
optional, a shunter convenience), bracketed names (``['x-y']``, ``["x y"]``), array indexes
(``[0]``, ``[-1]``) and wildcards (``[*]``, ``.*``; the first match is the result, as Rollouts
takes the first value). Not supported: recursive descent (``..``), filters (``[?()]``), slices
(``[1:3]``), unions and text around the braces; such paths are a :class:`JSONPathError`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

__all__ = ["JSONPathError", "compile_json_path", "select"]

_NAME = re.compile(r"[A-Za-z0-9_\-/:@$]+")
_INDEX = re.compile(r"\[\s*(-?\d+)\s*\]", re.ASCII)
_QUOTED = re.compile(r"""\[\s*(?:'([^']*)'|"([^"]*)")\s*\]""")
_WILDCARD = re.compile(r"\[\s*\*\s*\]")


class JSONPathError(ValueError):
    """The path is malformed or unsupported, or the document does not have the path."""


@dataclass(frozen=True, slots=True)
class _Step:
    kind: str  # "field", "index" or "wildcard"
    name: str = ""
    index: int = 0


def _strip_braces(path: str) -> str:
    text = path.strip()
    if not text.startswith("{") and not text.endswith("}"):
        return text
    if not (text.startswith("{") and text.endswith("}")) or text.count("{") != 1:
        raise JSONPathError(f"unsupported JSONPath {path!r}: only one {{...}} expression")
    return text[1:-1].strip()


def compile_json_path(path: str) -> tuple[_Step, ...]:
    """Parse ``path`` into steps (raises :class:`JSONPathError`)."""
    text = _strip_braces(path)
    if text.startswith("$"):
        text = text[1:]
    steps: list[_Step] = []
    pos = 0
    while pos < len(text):
        if text.startswith("..", pos):
            raise JSONPathError(f"unsupported JSONPath {path!r}: recursive descent")
        if text.startswith(".*", pos):
            steps.append(_Step("wildcard"))
            pos += 2
            continue
        if text[pos] == ".":
            match = _NAME.match(text, pos + 1)
            if match is None:
                raise JSONPathError(f"invalid JSONPath {path!r} at offset {pos}")
            steps.append(_Step("field", name=match.group(0)))
            pos = match.end()
            continue
        if text[pos] == "[":
            if match := _INDEX.match(text, pos):
                steps.append(_Step("index", index=int(match.group(1))))
            elif match := _QUOTED.match(text, pos):
                name = match.group(1) if match.group(1) is not None else match.group(2)
                steps.append(_Step("field", name=name))
            elif match := _WILDCARD.match(text, pos):
                steps.append(_Step("wildcard"))
            else:
                raise JSONPathError(f"unsupported JSONPath {path!r} at offset {pos}")
            pos = match.end()
            continue
        if not steps and (match := _NAME.match(text, pos)):  # "{data.ok}" - as `.data.ok`
            steps.append(_Step("field", name=match.group(0)))
            pos = match.end()
            continue
        raise JSONPathError(f"invalid JSONPath {path!r} at offset {pos}")
    return tuple(steps)


def _apply(step: _Step, value: Any) -> list[Any]:
    if step.kind == "field":
        if isinstance(value, dict) and step.name in value:
            return [value[step.name]]
        raise JSONPathError(f"{step.name} is not found")
    if step.kind == "index":
        if not isinstance(value, list):
            raise JSONPathError(f"cannot index [{step.index}] into a non-array value")
        index = step.index + len(value) if step.index < 0 else step.index
        if not 0 <= index < len(value):
            raise JSONPathError(
                f"array index out of bounds: index {step.index}, length {len(value)}"
            )
        return [value[index]]
    if isinstance(value, list):
        return list(value)
    if isinstance(value, dict):
        return [value[key] for key in sorted(value)]
    return []


def select(document: Any, path: str) -> list[Any]:
    """Every value ``path`` selects in ``document`` (raises :class:`JSONPathError`)."""
    values = [document]
    for step in compile_json_path(path):
        values = [out for value in values for out in _apply(step, value)]
    return values
