"""Commit-message fragments in the format Kargo's update steps produce.

Owns :func:`update_commit_message` (``Updated <path>`` then one ``- <key>: <value>`` line per
update, for yaml-update and json-update) and :func:`yaml_quote_if_necessary`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Literal

from shunter.expressions.values import go_quote, go_sprint, parse_go_bool, parse_go_float

__all__ = ["update_commit_message", "yaml_quote_if_necessary"]


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def yaml_quote_if_necessary(value: Any) -> str:
    """Go-quote a string a YAML reader would take for a number, a bool or JSON; else as is."""
    if not isinstance(value, str):
        return go_sprint(value)
    if parse_go_float(value) is not None or parse_go_bool(value) is not None or _is_json(value):
        return go_quote(value)
    return value


def update_commit_message(
    path: str, updates: Sequence[tuple[str, Any]], *, style: Literal["yaml", "json"]
) -> str:
    """``Updated <path>`` + a blank line + ``- key: value`` per update (no trailing newline)."""
    lines = [f"Updated {path}", ""]
    for key, value in updates:
        if style == "yaml":
            shown = yaml_quote_if_necessary(value)
        else:
            shown = go_quote(value) if isinstance(value, str) else go_sprint(value)
        lines.append(f"- {key}: {shown}")
    return "\n".join(lines)
