"""``shunter describe promotion NAME``: a Promotion and each of its steps, like a log of the run.

The header says which Stage and Freight, the phase and message, when it started and finished;
then every step with its status, how long it took and its message (the error of a failed step
in full), and the steps not reached yet as ``-``.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from shunter.api.v1alpha1.annotations import CREATE_ACTOR, ROLLBACK
from shunter.cli_commands.completion import completes
from shunter.cli_commands.lookup import describe_freight, get_object
from shunter.cli_commands.promotion_view import format_steps, promotion_duration, step_rows
from shunter.cli_commands.session import Session
from shunter.cli_commands.tables import human_duration, parse_time
from shunter.cliclient.client import NotFoundError

__all__ = ["add_parser", "describe_command"]

JSON = dict[str, Any]


def add_parser(sub: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Register ``describe`` on the ``shunter`` subcommands."""
    describe = sub.add_parser(
        "describe",
        parents=parents,
        help="show a Promotion and each of its steps",
        description="Show a Promotion: its Stage, Freight, phase, and each step with its "
        "status, duration and message.",
        epilog="example:\n  shunter describe promotion prod.01j2....abc1234 -n sandbox-example",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    describe.add_argument("kind", choices=["promotion"], help="what to describe")
    completes(describe.add_argument("name", metavar="NAME"), "promotions")
    describe.set_defaults(command=describe_command)


def _when(value: Any, now: datetime) -> str:
    moment = parse_time(value)
    if moment is None:
        return ""
    ago = human_duration((now - moment).total_seconds())
    return f"{moment.strftime('%Y-%m-%dT%H:%M:%SZ')} ({ago} ago)"


def describe_command(session: Session) -> int:
    """Run ``shunter describe promotion``."""
    args = session.args
    project = session.project()
    promotion = get_object(session.api, project, "promotions", args.name)
    now = datetime.now(UTC)
    spec = promotion.get("spec") or {}
    status = promotion.get("status") or {}
    meta = promotion.get("metadata") or {}
    freight = str(spec.get("freight") or "")
    try:
        freight = describe_freight(session.api.get("freights", freight, project))
    except NotFoundError:
        freight += " (deleted)"
    fields = [
        ("Name", str(meta.get("name", ""))),
        ("Project", project),
        ("Stage", str(spec.get("stage") or "")),
        ("Freight", freight),
        ("Phase", str(status.get("phase") or "Pending")),
        ("Message", str(status.get("message") or "").strip()),
        ("Created", _when(meta.get("creationTimestamp"), now)),
        ("Created by", str((meta.get("annotations") or {}).get(CREATE_ACTOR) or "")),
        ("Rollback", "yes" if (meta.get("annotations") or {}).get(ROLLBACK) == "true" else ""),
        ("Started", _when(status.get("startedAt"), now)),
        ("Finished", _when(status.get("finishedAt"), now)),
        ("Duration", promotion_duration(promotion, now)),
    ]
    width = max(len(label) for label, _ in fields) + 2
    lines = []
    for label, value in fields:
        if not value:
            continue
        first, *rest = value.splitlines()
        lines.append(f"{label + ':':<{width}}{first}")
        lines += [f"{'':<{width}}{line}" for line in rest]
    rows = step_rows(promotion, now)
    lines.append("Steps:" if rows else "Steps:    (not filled in yet: the operator adds them)")
    session.write("\n".join(lines) + "\n" + format_steps(rows))
    return 0
