"""Set values in JSON text by key path, changing nothing else.

Owns :func:`set_json_values`. The text is parsed into a tree that records where every value
starts and ends; an update replaces one value's text, or inserts a member / item after the
last one, in the layout the surrounding object already uses (one member per line at the same
indentation, or all on one line, and the same ``": "`` / ``","`` spacing). Key order,
indentation, escapes and number spelling of everything else stay byte-for-byte the same.

Rules match the YAML editor's: missing keys are created (with missing intermediate objects),
``-1`` or the array's length appends to an array, a key that addresses an object or an array
is an error, and the result is parsed again and checked before it is returned. Objects with
duplicate keys are refused.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from shunter.edit.keypath import KeyPart, KeyPathError, split_key

__all__ = ["JsonScalar", "JsonUpdateError", "set_json_values"]

JsonScalar = str | bool | int | float | None

_WS = " \t\r\n"
_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?", re.ASCII)


class JsonUpdateError(ValueError):
    """An update cannot be applied to the document."""


@dataclass(eq=False)
class _JNode:
    kind: Literal["object", "array", "scalar"]
    start: int
    end: int = -1
    #: object members: (key, key start, value)
    members: list[tuple[str, int, _JNode]] = field(default_factory=list)
    items: list[_JNode] = field(default_factory=list)


class _Parser:
    """Records value spans of an already-valid JSON text."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def skip(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in _WS:
            self.pos += 1

    def value(self) -> _JNode:
        self.skip()
        char = self.text[self.pos]
        start = self.pos
        if char == "{":
            node = _JNode("object", start)
            self.pos += 1
            self.skip()
            if self.text[self.pos] == "}":
                self.pos += 1
            else:
                while True:
                    self.skip()
                    key_start = self.pos
                    key = self.string()
                    self.skip()
                    self.pos += 1  # ':'
                    node.members.append((key, key_start, self.value()))
                    self.skip()
                    sep = self.text[self.pos]
                    self.pos += 1
                    if sep == "}":
                        break
        elif char == "[":
            node = _JNode("array", start)
            self.pos += 1
            self.skip()
            if self.text[self.pos] == "]":
                self.pos += 1
            else:
                while True:
                    node.items.append(self.value())
                    self.skip()
                    sep = self.text[self.pos]
                    self.pos += 1
                    if sep == "]":
                        break
        elif char == '"':
            node = _JNode("scalar", start)
            self.string()
        else:
            node = _JNode("scalar", start)
            for word in ("true", "false", "null"):
                if self.text.startswith(word, self.pos):
                    self.pos += len(word)
                    break
            else:
                match = _NUMBER.match(self.text, self.pos)
                if match is None:
                    raise JsonUpdateError(f"unexpected character at offset {self.pos}")
                self.pos = match.end()
        node.end = self.pos
        return node

    def string(self) -> str:
        start = self.pos
        self.pos += 1
        while self.text[self.pos] != '"':
            self.pos += 2 if self.text[self.pos] == "\\" else 1
        self.pos += 1
        decoded: str = json.loads(self.text[start : self.pos])
        return decoded


def _reject_constant(name: str) -> Any:
    raise JsonUpdateError(f"invalid JSON: {name} is not allowed")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise JsonUpdateError(f"invalid JSON: duplicate key {key!r}")
        out[key] = value
    return out


def _load(text: str) -> Any:
    try:
        return json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_no_duplicates)
    except json.JSONDecodeError as exc:
        raise JsonUpdateError(f"invalid JSON: {exc}") from None


def _render(value: JsonScalar) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        raise JsonUpdateError(f"{value!r} cannot be written as JSON")
    return json.dumps(value, ensure_ascii=False)


def set_json_values(text: str, updates: Sequence[tuple[str, JsonScalar]]) -> str:
    """``text`` with every ``(key, value)`` update applied in order."""
    for key, value in updates:
        try:
            parts = split_key(key)
        except KeyPathError as exc:
            raise JsonUpdateError(str(exc)) from None
        before = _load(text)
        text = _Editor(text, key, parts, value).apply()
        expected = _apply_plain(before, parts, value)
        after = _load(text)
        if not _strict_equal(after, expected):
            raise JsonUpdateError(f"key {key!r}: the edit could not be made safely")
    return text


