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
from shunter.expressions.limits import charge_steps
from shunter.expressions.values import Comparable, ExprObject, go_int, is_number, type_name

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
_DURATION_PART = re.compile(r"([0-9]*)(?:\.([0-9]*))?([a-zA-Z\u00b5\u03bc]+)")
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
        if len(whole.lstrip("0")) > 19:  # beyond int64 (and int() refuses > 4300 digits)
            raise FunctionError(f"time: invalid duration {original!r}")
        amount = int(whole or "0") * scale
        frac = (frac or "")[:20]  # digits beyond a nanosecond change nothing
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
_FRACTION = re.compile(r"[.,](0+|9+)(?![0-9])")


_TOKENS_BY_FIRST: dict[str, list[str]] = {}
for _token in _LAYOUT_TOKENS:
    _TOKENS_BY_FIRST.setdefault(_token[0], []).append(_token)


def _layout_chunks(layout: str) -> list[tuple[str, str]]:
    """Split a Go layout into ("lit", text), ("tok", token) and ("frac", ".000") chunks, in
    one pass (a few comparisons per character)."""
    charge_steps(len(layout))
    chunks: list[tuple[str, str]] = []
    pos = 0
    literal: list[str] = []
    while pos < len(layout):
        char = layout[pos]
        if char in ".," and chunks and chunks[-1] in (("tok", "05"), ("tok", "5")):
            fraction = _FRACTION.match(layout, pos)
            if fraction is not None:
                if literal:
                    chunks.append(("lit", "".join(literal)))
                    literal = []
                chunks.append(("frac", fraction.group(0)))
                pos = fraction.end()
                continue
        for token in _TOKENS_BY_FIRST.get(char, ()):
            if layout.startswith(token, pos):
                if literal:
                    chunks.append(("lit", "".join(literal)))
                    literal = []
                chunks.append(("tok", token))
                pos += len(token)
                break
        else:
            literal.append(char)
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


