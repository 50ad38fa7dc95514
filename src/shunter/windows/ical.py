"""One promotion window as a set of time intervals: its iCal fields parsed, its occurrences
expanded by python-dateutil's ``rrule``.

``dtstart``/``dtend`` are iCal date-times, ``YYYYMMDDTHHMMSS`` with ``Z`` (UTC) or a
``TZID=<IANA zone>:`` prefix (time zones from :mod:`zoneinfo`); a value with neither is UTC.
Without ``rrule`` the window is the one interval ``[dtstart, dtend)``, either end open when
left out. With ``rrule`` (RFC 5545: ``FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR``) occurrences start at
``dtstart`` (always the first one, as RFC 5545 says) and at every date-time the rule yields,
computed in the wall-clock time of ``dtstart``'s zone, so a 09:00 start stays 09:00 across a
daylight-saving change; each lasts the exact duration ``dtend - dtstart``.

The recurrence is never expanded from ``dtstart`` up to now: for rules without ``COUNT``,
dateutil is handed a ``dtstart`` moved forward by whole periods (``INTERVAL`` hours, days,
weeks, months or years in wall-clock time; months and years only from a ``dtstart`` on the
28th or earlier, which whole months keep), which yields the same occurrences from there on;
and expansion stops at the look-ahead horizon. So a window
started years ago costs as little as one started yesterday. ``SECONDLY`` and ``MINUTELY``
rules are refused, and so is a recurring occurrence longer than a year.

Errors are :class:`WindowError`, which names the field at fault.
"""

from __future__ import annotations

import heapq
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.relativedelta import relativedelta
from dateutil.rrule import rrule, rrulestr

__all__ = [
    "MAX_COUNT",
    "MAX_RECURRING_DURATION",
    "Occurrences",
    "WindowError",
    "parse_date_time",
    "parse_occurrences",
]

#: The longest occurrence of a recurring window.
MAX_RECURRING_DURATION = timedelta(days=366)
#: The largest ``COUNT`` of a rule (a rule with a count is expanded from its start).
MAX_COUNT = 10_000

_DATE_TIME = re.compile(r"^(?:TZID=(?P<zone>[^:;]+):)?(?P<stamp>[0-9]{8}T[0-9]{6})(?P<utc>Z?)$")
_FAST_FORWARD = {
    "HOURLY": timedelta(hours=1),
    "DAILY": timedelta(days=1),
    "WEEKLY": timedelta(weeks=1),
}
_ALLOWED_FREQ = ("HOURLY", "DAILY", "WEEKLY", "MONTHLY", "YEARLY")


