"""Go ``time.Duration`` strings as step ``retry.timeout`` uses them (``5m``, ``1h30m``, ``1.5s``).

Owns :func:`parse_go_duration` and :func:`format_go_duration` (Go's ``Duration.String()``, so
messages read ``timed out after 5m0s`` as Kargo's do).
"""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

__all__ = ["format_go_duration", "parse_go_duration"]

_UNITS_NS: dict[str, int] = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    "μs": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60 * 1_000_000_000,
    "h": 3600 * 1_000_000_000,
}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)", re.ASCII)


def parse_go_duration(text: str) -> timedelta:
    """Parse ``[-+]?(<number><unit>)+`` or ``0``; raise ValueError when it is not one."""
    raw = text.strip()
    sign = 1
    if raw[:1] in ("+", "-"):
        sign = -1 if raw[0] == "-" else 1
        raw = raw[1:]
    if raw == "0":
        return timedelta(0)
    if not raw:
        raise ValueError(f"invalid duration {text!r}")
    total = Decimal(0)
    pos = 0
    while pos < len(raw):
        match = _PART.match(raw, pos)
        if match is None:
            raise ValueError(f"invalid duration {text!r}")
        total += Decimal(match.group(1)) * _UNITS_NS[match.group(2)]
        pos = match.end()
    micros = int(total / 1000)
    try:
        return timedelta(microseconds=sign * micros)
    except OverflowError:
        raise ValueError(f"invalid duration {text!r}: out of range") from None


def format_go_duration(value: timedelta) -> str:
    """Go's ``Duration.String()``: ``5m0s``, ``1h30m0s``, ``1.5s``, ``300ms``, ``0s``."""
    ns = (value.days * 86_400 + value.seconds) * 1_000_000_000 + value.microseconds * 1_000
    if ns == 0:
        return "0s"
    sign = "-" if ns < 0 else ""
    ns = abs(ns)
    if ns < 1_000_000_000:
        for unit, size in (("ms", 1_000_000), ("µs", 1_000), ("ns", 1)):
            if ns >= size:
                return sign + _fraction(ns, size) + unit
    hours, rest = divmod(ns, 3600 * 1_000_000_000)
    minutes, rest = divmod(rest, 60 * 1_000_000_000)
    seconds = _fraction(rest, 1_000_000_000) + "s"
    if hours:
        return f"{sign}{hours}h{minutes}m{seconds}"
    if minutes:
        return f"{sign}{minutes}m{seconds}"
    return sign + seconds


def _fraction(value: int, scale: int) -> str:
    whole, frac = divmod(value, scale)
    if not frac:
        return str(whole)
    digits = str(frac).rjust(len(str(scale)) - 1, "0").rstrip("0")
    return f"{whole}.{digits}"
