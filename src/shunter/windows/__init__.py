"""Promotion windows as time: iCal fields and RFC 5545 recurrences expanded
(:mod:`shunter.windows.ical`), and the open/closed schedule of a set of windows with its next
change (:mod:`shunter.windows.schedule`). Which windows apply to a Stage is the controllers'
business; this package knows only windows and instants."""

from shunter.windows.ical import Occurrences, WindowError, parse_date_time, parse_occurrences
from shunter.windows.schedule import HORIZON, ScheduleState, Window, evaluate

__all__ = [
    "HORIZON",
    "Occurrences",
    "ScheduleState",
    "Window",
    "WindowError",
    "evaluate",
    "parse_date_time",
    "parse_occurrences",
]