def _simple_tokens(moment: datetime) -> dict[str, str]:
    hour12 = moment.hour % 12 or 12
    return {
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


def _format_zone(moment: datetime, token: str) -> str:
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
    simple = _simple_tokens(moment)
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
            out.append(simple.get(text) or _format_zone(moment, text))
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
            return self.plus(_as_duration(delta))
        if name == "Sub":
            (other,) = _args(name, args, 1)
            if not isinstance(other, GoTime):
                raise FunctionError("Sub() expects a time")
            return self.minus(other)
        if name == "AddDate":
            years, months, days = (_date_part(value) for value in _args(name, args, 3))
            return GoTime(_in_range(lambda: _add_date(m, years, months, days)))
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
            return GoTime(_in_range(lambda: m.astimezone(location.tz)))
        raise KeyError(name)

    def minus(self, other: GoTime) -> GoDuration:
        delta = self.moment - other.moment
        return GoDuration(
            (delta.days * 86_400_000_000 + delta.seconds * 1_000_000 + delta.microseconds)
            * _NS_PER_US
        )

    def plus(self, delta: GoDuration, sign: int = 1) -> GoTime:
        step = _as_timedelta(delta)
        return GoTime(_in_range(lambda: self.moment + sign * step))

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


def _as_duration(value: Any) -> GoDuration:
    if isinstance(value, GoDuration):
        return value
    if is_number(value) and not isinstance(value, bool):
        return GoDuration(go_int(value))
    raise FunctionError("expected a duration")


def _as_timedelta(value: GoDuration) -> timedelta:
    # A Go duration (int64 nanoseconds) always fits a timedelta (about 292 years).
    return timedelta(microseconds=value.ns // _NS_PER_US)


def _date_part(value: Any) -> int:
    if isinstance(value, bool) or not is_number(value):
        raise FunctionError(f"AddDate() expects integers, got {type_name(value)}")
    return go_int(value)


def _in_range(compute: Callable[[], datetime]) -> datetime:
    """Run a date computation; a result outside years 1-9999 is an evaluation error."""
    try:
        return compute()
    except (OverflowError, ValueError):
        raise FunctionError("time out of range: years 1 to 9999 are supported") from None


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


def _digit(char: str) -> bool:
    return len(char) == 1 and "0" <= char <= "9"


class _Cursor:
    """The unparsed rest of a date string; every read moves forward (Go's ``time.Parse`` is a
    single left-to-right pass without backtracking, and so is this)."""

    __slots__ = ("pos", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def at(self, offset: int = 0) -> str:
        index = self.pos + offset
        return self.text[index] if index < len(self.text) else ""

    def left(self) -> int:
        return len(self.text) - self.pos

    def take(self, count: int) -> str:
        piece = self.text[self.pos : self.pos + count]
        self.pos += len(piece)
        return piece

    def digits(self, most: int) -> str:
        """Up to `most` ASCII digits."""
        end = self.pos
        limit = min(len(self.text), self.pos + most)
        while end < limit and "0" <= self.text[end] <= "9":
            end += 1
        piece = self.text[self.pos : end]
        self.pos = end
        return piece


class _Bad(Exception):  # noqa: N818 - internal signal: "cannot parse"
    pass


def _getnum(cursor: _Cursor, fixed: bool) -> int:
    """Go's ``getnum``: one or two digits (exactly two when `fixed`)."""
    if not _digit(cursor.at(0)):
        raise _Bad
    if not _digit(cursor.at(1)):
        if fixed:
            raise _Bad
        return int(cursor.take(1))
    return int(cursor.take(2))


def _getnum3(cursor: _Cursor, fixed: bool) -> int:
    piece = cursor.digits(3)
    if not piece or (fixed and len(piece) != 3):
        raise _Bad
    return int(piece)


def _lookup(cursor: _Cursor, names: Sequence[str]) -> int:
    """Index of the name the text starts with (case-insensitively), as Go's ``lookup``."""
    for index, name in enumerate(names):
        piece = cursor.text[cursor.pos : cursor.pos + len(name)]
        if len(piece) == len(name) and piece.lower() == name.lower():
            cursor.pos += len(name)
            return index
    raise _Bad


def _skip_literal(cursor: _Cursor, literal: str) -> None:
    """Go's ``skip``: the text must repeat the layout's literal; a space matches a run of
    spaces."""
    index = 0
    while index < len(literal):
        char = literal[index]
        if char == " ":
            if cursor.left() and cursor.at() != " ":
                raise _Bad
            while index < len(literal) and literal[index] == " ":
                index += 1
            while cursor.at() == " ":
                cursor.pos += 1
            continue
        if cursor.at() != char or not cursor.left():
            raise _Bad
        cursor.pos += 1
        index += 1


def _zone_name_length(text: str) -> int:
    """Go's ``parseTimeZone``: length of a zone abbreviation at the start of `text`, or 0."""
    if len(text) < 3:
        return 0
    if text.startswith(("ChST", "MeST")):
        return 4
    if text.startswith("GMT"):
        return 3 + _signed_offset_length(text[3:])
    if text[0] in "+-":
        return _signed_offset_length(text)
    upper = 0
    while upper < min(len(text), 6) and "A" <= text[upper] <= "Z":
        upper += 1
    if upper == 3:
        return 3
    if upper == 4 and (text[3] == "T" or text[:4] == "WITA"):
        return 4
    if upper == 5 and text[4] == "T":
        return 5
    return 0


def _signed_offset_length(text: str) -> int:
    if not text or text[0] not in "+-":
        return 0
    end = 1
    while end < len(text) and end < 4 and _digit(text[end]):
        end += 1
    return end if end > 1 else 0


_NUMERIC_ZONE = {
    # token without its Z/- lead: (length of the text, positions of hour, minute, second)
    "07:00:00": (9, (1, 3), (4, 6), (7, 9), (3, 6)),
    "070000": (7, (1, 3), (3, 5), (5, 7), ()),
    "07:00": (6, (1, 3), (4, 6), None, (3,)),
    "0700": (5, (1, 3), (3, 5), None, ()),
    "07": (3, (1, 3), None, None, ()),
}


def _numeric_zone(cursor: _Cursor, token: str) -> int | None:
    """Parse a numeric zone (``-07:00``, ``Z0700``...): the offset in seconds, None for Z."""
    if token.startswith("Z") and cursor.at() == "Z":
        cursor.pos += 1
        return None
    length, hour, minute, second, colons = _NUMERIC_ZONE[token[1:]]
    piece = cursor.text[cursor.pos : cursor.pos + length]
    if len(piece) < length or piece[0] not in "+-":
        raise _Bad
    if any(piece[index] != ":" for index in colons):
        raise _Bad
    parts = [piece[a:b] for a, b in (hour, minute or (0, 0), second or (0, 0))]
    if not all(not part or (_digit(part[0]) and _digit(part[1])) for part in parts):
        raise _Bad
    cursor.pos += length
    hh, mm, ss = (int(part) if part else 0 for part in parts)
    offset = (hh * 60 + mm) * 60 + ss
    return -offset if piece[0] == "-" else offset


class _Fields:
    __slots__ = (
        "am",
        "day",
        "hour",
        "micro",
        "minute",
        "month",
        "offset",
        "pm",
        "second",
        "utc",
        "yday",
        "year",
        "zone_name",
    )

    def __init__(self) -> None:
        self.year = 0
        self.month = -1
        self.day = -1
        self.yday = -1
        self.hour = 0
        self.minute = 0
        self.second = 0
        self.micro = 0
        self.pm = False
        self.am = False
        self.utc = False
        self.offset: int | None = None
        self.zone_name = ""


def _fraction_micros(digits: str) -> int:
    return int((digits + "000000")[:6])


def _parse_chunk(cursor: _Cursor, kind: str, element: str, fields: _Fields, next_kind: str) -> None:
    """Consume one layout element from `cursor` into `fields` (Go's ``Parse`` switch)."""
    if kind == "frac":
        if element[1] == "0":  # exactly as many digits as the layout shows
            if cursor.at() not in (".", ","):
                raise _Bad
            digits = cursor.text[cursor.pos + 1 : cursor.pos + len(element)]
            if len(digits) != len(element) - 1 or not all(_digit(c) for c in digits):
                raise _Bad
            cursor.pos += len(element)
            fields.micro = _fraction_micros(digits)
        elif cursor.at() in (".", ",") and _digit(cursor.at(1)):
            cursor.pos += 1
            fields.micro = _fraction_micros(cursor.digits(len(cursor.text)))
        return
    if element == "2006":
        piece = cursor.take(4)
        if len(piece) < 4 or not all(_digit(c) for c in piece):
            raise _Bad
        fields.year = int(piece)
    elif element == "06":
        piece = cursor.take(2)
        if len(piece) < 2 or not all(_digit(c) for c in piece):
            raise _Bad
        short = int(piece)
        fields.year = 1900 + short if short >= 69 else 2000 + short
    elif element == "January":
        fields.month = _lookup(cursor, _MONTHS) + 1
    elif element == "Jan":
        fields.month = _lookup(cursor, [m[:3] for m in _MONTHS]) + 1
    elif element in ("01", "1"):
        fields.month = _getnum(cursor, element == "01")
        if not 1 <= fields.month <= 12:
            raise FunctionError("month out of range")
    elif element == "Monday":
        _lookup(cursor, _DAYS)
    elif element == "Mon":
        _lookup(cursor, [d[:3] for d in _DAYS])
    elif element in ("02", "2", "_2"):
        if element == "_2" and cursor.at() == " ":
            cursor.pos += 1
        fields.day = _getnum(cursor, element == "02")
    elif element in ("002", "__2"):
        if element == "__2":
            for _ in range(2):
                if cursor.at() == " ":
                    cursor.pos += 1
        fields.yday = _getnum3(cursor, element == "002")
    elif element == "15":
        fields.hour = _getnum(cursor, False)
        if not 0 <= fields.hour < 24:
            raise FunctionError("hour out of range")
    elif element in ("03", "3"):
        fields.hour = _getnum(cursor, element == "03")
        if not 0 <= fields.hour <= 12:
            raise FunctionError("hour out of range")
    elif element in ("04", "4"):
        fields.minute = _getnum(cursor, element == "04")
        if not 0 <= fields.minute < 60:
            raise FunctionError("minute out of range")
    elif element in ("05", "5"):
        fields.second = _getnum(cursor, element == "05")
        if not 0 <= fields.second < 60:
            raise FunctionError("second out of range")
        # A fraction in the text but not in the layout is read anyway (Go does the same).
        if next_kind != "frac" and cursor.at() in (".", ",") and _digit(cursor.at(1)):
            cursor.pos += 1
            fields.micro = _fraction_micros(cursor.digits(len(cursor.text)))
    elif element in ("PM", "pm"):
        piece = cursor.take(2)
        if piece == element:
            fields.pm = True
        elif piece == ("AM" if element == "PM" else "am"):
            fields.am = True
        else:
            raise _Bad
    elif element == "MST":
        if cursor.text.startswith("UTC", cursor.pos):
            cursor.pos += 3
            fields.utc = True
        else:
            length = _zone_name_length(cursor.text[cursor.pos : cursor.pos + 16])
            if length == 0:
                raise _Bad
            fields.zone_name = cursor.take(length)
    else:  # numeric zones
        offset = _numeric_zone(cursor, element)
        if offset is None:
            fields.utc = True
        else:
            fields.offset = offset


def _scan(text: str, layout: str) -> _Fields:
    charge_steps(len(text))
    chunks = _layout_chunks(layout)
    cursor = _Cursor(text)
    fields = _Fields()
    for index, (kind, token) in enumerate(chunks):
        where = cursor.pos
        try:
            if kind == "lit":
                _skip_literal(cursor, token)
                continue
            following = [k for k, _ in chunks[index + 1 : index + 2]]
            _parse_chunk(cursor, kind, token, fields, following[0] if following else "")
        except _Bad:
            rest = text[where:]
            raise FunctionError(
                f'parsing time "{text}" as "{layout}": cannot parse "{rest}" as "{token}"'
            ) from None
        except FunctionError as exc:
            raise FunctionError(f'parsing time "{text}": {exc}') from None
    if cursor.left():
        rest = text[cursor.pos :]
        raise FunctionError(f'parsing time "{text}" as "{layout}": extra text: "{rest}"')
    return fields


def _zone_of(fields: _Fields, default_tz: Any) -> Any:
    if fields.utc:
        return UTC
    if fields.offset is not None:
        return timezone(timedelta(seconds=fields.offset))
    if fields.zone_name:
        name = fields.zone_name
        if name.startswith("GMT") and len(name) > 3:
            return timezone(timedelta(hours=int(name[3:])), name)
        return timezone(timedelta(0), name)
    return default_tz


def _parse_with_layout(text: str, layout: str, default_tz: Any) -> datetime:
    """Go's ``time.ParseInLocation(layout, text, default_tz)`` for the supported layout
    elements, in one pass over the text (no regular expressions, no backtracking)."""
    fields = _scan(text, layout)
    if fields.pm and fields.hour < 12:
        fields.hour += 12
    elif fields.am and fields.hour == 12:
        fields.hour = 0
    month = 1 if fields.month < 0 else fields.month
    day = 1 if fields.day < 0 else fields.day
    tz = _zone_of(fields, default_tz)
    try:
        moment = datetime(
            fields.year, month, day, fields.hour, fields.minute, fields.second, fields.micro,
            tzinfo=tz,
        )  # fmt: skip
        if fields.yday >= 0:
            first = moment.replace(month=1, day=1)
            moment = first + timedelta(days=fields.yday - 1)
            if fields.yday < 1 or moment.year != first.year:
                raise ValueError("day-of-year out of range")
    except (ValueError, OverflowError) as exc:
        raise FunctionError(f'parsing time "{text}": {exc}') from None
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
