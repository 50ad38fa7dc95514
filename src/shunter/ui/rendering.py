"""The jinja2 environment of the UI: templates shipped in the package, autoescape always on.

Every value a page shows comes from the API (names, aliases, annotations, step messages) and is
escaped by jinja2: a Freight alias holding ``<script>`` is shown as text. There is no ``|safe``
in the templates. The filters format times and durations for people; the browser turns the
machine-readable ``<time datetime>`` values into "3 minutes ago" and keeps them current.
"""

from __future__ import annotations

from datetime import datetime

import jinja2

from shunter.ui.views import parse_time

__all__ = ["environment"]


def _when(value: object) -> str:
    when = parse_time(value)
    return when.strftime("%Y-%m-%d %H:%M:%S UTC") if when else ""


def _duration(start: object, end: object = None) -> str:
    began = parse_time(start)
    if began is None:
        return ""
    ended = parse_time(end)
    if ended is None:
        return ""
    return _seconds((ended - began).total_seconds())


def _seconds(total: float) -> str:
    total = max(0, int(total))
    if total < 60:
        return f"{total}s"
    minutes, seconds = divmod(total, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def _short(value: object, length: int = 7) -> str:
    text = value if isinstance(value, str) else ""
    if text.startswith("sha256:"):
        return text[: 7 + 12]
    return text[:length]


def _lower(value: object) -> str:
    return value.lower() if isinstance(value, str) else ""


def _iso(value: datetime | None) -> str:
    return value.isoformat() if value else ""


def environment() -> jinja2.Environment:
    """The environment rendering the package's templates."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("shunter.ui", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        enable_async=False,
    )
    env.filters["when"] = _when
    env.filters["duration"] = _duration
    env.filters["short"] = _short
    env.filters["css_class"] = _lower
    env.filters["iso"] = _iso
    return env