class _Editor:
    def __init__(self, text: str, key: str, parts: list[KeyPart], value: JsonScalar) -> None:
        self.text = text
        self.key = key
        self.parts = parts
        self.value = value
        self.newline = "\r\n" if "\r\n" in text else "\n"
        self.root = _Parser(text).value()
        self.unit = _indent_unit(text)

    def _error(self, message: str) -> JsonUpdateError:
        return JsonUpdateError(f"key {self.key!r}: {message}")

    def apply(self) -> str:
        node = self.root
        for i, part in enumerate(self.parts):
            here = ".".join(p.name for p in self.parts[:i]) or "<root>"
            if node.kind == "object":
                found = next((m for m in node.members if m[0] == part.name), None)
                if found is None:
                    return self._insert_member(node, self.parts[i:])
                node = found[2]
            elif node.kind == "array":
                index = part.index()
                if index is None:
                    raise self._error(f"{here} is an array and {part.name!r} is not an index")
                if 0 <= index < len(node.items):
                    node = node.items[index]
                elif index in (-1, len(node.items)):
                    return self._append_item(node, self.parts[i + 1 :])
                else:
                    raise self._error(
                        f"index {index} is out of range for {here} ({len(node.items)} items)"
                    )
            else:
                raise self._error(f"{here} is a scalar, it has no key {part.name!r}")
        if node.kind != "scalar":
            raise self._error(f"it addresses an {node.kind}, not a scalar")
        return self.text[: node.start] + _render(self.value) + self.text[node.end :]

    # -- layout helpers -----------------------------------------------------------------------

    def _line_indent(self, pos: int) -> str:
        line_start = self.text.rfind("\n", 0, pos) + 1
        line = self.text[line_start:pos]
        return line[: len(line) - len(line.lstrip(" \t"))]

    def _multiline(self, node: _JNode) -> bool:
        first = node.members[0][1] if node.members else (node.items[0].start if node.items else -1)
        if first < 0:
            return "\n" in self.text.strip(_WS)
        return "\n" in self.text[node.start : first]

    def _colon(self, node: _JNode) -> str:
        """The key/value separator the file uses (``": "`` when it has no object member)."""
        for obj in _objects(self.root):
            if obj.members:
                _, key_start, value = obj.members[0]
                scanner = _Parser(self.text)
                scanner.pos = key_start
                scanner.string()
                between = self.text[scanner.pos : value.start]
                if between.strip() == ":" and "\n" not in between:
                    return between
        return ": "

    def _comma(self) -> str:
        """The separator between entries on one line (compact files get a bare comma)."""
        match = re.search(r",( ?)(?=\S)", self.text)
        if match:
            return "," + match.group(1)
        return "," if self._colon(self.root) == ":" else ", "

    def _nested(self, parts: Sequence[KeyPart], indent: str, multiline: bool) -> str:
        if not parts:
            return _render(self.value)
        member = json.dumps(parts[0].name, ensure_ascii=False) + self._colon(self.root)
        if multiline:
            inner = indent + self.unit
            body = member + self._nested(parts[1:], inner, multiline)
            return "{" + self.newline + inner + body + self.newline + indent + "}"
        return "{" + member + self._nested(parts[1:], indent, multiline) + "}"

    def _pretty(self) -> bool:
        return "\n" in self.text.strip(_WS)

    def _add(self, node: _JNode, parts: Sequence[KeyPart], *, member: bool) -> str:
        """Insert a member (``member``) or an item after the container's last entry."""
        text = self.text
        last: tuple[int, int] | None = None  # (entry start, entry end)
        if node.members:
            last = (node.members[-1][1], node.members[-1][2].end)
        elif node.items:
            last = (node.items[-1].start, node.items[-1].end)
        if last is not None:
            multiline = self._multiline(node)
            indent = self._line_indent(last[0]) if multiline else ""
        else:
            multiline = self._pretty()
            outer = self._line_indent(node.start)
            indent = outer + self.unit if multiline else ""
        entry = self._nested(parts[1:] if member else parts, indent, multiline)
        if member:
            entry = json.dumps(parts[0].name, ensure_ascii=False) + self._colon(node) + entry
        if last is not None:
            joint = ("," + self.newline + indent) if multiline else self._comma()
            return text[: last[1]] + joint + entry + text[last[1] :]
        close = node.end - 1
        if multiline:
            entry = self.newline + indent + entry + self.newline + self._line_indent(node.start)
        return text[: node.start + 1] + entry + text[close:]

    def _insert_member(self, node: _JNode, parts: Sequence[KeyPart]) -> str:
        return self._add(node, parts, member=True)

    def _append_item(self, node: _JNode, parts: Sequence[KeyPart]) -> str:
        return self._add(node, parts, member=False)


def _objects(node: _JNode) -> list[_JNode]:
    out = [node] if node.kind == "object" else []
    for _, _, value in node.members:
        out.extend(_objects(value))
    for item in node.items:
        out.extend(_objects(item))
    return out


def _indent_unit(text: str) -> str:
    """The file's indentation step (the smallest non-zero leading whitespace), default 2."""
    widths: list[str] = []
    for line in text.splitlines():
        stripped = line.lstrip(" \t")
        if stripped and len(stripped) != len(line):
            widths.append(line[: len(line) - len(stripped)])
    if not widths:
        return "  "
    return min(widths, key=len)


def _apply_plain(data: Any, parts: Sequence[KeyPart], value: JsonScalar) -> Any:
    if not parts:
        return value
    part = parts[0]
    if isinstance(data, dict):
        out = dict(data)
        out[part.name] = _apply_plain(data.get(part.name, {}), parts[1:], value)
        return out
    if isinstance(data, list):
        index = part.index()
        items = list(data)
        if index is not None and 0 <= index < len(items):
            items[index] = _apply_plain(items[index], parts[1:], value)
        else:
            items.append(_apply_plain({}, parts[1:], value))
        return items
    return _apply_plain({}, parts, value)


def _strict_equal(a: Any, b: Any) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(_strict_equal(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_strict_equal(x, y) for x, y in zip(a, b, strict=False))
    return bool(a == b)
