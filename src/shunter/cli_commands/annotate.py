"""``shunter refresh`` and ``shunter abort``: requests the operator acts on through annotations.

``refresh warehouse|stage|promotion NAME`` sets ``kargo.akuity.io/refresh`` to a new token;
the controller reconciles the object at once and echoes the token in
``status.lastHandledRefresh``, which ``--wait`` polls for. ``abort promotion NAME`` sets
``kargo.akuity.io/abort: terminate``; the Promotion ends as ``Aborted``.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from datetime import UTC, datetime
from typing import Any, TextIO

from shunter.api.v1alpha1.annotations import ABORT, REFRESH
from shunter.cli_commands.errors import CliError
from shunter.cli_commands.lookup import get_object
from shunter.kube.client import KubeClient

__all__ = ["abort_command", "add_parsers", "refresh_command"]

JSON = dict[str, Any]
_REFRESHABLE = {"warehouse": "warehouses", "stage": "stages", "promotion": "promotions"}
_TERMINAL_PHASES = {"Succeeded", "Failed", "Errored", "Aborted"}
#: Seconds between two looks under ``--wait``.
POLL_INTERVAL = 0.5


def add_parsers(sub: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Register ``refresh`` and ``abort`` on the ``shunter`` subcommands."""
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
    refresh.add_argument("name", metavar="NAME")
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
    abort.add_argument("name", metavar="NAME")
    abort.set_defaults(command=abort_command)


def _handled(obj: JSON) -> str | None:
    value = (obj.get("status") or {}).get("lastHandledRefresh")
    return value if isinstance(value, str) else None


async def refresh_command(kube: KubeClient, args: argparse.Namespace, out: TextIO) -> int:
    """Run ``shunter refresh``."""
    project: str = args.project
    plural = _REFRESHABLE[args.kind]
    await get_object(kube, project, plural, args.name)
    token = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    patch = {"metadata": {"annotations": {REFRESH: token}}}
    await kube.patch_custom(project, plural, args.name, patch)
    out.write(f"{args.kind}.kargo.akuity.io/{args.name} refresh requested\n")
    out.flush()
    if not args.wait:
        return 0
    deadline = time.monotonic() + args.timeout
    while True:
        current = await kube.get_custom(project, plural, args.name)
        if _handled(current) == token:
            out.write(f"{args.kind}.kargo.akuity.io/{args.name} refreshed\n")
            return 0
        if time.monotonic() >= deadline:
            raise CliError(
                f"the operator has not handled the refresh of {args.kind} {args.name!r} within "
                f"{args.timeout:g}s; check that shunter is running and watches project "
                f"{project!r} (its logs tell why), or wait longer with --timeout"
            )
        await asyncio.sleep(POLL_INTERVAL)


async def abort_command(kube: KubeClient, args: argparse.Namespace, out: TextIO) -> int:
    """Run ``shunter abort promotion``."""
    project: str = args.project
    promotion = await get_object(kube, project, "promotions", args.name)
    phase = (promotion.get("status") or {}).get("phase")
    if phase in _TERMINAL_PHASES:
        out.write(
            f"promotion.kargo.akuity.io/{args.name} already finished ({phase}); nothing to abort\n"
        )
        return 0
    patch = {"metadata": {"annotations": {ABORT: "terminate"}}}
    await kube.patch_custom(project, "promotions", args.name, patch)
    out.write(f"promotion.kargo.akuity.io/{args.name} abort requested\n")
    return 0
