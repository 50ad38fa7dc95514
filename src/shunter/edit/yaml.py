"""Set values in YAML text by key path, changing nothing else.

Owns :func:`set_yaml_values`. Each update is a text edit at the position ruamel.yaml's parser
reports for the node, so comments, blank lines, key order, quoting of other values, anchors,
aliases, ``---`` markers, indentation and long lines stay byte-for-byte the same; only the
edited value (or the inserted keys) differ.

Rules:

* the path is resolved in the file's **first** document (as Kargo does); later documents are
  left untouched;
* a scalar is replaced in place (a quoted string keeps its quotes, an anchor is kept, an alias
  ``*x`` at the key is replaced by the value, the anchored value is not touched);
* missing keys are created, with missing intermediate mappings, at the end of their mapping,
  indented like the file; a null value (``key:``, ``~``) on the way becomes a mapping;
* in a list a numeric part is an index; ``-1`` or the list's length appends;
* a key that addresses a mapping or a list, a path that goes through an alias or through a
  non-null scalar, and a path that needs a key only inherited through a merge key (``<<``) are
  errors.

Every edit is checked: the new text is parsed, compared node by node with the old one (only
the updated path may differ) and the updated key must read back as the requested value and
type; otherwise nothing is written.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from shunter.edit.keypath import KeyPart, KeyPathError, split_key
from shunter.edit.yaml_scalar import ScalarValue, render_key, render_scalar
from shunter.edit.yaml_tree import (
    Indentation,
    YamlSyntaxError,
    YNode,
    dash_column,
    detect_indentation,
    first_key,
    parse_document,
)

__all__ = ["YamlUpdateError", "set_yaml_values"]

_STR_TAG = "tag:yaml.org,2002:str"
_CORE_TAG_PREFIX = "tag:yaml.org,2002:"


class YamlUpdateError(ValueError):
    """An update cannot be applied to the document."""


def set_yaml_values(text: str, updates: Sequence[tuple[str, ScalarValue]]) -> str:
    """``text`` with every ``(key, value)`` update applied in order."""
    for key, value in updates:
        try:
            parts = split_key(key)
        except KeyPathError as exc:
            raise YamlUpdateError(str(exc)) from None
        new_text = _Editor(text, key, parts, value).apply()
        _verify(text, new_text, key, parts, value)
        text = new_text
    return text


def _path_text(parts: Sequence[KeyPart]) -> str:
    return ".".join(p.name.replace(".", "\\.") for p in parts) or "<root>"


class _Editor:
    """One update applied to one text."""

    def __init__(self, text: str, key: str, parts: list[KeyPart], value: ScalarValue) -> None:
        self.text = text
        self.key = key
        self.parts = parts
        self.value = value
        self.newline = "\r\n" if "\r\n" in text else "\n"
        try:
            root = parse_document(text)
        except YamlSyntaxError as exc:
            raise YamlUpdateError(str(exc)) from None
        if root is None:
            raise YamlUpdateError("the file holds no YAML document")
        self.root = root
        self.indent: Indentation = detect_indentation(text, root)
        self.anchors: dict[str, YNode] = {}
        self._collect_anchors(root)

    def _collect_anchors(self, node: YNode) -> None:
        if node.anchor and node.kind != "alias":
            self.anchors[node.anchor] = node
        for key, value in node.pairs:
            self._collect_anchors(key)
            self._collect_anchors(value)
        for item in node.items:
            self._collect_anchors(item)

    def _error(self, message: str) -> YamlUpdateError:
        return YamlUpdateError(f"key {self.key!r}: {message}")

    # -- navigation ---------------------------------------------------------------------------

    def apply(self) -> str:
        node = self.root
        container: YNode | None = None
        parent_key: YNode | None = None
        for i, part in enumerate(self.parts):
            here = _path_text(self.parts[:i])
            if node.kind == "alias":
                raise self._error(
                    f"{here} is an alias (*{node.value}); update the anchored value instead"
                )
            if node.kind == "map":
                pair = _find_key(node, part.name)
                if pair is None:
                    if self._inherited(node, part.name) and i < len(self.parts) - 1:
                        raise self._error(
                            f"{_path_text(self.parts[: i + 1])} is only inherited through a "
                            "merge key (<<); update it where it is defined"
                        )
                    return self._insert_into_map(node, self.parts[i:])
                container, parent_key, node = node, pair[0], pair[1]
                continue
            if node.kind == "seq":
                index = part.index()
                if index is None:
                    raise self._error(f"{here} is a list and {part.name!r} is not an index")
                if 0 <= index < len(node.items):
                    container, parent_key, node = node, None, node.items[index]
                    continue
                if index in (-1, len(node.items)):
                    return self._append_to_seq(node, self.parts[i + 1 :])
                raise self._error(
                    f"index {index} is out of range for {here} ({len(node.items)} items)"
                )
            if node.is_null and container is not None:
                return self._expand_null(node, container, parent_key, self.parts[i:])
            raise self._error(f"{here} is a scalar, it has no key {part.name!r}")
        if node.kind in ("map", "seq"):
            what = "a mapping" if node.kind == "map" else "a list"
            raise self._error(f"it addresses {what}, not a scalar")
        in_flow = container is not None and container.flow
        return self._replace(node, container, parent_key, flow=in_flow)

    def _inherited(self, node: YNode, name: str, depth: int = 0) -> bool:
        """Whether mapping ``node`` gets key ``name`` through a ``<<`` merge key."""
        if depth > 32:
            return False
        for key, value in node.pairs:
            if key.kind != "scalar" or key.value != "<<" or key.style is not None:
                continue
            sources = value.items if value.kind == "seq" else [value]
            for source in sources:
                target = self.anchors.get(source.value) if source.kind == "alias" else source
                if target is None or target.kind != "map":
                    continue
                if _find_key(target, name) is not None or self._inherited(target, name, depth + 1):
                    return True
        return False

    # -- rendering helpers --------------------------------------------------------------------

    def _scalar(self, *, flow: bool) -> str:
        return render_scalar(self.value, flow=flow, newline=self.newline)

    def _flow_value(self, parts: Sequence[KeyPart]) -> str:
        if not parts:
            return self._scalar(flow=True)
        return "{" + self._flow_pair(parts) + "}"

    def _flow_pair(self, parts: Sequence[KeyPart]) -> str:
        return render_key(parts[0].name, flow=True) + ": " + self._flow_value(parts[1:])

    def _block_lines(self, parts: Sequence[KeyPart], column: int) -> list[str]:
        lines: list[str] = []
        last = len(parts) - 1
        for depth, part in enumerate(parts):
            pad = " " * (column + depth * self.indent.mapping)
            key = render_key(part.name)
            lines.append(
                f"{pad}{key}: {self._scalar(flow=False)}" if depth == last else f"{pad}{key}:"
            )
        return lines

    def _insert_lines(self, pos: int, lines: list[str]) -> str:
        text = self.text
        block = self.newline.join(lines) + self.newline
        if pos >= len(text) and text and not text.endswith("\n"):
            block = self.newline + block
        return text[:pos] + block + text[pos:]

    # -- edits --------------------------------------------------------------------------------

    def _insert_into_map(self, node: YNode, parts: Sequence[KeyPart]) -> str:
        if node.flow:
            return self._insert_into_flow(node, self._flow_pair(parts))
        column = first_key(node).column
        return self._insert_lines(
            _after_last_child(self.text, node), self._block_lines(parts, column)
        )

    def _append_to_seq(self, node: YNode, parts: Sequence[KeyPart]) -> str:
        if node.flow:
            item = self._flow_value(parts) if parts else self._scalar(flow=True)
            return self._insert_into_flow(node, item)
        dash = dash_column(self.text, node)
        first = node.items[0]
        if first.kind == "map" and not first.flow and first.pairs:
            content = first_key(first).column
        else:
            content = first.start - (self.text.rfind("\n", 0, first.start) + 1)
        gap = content - dash if content > dash else 2
        prefix = " " * dash + "-" + " " * (gap - 1)
        if parts:
            lines = self._block_lines(parts, dash + gap)
            lines[0] = prefix + lines[0].lstrip(" ")
        else:
            lines = [prefix + self._scalar(flow=False)]
        return self._insert_lines(_after_last_child(self.text, node), lines)

    def _insert_into_flow(self, node: YNode, item: str) -> str:
        text = self.text
        pos = node.close
        while pos > node.start and text[pos - 1] in " \t\r\n":
            pos -= 1
        has_items = bool(node.pairs or node.items)
        if has_items and text[pos - 1] != ",":
            item = ", " + item
        elif has_items:
            item = " " + item
        return text[:pos] + item + text[pos:]

    def _expand_null(
        self,
        node: YNode,
        container: YNode,
        parent_key: YNode | None,
        parts: Sequence[KeyPart],
    ) -> str:
        text = self.text
        if container.flow or container.kind != "map" or parent_key is None:
            if node.is_empty:
                raise self._error("cannot create keys under an empty value here")
            start = _value_start(text, node)
            end = _core_end(text, node)
            return text[:start] + self._flow_value(parts) + text[end:]
        if node.tag is not None:
            raise self._error(f"{_path_text(self.parts)} carries tag {node.tag}")
        edited = text
        if not node.is_empty:
            start = _value_start(text, node)
            end = _core_end(text, node)
            if start == node.start:
                while start > parent_key.end and edited[start - 1] in " \t":
                    start -= 1
            edited = text[:start] + text[end:]
        newline_at = edited.find("\n", parent_key.end)
        pos = len(edited) if newline_at < 0 else newline_at + 1
        lines = self._block_lines(parts, parent_key.column + self.indent.mapping)
        self.text = edited
        return self._insert_lines(pos, lines)

    def _replace(
        self, node: YNode, container: YNode | None, parent_key: YNode | None, *, flow: bool
    ) -> str:
        text = self.text
        if node.kind == "alias":
            rendered = render_scalar(self.value, flow=flow, newline=self.newline)
            return text[: node.start] + rendered + text[node.end :]
        if node.is_empty and node.anchor is None and node.tag is None:
            if container is None or container.kind != "map" or parent_key is None:
                raise self._error("cannot set an empty list item")
            colon = text.find(":", parent_key.end)
            if colon < 0:
                raise self._error("cannot find the ':' after the key")
            rendered = render_scalar(self.value, flow=flow, newline=self.newline)
            return text[: colon + 1] + " " + rendered + text[colon + 1 :]
        value_start = _value_start(text, node)
        prefix = text[node.start : value_start]
        if node.tag is not None and not (node.tag == _STR_TAG and isinstance(self.value, str)):
            if not node.tag.startswith(_CORE_TAG_PREFIX):
                raise self._error(f"the value carries the custom tag {node.tag}; not changing it")
            prefix = f"&{node.anchor} " if node.anchor else ""
        block_indent = None
        if node.style in ("|", ">"):
            block_indent = _block_content_indent(text, value_start)
        rendered = render_scalar(
            self.value,
            old_style=node.style,
            flow=flow,
            block_indent=block_indent,
            newline=self.newline,
        )
        if prefix and not prefix.endswith((" ", "\t", "\n")):
            prefix += " "
        return text[: node.start] + prefix + rendered + text[_core_end(text, node) :]


def _find_key(node: YNode, name: str) -> tuple[YNode, YNode] | None:
    for key, value in node.pairs:
        if (
            key.kind == "scalar"
            and key.value == name
            and not (key.value == "<<" and key.style is None)
        ):
            return key, value
    return None


def _value_start(text: str, node: YNode) -> int:
    """Index of a scalar's text after its anchor and tag."""
    pos = node.start
    if node.anchor is None and node.tag is None:
        return pos
    while pos < node.end and text[pos] in "&!":
        while pos < node.end and text[pos] not in " \t\r\n":
            pos += 1
        while pos < node.end and text[pos] in " \t\r\n":
            pos += 1
    return pos


