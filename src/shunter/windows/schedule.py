"""A Stage's promotion schedule: the union of the windows that match it, open or closed at an
instant, and when that next changes.

Kargo's rule: the schedule is open when no Deny window is active and, if any Allow window
matches the Stage, at least one of them is active. An invalid window closes the schedule (a
freeze that cannot be read must not let promotions through) with a reason naming the window
and its field. The next change is found by sweeping the windows' starts and ends in time order
up to :data:`HORIZON` ahead (at most :data:`MAX_EDGES` of them); none found means no known
change, which leaves ``next_open`` (or ``next_close``) unset.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from shunter.api.v1alpha1.project import PromotionWindowKind
from shunter.windows.ical import Occurrences, WindowError

__all__ = ["HORIZON", "MAX_EDGES", "ScheduleState", "Window", "evaluate"]

#: How far ahead the next opening or closing is looked for.
HORIZON = timedelta(days=366)
#: How many window starts and ends the search for the next change looks at, at most.
MAX_EDGES = 20_000


@dataclass(frozen=True)
class Window:
    """One window that matches the Stage, parsed (or the error that made parsing fail)."""

    name: str
    kind: PromotionWindowKind
    occurrences: Occurrences | None
    error: WindowError | None = None
    #: Where it is defined (``ProjectConfig``/``ClusterConfig``), for messages.
    source: str = ""

    @property
    def label(self) -> str:
        """``"name"`` (and where it comes from), for messages."""
        return f'"{self.name}"' + (f" ({self.source})" if self.source else "")


@dataclass(frozen=True)
class ScheduleState:
    """Kargo's ``PromotionWindowStatus``, as times."""

    closed: bool
    reason: str | None = None
    next_open: datetime | None = None
    next_close: datetime | None = None
    next_close_reason: str | None = None

    @property
    def next_change(self) -> datetime | None:
        """When the schedule is next expected to open or close."""
        return self.next_open if self.closed else self.next_close


def _quoted(windows: Sequence[Window]) -> str:
    return ", ".join(w.label for w in windows)


def _closed_reason(windows: Sequence[Window], counts: Sequence[int]) -> str | None:
    denying = [
        w
        for w, n in zip(windows, counts, strict=True)
        if w.kind == PromotionWindowKind.DENY and n > 0
    ]
    if denying:
        noun = "window" if len(denying) == 1 else "windows"
        verb = "is" if len(denying) == 1 else "are"
        return f"Deny promotion {noun} {_quoted(denying)} {verb} active"
    allowing = [w for w in windows if w.kind == PromotionWindowKind.ALLOW]
    if allowing and not any(
        n > 0 for w, n in zip(windows, counts, strict=True) if w.kind == PromotionWindowKind.ALLOW
    ):
        noun = "window" if len(allowing) == 1 else "windows"
        return f"outside the Allow promotion {noun} {_quoted(allowing)}"
    return None


def _tagged(
    occurrences: Occurrences, index: int, now: datetime, horizon: datetime
) -> Iterator[tuple[datetime, int, int]]:
    for when, delta in occurrences.edges(now, horizon):
        yield when, delta, index


def _events(
    windows: Sequence[Window], now: datetime, horizon: datetime
) -> Iterator[tuple[datetime, int, int]]:
    streams = [
        _tagged(w.occurrences, index, now, horizon)
        for index, w in enumerate(windows)
        if w.occurrences is not None
    ]
    return heapq.merge(*streams)


def evaluate(windows: Sequence[Window], now: datetime) -> ScheduleState:
    """The schedule of these windows at ``now`` (an aware datetime)."""
    broken = [w for w in windows if w.error is not None or w.occurrences is None]
    if broken:
        reasons = "; ".join(f"promotion window {w.label} is invalid: {w.error}" for w in broken)
        return ScheduleState(closed=True, reason=reasons)
    horizon = now + HORIZON
    counts = [w.occurrences.active_count(now, horizon) for w in windows if w.occurrences]
    reason_now = _closed_reason(windows, counts)
    closed = reason_now is not None
    change: datetime | None = None
    reason_then: str | None = None
    edges = itertools.groupby(_events(windows, now, horizon), key=lambda e: e[0])
    for instant, group in itertools.islice(edges, MAX_EDGES):
        for _when, delta, index in group:
            counts[index] += delta
        reason_then = _closed_reason(windows, counts)
        if (reason_then is not None) != closed:
            change = instant
            break
    if closed:
        return ScheduleState(closed=True, reason=reason_now, next_open=change)
    return ScheduleState(
        closed=False,
        next_close=change,
        next_close_reason=reason_then if change is not None else None,
    )
