"""Following Promotions to their end (``promote --wait``): each step as it finishes, then the phase.

Polls every :data:`POLL_INTERVAL` seconds. With several Promotions (``--downstream-from``)
each line starts with its Stage. The exit code is 0 when every Promotion succeeded, 1 when one
failed, errored or was aborted (or ``--timeout`` passed first).
"""

from __future__ import annotations

import sys
import time
from typing import Any

from shunter.api.v1alpha1.group import GROUP
from shunter.cli_commands.errors import CliError
from shunter.cli_commands.promotion_view import (
    TERMINAL_PHASES,
    format_steps,
    promotion_duration,
    step_rows,
)
from shunter.cli_commands.session import Session

__all__ = ["POLL_INTERVAL", "follow_promotions"]

#: Seconds between two looks at a followed Promotion.
POLL_INTERVAL = 0.5
#: Seconds a Promotion may stay Pending before a hint says the operator may not be running.
PENDING_HINT_AFTER = 30.0

JSON = dict[str, Any]


def _outcome(promotion: JSON, name: str) -> str:
    status = promotion.get("status") or {}
    phase = str(status.get("phase") or "")
    took = promotion_duration(promotion)
    line = f"promotion.{GROUP}/{name} {phase}" + (f" after {took}" if took else "")
    message = str(status.get("message") or "").strip()
    if phase != "Succeeded" and message:
        line += f": {message}"
    return line + "\n"


def follow_promotions(
    session: Session, project: str, promotions: dict[str, str], timeout: float | None
) -> int:
    """Follow ``promotions`` (name -> Stage) in ``project`` until each has finished."""
    api = session.api
    width = max(len(stage) for stage in promotions.values()) + 1
    printed: dict[str, set[int]] = {name: set() for name in promotions}
    phases: dict[str, str] = {}
    started = time.monotonic()
    hinted = False
    moving = False  # some Promotion left Pending: the operator is at work
    while True:
        for name, stage in promotions.items():
            if name in phases:
                continue
            promotion = api.get("promotions", name, project)
            rows = step_rows(promotion)
            new = {r.number for r in rows if r.done} - printed[name]
            if new:
                indent = f"  {stage + ':':<{width}} " if len(promotions) > 1 else "  "
                session.write(format_steps(rows, indent=indent, only=new))
                printed[name] |= new
            phase = str((promotion.get("status") or {}).get("phase") or "")
            moving = moving or phase not in ("", "Pending")
            if phase in TERMINAL_PHASES:
                phases[name] = phase
                session.write(_outcome(promotion, name))
        if len(phases) == len(promotions):
            return 0 if all(p == "Succeeded" for p in phases.values()) else 1
        waited = time.monotonic() - started
        if timeout is not None and waited >= timeout:
            running = ", ".join(sorted(set(promotions) - set(phases)))
            raise CliError(
                f"not finished within {timeout:g}s: {running}; it goes on: follow it with "
                f"`shunter describe promotion NAME -n {project}` or "
                f"`shunter get promotions -n {project} -w`"
            )
        if not (hinted or moving) and waited >= PENDING_HINT_AFTER:
            hinted = True
            sys.stderr.write(
                f"(still Pending after {PENDING_HINT_AFTER:g}s: is shunter running and "
                f"watching project {project!r}? Still waiting; Ctrl-C stops waiting, not the "
                "Promotion)\n"
            )
        time.sleep(POLL_INTERVAL)
