"""What the UI's buttons write, exactly what Kargo's UI and CLI write, as the signed-in user.

- promote: create a Promotion ``<stage>.<ulid>.<freight[:7]>`` with ``spec.stage`` and
  ``spec.freight`` (the operator fills in the steps), after checking what Kargo's API server
  checks: the Stage has steps and the Freight is available to it;
- approve: ``status.approvedFor[<stage>]`` on the Freight;
- refresh a Warehouse: a new ``kargo.akuity.io/refresh`` token;
- abort a Promotion: ``kargo.akuity.io/abort: terminate``;
- re-verify a Stage: ``kargo.akuity.io/reverify`` set to ``{"id": <the current verification>,
  "actor": "kubernetes:<user>"}``.

Decisions read fresh objects from the API server, never the page's cache. A refusal from the API
server (403 "forbidden") is passed on as it came and nothing is written.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from shunter.api.v1alpha1 import Freight, Stage
from shunter.api.v1alpha1.annotations import ABORT, CREATE_ACTOR, REFRESH, REVERIFY
from shunter.controllers.availability import freight_availability
from shunter.controllers.naming import promotion_name
from shunter.ui import views
from shunter.ui.kubeapi import ApiError, UserApi

__all__ = [
    "ActionError",
    "Option",
    "abort_promotion",
    "approve",
    "promote",
    "promote_options",
    "promote_targets",
    "refresh_warehouse",
    "reverify",
    "step_names",
]

JSON = dict[str, Any]


class ActionError(Exception):
    """An action was refused (by the API server, or because it cannot work); nothing changed."""

    def __init__(self, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _refused(exc: ApiError, what: str) -> ActionError:
    if exc.forbidden:
        return ActionError(f"Forbidden: the API server refused to {what}: {exc.message}", 403)
    if exc.status == 404:
        return ActionError(f"Not found: {exc.message}", 404)
    return ActionError(f"The API server refused to {what}: {exc.message}", exc.status or 502)


async def _read(api: UserApi, plural: str, project: str, name: str, what: str) -> JSON:
    try:
        return await api.get(plural, project, name)
    except ApiError as exc:
        raise _refused(exc, f"read {what}") from None


def _stage_model(raw: JSON) -> Stage:
    try:
        return Stage.model_validate(raw)
    except ValidationError as exc:
        raise ActionError(f"Stage {views.name_of(raw)!r} cannot be read: {exc}", 422) from None


def _freight_model(raw: JSON) -> Freight:
    try:
        return Freight.model_validate(raw)
    except ValidationError as exc:
        raise ActionError(f"Freight {views.name_of(raw)!r} cannot be read: {exc}", 422) from None


def step_names(stage: Mapping[str, Any]) -> list[str]:
    """The ``uses`` (or task) of each step of the Stage's promotion template."""
    template = views.as_dict(views.as_dict(stage.get("spec")).get("promotionTemplate"))
    names = []
    for raw in views.as_list(views.as_dict(template.get("spec")).get("steps")):
        step = views.as_dict(raw)
        task = views.as_dict(step.get("task"))
        names.append(views.as_str(step.get("uses")) or f"task {views.as_str(task.get('name'))}")
    return names


def _label(freight: Mapping[str, Any]) -> str:
    alias = views.freight_alias(freight)
    name = views.name_of(freight)
    return f"{alias} ({name[:7]})" if alias else name


def _unavailable(stage: Stage, freight: Freight) -> str:
    reason = freight_availability(stage, freight).reason
    return reason[0].upper() + reason[1:] if reason else ""


async def promote(
    api: UserApi, project: str, stage_name: str, freight_name: str, actor: str
) -> str:
    """Create the Promotion; returns what happened."""
    raw_stage = await _read(api, "stages", project, stage_name, f"Stage {stage_name!r}")
    raw_freight = await _read(api, "freights", project, freight_name, f"Freight {freight_name!r}")
    if not step_names(raw_stage):
        raise ActionError(
            f"Stage {stage_name!r} has no promotion steps (spec.promotionTemplate): there is "
            "nothing to run",
            422,
        )
    stage, freight = _stage_model(raw_stage), _freight_model(raw_freight)
    availability = freight_availability(stage, freight)
    if not availability.available:
        raise ActionError(
            f"Freight {_label(raw_freight)} is not available to Stage {stage_name!r}: "
            f"{availability.reason}",
            409,
        )
    name = promotion_name(stage_name, freight_name)
    metadata: JSON = {"name": name, "namespace": project}
    if actor:
        metadata["annotations"] = {CREATE_ACTOR: f"kubernetes:{actor}"}
    body: JSON = {
        "apiVersion": "kargo.akuity.io/v1alpha1",
        "kind": "Promotion",
        "metadata": metadata,
        "spec": {"stage": stage_name, "freight": freight_name},
    }
    try:
        await api.create("promotions", project, body)
    except ApiError as exc:
        raise _refused(exc, f"create a Promotion in {project!r}") from None
    return f"Promotion {name} created: Freight {_label(raw_freight)} into Stage {stage_name}"


