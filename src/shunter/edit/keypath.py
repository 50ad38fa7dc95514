"""Key paths of the ``*-update`` steps: ``general.lmsImageTag``, ``a\\.b.c``, ``list.0.name``.

Owns :func:`split_key`, Kargo's (sjson-flavoured) key syntax:

* ``.`` separates parts; ``\\.`` is a literal dot and ``\\:`` a literal colon;
* a part made of digits addresses a list item when the node it applies to is a list
  (``-1`` appends), and is an ordinary key in a mapping;
* a part that starts with an unescaped ``:`` is always a mapping key (``:0`` is the key ``"0"``);
* empty parts, a dangling ``\\`` and any other escape are errors.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["KeyPart", "KeyPathError", "split_key"]


class KeyPathError(ValueError):
    """A key path does not follow the syntax."""


@dataclass(frozen=True, slots=True)
class KeyPart:
    """One part of a key path."""

    name: str
    #: ``False`` when the part was written ``:name`` (never a list index).
    may_index: bool = True

    def index(self) -> int | None:
        """The list index this part names (``-1`` = append), or None when it is not one."""
        if not self.may_index:
            return None
        text = self.name
        if text == "-1":
            return -1
        if text.isascii() and text.isdigit():
            return int(text)
        return None


def split_key(key: str) -> list[KeyPart]:
    """Split a key path into parts (raises :class:`KeyPathError`)."""
    text = key.strip()
    if not text:
        raise KeyPathError("empty key")
    parts: list[KeyPart] = []
    current: list[str] = []
    forced_key = False
    escaped = False
    for char in text:
        if escaped:
            if char not in ".:":
                raise KeyPathError(f"invalid escape sequence \\{char} in key {key!r}")
            current.append(char)
            escaped = False
            continue
        if char == "\\":
            escaped = True
        elif char == ".":
            if not current:
                raise KeyPathError(f"empty key part in key {key!r}")
            parts.append(KeyPart("".join(current), may_index=not forced_key))
            current = []
            forced_key = False
        elif char == ":":
            if current or forced_key:
                raise KeyPathError(f"unexpected colon in key {key!r}")
            forced_key = True
        else:
            current.append(char)
    if escaped:
        raise KeyPathError(f"key {key!r} ends with a lone backslash")
    if not current:
        raise KeyPathError(f"empty key part in key {key!r}")
    parts.append(KeyPart("".join(current), may_index=not forced_key))
    return parts
