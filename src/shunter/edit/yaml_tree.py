"""A position-aware view of a YAML document, built from ruamel.yaml's parser events.

Owns :func:`parse_document` (the first document of a text as a tree of :class:`YNode` that
records, for every node, where it starts and ends in the text, its style, anchor and tag) and
:func:`detect_indentation` (the mapping indent, sequence indent and dash offset a file uses,
in the terms of ``ruamel.yaml.YAML.indent``).

Editing steps use the positions to change a value in place, so everything they do not touch
(comments, blank lines, quoting, anchors, line wrapping) stays byte-for-byte the same.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Literal

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError
from ruamel.yaml.events import (
    AliasEvent,
    DocumentEndEvent,
    Event,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
)

__all__ = [
    "NULL_TEXTS",
    "Indentation",
    "YNode",
    "YamlSyntaxError",
    "detect_indentation",
    "parse_document",
]

NodeKind = Literal["scalar", "map", "seq", "alias"]

#: Plain scalars that mean null.
NULL_TEXTS = frozenset({"", "~", "null", "Null", "NULL"})


class YamlSyntaxError(ValueError):
    """The text is not valid YAML."""


@dataclass(eq=False)
class YNode:
    """One node occurrence of a YAML document, with its place in the text."""

    kind: NodeKind
    #: Index of the node's first character (its anchor or tag when it has one).
    start: int
    #: Index just past the node's last character (for a block collection: its last child's end).
    end: int
    line: int
    column: int
    anchor: str | None = None
    tag: str | None = None
    #: Scalar style: None (plain), ``'``, ``"``, ``|`` or ``>``.
    style: str | None = None
    #: Scalar text, or the anchor an alias refers to.
    value: str = ""
    #: Flow collection (``{}`` / ``[]``) rather than block.
    flow: bool = False
    #: Flow collection: index of the closing bracket.
    close: int = -1
    pairs: list[tuple[YNode, YNode]] = field(default_factory=list)
    items: list[YNode] = field(default_factory=list)

    @property
    def is_null(self) -> bool:
        """A plain, untagged scalar that means null (``key:``, ``~``, ``null``)."""
        return (
            self.kind == "scalar"
            and self.style is None
            and self.tag is None
            and self.value in NULL_TEXTS
        )

    @property
    def is_empty(self) -> bool:
        """An empty plain scalar (``key:`` with nothing after it)."""
        return self.kind == "scalar" and self.style is None and self.value == ""


def _node_from_event(event: Event, kind: NodeKind) -> YNode:
    mark = event.start_mark
    node = YNode(
        kind=kind,
        start=mark.index,
        end=event.end_mark.index,
        line=mark.line,
        column=mark.column,
        anchor=getattr(event, "anchor", None),
    )
    if kind != "alias":
        tag = getattr(event, "tag", None)
        node.tag = None if tag is None else str(tag)
    return node


def _events(text: str) -> list[Event]:
    """The parser events of the first document (raises YamlSyntaxError)."""
    out: list[Event] = []
    try:
        for event in YAML(typ="rt").parse(text):
            out.append(event)
            if isinstance(event, DocumentEndEvent):
                break
    except YAMLError as exc:
        raise YamlSyntaxError(f"invalid YAML: {exc}") from None
    return out


def parse_document(text: str) -> YNode | None:
    """The first document of ``text`` as a tree (None when the text has no document)."""
    root: YNode | None = None
    stack: list[YNode] = []
    pending_keys: list[YNode | None] = []

    def attach(node: YNode) -> None:
        nonlocal root
        if not stack:
            root = node
            return
        parent = stack[-1]
        if parent.kind == "seq":
            parent.items.append(node)
            return
        key = pending_keys[-1]
        if key is None:
            pending_keys[-1] = node
        else:
            parent.pairs.append((key, node))
            pending_keys[-1] = None

    for event in _events(text):
        if isinstance(event, ScalarEvent):
            node = _node_from_event(event, "scalar")
            node.style = event.style
            node.value = event.value
            attach(node)
        elif isinstance(event, AliasEvent):
            node = _node_from_event(event, "alias")
            node.value = event.anchor or ""
            node.anchor = None
            attach(node)
        elif isinstance(event, (MappingStartEvent, SequenceStartEvent)):
            kind: NodeKind = "map" if isinstance(event, MappingStartEvent) else "seq"
            node = _node_from_event(event, kind)
            node.flow = bool(event.flow_style)
            attach(node)
            stack.append(node)
            pending_keys.append(None)
        elif isinstance(event, (MappingEndEvent, SequenceEndEvent)):
            node = stack.pop()
            pending_keys.pop()
            if node.flow:
                node.close = event.start_mark.index
                node.end = event.end_mark.index
            else:
                last = node.pairs[-1][1] if node.kind == "map" else node.items[-1]
                node.end = max(last.end, node.start)
    return root


def first_key(node: YNode) -> YNode:
    """The first key of a non-empty mapping."""
    return node.pairs[0][0]


def dash_column(text: str, seq: YNode) -> int:
    """Column of the ``-`` of a non-empty block sequence."""
    dash = text.rfind("-", 0, seq.items[0].start)
    dash = max(dash, seq.start)
    return dash - (text.rfind("\n", 0, dash) + 1)


@dataclass(frozen=True)
class Indentation:
    """Indentation of a YAML file, as ``ruamel.yaml.YAML.indent`` takes it."""

    #: Columns a nested mapping's keys sit to the right of their parent key.
    mapping: int = 2
    #: Columns a sequence item's content sits to the right of the parent key.
    sequence: int = 2
    #: Columns the ``-`` sits to the right of the parent key.
    offset: int = 0


def _walk(node: YNode) -> list[YNode]:
    out = [node]
    for key, value in node.pairs:
        out.extend(_walk(key))
        out.extend(_walk(value))
    for item in node.items:
        out.extend(_walk(item))
    return out


def _content_column(text: str, node: YNode) -> int:
    if node.kind == "map" and not node.flow and node.pairs:
        return first_key(node).column
    start = node.start
    return start - (text.rfind("\n", 0, start) + 1)


def detect_indentation(text: str, root: YNode | None = None) -> Indentation:
    """The indentation ``text`` uses most (defaults 2/2/0 where the file shows none)."""
    if root is None:
        try:
            root = parse_document(text)
        except YamlSyntaxError:
            return Indentation()
    if root is None:
        return Indentation()
    mapping: Counter[int] = Counter()
    sequence: Counter[tuple[int, int]] = Counter()
    for node in _walk(root):
        if node.kind == "map" and not node.flow:
            for key, value in node.pairs:
                if value.flow or value.kind not in ("map", "seq"):
                    continue
                if value.kind == "map" and value.pairs:
                    step = first_key(value).column - key.column
                    if step > 0:
                        mapping[step] += 1
                elif value.kind == "seq" and value.items:
                    dash = dash_column(text, value) - key.column
                    content = _content_column(text, value.items[0]) - key.column
                    if dash >= 0 and content > dash:
                        sequence[(content, dash)] += 1
    indent_map = mapping.most_common(1)[0][0] if mapping else 2
    if sequence:
        (seq_indent, offset), _ = sequence.most_common(1)[0]
    else:
        seq_indent, offset = 2, 0
    return Indentation(mapping=indent_map, sequence=seq_indent, offset=offset)
