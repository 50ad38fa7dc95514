"""Render Python scalars as YAML text that reads back as the same value and type.

Owns :func:`render_scalar` (a value for an existing or new node, keeping the old node's quote
style for strings when it can), :func:`render_key` and :func:`plain_is_safe`. A string is
written plain only when both YAML 1.2 and YAML 1.1 readers (Helm reads values with a YAML 1.1
parser) would read it back as that same string; otherwise it is quoted, so ``"1.0"``,
``"true"``, ``"yes"``, ``"0755"`` or ``"2024-01-02"`` stay strings.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

__all__ = [
    "ScalarValue",
    "double_quoted",
    "plain_is_safe",
    "render_key",
    "render_plain_value",
    "render_scalar",
    "single_quoted",
]

ScalarValue = str | bool | int | float | None

_YAML_11 = "%YAML 1.1\n---\n"


def _printable(char: str) -> bool:
    code = ord(char)
    if char in "\t\n\r":
        return True
    if code < 0x20 or code == 0x7F or 0x80 <= code <= 0x9F:
        return False
    if 0xD800 <= code <= 0xDFFF or code in (0xFEFF, 0xFFFE, 0xFFFF):
        return False
    return code not in (0x2028, 0x2029)


def _load(text: str) -> Any:
    return YAML(typ="safe", pure=True).load(text)


@lru_cache(maxsize=1024)
def plain_is_safe(text: str, *, flow: bool = False, key: bool = False) -> bool:
    """Whether ``text`` may be written as a plain scalar and read back as the same string."""
    if not text or text != text.strip() or any(c in text for c in "\n\r\t"):
        return False
    if not all(_printable(c) for c in text):
        return False
    if key:
        doc = "{" + text + ": x}" if flow else text + ": x\n"
        expected: Any = {text: "x"}
    else:
        doc = "[" + text + "]" if flow else "k: " + text + "\n"
        expected = [text] if flow else {"k": text}
    for prefix in ("", _YAML_11):
        try:
            loaded = _load(prefix + doc)
        except (YAMLError, ValueError, TypeError):
            return False
        if loaded != expected:
            return False
        values = loaded.keys() if key else (loaded if flow else loaded.values())
        if not all(type(v) is str for v in values):
            return False
    return True


_ESCAPES = {
    "\\": "\\\\",
    '"': '\\"',
    "\n": "\\n",
    "\t": "\\t",
    "\r": "\\r",
    "\0": "\\0",
    "\a": "\\a",
    "\b": "\\b",
    "\v": "\\v",
    "\f": "\\f",
    "\x1b": "\\e",
}


def double_quoted(text: str) -> str:
    """A YAML double-quoted scalar (escaping backslash, quote and non-printable characters)."""
    out = ['"']
    for char in text:
        escaped = _ESCAPES.get(char)
        if escaped is not None:
            out.append(escaped)
        elif _printable(char):
            out.append(char)
        elif ord(char) <= 0xFF:
            out.append(f"\\x{ord(char):02x}")
        elif ord(char) <= 0xFFFF:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(f"\\U{ord(char):08x}")
    out.append('"')
    return "".join(out)


def single_quoted(text: str) -> str | None:
    """A YAML single-quoted scalar, or None when the text cannot be one on a single line."""
    if any(c in text for c in "\n\r") or not all(_printable(c) for c in text):
        return None
    return "'" + text.replace("'", "''") + "'"


def _render_float(value: float) -> str:
    if math.isnan(value):
        return ".nan"
    if math.isinf(value):
        return ".inf" if value > 0 else "-.inf"
    text = repr(value)
    if "e" in text and "." not in text.split("e")[0]:
        mantissa, exponent = text.split("e")
        text = f"{mantissa}.0e{exponent}"
    return text


def render_plain_value(value: ScalarValue) -> str | None:
    """Text of a non-string scalar (None for strings)."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _render_float(value)
    return None


def render_key(name: str, *, flow: bool = False) -> str:
    """A mapping key: plain when that reads back as the same string, else double-quoted."""
    if plain_is_safe(name, flow=flow, key=True):
        return name
    return double_quoted(name)


def _literal_block(text: str, indent: int, newline: str) -> str | None:
    """A ``|`` block scalar whose content lines sit at ``indent`` columns, or None."""
    if not all(_printable(c) for c in text) or "\r" in text or "\t" in text:
        return None
    body = text.rstrip("\n")
    trailing = len(text) - len(body)
    if not body or body[0] in " \n" or any(line.startswith(" ") for line in body.split("\n")):
        return None
    chomp = "-" if trailing == 0 else ("" if trailing == 1 else "+")
    if chomp == "+":
        return None
    pad = " " * indent
    lines = [(pad + line) if line else "" for line in body.split("\n")]
    return "|" + chomp + newline + newline.join(lines)


def render_scalar(
    value: ScalarValue,
    *,
    old_style: str | None = None,
    flow: bool = False,
    block_indent: int | None = None,
    newline: str = "\n",
) -> str:
    """YAML text for ``value`` where a node of style ``old_style`` was (None: plain or new).

    Strings keep a quoted node's quote style; a multi-line string replacing a block scalar
    stays a ``|`` block (content at ``block_indent``); otherwise a string is plain when safe
    and double-quoted when not. Other scalars are written plain, so their type is kept.
    """
    plain = render_plain_value(value)
    if plain is not None:
        return plain
    if not isinstance(value, str):
        raise TypeError(f"not a YAML scalar: {type(value).__name__}")
    if old_style == "'":
        quoted = single_quoted(value)
        if quoted is not None:
            return quoted
    elif old_style == '"':
        return double_quoted(value)
    elif old_style in ("|", ">") and "\n" in value and block_indent is not None and not flow:
        block = _literal_block(value, block_indent, newline)
        if block is not None:
            return block
    if plain_is_safe(value, flow=flow):
        return value
    return double_quoted(value)
