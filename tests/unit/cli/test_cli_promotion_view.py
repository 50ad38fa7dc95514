"""How ``describe promotion`` and ``promote --wait`` show a Promotion's steps."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from shunter.cli_commands.promotion_view import format_steps, promotion_duration, step_rows

NOW = datetime(2026, 1, 1, 10, 5, tzinfo=UTC)

PROMOTION: dict[str, Any] = {
    "spec": {
        "steps": [
            {"uses": "git-clone", "as": "task-1::clone"},
            {"uses": "yaml-update"},
            {"task": {"name": "notify"}},
        ]
    },
    "status": {
        "phase": "Running",
        "startedAt": "2026-01-01T10:00:00Z",
        "stepExecutionMetadata": [
            {
                "alias": "task-1::clone",
                "status": "Succeeded",
                "startedAt": "2026-01-01T10:00:00Z",
                "finishedAt": "2026-01-01T10:00:02Z",
            },
            {
                "alias": "step-2",
                "status": "Running",
                "startedAt": "2026-01-01T10:00:02Z",
                "message": "waiting for\nthe lock",
            },
        ],
    },
}


def test_rows_join_the_spec_and_how_each_step_ran() -> None:
    rows = step_rows(PROMOTION, NOW)
    assert [(r.number, r.alias, r.uses, r.status, r.duration) for r in rows] == [
        (1, "task-1::clone", "git-clone", "Succeeded", "2s"),
        (2, "step-2", "yaml-update", "Running", "4m58s"),
        (3, "step-3", "task notify", "", ""),
    ]
    assert [r.done for r in rows] == [True, False, False]


def test_lines_align_and_carry_messages_under_their_step() -> None:
    text = format_steps(step_rows(PROMOTION, NOW))
    assert text.splitlines() == [
        "  1/3   task-1::clone (git-clone)   Succeeded   2s",
        "  2/3   step-2 (yaml-update)        Running     4m58s",
        "         waiting for",
        "         the lock",
        "  3/3   step-3 (task notify)        -",
    ]
    only_first = format_steps(step_rows(PROMOTION, NOW), indent="  prod: ", only={1})
    assert only_first == "  prod: 1/3   task-1::clone (git-clone)   Succeeded   2s\n"


def test_duration_of_the_promotion() -> None:
    assert promotion_duration(PROMOTION, NOW) == "5m"
    assert promotion_duration({"status": {}}, NOW) == ""
    assert format_steps([]) == ""