def _core_end(text: str, node: YNode) -> int:
    """End of a node's text without trailing whitespace and line breaks."""
    return node.start + len(text[node.start : node.end].rstrip(" \t\r\n"))


def _last_leaf(node: YNode) -> YNode:
    while not node.flow and (node.pairs or node.items):
        node = node.pairs[-1][1] if node.kind == "map" else node.items[-1]
    return node


def _after_last_child(text: str, node: YNode) -> int:
    """Where a new line goes after a block collection's last child."""
    leaf = _last_leaf(node)
    keeps_breaks = leaf.kind == "scalar" and leaf.style in ("|", ">") and "+" in _header(text, leaf)
    end = node.end if keeps_breaks else _core_end(text, leaf)
    line_start = text.rfind("\n", 0, end) + 1
    if not text[line_start:end].strip():
        return line_start
    newline_at = text.find("\n", end)
    return len(text) if newline_at < 0 else newline_at + 1


def _header(text: str, node: YNode) -> str:
    start = _value_start(text, node)
    newline_at = text.find("\n", start)
    return text[start : newline_at if newline_at >= 0 else len(text)].split("#", maxsplit=1)[0]


def _block_content_indent(text: str, value_start: int) -> int | None:
    newline_at = text.find("\n", value_start)
    while newline_at >= 0:
        line_end = text.find("\n", newline_at + 1)
        line = text[newline_at + 1 : line_end if line_end >= 0 else len(text)].rstrip("\r")
        if line.strip():
            return len(line) - len(line.lstrip(" "))
        newline_at = line_end
    return None


