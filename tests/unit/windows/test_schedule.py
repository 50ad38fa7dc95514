"""Promotion schedules at fixed instants (a fake clock): Allow and Deny windows, recurrences
across daylight-saving changes, the next opening and closing, invalid windows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from dateutil.rrule import rrulestr

from shunter.api.v1alpha1.project import PromotionWindowKind
from shunter.windows import ScheduleState, Window, WindowError, evaluate, parse_occurrences

ALLOW, DENY = PromotionWindowKind.ALLOW, PromotionWindowKind.DENY
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def window(
    name: str,
    kind: PromotionWindowKind,
    rrule: str | None = None,
    dtstart: str | None = None,
    dtend: str | None = None,
) -> Window:
    return Window(name, kind, parse_occurrences(rrule, dtstart, dtend))


def business_hours(zone: str) -> Window:
    """Allow, weekdays 09:00-17:00 in ``zone``, since January 2020."""
    return window(
        "business-hours",
        ALLOW,
        "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR",
        f"TZID={zone}:20200106T090000",
        f"TZID={zone}:20200106T170000",
    )


def at(zone: ZoneInfo, *fields: int) -> datetime:
    return datetime(*fields, tzinfo=zone).astimezone(UTC)  # type: ignore[misc]


# The EU moved to summer time on Sunday 2026-03-29 (01:00 UTC) and back on 2026-10-25; the US
# on Sunday 2026-03-08 and back on 2026-11-01.
@pytest.mark.parametrize(
    ("zone", "instant", "closed"),
    [
        # Friday before the EU change, winter time (UTC+1)
        (BERLIN, (2026, 3, 27, 8, 59, 59), True),
        (BERLIN, (2026, 3, 27, 9, 0, 0), False),
        (BERLIN, (2026, 3, 27, 16, 59, 59), False),
        (BERLIN, (2026, 3, 27, 17, 0, 0), True),
        # the Sunday of the change: closed all day
        (BERLIN, (2026, 3, 29, 12, 0, 0), True),
        # Monday after, summer time (UTC+2): still 09:00-17:00 on the wall clock
        (BERLIN, (2026, 3, 30, 8, 59, 59), True),
        (BERLIN, (2026, 3, 30, 9, 0, 0), False),
        (BERLIN, (2026, 3, 30, 16, 59, 59), False),
        (BERLIN, (2026, 3, 30, 17, 0, 0), True),
        # back to winter time in October
        (BERLIN, (2026, 10, 26, 9, 0, 0), False),
        (BERLIN, (2026, 10, 26, 8, 30, 0), True),
        # New York around its own change
        (NEW_YORK, (2026, 3, 6, 16, 59, 0), False),
        (NEW_YORK, (2026, 3, 9, 8, 59, 0), True),
        (NEW_YORK, (2026, 3, 9, 9, 0, 0), False),
        (NEW_YORK, (2026, 11, 2, 9, 0, 0), False),
        (NEW_YORK, (2026, 11, 2, 17, 0, 0), True),
    ],
)
def test_weekday_business_hours_across_daylight_saving(
    zone: ZoneInfo, instant: tuple[int, ...], closed: bool
) -> None:
    state = evaluate([business_hours(str(zone))], at(zone, *instant))
    assert state.closed is closed
    if closed:
        assert state.reason == 'outside the Allow promotion window "business-hours"'
        assert state.next_open is not None
        assert state.next_open.astimezone(zone).hour == 9
        assert state.next_open.astimezone(zone).weekday() < 5
    else:
        assert state.reason is None
        assert state.next_close is not None
        assert state.next_close.astimezone(zone).hour == 17


def test_next_opening_is_the_monday_after_the_change_in_wall_clock_time() -> None:
    state = evaluate([business_hours("Europe/Berlin")], at(BERLIN, 2026, 3, 27, 18, 0, 0))
    assert state == ScheduleState(
        closed=True,
        reason='outside the Allow promotion window "business-hours"',
        next_open=at(BERLIN, 2026, 3, 30, 9, 0, 0),
    )
    # 09:00 summer time is 07:00 UTC (it was 08:00 UTC the Friday before)
    assert state.next_open == datetime(2026, 3, 30, 7, 0, tzinfo=UTC)


def test_occurrences_last_the_exact_duration_across_a_change() -> None:
    # Sundays 00:00-06:00 Berlin: on the change day six real hours end at 07:00 on the wall
    # clock (RFC 5545: the duration is exact time)
    deny = window(
        "sunday-maintenance",
        DENY,
        "FREQ=WEEKLY;BYDAY=SU",
        "TZID=Europe/Berlin:20260301T000000",
        "TZID=Europe/Berlin:20260301T060000",
    )
    assert evaluate([deny], at(BERLIN, 2026, 3, 29, 6, 30, 0)).closed
    state = evaluate([deny], at(BERLIN, 2026, 3, 29, 1, 0, 0))
    assert state.next_open == at(BERLIN, 2026, 3, 29, 7, 0, 0)
    assert not evaluate([deny], at(BERLIN, 2026, 3, 22, 6, 30, 0)).closed


def test_deny_wins_over_an_active_allow() -> None:
    freeze = window("year-end", DENY, None, "20261220T000000Z", "20270104T000000Z")
    hours = business_hours("UTC")
    state = evaluate([hours, freeze], datetime(2026, 12, 22, 10, tzinfo=UTC))
    assert state.closed
    assert state.reason == 'Deny promotion window "year-end" is active'
    # the freeze ends on a Monday at midnight; business hours open at 09:00 that day
    assert state.next_open == datetime(2027, 1, 4, 9, tzinfo=UTC)


def test_several_allow_windows_any_active_opens() -> None:
    mornings = window("mornings", ALLOW, "FREQ=DAILY", "20260101T060000Z", "20260101T080000Z")
    evenings = window("evenings", ALLOW, "FREQ=DAILY", "20260101T180000Z", "20260101T200000Z")
    noon = datetime(2026, 6, 1, 12, tzinfo=UTC)
    state = evaluate([mornings, evenings], noon)
    assert state.closed
    assert state.reason == 'outside the Allow promotion windows "mornings", "evenings"'
    assert state.next_open == datetime(2026, 6, 1, 18, tzinfo=UTC)
    state = evaluate([mornings, evenings], datetime(2026, 6, 1, 19, tzinfo=UTC))
    assert not state.closed
    assert state.next_close == datetime(2026, 6, 1, 20, tzinfo=UTC)
    assert state.next_close_reason == 'outside the Allow promotion windows "mornings", "evenings"'


def test_adjacent_windows_do_not_open_in_between() -> None:
    first = window("first", DENY, None, "20260601T100000Z", "20260601T110000Z")
    second = window("second", DENY, None, "20260601T110000Z", "20260601T120000Z")
    state = evaluate([first, second], datetime(2026, 6, 1, 10, 30, tzinfo=UTC))
    assert state.reason == 'Deny promotion window "first" is active'
    assert state.next_open == datetime(2026, 6, 1, 12, tzinfo=UTC)


def test_upcoming_freeze_is_announced_while_open() -> None:
    freeze = window("release-freeze", DENY, None, "20260601T100000Z", "20260601T120000Z")
    state = evaluate([freeze], datetime(2026, 6, 1, 9, tzinfo=UTC))
    assert state == ScheduleState(
        closed=False,
        next_close=datetime(2026, 6, 1, 10, tzinfo=UTC),
        next_close_reason='Deny promotion window "release-freeze" is active',
    )
    assert state.next_change == datetime(2026, 6, 1, 10, tzinfo=UTC)


def test_open_ended_windows() -> None:
    indefinite = window("indefinite-freeze", DENY)
    state = evaluate([indefinite], datetime(2026, 6, 1, tzinfo=UTC))
    assert state.closed
    assert state.next_open is None
    # an end further away than the horizon is no known reopening
    far = window("far", DENY, None, None, "20300101T000000Z")
    assert evaluate([far], datetime(2026, 6, 1, tzinfo=UTC)).next_open is None
    since = window("from-june", DENY, None, "20260601T000000Z", None)
    assert not evaluate([since], datetime(2026, 5, 31, tzinfo=UTC)).closed
    assert evaluate([since], datetime(2027, 5, 31, tzinfo=UTC)).closed
    until = window("until-june", DENY, None, None, "20260601T000000Z")
    assert evaluate([until], datetime(2026, 1, 1, tzinfo=UTC)).next_open == datetime(
        2026, 6, 1, tzinfo=UTC
    )


def test_an_elapsed_one_shot_allow_window_never_reopens() -> None:
    once = window("once", ALLOW, None, "20260101T000000Z", "20260102T000000Z")
    state = evaluate([once], datetime(2026, 6, 1, tzinfo=UTC))
    assert state.closed
    assert state.next_open is None


def test_dtstart_is_the_first_occurrence_even_when_the_rule_skips_it() -> None:
    # 2026-06-01 is a Monday; the rule yields Tuesdays only
    tuesdays = window(
        "tuesdays", DENY, "FREQ=WEEKLY;BYDAY=TU", "20260601T100000Z", "20260601T110000Z"
    )
    assert evaluate([tuesdays], datetime(2026, 6, 1, 10, 30, tzinfo=UTC)).closed
    assert evaluate([tuesdays], datetime(2026, 6, 2, 10, 30, tzinfo=UTC)).closed
    assert not evaluate([tuesdays], datetime(2026, 6, 8, 10, 30, tzinfo=UTC)).closed


def test_count_and_until_end_the_recurrence() -> None:
    three = window("three", DENY, "FREQ=DAILY;COUNT=3", "20260601T100000Z", "20260601T110000Z")
    assert evaluate([three], datetime(2026, 6, 3, 10, 30, tzinfo=UTC)).closed
    assert not evaluate([three], datetime(2026, 6, 4, 10, 30, tzinfo=UTC)).closed
    until = window(
        "until", DENY, "FREQ=DAILY;UNTIL=20260603T235959Z", "20260601T100000Z", "20260601T110000Z"
    )
    assert evaluate([until], datetime(2026, 6, 3, 10, 30, tzinfo=UTC)).closed
    state = evaluate([until], datetime(2026, 6, 4, 10, 30, tzinfo=UTC))
    assert not state.closed
    assert state.next_close is None


def test_overlapping_occurrences_count_until_the_last_ends() -> None:
    # 3-hour occurrences every 2 hours: always active once started
    overlap = window(
        "overlap", DENY, "FREQ=HOURLY;INTERVAL=2", "20260601T000000Z", "20260601T030000Z"
    )
    state = evaluate([overlap], datetime(2026, 6, 1, 2, 30, tzinfo=UTC))
    assert state.closed
    assert state.next_open is None


@pytest.mark.parametrize(
    ("rule", "step"),
    [
        ("FREQ=WEEKLY;INTERVAL=3;BYDAY=MO,TH;BYHOUR=9,15", timedelta(minutes=97)),
        ("FREQ=HOURLY;INTERVAL=5;BYDAY=SA,SU", timedelta(minutes=97)),
        ("FREQ=DAILY;INTERVAL=4", timedelta(minutes=271)),
        ("FREQ=MONTHLY;BYDAY=1MO,-1FR", timedelta(hours=7)),
        ("FREQ=MONTHLY;INTERVAL=5;BYMONTHDAY=5,20", timedelta(hours=7)),
        ("FREQ=YEARLY;BYMONTH=3,4;BYDAY=2WE", timedelta(hours=7)),
    ],
)
def test_a_window_started_long_ago_gives_the_same_answers_as_expanding_it_all(
    rule: str, step: timedelta
) -> None:
    """Moving dtstart forward is only a shortcut: compare with dateutil on the full rule."""
    start = datetime(2001, 2, 5, 9, tzinfo=BERLIN)
    hours = window(
        "w", ALLOW, rule, "TZID=Europe/Berlin:20010205T090000", "TZID=Europe/Berlin:20010205T100000"
    )
    # every occurrence from 2001 on, expanded once by dateutil itself
    full = [
        o.astimezone(UTC)
        for o in rrulestr(rule, dtstart=start).between(
            datetime(2024, 12, 1, tzinfo=UTC), datetime(2027, 12, 1, tzinfo=UTC), inc=True
        )
    ]
    instant = datetime(2026, 3, 1, tzinfo=UTC)
    while instant < datetime(2026, 5, 1, tzinfo=UTC):
        last = max(o for o in full if o <= instant)
        expected_open = instant < last + timedelta(hours=1)
        state = evaluate([hours], instant)
        assert state.closed is not expected_open, instant
        if state.closed:
            assert state.next_open == min(o for o in full if o > instant), instant
        instant += step


@pytest.mark.parametrize(
    ("rrule", "dtstart", "dtend", "field", "fragment"),
    [
        (None, "TZID=Mars/Olympus:20260101T000000", None, "dtstart", "unknown time zone"),
        (None, "TZID=../../etc/passwd:20260101T000000", None, "dtstart", "unknown time zone"),
        (None, "TZID=UTC:20260101T000000Z", None, "dtstart", "both a TZID and Z"),
        (None, "20261301T000000Z", None, "dtstart", "not a valid date-time"),
        (None, "2026-01-01T00:00:00Z", None, "dtstart", "not an iCal date-time"),
        (None, "20260102T000000Z", "20260101T000000Z", "dtend", "not after dtstart"),
        ("FREQ=DAILY", None, "20260101T000000Z", "dtstart", "needs both"),
        ("FREQ=MINUTELY", "20260101T000000Z", "20260101T000100Z", "rrule", "not supported"),
        ("BYDAY=MO", "20260101T000000Z", "20260101T010000Z", "rrule", "no FREQ"),
        ("FREQ=DAILY;BYDAY=XX", "20260101T000000Z", "20260101T010000Z", "rrule", "not a valid"),
        ("FREQ=DAILY;COUNT=0", "20260101T000000Z", "20260101T010000Z", "rrule", "COUNT"),
        (
            "FREQ=DAILY;UNTIL=20270101T000000",
            "TZID=Europe/Berlin:20260101T000000",
            "TZID=Europe/Berlin:20260101T010000",
            "rrule",
            "UTC",
        ),
        ("FREQ=DAILY\nFREQ=WEEKLY", "20260101T000000Z", "20260101T010000Z", "rrule", "single"),
        ("FREQ=YEARLY", "20260101T000000Z", "20280101T000000Z", "dtend", "a year at most"),
    ],
)
def test_malformed_fields_are_refused_naming_the_field(
    rrule: str | None, dtstart: str | None, dtend: str | None, field: str, fragment: str
) -> None:
    with pytest.raises(WindowError) as caught:
        parse_occurrences(rrule, dtstart, dtend)
    assert caught.value.field == field
    assert fragment in str(caught.value)


def test_an_invalid_window_closes_the_schedule_and_says_why() -> None:
    try:
        parse_occurrences("FREQ=SECONDLY", "20260101T000000Z", "20260101T000001Z")
    except WindowError as exc:
        broken = Window("broken", ALLOW, None, exc, source="ClusterConfig")
    state = evaluate([broken, business_hours("UTC")], datetime(2026, 6, 1, 10, tzinfo=UTC))
    assert state.closed
    assert state.next_open is None
    assert state.reason == (
        'promotion window "broken" (ClusterConfig) is invalid: rrule: FREQ=SECONDLY is not '
        "supported for promotion windows (use one of HOURLY, DAILY, WEEKLY, MONTHLY, YEARLY)"
    )
