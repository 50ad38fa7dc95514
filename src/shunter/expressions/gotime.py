"""Time values for expr-lang's date builtins: `GoTime`, `GoDuration`, `GoLocation`.

Owns ``now()``, ``duration()``, ``date()`` and ``timezone()`` values and their methods, modelled
on Go's ``time`` package as expr-lang exposes it: ``now().Year()``, ``date("2024-01-02")``,
``createdAt + duration("1h")``, ``t.Format("2006-01-02")``, comparisons, and ``t1 - t2``
(a duration). JSON renders a time as RFC 3339 with nanoseconds trimmed and a duration as
integer nanoseconds, as Go's ``encoding/json`` does.

Simplifications (documented): times have microsecond precision; Go layouts are supported for the
common elements (``2006 06 01 1 Jan January 02 2 _2 15 03 3 04 4 05 5 PM pm Mon Monday MST
-0700 -07:00 -07 Z0700 Z07:00 Z07 .000 .999`` and friends); ``Month()`` and ``Weekday()``
return integers (Go's named types print as names with ``%v``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from shunter.expressions.errors import FunctionError
from shunter.expressions.values import Comparable, ExprObject, is_number

__all__ = [
    "GoDuration",
    "GoLocation",
    "GoTime",
    "date",
    "duration",
    "now",
    "parse_duration",
    "timezone_",
]

_NS_PER_US = 1_000
_UNITS = {
    "ns": 1,
    "us": 1_000,
    "\u00b5s": 1_000,
    "\u03bcs": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}
_DURATION_PART = re.compile(r"(\d*)(?:\.(\d*))?([a-zA-Z\u00b5\u03bc]+)")
_MAX_DURATION = 2**63 - 1


def parse_duration(text: str) -> int:
    """``time.ParseDuration``: nanoseconds, or FunctionError."""
    original = text
    sign = 1
    if text[:1] in "+-":
        sign = -1 if text[0] == "-" else 1
        text = text[1:]
    if text == "0":
        return 0
    if not text:
        raise FunctionError(f"time: invalid duration {original!r}")
    total = 0
    pos = 0
    while pos < len(text):
        match = _DURATION_PART.match(text, pos)
        if match is None or (not match.group(1) and not match.group(2)):
            raise FunctionError(f"time: invalid duration {original!r}")
        whole, frac, unit = match.groups()
        scale = _UNITS.get(unit)
        if scale is None:
            raise FunctionError(f"time: unknown unit {unit!r} in duration {original!r}")
        amount = int(whole or "0") * scale
        if frac:
            amount += int(frac) * scale // (10 ** len(frac))
        total += amount
        if total > _MAX_DURATION:
            raise FunctionError(f"time: invalid duration {original!r}")
        pos = match.end()
    return sign * total


def _format_duration(ns: int) -> str:
    """``time.Duration.String``."""
    if ns == 0:
        return "0s"
    negative = ns < 0
    value = abs(ns)
    if value < 1_000_000_000:
        for unit, scale in (("ns", 1), ("\u00b5s", 1_000), ("ms", 1_000_000)):
            if value < scale * 1000:
                text = _trim_fraction(value, scale) + unit
                return "-" + text if negative else text
    hours, rest = divmod(value, 3_600_000_000_000)
    minutes, rest = divmod(rest, 60_000_000_000)
    text = _trim_fraction(rest, 1_000_000_000) + "s"
    if hours or minutes:
        text = f"{minutes}m" + text
    if hours:
        text = f"{hours}h" + text
    return "-" + text if negative else text


def _trim_fraction(value: int, scale: int) -> str:
    whole, frac = divmod(value, scale)
    if not frac:
        return str(whole)
    width = len(str(scale)) - 1
    return f"{whole}." + f"{frac:0{width}d}".rstrip("0")


class GoDuration(ExprObject, Comparable):
    """A ``time.Duration`` (integer nanoseconds)."""

    __slots__ = ("ns",)

    def __init__(self, ns: int) -> None:
        self.ns = ns

    @property
    def expr_type_name(self) -> str:
        return "time.Duration"

    def expr_method(self, name: str, args: Sequence[Any]) -> Any:
        methods: dict[str, Callable[[], Any]] = {
            "Hours": lambda: self.ns / 3_600_000_000_000,
            "Minutes": lambda: self.ns / 60_000_000_000,
            "Seconds": lambda: self.ns / 1_000_000_000,
            "Milliseconds": lambda: int(self.ns / 1_000_000),
            "Microseconds": lambda: int(self.ns / 1_000),
            "Nanoseconds": lambda: self.ns,
            "String": lambda: _format_duration(self.ns),
            "Abs": lambda: GoDuration(abs(self.ns)),
        }
        method = methods.get(name)
        if method is None:
            raise KeyError(name)
        _no_args(name, args)
        return method()

    def expr_json(self) -> Any:
        return self.ns

    def expr_str(self) -> str:
        return _format_duration(self.ns)

    def expr_equal(self, other: Any) -> bool:
        return isinstance(other, GoDuration) and other.ns == self.ns

    def compare_to(self, other: Any) -> int | None:
        if isinstance(other, GoDuration):
            return (self.ns > other.ns) - (self.ns < other.ns)
        return None

    def __repr__(self) -> str:
        return f"GoDuration({_format_duration(self.ns)})"


class GoLocation(ExprObject):
    """A ``*time.Location`` from ``timezone(name)``."""

    __slots__ = ("name", "tz")

    def __init__(self, name: str, tz: Any) -> None:
        self.name = name
        self.tz = tz

    @property
    def expr_type_name(self) -> str:
        return "*time.Location"

    def expr_method(self, name: str, args: Sequence[Any]) -> Any:
        if name == "String":
            _no_args(name, args)
            return self.name
        raise KeyError(name)

    def expr_json(self) -> Any:
        return {}

    def expr_str(self) -> str:
        return self.name


def _no_args(name: str, args: Sequence[Any]) -> None:
    if args:
        raise FunctionError(f"{name}() takes no arguments ({len(args)} given)")


def _offset_text(moment: datetime, colon: bool, seconds: bool = False) -> str:
    offset = moment.utcoffset() or timedelta(0)
    total = int(offset.total_seconds())
    sign = "-" if total < 0 else "+"
    total = abs(total)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    sep = ":" if colon else ""
    text = f"{sign}{hours:02d}{sep}{minutes:02d}"
    if seconds:
        text += f"{sep}{secs:02d}"
    return text


_LAYOUT_TOKENS = [
    "January",
    "Monday",
    "Jan",
    "Mon",
    "MST",
    "2006",
    "002",
    "__2",
    "_2",
    "01",
    "02",
    "03",
    "04",
    "05",
    "06",
    "15",
    "PM",
    "pm",
    "Z07:00:00",
    "-07:00:00",
    "Z070000",
    "-070000",
    "Z07:00",
    "-07:00",
    "Z0700",
    "-0700",
    "Z07",
    "-07",
    "1",
    "2",
    "3",
    "4",
    "5",
]
_FRACTION = re.compile(r"[.,](0+|9+)(?!\d)")


def _layout_chunks(layout: str) -> list[tuple[str, str]]:
    """Split a Go layout into ("lit", text) and ("tok", token) chunks."""
    chunks: list[tuple[str, str]] = []
    pos = 0
    literal: list[str] = []
    while pos < len(layout):
        fraction = _FRACTION.match(layout, pos)
        if fraction is not None and chunks and chunks[-1] in (("tok", "05"), ("tok", "5")):
            if literal:
                chunks.append(("lit", "".join(literal)))
                literal = []
            chunks.append(("frac", fraction.group(0)))
            pos = fraction.end()
            continue
        for token in _LAYOUT_TOKENS:
            if layout.startswith(token, pos):
                if literal:
                    chunks.append(("lit", "".join(literal)))
                    literal = []
                chunks.append(("tok", token))
                pos += len(token)
                break
        else:
            literal.append(layout[pos])
            pos += 1
    if literal:
        chunks.append(("lit", "".join(literal)))
    return chunks


_MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def _format_token(moment: datetime, token: str) -> str:
    hour12 = moment.hour % 12 or 12
    simple: dict[str, str] = {
        "January": _MONTHS[moment.month - 1],
        "Jan": _MONTHS[moment.month - 1][:3],
        "Monday": _DAYS[moment.weekday()],
        "Mon": _DAYS[moment.weekday()][:3],
        "MST": moment.tzname() or "UTC",
        "2006": f"{moment.year:04d}",
        "06": f"{moment.year % 100:02d}",
        "01": f"{moment.month:02d}",
        "1": str(moment.month),
        "02": f"{moment.day:02d}",
        "2": str(moment.day),
        "_2": f"{moment.day:2d}",
        "002": f"{moment.timetuple().tm_yday:03d}",
        "__2": f"{moment.timetuple().tm_yday:3d}",
        "15": f"{moment.hour:02d}",
        "03": f"{hour12:02d}",
        "3": str(hour12),
        "04": f"{moment.minute:02d}",
        "4": str(moment.minute),
        "05": f"{moment.second:02d}",
        "5": str(moment.second),
        "PM": "PM" if moment.hour >= 12 else "AM",
        "pm": "pm" if moment.hour >= 12 else "am",
    }
    if token in simple:
        return simple[token]
    is_utc = (moment.utcoffset() or timedelta(0)) == timedelta(0)
    if token.startswith("Z") and is_utc:
        return "Z"
    body = token[1:]
    colon = ":" in body
    with_seconds = body.count("0") >= 3 and len(body.replace(":", "")) == 6
    text = _offset_text(moment, colon, with_seconds)
    if body in ("07",):
        text = text[:3]
    return text


def _format(moment: datetime, layout: str) -> str:
    out: list[str] = []
    for kind, text in _layout_chunks(layout):
        if kind == "lit":
            out.append(text)
        elif kind == "frac":
            digits = len(text) - 1
            micro = f"{moment.microsecond:06d}000"[:digits]
            if text[1] == "9":
                micro = micro.rstrip("0")
                out.append(text[0] + micro if micro else "")
            else:
                out.append(text[0] + micro)
        else:
            out.append(_format_token(moment, text))
    return "".join(out)


_RFC3339_NANO = "2006-01-02T15:04:05.999999999Z07:00"
_GO_STRING = "2006-01-02 15:04:05.999999999 -0700 MST"


class GoTime(ExprObject, Comparable):
    """A ``time.Time`` (timezone-aware, microsecond precision)."""

    __slots__ = ("moment",)

    def __init__(self, moment: datetime) -> None:
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        self.moment = moment

    @property
    def expr_type_name(self) -> str:
        return "time.Time"

    def expr_method(self, name: str, args: Sequence[Any]) -> Any:
        m = self.moment
        no_arg: dict[str, Callable[[], Any]] = {
            "Year": lambda: m.year,
            "Month": lambda: m.month,
            "Day": lambda: m.day,
            "Hour": lambda: m.hour,
            "Minute": lambda: m.minute,
            "Second": lambda: m.second,
            "Nanosecond": lambda: m.microsecond * _NS_PER_US,
            "Weekday": lambda: (m.weekday() + 1) % 7,
            "YearDay": lambda: m.timetuple().tm_yday,
            "Unix": lambda: int(m.timestamp() // 1),
            "UnixMilli": lambda: _unix_micros(m) // 1000,
            "UnixMicro": lambda: _unix_micros(m),
            "UnixNano": lambda: _unix_micros(m) * _NS_PER_US,
            "UTC": lambda: GoTime(m.astimezone(UTC)),
            "Local": lambda: GoTime(m.astimezone(UTC)),
            "IsZero": lambda: m == datetime(1, 1, 1, tzinfo=UTC),
            "String": lambda: _format(m, _GO_STRING),
        }
        if name in no_arg:
            _no_args(name, args)
            return no_arg[name]()
        if name == "Format":
            (layout,) = _args(name, args, 1)
            if not isinstance(layout, str):
                raise FunctionError("Format() expects a layout string")
            return _format(m, layout)
        if name == "Add":
            (delta,) = _args(name, args, 1)
            return GoTime(m + _as_timedelta(delta))
        if name == "Sub":
            (other,) = _args(name, args, 1)
            if not isinstance(other, GoTime):
                raise FunctionError("Sub() expects a time")
            return self.minus(other)
        if name == "AddDate":
            years, months, days = _args(name, args, 3)
            return GoTime(_add_date(m, int(years), int(months), int(days)))
        if name in ("Before", "After", "Equal"):
            (other,) = _args(name, args, 1)
            if not isinstance(other, GoTime):
                raise FunctionError(f"{name}() expects a time")
            if name == "Before":
                return m < other.moment
            if name == "After":
                return m > other.moment
            return m == other.moment
        if name == "In":
            (location,) = _args(name, args, 1)
            if not isinstance(location, GoLocation):
                raise FunctionError("In() expects a location from timezone()")
            return GoTime(m.astimezone(location.tz))
        raise KeyError(name)

    def minus(self, other: GoTime) -> GoDuration:
        delta = self.moment - other.moment
        return GoDuration(
            (delta.days * 86_400_000_000 + delta.seconds * 1_000_000 + delta.microseconds)
            * _NS_PER_US
        )

    def plus(self, delta: GoDuration, sign: int = 1) -> GoTime:
        return GoTime(self.moment + sign * _as_timedelta(delta))

    def expr_json(self) -> Any:
        return _format(self.moment, _RFC3339_NANO)

    def expr_str(self) -> str:
        return _format(self.moment, _GO_STRING)

    def expr_equal(self, other: Any) -> bool:
        return isinstance(other, GoTime) and other.moment == self.moment

    def compare_to(self, other: Any) -> int | None:
        if isinstance(other, GoTime):
            return (self.moment > other.moment) - (self.moment < other.moment)
        return None

    def __repr__(self) -> str:
        return f"GoTime({self.moment.isoformat()})"


def _unix_micros(moment: datetime) -> int:
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return delta.days * 86_400_000_000 + delta.seconds * 1_000_000 + delta.microseconds


def _args(name: str, args: Sequence[Any], count: int) -> Sequence[Any]:
    if len(args) != count:
        raise FunctionError(f"{name}() takes {count} argument(s) ({len(args)} given)")
    return args


def _as_timedelta(value: Any) -> timedelta:
    if isinstance(value, GoDuration):
        return timedelta(microseconds=value.ns // _NS_PER_US)
    if is_number(value):
        return timedelta(microseconds=int(value) // _NS_PER_US)
    raise FunctionError("expected a duration")


def _add_date(moment: datetime, years: int, months: int, days: int) -> datetime:
    month_index = moment.month - 1 + months
    year = moment.year + years + month_index // 12
    month = month_index % 12 + 1
    base = moment.replace(year=year, month=month, day=1)
    return base + timedelta(days=moment.day - 1 + days)


# --- builtins -------------------------------------------------------------------------------


def now(*args: Any) -> GoTime:
    """``now()`` / ``now(timezone(name))``."""
    current = datetime.now(UTC)
    if not args:
        return GoTime(current)
    if len(args) == 1 and isinstance(args[0], GoLocation):
        return GoTime(current.astimezone(args[0].tz))
    raise FunctionError(f"now() takes no arguments or a location ({len(args)} given)")


def duration(text: Any) -> GoDuration:
    """``duration("1h30m")``."""
    if not isinstance(text, str):
        raise FunctionError(f"duration() expects a string, got {type(text).__name__}")
    return GoDuration(parse_duration(text))


def _load_zone(name: str) -> Any:
    if name in ("UTC", ""):
        return UTC
    if name == "Local":
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise FunctionError(f"unknown time zone {name}") from None


def timezone_(name: Any) -> GoLocation:
    """``timezone("Europe/Zurich")``."""
    if not isinstance(name, str):
        raise FunctionError("timezone() expects a string")
    return GoLocation(name or "UTC", _load_zone(name))


_TOKEN_PATTERNS: dict[str, str] = {
    "January": "(?P<month_name>" + "|".join(_MONTHS) + ")",
    "Jan": "(?P<month_abbr>" + "|".join(m[:3] for m in _MONTHS) + ")",
    "Monday": "(?:" + "|".join(_DAYS) + ")",
    "Mon": "(?:" + "|".join(d[:3] for d in _DAYS) + ")",
    "MST": "(?P<zone_name>[A-Z]{3,5}|[+-]\\d{2,4})",
    "2006": "(?P<year>\\d{4})",
    "06": "(?P<year2>\\d{2})",
    "01": "(?P<month>\\d{2})",
    "1": "(?P<month>\\d{1,2})",
    "02": "(?P<day>\\d{2})",
    "2": "(?P<day>\\d{1,2})",
    "_2": "\\s?(?P<day>\\d{1,2})",
    "002": "(?P<yday>\\d{3})",
    "__2": "\\s{0,2}(?P<yday>\\d{1,3})",
    "15": "(?P<hour>\\d{2})",
    "03": "(?P<hour12>\\d{2})",
    "3": "(?P<hour12>\\d{1,2})",
    "04": "(?P<minute>\\d{2})",
    "4": "(?P<minute>\\d{1,2})",
    "05": "(?P<second>\\d{2})",
    "5": "(?P<second>\\d{1,2})",
    "PM": "(?P<ampm>AM|PM)",
    "pm": "(?P<ampm>am|pm)",
}


def _layout_regex(layout: str) -> re.Pattern[str]:
    parts: list[str] = []
    seen: set[str] = set()
    for kind, text in _layout_chunks(layout):
        if kind == "lit":
            parts.append(re.escape(text))
        elif kind == "frac":
            parts.append(r"(?:[.,](?P<frac>\d+))?" if text[1] == "9" else r"[.,](?P<frac>\d+)")
        elif text in _TOKEN_PATTERNS:
            pattern = _TOKEN_PATTERNS[text]
            group = re.search(r"\?P<(\w+)>", pattern)
            if group is not None:
                if group.group(1) in seen:
                    pattern = pattern.replace(f"?P<{group.group(1)}>", "?:")
                seen.add(group.group(1))
            parts.append(pattern)
        else:  # numeric zone
            zulu = "Z|" if text.startswith("Z") else ""
            parts.append(f"(?P<offset>{zulu}[+-]\\d{{2}}(?::?\\d{{2}}(?::?\\d{{2}})?)?)")
    return re.compile("".join(parts))


def _parse_with_layout(text: str, layout: str, default_tz: Any) -> datetime:
    match = _layout_regex(layout).fullmatch(text)
    if match is None:
        raise FunctionError(f'parsing time "{text}" as "{layout}": cannot parse')
    groups = {k: v for k, v in match.groupdict().items() if v is not None}
    year = int(groups.get("year", 0) or 0)
    if "year2" in groups:
        short = int(groups["year2"])
        year = 1900 + short if short >= 69 else 2000 + short
    month = 1
    if "month" in groups:
        month = int(groups["month"])
    elif "month_name" in groups:
        month = _MONTHS.index(groups["month_name"]) + 1
    elif "month_abbr" in groups:
        month = [m[:3] for m in _MONTHS].index(groups["month_abbr"]) + 1
    day = int(groups.get("day", 1))
    hour = int(groups.get("hour", 0))
    if "hour12" in groups:
        hour = int(groups["hour12"]) % 12
        if groups.get("ampm", "").lower() == "pm":
            hour += 12
    minute = int(groups.get("minute", 0))
    second = int(groups.get("second", 0))
    micro = int((groups.get("frac", "") + "000000")[:6])
    tz = default_tz
    offset = groups.get("offset")
    if offset is not None and offset != "Z":
        digits = offset[1:].replace(":", "")
        seconds = int(digits[:2]) * 3600 + int(digits[2:4] or 0) * 60 + int(digits[4:6] or 0)
        tz = timezone(timedelta(seconds=seconds if offset[0] == "+" else -seconds))
    elif offset == "Z":
        tz = UTC
    try:
        moment = datetime(year, month, day, hour, minute, second, micro, tzinfo=tz)
    except ValueError as exc:
        raise FunctionError(f'parsing time "{text}": {exc}') from None
    if "yday" in groups:
        moment = moment.replace(month=1, day=1) + timedelta(days=int(groups["yday"]) - 1)
    return moment


_DEFAULT_LAYOUTS = (
    "2006-01-02",
    "15:04:05",
    "2006-01-02 15:04:05",
    "2006-01-02T15:04:05Z07:00",
    "2006-01-02T15:04:05.999999999Z07:00",
    "02 Jan 06 15:04 MST",
    "Monday, 02-Jan-06 15:04:05 MST",
    "Mon, 02 Jan 2006 15:04:05 MST",
)


def date(*args: Any) -> GoTime:
    """``date(str[, layout[, timezone]])`` and ``date(location, str[, layout])``."""
    location: Any = UTC
    if args and isinstance(args[0], GoLocation):
        location = args[0].tz
        args = args[1:]
    if not 1 <= len(args) <= 3 or not all(isinstance(a, str) for a in args):
        raise FunctionError("date() expects a date string, an optional layout and time zone")
    text = args[0]
    if len(args) == 3:
        location = _load_zone(args[2])
    if len(args) >= 2:
        return GoTime(_parse_with_layout(text, args[1], location))
    for layout in _DEFAULT_LAYOUTS:
        try:
            return GoTime(_parse_with_layout(text, layout, location))
        except FunctionError:
            continue
    raise FunctionError(f"invalid date {text}")