# -- verification -----------------------------------------------------------------------------


def _verify(
    old_text: str, new_text: str, key: str, parts: Sequence[KeyPart], value: ScalarValue
) -> None:
    def fail(problem: str) -> YamlUpdateError:
        return YamlUpdateError(f"key {key!r}: the edit could not be made safely ({problem})")

    try:
        old_root = parse_document(old_text)
        new_root = parse_document(new_text)
    except YamlSyntaxError as exc:
        raise fail(str(exc)) from None
    if old_root is None or new_root is None:
        raise fail("document vanished")
    if not _same_shape(old_root, new_root, list(parts)):
        raise fail("other values would change")
    actual = _read_back(new_text, parts)
    if not _same_value(actual, value):
        raise fail(f"it reads back as {actual!r}")


def _exact(a: YNode, b: YNode) -> bool:
    if a.kind != b.kind or a.anchor != b.anchor:
        return False
    if a.kind == "scalar":
        return (a.value, a.style, a.tag) == (b.value, b.style, b.tag)
    if a.kind == "alias":
        return a.value == b.value
    if a.flow != b.flow or a.tag != b.tag:
        return False
    if len(a.pairs) != len(b.pairs) or len(a.items) != len(b.items):
        return False
    return all(
        _exact(ka, kb) and _exact(va, vb)
        for (ka, va), (kb, vb) in zip(a.pairs, b.pairs, strict=False)
    ) and all(_exact(x, y) for x, y in zip(a.items, b.items, strict=False))


