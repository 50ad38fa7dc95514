"""Turn a step config's pydantic ``ValidationError`` into a message that names the key.

Examples: ``config: unknown key "foo"``, ``config.path: required``,
``config.checkout[0].branch: Input should be a valid string``.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import ValidationError

__all__ = ["describe_validation_error"]


def _location(loc: Sequence[int | str]) -> str:
    text = "config"
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text


def describe_validation_error(error: ValidationError) -> str:
    """One ``<location>: <problem>`` line per error, joined with ``; ``."""
    lines: list[str] = []
    for item in error.errors(include_url=False, include_input=False):
        loc = tuple(item.get("loc", ()))
        kind = item.get("type", "")
        if kind == "extra_forbidden" and loc:
            lines.append(f'{_location(loc[:-1])}: unknown key "{loc[-1]}"')
        elif kind == "missing":
            lines.append(f"{_location(loc)}: required")
        else:
            lines.append(f"{_location(loc)}: {item.get('msg', 'invalid value')}")
    return "; ".join(lines) or "config: invalid"
