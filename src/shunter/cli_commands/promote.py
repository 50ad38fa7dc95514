"""``shunter promote`` and ``shunter approve``: move a piece of Freight into Stages, or allow it.

``promote --stage S`` creates one Promotion (named ``<stage>.<ulid>.<freight[:7]>``, as Kargo
names them) after checking, like Kargo's API server, that the Stage can run one and that the
Freight is available to it; the operator fills in the steps and runs it.
``promote --downstream-from S`` creates one for every Stage directly downstream of S (it lists
S under ``sources.stages`` for the Freight's origin) that can take the Freight; Stages without
steps (control flow) and Stages the Freight is not available to are skipped with the reason.
``--wait`` then follows the Promotions to their end (:mod:`shunter.cli_commands.follow`).
``promote --stage S --dry-run`` creates nothing: after the same checks it runs the preview
(:mod:`shunter.preview`, which ``shunter.cli`` hands in as ``args.preview``) and prints what the
Promotion would change.

``approve`` records the Stage in the Freight's ``status.approvedFor``, which makes the Freight
available to that Stage without verification upstream.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from shunter.api.v1alpha1.group import GROUP, VERSION
from shunter.cli_commands.completion import completes
from shunter.cli_commands.errors import CliError
from shunter.cli_commands.follow import follow_promotions
from shunter.cli_commands.lookup import (
    describe_freight,
    get_object,
    list_objects,
    resolve_freight,
)
from shunter.cli_commands.session import Session
from shunter.cliclient.client import ConflictError
from shunter.controllers.naming import promotion_name

if TYPE_CHECKING:
    from shunter.api.v1alpha1.freight import Freight
    from shunter.api.v1alpha1.stage import Stage

__all__ = ["add_parsers", "approve_command", "promote_command"]

JSON = dict[str, Any]

_PROMOTE_EXAMPLES = """examples:
  shunter promote -n sandbox-example --stage prod --freight frozen-tauntaun --dry-run
  shunter promote -n sandbox-example --stage prod --freight frozen-tauntaun --wait
  shunter promote -n sandbox-example --downstream-from preprod --freight frozen-tauntaun
