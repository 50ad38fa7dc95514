"""Kargo's garbage collection rule: keep N past the oldest anchored object, delete older ones
that are old enough."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from shunter.controllers.garbage import doomed

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def _objs(count: int, *, anchored: set[int] = frozenset()) -> list[dict[str, Any]]:
    """``count`` objects, newest first, one hour apart; ``anchored`` by index."""
    return [
        {"name": f"o{i:02d}", "when": NOW - timedelta(hours=i), "anchor": i in anchored}
        for i in range(count)
    ]


def _names(objs: list[dict[str, Any]], **kwargs: Any) -> list[str]:
    victims = doomed(
        objs,
        anchor=lambda o: bool(o["anchor"]),
        when=lambda o: o["when"],
        now=NOW,
        **{"retained": 20, "min_age": timedelta(0), **kwargs},
    )
    return [v["name"] for v in victims]


def test_the_oldest_beyond_the_retained_number_go() -> None:
    assert _names(_objs(30)) == [f"o{i:02d}" for i in range(20, 30)]
    assert _names(_objs(20)) == []


def test_an_anchor_keeps_itself_and_the_retained_number_after_it() -> None:
    assert _names(_objs(30, anchored={3})) == [f"o{i:02d}" for i in range(24, 30)]
    assert _names(_objs(30, anchored={27})) == []


def test_only_old_enough_objects_go() -> None:
    assert _names(_objs(30), min_age=timedelta(hours=25)) == [f"o{i:02d}" for i in range(25, 30)]
