"""Set values in TOML text by key path, changing nothing else.

Owns :func:`set_toml_values` and :func:`toml_value_text`. The document is edited through
tomlkit, which keeps comments, blank lines, key order and the layout of every untouched line;
an edited value keeps its end-of-line comment, and a literal string (``'...'``) stays literal
when the new value can be written that way.

Rules (Kargo's): the key path (:mod:`shunter.edit.keypath`) must lead to an existing value
that is a scalar (string, integer, float, boolean, date/time); numeric parts index arrays and
arrays of tables (``servers.1.host``). A missing key, an index out of range and a path that
addresses a table or an array are errors. After the edits the new text is parsed with
``tomllib`` and must equal the old document with exactly the updated values changed;
otherwise nothing is written.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Sequence
from typing import Any

import tomlkit
from tomlkit.exceptions import TOMLKitError
from tomlkit.items import Item, String, StringType

from shunter.edit.keypath import KeyPart, KeyPathError, split_key

__all__ = ["TomlScalar", "TomlUpdateError", "set_toml_values", "toml_value_text"]

#: Values an update may set (TOML has no null).
TomlScalar = str | bool | int | float


class TomlUpdateError(ValueError):
    """An update cannot be applied to the document."""


def _needs_basic(text: str) -> bool:
    return "'" in text or any((ord(c) < 0x20 and c != "\t") or ord(c) == 0x7F for c in text)


def _basic(text: str) -> str:
    out = ['"']
    for char in text:
        if char in '"\\':
            out.append("\\" + char)
        elif char == "\n":
            out.append("\\n")
        elif char == "\t":
            out.append("\\t")
        elif char == "\r":
            out.append("\\r")
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04X}")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def toml_value_text(value: TomlScalar) -> str:
    """``value`` written as go-toml writes it (strings ``'literal'`` when possible)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    return _basic(value) if _needs_basic(value) else f"'{value}'"


def _new_item(old: Any, value: TomlScalar) -> Item:
    if isinstance(value, str) and isinstance(old, String):
        literal = old.type is StringType.SLL and not _needs_basic(value)
        return tomlkit.string(value, literal=literal)
    return tomlkit.item(value)


def _is_container(node: Any) -> bool:
    return isinstance(node, (dict, list))


def _kind(node: Any) -> str:
    return "a table" if isinstance(node, dict) else "an array"


def _path_text(parts: Sequence[KeyPart]) -> str:
    return ".".join(p.name.replace(".", "\\.") for p in parts) or "<root>"


def _step(node: Any, part: KeyPart, parts: Sequence[KeyPart], i: int, key: str) -> Any:
    here = _path_text(parts[:i])
    if isinstance(node, list):
        index = part.index()
        if index is None:
            raise TomlUpdateError(
                f"key {key!r}: {here} is an array and {part.name!r} is not an index"
            )
        if not 0 <= index < len(node):
            raise TomlUpdateError(
                f"key {key!r}: index {index} is out of range for {here} ({len(node)} items)"
            )
        return index
    if isinstance(node, dict):
        if part.name not in node:
            raise TomlUpdateError(f"key {key!r}: key path not found")
        return part.name
    raise TomlUpdateError(f"key {key!r}: {here} is a scalar, it has no key {part.name!r}")


def _apply(document: Any, key: str, value: TomlScalar, *, plain: bool = False) -> None:
    try:
        parts = split_key(key)
    except KeyPathError as exc:
        raise TomlUpdateError(str(exc)) from None
    node = document
    for i, part in enumerate(parts[:-1]):
        node = node[_step(node, part, parts, i, key)]
    last = _step(node, parts[-1], parts, len(parts) - 1, key)
    old = node[last]
    if _is_container(old):
        raise TomlUpdateError(f"key {key!r}: it addresses {_kind(old)}, not a scalar")
    node[last] = value if plain else _new_item(old, value)


def _comparable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _comparable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_comparable(v) for v in value]
    if isinstance(value, float) and math.isnan(value):
        return ("nan",)
    return (type(value).__name__, value)


def set_toml_values(text: str, updates: Sequence[tuple[str, TomlScalar]]) -> str:
    """``text`` with every ``(key, value)`` update applied in order."""
    try:
        expected = tomllib.loads(text)
        document = tomlkit.parse(text)
    except (tomllib.TOMLDecodeError, TOMLKitError) as exc:
        raise TomlUpdateError(f"invalid TOML: {exc}") from None
    if tomlkit.dumps(document) != text:
        raise TomlUpdateError("the file cannot be edited without changing its layout")
    for key, value in updates:
        _apply(document, key, value)
        _apply(expected, key, value, plain=True)
    new_text = tomlkit.dumps(document)
    try:
        actual = tomllib.loads(new_text)
    except tomllib.TOMLDecodeError as exc:
        raise TomlUpdateError(f"the edit could not be made safely ({exc})") from None
    if _comparable(actual) != _comparable(expected):
        raise TomlUpdateError("the edit could not be made safely (other values would change)")
    return new_text