"""


def add_parsers(sub: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Register ``promote`` and ``approve`` on the ``shunter`` subcommands."""
    promote = sub.add_parser(
        "promote",
        parents=parents,
        help="promote a piece of Freight to a Stage (or to the Stages downstream of one)",
        description="Create a Promotion of the Freight to the Stage, if the Freight is available "
        "to it; with --downstream-from, one to each Stage directly downstream that can take it.",
        epilog=_PROMOTE_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    target = promote.add_mutually_exclusive_group(required=True)
    completes(target.add_argument("--stage", help="the Stage"), "stages")
    completes(
        target.add_argument(
            "--downstream-from",
            metavar="STAGE",
            help="promote to every Stage directly downstream of STAGE that can take the Freight",
        ),
        "stages",
    )
    completes(
        promote.add_argument("--freight", required=True, help="the Freight's name or alias"),
        "freights",
    )
    promote.add_argument(
        "--wait",
        action="store_true",
        help="follow the Promotion(s): print each step as it finishes; exit 1 unless all succeed",
    )
    promote.add_argument(
        "--timeout",
        type=float,
        metavar="SECONDS",
        help="with --wait: give up waiting after SECONDS (the Promotion goes on)",
    )
    promote.add_argument(
        "--dry-run",
        action="store_true",
        help="create nothing: run the steps here, with your identity, in a scratch folder, "
        "without their effects (pushes, Argo CD, ...), and print what would change; "
        "exit 1 if the Promotion would fail",
    )
    promote.add_argument(
        "--allow-credentials-over-http",
        action="store_true",
        help="with --dry-run: send repository credentials to plain http:// servers "
        "(test setups only; also $SHUNTER_ALLOW_CREDENTIALS_OVER_HTTP)",
    )
    promote.set_defaults(command=promote_command)

    approve = sub.add_parser(
        "approve",
        parents=parents,
        help="approve a piece of Freight for a Stage",
        description="Make the Freight available to the Stage without verification upstream.",
        epilog="example:\n"
        "  shunter approve -n sandbox-example --stage prod --freight frozen-tauntaun",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    completes(approve.add_argument("--stage", required=True, help="the Stage"), "stages")
    completes(
        approve.add_argument("--freight", required=True, help="the Freight's name or alias"),
        "freights",
    )
    approve.set_defaults(command=approve_command)


def _unavailable_hint(stage: Stage, freight: Freight, project: str, label: str) -> str:
    from shunter.cli_commands.models import requested_origins  # noqa: PLC0415

    name = stage.metadata.name or ""
    request = next(
        (r for r in stage.spec.requested_freight if r.origin.key == freight.origin.key), None
    )
    if request is None:
        return f"Stage {name!r} requests Freight from: {requested_origins(stage)}"
    upstream = ", ".join(request.sources.stages or [])
    approve = (
        f"shunter approve --project {project} --stage {name} --freight {freight.metadata.name}"
    )
    if upstream:
        return (
            f"Promote it to {upstream} first and let it be verified there, "
            f"or approve it for this Stage: {approve}"
        )
    return f"Approve {label} for this Stage: {approve}"


def _has_steps(stage: Stage) -> bool:
    template = stage.spec.promotion_template
    return template is not None and bool(template.spec.steps)


def _why_not(stage: Stage, freight: Freight) -> str | None:
    """Why ``freight`` cannot be promoted to ``stage`` now; None when it can."""
    from shunter.cli_commands.models import freight_availability  # noqa: PLC0415

    if not _has_steps(stage):
        return "it has no promotion steps (a control-flow Stage)"
    availability = freight_availability(stage, freight)
    return None if availability.available else availability.reason


def _create(session: Session, project: str, stage: str, freight: str) -> str:
    name = promotion_name(stage, freight)
    body: JSON = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Promotion",
        "metadata": {"name": name, "namespace": project},
        "spec": {"stage": stage, "freight": freight},
    }
    try:
        created = session.api.create("promotions", project, body)
    except ConflictError:
        raise CliError(f"Promotion {name!r} already exists; run the command again") from None
    created_name = str(created.get("metadata", {}).get("name", name))
    session.write(f"promotion.{GROUP}/{created_name} created\n")
    return created_name


def _downstream(stages: list[Stage], upstream: str, freight: Freight) -> list[Stage]:
    return [
        s
        for s in stages
        if any(
            r.origin.key == freight.origin.key and upstream in (r.sources.stages or [])
            for r in s.spec.requested_freight
        )
    ]


def promote_command(session: Session) -> int:
    """Run ``shunter promote``."""
    from shunter.cli_commands.models import parse_freight, parse_stage  # noqa: PLC0415

    args = session.args
    if args.timeout is not None and not args.wait:
        raise CliError("--timeout goes with --wait", exit_code=2)
    if args.dry_run and (args.wait or args.downstream_from):
        raise CliError("--dry-run previews one Stage: use --stage, without --wait", exit_code=2)
    project = session.project()
    api = session.api
    if args.downstream_from:
        get_object(api, project, "stages", args.downstream_from)  # names the Stages if missing
    else:
        get_object(api, project, "stages", args.stage)
    raw_freight = resolve_freight(api, project, args.freight)
    freight = parse_freight(raw_freight)
    freight_name = freight.metadata.name or ""
    label = describe_freight(raw_freight)
    created: dict[str, str] = {}
    if args.downstream_from:
        stages = [parse_stage(s) for s in list_objects(api, project, "stages")]
        targets = sorted(
            _downstream(stages, args.downstream_from, freight), key=lambda s: s.metadata.name or ""
        )
        if not targets:
            raise CliError(
                f"no Stage is directly downstream of {args.downstream_from!r} for Freight from "
                f"{freight.origin.key} (none lists it under sources.stages)"
            )
        skipped = []
        for stage in targets:
            stage_name = stage.metadata.name or ""
            reason = _why_not(stage, freight)
            if reason is not None:
                skipped.append(f"Stage {stage_name!r}: {reason}")
                continue
            created[_create(session, project, stage_name, freight_name)] = stage_name
        for line in skipped:
            sys.stderr.write(f"skipped {line}\n")
        if not created:
            raise CliError(
                f"Freight {label} was promoted to no Stage downstream of "
                f"{args.downstream_from!r} (see above why)"
            )
    else:
        stage = parse_stage(get_object(api, project, "stages", args.stage))
        if not _has_steps(stage):
            raise CliError(
                f"Stage {args.stage!r} has no promotion steps (spec.promotionTemplate), so "
                "there is nothing to run; add steps to the Stage first"
            )
        reason = _why_not(stage, freight)
        if reason is not None:
            hint = _unavailable_hint(stage, freight, project, label)
            raise CliError(
                f"Freight {label} is not available to Stage {args.stage!r}: {reason}.\n{hint}"
            )
        if args.dry_run:
            preview = getattr(args, "preview", None)
            if preview is None:
                raise CliError("previews are not available in this program")
            code: int = preview(session, project, args.stage, freight_name)
            return code
        created[_create(session, project, args.stage, freight_name)] = args.stage
    if args.wait:
        return follow_promotions(session, project, created, args.timeout)
    if len(created) == 1:
        name = next(iter(created))
        session.write(f"Follow it with: shunter get promotion {name} -n {project} -w\n")
    else:
        session.write(f"Follow them with: shunter get promotions -n {project} -w\n")
    return 0


def approve_command(session: Session) -> int:
    """Run ``shunter approve``."""
    from shunter.cli_commands.models import (  # noqa: PLC0415
        parse_freight,
        parse_stage,
        requested_origins,
    )

    args = session.args
    project = session.project()
    stage = parse_stage(get_object(session.api, project, "stages", args.stage))
    raw_freight = resolve_freight(session.api, project, args.freight)
    freight = parse_freight(raw_freight)
    stage_name = stage.metadata.name or ""
    freight_name = freight.metadata.name or ""
    label = describe_freight(raw_freight)
    if not any(r.origin.key == freight.origin.key for r in stage.spec.requested_freight):
        raise CliError(
            f"Stage {stage_name!r} does not request Freight from {freight.origin.key}, so "
            f"approving {label} for it would change nothing; it requests Freight from: "
            f"{requested_origins(stage)}"
        )
    approved = (freight.status.approved_for if freight.status else None) or {}
    if stage_name in approved:
        session.write(f"freight.{GROUP}/{freight_name} is already approved for {stage_name}\n")
        return 0
    now = datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    patch = {"status": {"approvedFor": {stage_name: {"approvedAt": now}}}}
    session.api.patch("freights", project, freight_name, patch, status=True)
    session.write(f"freight.{GROUP}/{freight_name} approved for Stage {stage_name}\n")
    return 0
