"""``refresh``, ``abort`` and ``verify``: requests the operator acts on through annotations.

``refresh warehouse|stage|promotion NAME`` sets ``kargo.akuity.io/refresh`` to a new token;
the controller reconciles the object at once and echoes the token in
``status.lastHandledRefresh``, which ``--wait`` polls for. ``abort promotion NAME`` sets
``kargo.akuity.io/abort: terminate``; the Promotion ends as ``Aborted``.

``verify stage NAME`` asks for the verification of the Stage's current Freight to run again
(``kargo.akuity.io/reverify``); ``--abort`` stops the running one (``kargo.akuity.io/abort``).
Both name the current verification by its ID, as JSON ``{"id": ..., "actor": ...}`` like
Kargo's API server writes it (the actor is ``kubernetes:<user>`` when the API server says who
you are).
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, datetime
from typing import Any

from shunter.api.v1alpha1.annotations import ABORT, REFRESH, REVERIFY
from shunter.api.v1alpha1.group import GROUP
from shunter.cli_commands.completion import completes
from shunter.cli_commands.errors import CliError
from shunter.cli_commands.lookup import get_object
from shunter.cli_commands.promotion_view import TERMINAL_PHASES
from shunter.cli_commands.session import Session
from shunter.cliclient.identity import caller_actor

__all__ = ["abort_command", "add_parsers", "refresh_command", "verify_command"]

JSON = dict[str, Any]
_REFRESHABLE = {"warehouse": "warehouses", "stage": "stages", "promotion": "promotions"}
_TERMINAL_VERIFICATION = {"Successful", "Failed", "Error", "Aborted", "Inconclusive"}
#: Seconds between two looks under ``--wait``.
POLL_INTERVAL = 0.5


def add_parsers(sub: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Register ``refresh``, ``abort`` and ``verify`` on the ``shunter`` subcommands."""
    refresh = sub.add_parser(
        "refresh",
        parents=parents,
        help="make the operator look at an object now",
        description="Ask the operator to reconcile a Warehouse (discover artifacts now), a Stage "
        "or a Promotion.",
        epilog="example:\n  shunter refresh warehouse example-container -n sandbox-example --wait",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    refresh.add_argument("kind", choices=sorted(_REFRESHABLE), help="what to refresh")
    completes(refresh.add_argument("name", metavar="NAME"), None)
    refresh.add_argument(
        "--wait", action="store_true", help="wait until the operator has handled the refresh"
    )
    refresh.add_argument(
        "--timeout", type=float, default=60.0, help="seconds --wait waits (default: 60)"
    )
    refresh.set_defaults(command=refresh_command)

    abort = sub.add_parser(
        "abort",
        parents=parents,
        help="abort a running Promotion",
        description="Ask the operator to stop a Promotion; it ends as Aborted.",
    )
    abort.add_argument("kind", choices=["promotion"], help="what to abort")
    completes(abort.add_argument("name", metavar="NAME"), "promotions")
    abort.set_defaults(command=abort_command)

    verify = sub.add_parser(
        "verify",
        parents=parents,
        help="run the verification of a Stage's current Freight again, or abort it",
        description="Ask the operator to verify the Stage's current Freight again (its "
        "spec.verification), or with --abort to stop the verification that is running.",
        epilog="examples:\n  shunter verify stage preprod -n sandbox-example\n"
        "  shunter verify stage preprod -n sandbox-example --abort",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    verify.add_argument("kind", choices=["stage"], help="what to verify")
    completes(verify.add_argument("name", metavar="NAME"), "stages")
    verify.add_argument("--abort", action="store_true", help="abort the running verification")
    verify.set_defaults(command=verify_command)


def _handled(obj: JSON) -> str | None:
    value = (obj.get("status") or {}).get("lastHandledRefresh")
    return value if isinstance(value, str) else None


def refresh_command(session: Session) -> int:
    """Run ``shunter refresh``."""
    args = session.args
    project = session.project()
    plural = _REFRESHABLE[args.kind]
    get_object(session.api, project, plural, args.name)
    token = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    patch = {"metadata": {"annotations": {REFRESH: token}}}
    session.api.patch(plural, project, args.name, patch)
    session.write(f"{args.kind}.{GROUP}/{args.name} refresh requested\n")
    if not args.wait:
        return 0
    deadline = time.monotonic() + args.timeout
    while True:
        current = session.api.get(plural, args.name, project)
        if _handled(current) == token:
            session.write(f"{args.kind}.{GROUP}/{args.name} refreshed\n")
            return 0
        if time.monotonic() >= deadline:
            raise CliError(
                f"the operator has not handled the refresh of {args.kind} {args.name!r} within "
                f"{args.timeout:g}s; check that shunter is running and watches project "
                f"{project!r} (its logs tell why), or wait longer with --timeout"
            )
        time.sleep(POLL_INTERVAL)


def abort_command(session: Session) -> int:
    """Run ``shunter abort promotion``."""
    args = session.args
    project = session.project()
    promotion = get_object(session.api, project, "promotions", args.name)
    phase = (promotion.get("status") or {}).get("phase")
    if phase in TERMINAL_PHASES:
        session.write(
            f"promotion.{GROUP}/{args.name} already finished ({phase}); nothing to abort\n"
        )
        return 0
    patch = {"metadata": {"annotations": {ABORT: "terminate"}}}
    session.api.patch("promotions", project, args.name, patch)
    session.write(f"promotion.{GROUP}/{args.name} abort requested\n")
    return 0


def _actor(session: Session) -> str | None:
    """``kubernetes:<user>`` as the API server knows the caller (a SelfSubjectReview)."""
    return caller_actor(session.api)


def _current_verification(stage: JSON) -> tuple[str, JSON]:
    """The current Freight's name and its latest verification (raises when there is none)."""
    name = stage.get("metadata", {}).get("name")
    history = (stage.get("status") or {}).get("freightHistory") or []
    current = history[0] if history and isinstance(history[0], dict) else {}
    freight = current.get("items") or {}
    if not freight:
        raise CliError(f"Stage {name!r} has no current Freight, so there is nothing to verify")
    freight_names = ", ".join(
        str(ref.get("name", "")) for ref in freight.values() if isinstance(ref, dict)
    )
    verifications = current.get("verificationHistory") or []
    if not verifications or not isinstance(verifications[0], dict):
        raise CliError(
            f"Stage {name!r} has not verified its current Freight ({freight_names}) yet; the "
            "operator verifies it once the Stage is healthy"
        )
    latest: JSON = verifications[0]
    if not latest.get("id"):
        raise CliError(f"the current verification of Stage {name!r} has no ID")
    return freight_names, latest


def verify_command(session: Session) -> int:
    """Run ``shunter verify stage``."""
    args = session.args
    project = session.project()
    stage = get_object(session.api, project, "stages", args.name)
    freight, latest = _current_verification(stage)
    phase = str(latest.get("phase") or "Pending")
    if args.abort and phase in _TERMINAL_VERIFICATION:
        session.write(
            f"stage.{GROUP}/{args.name}: the verification of {freight} already finished "
            f"({phase}); nothing to abort\n"
        )
        return 0
    request: JSON = {"id": latest["id"]}
    actor = _actor(session)
    if actor:
        request["actor"] = actor
    key = ABORT if args.abort else REVERIFY
    patch = {"metadata": {"annotations": {key: json.dumps(request, separators=(",", ":"))}}}
    session.api.patch("stages", project, args.name, patch)
    what = "abort of the verification" if args.abort else "verification"
    note = ""
    if not args.abort and phase not in _TERMINAL_VERIFICATION:
        note = f" (the current one is still {phase}: the new one starts when it ends)"
    session.write(f"stage.{GROUP}/{args.name} {what} of {freight} requested{note}\n")
    return 0