async def approve(api: UserApi, project: str, stage_name: str, freight_name: str) -> str:
    """Approve the Freight for the Stage."""
    raw_stage = await _read(api, "stages", project, stage_name, f"Stage {stage_name!r}")
    raw_freight = await _read(api, "freights", project, freight_name, f"Freight {freight_name!r}")
    stage, freight = _stage_model(raw_stage), _freight_model(raw_freight)
    if not any(r.origin.key == freight.origin.key for r in stage.spec.requested_freight):
        raise ActionError(
            f"Stage {stage_name!r} does not request Freight from {freight.origin.key}: "
            "approving it would change nothing",
            409,
        )
    approved = (freight.status.approved_for if freight.status else None) or {}
    if stage_name in approved:
        return f"Freight {_label(raw_freight)} was already approved for Stage {stage_name}"
    patch = {"status": {"approvedFor": {stage_name: {"approvedAt": _now()}}}}
    try:
        await api.patch("freights", project, freight_name, patch, status=True)
    except ApiError as exc:
        raise _refused(exc, f"approve Freight {freight_name!r}") from None
    return f"Freight {_label(raw_freight)} approved for Stage {stage_name}"


async def _annotate(
    api: UserApi, plural: str, project: str, name: str, *, annotation: tuple[str, str], what: str
) -> None:
    patch = {"metadata": {"annotations": dict([annotation])}}
    try:
        await api.patch(plural, project, name, patch)
    except ApiError as exc:
        raise _refused(exc, what) from None


async def refresh_warehouse(api: UserApi, project: str, warehouse: str) -> str:
    """Ask for a discovery now."""
    what = f"refresh Warehouse {warehouse!r}"
    await _annotate(api, "warehouses", project, warehouse, annotation=(REFRESH, _now()), what=what)
    return f"Warehouse {warehouse} refresh requested"


async def abort_promotion(api: UserApi, project: str, promotion: str) -> str:
    """Ask the operator to stop a Promotion that has not finished."""
    raw = await _read(api, "promotions", project, promotion, f"Promotion {promotion!r}")
    phase = views.as_str(views.as_dict(raw.get("status")).get("phase"))
    if phase in views.TERMINAL_PHASES:
        raise ActionError(f"Promotion {promotion} has already finished ({phase})", 409)
    what = f"abort Promotion {promotion!r}"
    await _annotate(
        api, "promotions", project, promotion, annotation=(ABORT, "terminate"), what=what
    )
    return f"Promotion {promotion} abort requested"


async def reverify(api: UserApi, project: str, stage_name: str, actor: str = "") -> str:
    """Run the Stage's latest verification again (JSON ``{id, actor}``, as Kargo writes it)."""
    raw = await _read(api, "stages", project, stage_name, f"Stage {stage_name!r}")
    card = views.stage_card(raw, {})
    if card.verification is None or not card.verification.id:
        raise ActionError(
            f"Stage {stage_name!r} has no verification to run again "
            "(it verifies nothing, or has not started verifying its Freight)",
            409,
        )
    what = f"re-verify Stage {stage_name!r}"
    request = {"id": card.verification.id} | ({"actor": f"kubernetes:{actor}"} if actor else {})
    value = json.dumps(request, separators=(",", ":"))
    await _annotate(api, "stages", project, stage_name, annotation=(REVERIFY, value), what=what)
    return f"Stage {stage_name} verification {card.verification.id} requested again"


@dataclass(frozen=True)
class Option:
    """A piece of Freight offered to a Stage, or a Stage offered a piece of Freight."""

    stage: str
    freight: views.FreightRow
    available: bool
    reason: str
    approved: bool
    requested: bool


def _option(
    stage_raw: JSON, stage: Stage | None, freight_raw: JSON, colors: Mapping[str, str | None]
) -> Option:
    row = views.freight_row(freight_raw, colors)
    name = views.name_of(stage_raw)
    try:
        freight = Freight.model_validate(freight_raw)
    except ValidationError as exc:
        return Option(name, row, False, f"Freight cannot be read: {exc}", False, False)
    if stage is None:
        return Option(name, row, False, "the Stage cannot be read", False, False)
    requested = any(r.origin.key == freight.origin.key for r in stage.spec.requested_freight)
    approved = bool(freight.status and name in (freight.status.approved_for or {}))
    reason = "" if freight_availability(stage, freight).available else _unavailable(stage, freight)
    return Option(name, row, not reason, reason, approved, requested)


def _parse_stage(raw: JSON) -> Stage | None:
    try:
        return Stage.model_validate(raw)
    except ValidationError:
        return None


def promote_options(
    stage_raw: JSON,
    freights_newest_first: Iterable[JSON],
    colors: Mapping[str, str | None],
    limit: int = 50,
) -> list[Option]:
    """The newest Freight of the origins the Stage requests, each with its availability."""
    stage = _parse_stage(stage_raw)
    wanted = set(views.stage_card(stage_raw, {}).requested)
    out: list[Option] = []
    for freight in freights_newest_first:
        origin = views.as_dict(freight.get("origin"))
        if views.origin_key(origin) not in wanted:
            continue
        out.append(_option(stage_raw, stage, freight, colors))
        if len(out) >= limit:
            break
    return out


def promote_targets(
    freight_raw: JSON, stages: Iterable[JSON], colors: Mapping[str, str | None]
) -> list[Option]:
    """The Stages that request the Freight's origin, each with the Freight's availability."""
    origin = views.origin_key(views.as_dict(freight_raw.get("origin")))
    out = []
    for stage_raw in sorted(stages, key=views.name_of):
        if origin not in views.stage_card(stage_raw, {}).requested:
            continue
        out.append(_option(stage_raw, _parse_stage(stage_raw), freight_raw, colors))
    return out
