"""Cost of a Stage's promotion schedule: open or closed now, and the next change.

For each window, side by side:

* shunter: ``shunter.windows.evaluate`` at a fixed instant (what every Stage reconcile does
  once per pass): the state now and the next opening or closing;
* bare limit: a plain script asking dateutil the same two questions of the same rule - the
  last occurrence at or before now (``before``) and the next one (``after``) - expanding the
  rule from its ``dtstart`` as dateutil does, and the same with ``dtstart`` on the first day
  of the current month (the floor: a rule that has barely started).

Run: ``.venv/bin/python benchmarks/promotion_windows.py``. Figures are in
docs/performance.md#promotion-windows.
"""

from __future__ import annotations

import timeit
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from dateutil.rrule import rrulestr

from shunter.api.v1alpha1.project import PromotionWindowKind
from shunter.windows import Window, evaluate, parse_occurrences

NOW = datetime(2026, 12, 2, 12, 30, tzinfo=UTC)  # a Wednesday
ZONE = "Europe/Berlin"
CASES = [
    ("weekdays 09-17, since 2020", "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR", "20200106T090000", 8),
    ("daily 22-06, since 2020", "FREQ=DAILY", "20200101T220000", 8),
    ("hourly :00-:10, since 2020", "FREQ=HOURLY", "20200101T000000", 1 / 6),
    ("first Monday monthly, since 2020", "FREQ=MONTHLY;BYDAY=1MO", "20200106T000000", 24),
]


def _per_call(fn: object, number: int) -> float:
    """The best of five runs of ``number`` calls, per call (the machine is shared)."""
    runs = timeit.repeat(fn, number=number, repeat=5)  # type: ignore[arg-type]
    return min(runs) / number


def _window(rule: str, start: str, hours: float) -> Window:
    begin = datetime.strptime(start, "%Y%m%dT%H%M%S")  # noqa: DTZ007
    end = (begin + timedelta(hours=hours)).strftime("%Y%m%dT%H%M%S")
    occurrences = parse_occurrences(rule, f"TZID={ZONE}:{start}", f"TZID={ZONE}:{end}")
    return Window("w", PromotionWindowKind.ALLOW, occurrences)


def _bare(rule: str, start: datetime) -> float:
    parsed = rrulestr(rule, dtstart=start)
    return _per_call(lambda: (parsed.before(NOW, inc=True), parsed.after(NOW)), 4)


def main() -> None:
    zone = ZoneInfo(ZONE)
    print(f"{'window':36} {'shunter':>10} {'bare, from dtstart':>19} {'bare, since Dec 1':>18}")
    for label, rule, start, hours in CASES:
        window = _window(rule, start, hours)
        ours = _per_call(lambda w=window: evaluate([w], NOW), 200)
        since = datetime.strptime(start, "%Y%m%dT%H%M%S").replace(tzinfo=zone)
        full = _bare(rule, since)
        recent = since.replace(year=NOW.year, month=NOW.month, day=1)
        recent_bare = _bare(rule, recent)
        print(
            f"{label:36} {ours * 1e3:8.2f}ms {full * 1e3:17.2f}ms {recent_bare * 1e3:16.2f}ms"
            f"   shunter = {full / ours:.0f}x faster than from dtstart, "
            f"{ours / recent_bare:.1f}x the floor"
        )
    three = [_window(rule, start, hours) for _, rule, start, hours in CASES[:3]]
    per_pass = _per_call(lambda: evaluate(three, NOW), 200)
    print(f"three windows on one Stage: {per_pass * 1e3:.2f} ms per reconcile")


if __name__ == "__main__":
    main()