def _chain(node: YNode, parts: Sequence[KeyPart]) -> bool:
    if not parts:
        return node.kind == "scalar"
    return (
        node.kind == "map"
        and len(node.pairs) == 1
        and node.pairs[0][0].kind == "scalar"
        and node.pairs[0][0].value == parts[0].name
        and _chain(node.pairs[0][1], parts[1:])
    )


def _same_shape(a: YNode, b: YNode, parts: list[KeyPart]) -> bool:
    if not parts:
        return b.kind == "scalar" and (a.kind == "alias" or a.anchor == b.anchor)
    part = parts[0]
    if a.kind == "map":
        if b.kind != "map" or a.flow != b.flow:
            return False
        found = _find_key(a, part.name)
        if found is None:
            if len(b.pairs) != len(a.pairs) + 1:
                return False
            new_key, new_value = b.pairs[-1]
            return (
                all(
                    _exact(ka, kb) and _exact(va, vb)
                    for (ka, va), (kb, vb) in zip(a.pairs, b.pairs, strict=False)
                )
                and new_key.kind == "scalar"
                and new_key.value == part.name
                and _chain(new_value, parts[1:])
            )
        if len(a.pairs) != len(b.pairs):
            return False
        for (ka, va), (kb, vb) in zip(a.pairs, b.pairs, strict=False):
            if not _exact(ka, kb):
                return False
            if ka is found[0]:
                if not _same_shape(va, vb, parts[1:]):
                    return False
            elif not _exact(va, vb):
                return False
        return True
    if a.kind == "seq":
        if b.kind != "seq" or a.flow != b.flow:
            return False
        index = part.index()
        if index is not None and 0 <= index < len(a.items):
            return len(a.items) == len(b.items) and all(
                _same_shape(x, y, parts[1:]) if i == index else _exact(x, y)
                for i, (x, y) in enumerate(zip(a.items, b.items, strict=False))
            )
        return (
            len(b.items) == len(a.items) + 1
            and all(_exact(x, y) for x, y in zip(a.items, b.items, strict=False))
            and _chain(b.items[-1], parts[1:])
        )
    if a.is_null:
        return b.anchor == a.anchor and _chain(b, parts)
    return False


def _read_back(text: str, parts: Sequence[KeyPart]) -> Any:
    yaml = YAML(typ="safe", pure=True)
    try:
        documents = list(yaml.compose_all(text))
    except YAMLError as exc:
        return _Unreadable(str(exc))
    node: Node | None = documents[0] if documents else None
    for part in parts:
        if isinstance(node, MappingNode):
            node = next(
                (v for k, v in node.value if isinstance(k, ScalarNode) and k.value == part.name),
                None,
            )
        elif isinstance(node, SequenceNode):
            index = part.index()
            if index is None or not node.value:
                return _Unreadable("no such item")
            node = node.value[-1] if index == -1 or index >= len(node.value) else node.value[index]
        else:
            return _Unreadable("no such key")
    if node is None:
        return _Unreadable("no such key")
    try:
        return yaml.constructor.construct_object(node, deep=True)
    except YAMLError as exc:
        return _Unreadable(str(exc))


class _Unreadable:
    def __init__(self, reason: str) -> None:
        self.reason = reason

    def __repr__(self) -> str:
        return f"<unreadable: {self.reason}>"


def _same_value(actual: Any, expected: ScalarValue) -> bool:
    if type(actual) is not type(expected):
        return False
    if isinstance(expected, float) and math.isnan(expected):
        return isinstance(actual, float) and math.isnan(actual)
    return bool(actual == expected)
