"""How a Promotion's steps read on a terminal, for ``describe promotion`` and ``promote --wait``.

One line per step: its number, alias (task steps as ``task::step``), the step it uses, its
status and how long it took; its message, when it has one, on the lines under it. Steps come
from ``spec.steps`` (the operator fills them in, tasks inflated) and how they ran from
``status.stepExecutionMetadata``, index by index.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shunter.cli_commands.tables import human_duration, parse_time

__all__ = [
    "STEP_DONE",
    "TERMINAL_PHASES",
    "StepRow",
    "format_steps",
    "promotion_duration",
    "step_rows",
]

JSON = Mapping[str, Any]
#: Step statuses after which a step does not change any more.
STEP_DONE = frozenset({"Succeeded", "Failed", "Errored", "Aborted", "Skipped"})
#: Phases after which a Promotion does not change any more.
TERMINAL_PHASES = frozenset({"Succeeded", "Failed", "Errored", "Aborted"})
_MESSAGE_INDENT = "       "


@dataclass(frozen=True)
class StepRow:
    """One step of a Promotion, as far as it got."""

    number: int
    total: int
    alias: str
    uses: str
    status: str
    duration: str
    message: str

    @property
    def done(self) -> bool:
        """Whether the step has finished (it will not change any more)."""
        return self.status in STEP_DONE


def _dict(value: Any) -> JSON:
    return value if isinstance(value, Mapping) else {}


def _between(start: Any, end: Any, now: datetime) -> str:
    began = parse_time(start)
    if began is None:
        return ""
    finished = parse_time(end) or now
    return human_duration((finished - began).total_seconds())


def step_rows(promotion: JSON, now: datetime | None = None) -> list[StepRow]:
    """The steps of ``promotion`` (see the module docstring); not reached: empty status."""
    now = now or datetime.now(UTC)
    steps = [_dict(s) for s in (_dict(promotion.get("spec")).get("steps") or [])]
    ran = [_dict(m) for m in (_dict(promotion.get("status")).get("stepExecutionMetadata") or [])]
    total = max(len(steps), len(ran))
    rows = []
    for index in range(total):
        step = steps[index] if index < len(steps) else {}
        meta = ran[index] if index < len(ran) else {}
        task = _dict(step.get("task")).get("name")
        uses = str(step.get("uses") or (f"task {task}" if task else ""))
        alias = str(meta.get("alias") or step.get("as") or f"step-{index + 1}")
        rows.append(
            StepRow(
                number=index + 1,
                total=total,
                alias=alias,
                uses=uses,
                status=str(meta.get("status") or ""),
                duration=_between(meta.get("startedAt"), meta.get("finishedAt"), now),
                message=str(meta.get("message") or "").strip(),
            )
        )
    return rows


def format_steps(
    rows: list[StepRow], *, indent: str = "  ", only: Collection[int] | None = None
) -> str:
    """The lines of ``rows`` (of the step numbers in ``only``, if given), columns aligned over
    every row; a step not reached shows ``-``."""
    if not rows:
        return ""
    labels = [f"{r.alias} ({r.uses})" if r.uses and r.uses != r.alias else r.alias for r in rows]
    numbers = [f"{r.number}/{r.total}" for r in rows]
    number_width = max(len(n) for n in numbers)
    label_width = max(len(label) for label in labels)
    status_width = max(len(r.status or "-") for r in rows)
    lines = []
    for row, number, label in zip(rows, numbers, labels, strict=True):
        if only is not None and row.number not in only:
            continue
        cells = [number.rjust(number_width), label.ljust(label_width)]
        cells.append((row.status or "-").ljust(status_width))
        cells.append(row.duration)
        lines.append(indent + "   ".join(cells).rstrip())
        for message_line in row.message.splitlines():
            lines.append(f"{indent}{_MESSAGE_INDENT}{message_line}".rstrip())
    return "".join(f"{line}\n" for line in lines)


def promotion_duration(promotion: JSON, now: datetime | None = None) -> str:
    """How long the Promotion ran (so far, while it runs); empty before it started."""
    status = _dict(promotion.get("status"))
    return _between(status.get("startedAt"), status.get("finishedAt"), now or datetime.now(UTC))
