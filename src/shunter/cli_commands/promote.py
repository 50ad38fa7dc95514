"""``shunter promote`` and ``shunter approve``: move a piece of Freight into a Stage, or allow it.

``promote`` creates the Promotion (named ``<stage>.<ulid>.<freight[:7]>``, as Kargo names
them) after checking, like Kargo's API server, that the Stage can run one and that the Freight
is available to it; the operator fills in the steps and runs it. ``approve`` records the Stage
in the Freight's ``status.approvedFor``, which makes the Freight available to that Stage
without verification upstream.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any, TextIO

from pydantic import ValidationError

from shunter.api.v1alpha1 import Freight, Stage
from shunter.cli_commands.errors import CliError
from shunter.cli_commands.lookup import describe_freight, get_object, resolve_freight
from shunter.controllers.availability import freight_availability
from shunter.controllers.naming import promotion_name
from shunter.kube.client import ConflictError, KubeClient

__all__ = ["add_parsers", "approve_command", "promote_command"]

JSON = dict[str, Any]


def add_parsers(sub: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Register ``promote`` and ``approve`` on the ``shunter`` subcommands."""
    for verb, help_text, description, command in (
        (
            "promote",
            "promote a piece of Freight to a Stage",
            "Create a Promotion of the Freight to the Stage, if the Freight is available to it.",
            promote_command,
        ),
        (
            "approve",
            "approve a piece of Freight for a Stage",
            "Make the Freight available to the Stage without verification upstream.",
            approve_command,
        ),
    ):
        parser = sub.add_parser(
            verb,
            parents=parents,
            help=help_text,
            description=description,
            epilog=f"example:\n  shunter {verb} --project sandbox-example --stage prod "
            "--freight frozen-tauntaun",
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        parser.add_argument("--stage", required=True, help="the Stage")
        parser.add_argument("--freight", required=True, help="the Freight's name or alias")
        parser.set_defaults(command=command)


def _parse_stage(raw: JSON) -> Stage:
    try:
        return Stage.model_validate(raw)
    except ValidationError as exc:
        name = raw.get("metadata", {}).get("name")
        raise CliError(f"cannot read Stage {name!r}: {exc}") from None


def _parse_freight(raw: JSON) -> Freight:
    try:
        return Freight.model_validate(raw)
    except ValidationError as exc:
        name = raw.get("metadata", {}).get("name")
        raise CliError(f"cannot read Freight {name!r}: {exc}") from None


def _requested_origins(stage: Stage) -> str:
    return ", ".join(r.origin.key for r in stage.spec.requested_freight) or "nothing"


def _unavailable_hint(stage: Stage, freight: Freight, project: str, label: str) -> str:
    name = stage.metadata.name or ""
    request = next(
        (r for r in stage.spec.requested_freight if r.origin.key == freight.origin.key), None
    )
    if request is None:
        return f"Stage {name!r} requests Freight from: {_requested_origins(stage)}"
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


async def _stage_and_freight(
    kube: KubeClient, project: str, stage_name: str, freight_ref: str
) -> tuple[Stage, Freight]:
    stage = _parse_stage(await get_object(kube, project, "stages", stage_name))
    freight = _parse_freight(await resolve_freight(kube, project, freight_ref))
    return stage, freight


async def promote_command(kube: KubeClient, args: argparse.Namespace, out: TextIO) -> int:
    """Run ``shunter promote``."""
    project: str = args.project
    stage, freight = await _stage_and_freight(kube, project, args.stage, args.freight)
    stage_name = stage.metadata.name or ""
    label = describe_freight(freight.model_dump(by_alias=True))
    template = stage.spec.promotion_template
    if template is None or not template.spec.steps:
        raise CliError(
            f"Stage {stage_name!r} has no promotion steps (spec.promotionTemplate), so there is "
            "nothing to run; add steps to the Stage first"
        )
    availability = freight_availability(stage, freight)
    if not availability.available:
        raise CliError(
            f"Freight {label} is not available to Stage {stage_name!r}: {availability.reason}.\n"
            + _unavailable_hint(stage, freight, project, label)
        )
    freight_name = freight.metadata.name or ""
    name = promotion_name(stage_name, freight_name)
    body: JSON = {
        "apiVersion": "kargo.akuity.io/v1alpha1",
        "kind": "Promotion",
        "metadata": {"name": name, "namespace": project},
        "spec": {"stage": stage_name, "freight": freight_name},
    }
    try:
        created = await kube.create_custom(project, "promotions", body)
    except ConflictError:
        raise CliError(f"Promotion {name!r} already exists; run the command again") from None
    created_name = created.get("metadata", {}).get("name", name)
    out.write(f"promotion.kargo.akuity.io/{created_name} created\n")
    out.write(f"Follow it with: shunter get promotion {created_name} -n {project} -w\n")
    return 0


async def approve_command(kube: KubeClient, args: argparse.Namespace, out: TextIO) -> int:
    """Run ``shunter approve``."""
    project: str = args.project
    stage, freight = await _stage_and_freight(kube, project, args.stage, args.freight)
    stage_name = stage.metadata.name or ""
    freight_name = freight.metadata.name or ""
    label = describe_freight(freight.model_dump(by_alias=True))
    if not any(r.origin.key == freight.origin.key for r in stage.spec.requested_freight):
        raise CliError(
            f"Stage {stage_name!r} does not request Freight from {freight.origin.key}, so "
            f"approving {label} for it would change nothing; it requests Freight from: "
            f"{_requested_origins(stage)}"
        )
    approved = (freight.status.approved_for if freight.status else None) or {}
    if stage_name in approved:
        out.write(f"freight.kargo.akuity.io/{freight_name} is already approved for {stage_name}\n")
        return 0
    now = datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    patch = {"status": {"approvedFor": {stage_name: {"approvedAt": now}}}}
    await kube.patch_custom(project, "freights", freight_name, patch, status=True)
    out.write(f"freight.kargo.akuity.io/{freight_name} approved for Stage {stage_name}\n")
    return 0