class WindowError(ValueError):
    """A window field is malformed; ``field`` names it (``dtstart``, ``dtend``, ``rrule``)."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        self.detail = message


def parse_date_time(value: str, field_name: str) -> datetime:
    """An iCal date-time as an aware datetime in its zone (UTC for ``Z`` or no zone)."""
    found = _DATE_TIME.match(value.strip())
    if found is None:
        raise WindowError(
            field_name,
            f"{value!r} is not an iCal date-time: YYYYMMDDTHHMMSS, ending in Z (UTC) or "
            "prefixed with TZID=<zone>:",
        )
    zone_name, stamp, utc = found.group("zone"), found.group("stamp"), found.group("utc")
    if zone_name and utc:
        raise WindowError(field_name, f"{value!r} names both a TZID and Z (UTC)")
    try:
        naive = datetime.strptime(stamp, "%Y%m%dT%H%M%S")  # noqa: DTZ007 - the zone follows
    except ValueError as exc:
        raise WindowError(field_name, f"{value!r} is not a valid date-time: {exc}") from None
    if not zone_name:
        return naive.replace(tzinfo=UTC)
    try:
        zone = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise WindowError(field_name, f"unknown time zone {zone_name!r}") from None
    return naive.replace(tzinfo=zone)


def _rule_parts(text: str) -> dict[str, str]:
    parts: dict[str, str] = {}
    for part in text.split(";"):
        key, _, value = part.partition("=")
        parts[key.strip().upper()] = value.strip().upper()
    return parts


@dataclass(frozen=True)
class _Rule:
    """A parsed recurrence: the rule, its start and what fast-forwarding needs."""

    rule: rrule
    start: datetime
    #: The wall-clock period to move ``dtstart`` by (None: never moved).
    period: timedelta | None
    #: Or the period in months (MONTHLY and YEARLY rules).
    months: int | None
    counted: bool

    def _periods_before(self, wall_since: datetime, wall_start: datetime) -> datetime | None:
        """``dtstart`` moved forward by whole periods to two periods before ``wall_since``."""
        if self.period is not None:
            periods = (wall_since - wall_start) // self.period - 2
            return wall_start + periods * self.period if periods > 0 else None
        if self.months is not None:
            elapsed = (wall_since.year - wall_start.year) * 12 + wall_since.month - wall_start.month
            periods = elapsed // self.months - 2
            return wall_start + relativedelta(months=periods * self.months) if periods > 0 else None
        return None

    def near(self, since: datetime, until: datetime) -> rrule:
        """The rule yielding the same occurrences in ``[since, until]`` (UTC instants), with
        ``dtstart`` moved forward to shortly before ``since`` and expansion stopping at
        ``until``."""
        rule = self.rule
        zone = self.start.tzinfo
        moved = self._periods_before(
            since.astimezone(zone).replace(tzinfo=None), self.start.replace(tzinfo=None)
        )
        if moved is not None:
            rule = rule.replace(dtstart=moved.replace(tzinfo=zone))
        if not self.counted:
            # dateutil keeps the rule's own UNTIL only in a private attribute
            original: datetime | None = getattr(self.rule, "_until", None)
            rule = rule.replace(until=until if original is None else min(original, until))
        return rule


def _parse_rule(text: str, start: datetime) -> _Rule:
    value = text.strip()
    if value.upper().startswith("RRULE:"):
        value = value[len("RRULE:") :]
    if "\n" in value or "\r" in value:
        raise WindowError("rrule", "must be a single RRULE value such as FREQ=DAILY")
    parts = _rule_parts(value)
    freq = parts.get("FREQ")
    if freq is None:
        raise WindowError("rrule", f"{text!r} has no FREQ")
    if freq not in _ALLOWED_FREQ:
        raise WindowError(
            "rrule",
            f"FREQ={freq} is not supported for promotion windows (use one of "
            f"{', '.join(_ALLOWED_FREQ)})",
        )
    if "DTSTART" in parts or "TZID" in parts:
        raise WindowError("rrule", "set the start in dtstart, not in the rule")
    counted = "COUNT" in parts
    if counted:
        try:
            count = int(parts["COUNT"])
        except ValueError:
            raise WindowError("rrule", f"COUNT={parts['COUNT']} is not a number") from None
        if not 0 < count <= MAX_COUNT:
            raise WindowError("rrule", f"COUNT must be between 1 and {MAX_COUNT}")
    try:
        interval = int(parts.get("INTERVAL", "1"))
    except ValueError:
        raise WindowError("rrule", f"INTERVAL={parts['INTERVAL']} is not a number") from None
    try:
        parsed = rrulestr(value, dtstart=start)
    except (ValueError, TypeError, OverflowError, KeyError, IndexError) as exc:
        raise WindowError("rrule", f"{text!r} is not a valid recurrence rule: {exc}") from None
    if not isinstance(parsed, rrule):
        raise WindowError("rrule", f"{text!r} is not a single recurrence rule")
    movable = not counted and interval > 0
    base = _FAST_FORWARD.get(freq)
    period = base * interval if base is not None and movable else None
    # Whole months keep the day of the month only up to the 28th.
    per_month = {"MONTHLY": 1, "YEARLY": 12}.get(freq)
    months = per_month * interval if per_month and movable and start.day <= 28 else None
    return _Rule(rule=parsed, start=start, period=period, months=months, counted=counted)


@dataclass(frozen=True)
class Occurrences:
    """When one window is active: ``[start, end)`` once, or repeated by ``rule``."""

    #: First start (None: active since ever; only for one-shot windows).
    start: datetime | None
    #: End of a one-shot window (None: active for ever, or the window recurs).
    end: datetime | None = None
    #: Length of each occurrence of a recurring window.
    duration: timedelta | None = None
    _rule: _Rule | None = field(default=None, repr=False)

    @property
    def recurring(self) -> bool:
        """Whether the window repeats."""
        return self._rule is not None

    def starts(self, since: datetime, until: datetime) -> Iterator[datetime]:
        """Occurrence starts in ``(since, until]`` as UTC instants, in order, lazily."""
        first = self.start.astimezone(UTC) if self.start is not None else None
        if self._rule is None:
            if first is not None and since < first <= until:
                yield first
            return
        rule = self._rule.near(since, until)
        found = (s.astimezone(UTC) for s in rule.xafter(since, inc=False))
        if first is not None and since < first <= until:
            # dtstart is the first occurrence whether or not the rule yields it (RFC 5545)
            found = (s for s in heapq.merge([first], found))
            previous = None
            for start in found:
                if start != previous:
                    yield start
                previous = start
            return
        yield from found

    def active_count(self, at: datetime, horizon: datetime) -> int:
        """How many occurrences contain the instant ``at`` (recurring ones may overlap)."""
        if self._rule is None:
            started = self.start is None or self.start <= at
            return int(started and (self.end is None or at < self.end))
        duration = self.duration or timedelta(0)
        return sum(1 for _ in self.starts(at - duration, min(at, horizon)))

    def edges(self, after: datetime, horizon: datetime) -> Iterator[tuple[datetime, int]]:
        """``(instant, +1 | -1)`` for every start and end in ``(after, horizon]``, in order."""
        if self._rule is None:
            found = [
                (when.astimezone(UTC), delta)
                for when, delta in ((self.start, 1), (self.end, -1))
                if when is not None and after < when <= horizon
            ]
            yield from sorted(found)
            return
        duration = self.duration or timedelta(0)
        first, second = itertools.tee(self.starts(after - duration, horizon))
        opened = ((s, 1) for s in first if s > after)
        closed = ((s + duration, -1) for s in second if after < s + duration <= horizon)
        yield from heapq.merge(opened, closed)


def parse_occurrences(
    rrule_text: str | None, dtstart: str | None, dtend: str | None
) -> Occurrences:
    """A window's occurrences from its ``rrule``, ``dtstart`` and ``dtend`` fields."""
    start = parse_date_time(dtstart, "dtstart") if dtstart else None
    end = parse_date_time(dtend, "dtend") if dtend else None
    if start is not None and end is not None and end <= start:
        raise WindowError("dtend", f"{dtend!r} is not after dtstart {dtstart!r}")
    if not rrule_text:
        return Occurrences(start=start, end=end)
    if start is None or end is None:
        missing = "dtstart" if start is None else "dtend"
        raise WindowError(missing, "a recurring window (rrule) needs both dtstart and dtend")
    duration = end.astimezone(UTC) - start.astimezone(UTC)
    if duration > MAX_RECURRING_DURATION:
        raise WindowError("dtend", "an occurrence of a recurring window may last a year at most")
    return Occurrences(start=start, duration=duration, _rule=_parse_rule(rrule_text, start))
