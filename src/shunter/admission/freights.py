"""Freight admission, as Kargo's Freight webhooks do it.

Mutating: on CREATE the Freight is named after its Freight ID whatever name it was given, and
an alias-less Freight gets a unique ``<adjective>-<animal>`` alias; ``discoveredAt`` is filled
when missing; the ``kargo.akuity.io/alias`` label follows ``alias`` (removed on an UPDATE that
clears it).

Validating: a new Freight must be in a project namespace, use a free alias, come from an
existing Warehouse and carry exactly one artifact per subscription of that Warehouse; an alias
change must stay unique; approving Freight for a Stage (a new ``status.approvedFor`` entry)
needs the ``promote`` verb on that Stage; Freight a Stage currently uses cannot be deleted.
The artifacts' immutability is a CEL rule of the CRD.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

from shunter.admission.context import AdmissionContext, project_namespace_check
from shunter.admission.identity import PROMOTE_VERB
from shunter.admission.review import (
    JSON,
    AdmissionError,
    AdmissionRequest,
    FieldError,
    Verdict,
    forbidden,
    invalid,
    mutable_copy,
)
from shunter.api.v1alpha1 import Freight, Warehouse
from shunter.api.v1alpha1 import labels as lbl
from shunter.freight import (
    AliasExhaustedError,
    freight_id_of,
    generate_alias,
    normalize_chart_url,
    normalize_git_url,
)
from shunter.freight._gourl import go_path_join
from shunter.kube.client import KubeError

__all__ = ["mutate_freight", "validate_freight"]

KIND = "Freight"
RESOURCE = "freights.kargo.akuity.io"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


async def mutate_freight(request: AdmissionRequest, ctx: AdmissionContext) -> Verdict:
    """The mutating webhook (CREATE and UPDATE of ``freights``)."""
    if request.operation not in ("CREATE", "UPDATE"):
        return Verdict()
    obj = mutable_copy(request.object)
    meta: JSON = obj.setdefault("metadata", {})
    labels: JSON = meta.setdefault("labels", {})
    if request.operation == "CREATE":
        meta["name"] = freight_id_of(obj)
        meta.pop("generateName", None)
    if not obj.get("discoveredAt"):
        obj["discoveredAt"] = meta.get("creationTimestamp") or _now()
    alias = obj.get("alias")
    if alias:
        labels[lbl.ALIAS] = alias
    elif request.operation == "CREATE":

        async def taken(candidate: str) -> bool:
            return bool(await ctx.lookups.freight_with_alias(request.namespace, candidate))

        try:
            obj["alias"] = labels[lbl.ALIAS] = await generate_alias(taken)
        except AliasExhaustedError as exc:
            raise AdmissionError(500, "InternalError", str(exc)) from None
    else:
        labels.pop(lbl.ALIAS, None)
    return Verdict(mutated=obj)


async def validate_freight(request: AdmissionRequest, ctx: AdmissionContext) -> Verdict:
    """The validating webhook (CREATE, UPDATE of ``freights`` and ``freights/status``,
    DELETE)."""
    if request.operation == "CREATE":
        await _validate_create(request, ctx)
    elif request.operation == "UPDATE":
        await _check_alias_unique(request, ctx)
        await _authorize_approvals(request, ctx)
    elif request.operation == "DELETE":
        await _check_not_in_use(request, ctx)
    return Verdict()


async def _validate_create(request: AdmissionRequest, ctx: AdmissionContext) -> None:
    obj = request.object
    name = str((obj.get("metadata") or {}).get("name") or request.name)
    errors: list[FieldError] = []
    problem = await project_namespace_check(ctx, request.namespace)
    if problem is not None:
        errors.append(problem)
    alias = str(obj.get("alias") or "")
    if alias and await ctx.lookups.freight_with_alias(request.namespace, alias):
        errors.append(
            FieldError(
                "alias",
                f"alias already used by another piece of Freight in namespace "
                f"{request.namespace!r}",
                alias,
            )
        )
    origin = obj.get("origin") or {}
    warehouse_name = str(origin.get("name") or "")
    warehouse = await ctx.lookups.warehouse(request.namespace, warehouse_name)
    if warehouse is None:
        errors.append(FieldError("origin.name", "Warehouse does not exist", warehouse_name))
    else:
        errors.extend(artifact_errors(Freight.model_validate(obj), warehouse))
    if errors:
        raise invalid(KIND, name, errors)


def artifact_errors(freight: Freight, warehouse: Warehouse) -> list[FieldError]:
    """Kargo's rule: every artifact belongs to a subscription of the Warehouse, and every
    subscription has exactly one artifact (git repositories compared normalised, image
    repositories exactly, charts by normalised repository and name)."""
    wname = warehouse.metadata.name or ""
    subscribed: dict[tuple[str, str], str] = {}
    for sub in warehouse.spec.subscriptions:
        if sub.git is not None:
            subscribed[("commits", normalize_git_url(sub.git.repo_url))] = "Git repository"
        if sub.image is not None:
            subscribed[("images", sub.image.repo_url)] = "image repository"
        if sub.chart is not None:
            key = go_path_join(normalize_chart_url(sub.chart.repo_url), sub.chart.name or "")
            subscribed[("charts", key)] = "Helm chart"
    found: Counter[tuple[str, str]] = Counter()
    errors: list[FieldError] = []
    keyed: list[tuple[str, str, Any]] = [
        ("commits", normalize_git_url(c.repo_url or ""), c.repo_url) for c in freight.commits or []
    ]
    keyed += [("images", i.repo_url or "", i.repo_url) for i in freight.images or []]
    keyed += [
        ("charts", go_path_join(normalize_chart_url(c.repo_url or ""), c.name or ""), c.repo_url)
        for c in freight.charts or []
    ]
    labels = {"commits": "Git repository", "images": "image repository", "charts": "Helm chart"}
    for path, key, shown in keyed:
        if (path, key) in subscribed:
            found[(path, key)] += 1
        else:
            errors.append(
                FieldError(
                    path, f"no subscription found for {labels[path]} in Warehouse {wname!r}", shown
                )
            )
    for (path, key), what in subscribed.items():
        if found[(path, key)] == 0:
            errors.append(
                FieldError(path, f"no artifact found for {what} {key!r} of Warehouse {wname!r}")
            )
        elif found[(path, key)] > 1:
            errors.append(
                FieldError(
                    path, f"multiple artifacts found for {what} {key!r} of Warehouse {wname!r}"
                )
            )
    return errors


async def _check_alias_unique(request: AdmissionRequest, ctx: AdmissionContext) -> None:
    alias = str(request.object.get("alias") or "")
    if not alias or alias == request.old_object.get("alias"):
        return
    others = [
        n
        for n in await ctx.lookups.freight_with_alias(request.namespace, alias)
        if n != request.name
    ]
    if others:
        raise AdmissionError(
            409,
            "Conflict",
            f'Operation cannot be fulfilled on {RESOURCE} "{request.name}": alias {alias!r} '
            f"already used by another piece of Freight in namespace {request.namespace!r}",
        )


def _approved(obj: JSON) -> set[str]:
    approved = (obj.get("status") or {}).get("approvedFor") or {}
    return set(approved) if isinstance(approved, dict) else set()


async def _authorize_approvals(request: AdmissionRequest, ctx: AdmissionContext) -> None:
    if ctx.control_plane.is_operator(request.user):
        return
    for stage in sorted(_approved(request.object) - _approved(request.old_object)):
        try:
            allowed = await ctx.authorizer.may_promote(request.user, request.namespace, stage)
        except KubeError:
            raise forbidden(
                RESOURCE, request.name, "error creating SubjectAccessReview; refusing to approve"
            ) from None
        if not allowed:
            raise forbidden(
                RESOURCE,
                request.name,
                f'user "{request.user.username}" cannot approve Freight for Stage "{stage}" in '
                f'namespace "{request.namespace}": it needs the "{PROMOTE_VERB}" verb on '
                f'stages/{stage} (resource "stages", API group "kargo.akuity.io")',
            )


async def _check_not_in_use(request: AdmissionRequest, ctx: AdmissionContext) -> None:
    if ctx.control_plane.is_garbage_collector(request.user):
        return
    users = []
    for stage in await ctx.lookups.stages(request.namespace):
        history = stage.status.freight_history if stage.status else None
        current = history[0] if history else None
        if current and any(ref.name == request.name for ref in (current.items or {}).values()):
            users.append(f'"{stage.metadata.name}"')
    if users:
        raise forbidden(
            RESOURCE, request.name, f"freight is in-use by stages ({', '.join(sorted(users))})"
        )
