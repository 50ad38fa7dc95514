"""Admission of the pipeline kinds: Stage, Warehouse, PromotionTask, ClusterPromotionTask.

Mutating: a Stage's and a Warehouse's ``kargo.akuity.io/shard`` label follows ``spec.shard``;
a Stage's reverify and abort requests record who asked. Validating, with the field named:
step aliases (``step-<n>``/``task-<n>`` reserved, no duplicates, no ``::``) of Stage
templates and (Cluster)PromotionTasks, a Freight origin requested twice, ``MatchUpstream``
without exactly one upstream Stage or with ``direct``, Warehouse subscriptions repeated (same
name, or same repository once normalised), and new objects outside a project namespace.
What the CRD schema checks (step shapes, task-reference fields) stays in the schema.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from shunter.admission.context import (
    AdmissionContext,
    project_namespace_check,
    stamp_request_actor,
)
from shunter.admission.review import (
    JSON,
    AdmissionRequest,
    FieldError,
    Verdict,
    invalid,
    mutable_copy,
)
from shunter.api.v1alpha1 import Stage, Warehouse
from shunter.api.v1alpha1 import annotations as ann
from shunter.api.v1alpha1 import labels as lbl
from shunter.api.v1alpha1.common import PromotionStep
from shunter.api.v1alpha1.stage import AutoPromotionSelectionPolicy, FreightRequest
from shunter.freight import normalize_chart_url, normalize_git_url, normalize_image_url
from shunter.promotion.errors import InvalidStepsError
from shunter.promotion.tasks import validate_template_steps

__all__ = [
    "mutate_stage",
    "mutate_warehouse",
    "validate_cluster_promotion_task",
    "validate_promotion_task",
    "validate_stage",
    "validate_warehouse",
]


def _sync_shard(obj: JSON) -> None:
    meta: JSON = obj.setdefault("metadata", {})
    labels: JSON = meta.setdefault("labels", {})
    shard = (obj.get("spec") or {}).get("shard")
    if shard:
        labels[lbl.SHARD] = shard
    else:
        labels.pop(lbl.SHARD, None)


async def mutate_warehouse(request: AdmissionRequest, ctx: AdmissionContext) -> Verdict:
    """Warehouse mutating webhook: the shard label."""
    obj = mutable_copy(request.object)
    _sync_shard(obj)
    return Verdict(mutated=obj)


async def mutate_stage(request: AdmissionRequest, ctx: AdmissionContext) -> Verdict:
    """Stage mutating webhook: the shard label; the actor of reverify and abort requests."""
    obj = mutable_copy(request.object)
    _sync_shard(obj)
    annotations: JSON = obj["metadata"].setdefault("annotations", {})
    old = (request.old_object.get("metadata") or {}).get("annotations") or {}
    for key in (ann.REVERIFY, ann.ABORT):
        stamped = stamp_request_actor(
            annotations.get(key),
            old.get(key),
            key="id",
            user=request.user,
            from_operator=ctx.control_plane.is_operator(request.user),
        )
        if stamped is not None:
            annotations[key] = stamped
    return Verdict(mutated=obj)


def step_errors(path: str, steps: Sequence[PromotionStep]) -> list[FieldError]:
    """The step rules of :func:`~shunter.promotion.tasks.validate_template_steps`, each
    problem under ``path`` (e.g. ``spec.steps[2].as: step alias "step-1" is reserved``)."""
    try:
        validate_template_steps(steps)
    except InvalidStepsError as exc:
        return [_step_problem(path, p) for p in exc.problems]
    return []


def _step_problem(path: str, problem: str) -> FieldError:
    where, _, message = problem.partition(": ")
    return FieldError(f"{path}{where.removeprefix('steps')}", message)


def _unchanged_spec(request: AdmissionRequest) -> bool:
    """An update that leaves ``spec`` alone (labels, annotations) is not checked again: an
    object admitted before the webhooks served its namespace can still be annotated."""
    return request.operation == "UPDATE" and (
        request.object.get("spec") == request.old_object.get("spec")
    )


def _parse(request: AdmissionRequest, kind: str, model: type[Any]) -> tuple[Any, list[FieldError]]:
    try:
        return model.model_validate(request.object), []
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        return None, [FieldError(where or kind, str(first.get("msg", "invalid")))]


async def _common(request: AdmissionRequest, ctx: AdmissionContext) -> list[FieldError]:
    if request.operation != "CREATE" or not request.namespace:
        return []
    problem = await project_namespace_check(ctx, request.namespace)
    return [problem] if problem else []


def _requested_freight_errors(requests: Sequence[FreightRequest]) -> list[FieldError]:
    errors: list[FieldError] = []
    seen: set[str] = set()
    for i, request in enumerate(requests):
        key = request.origin.key
        if key in seen:
            errors.append(
                FieldError(
                    f"spec.requestedFreight[{i}].origin",
                    f"freight with origin {key} requested multiple times in spec.requestedFreight",
                    key,
                )
            )
        seen.add(key)
        sources = request.sources
        options = sources.auto_promotion_options
        if options and options.selection_policy == AutoPromotionSelectionPolicy.MATCH_UPSTREAM:
            where = f"spec.requestedFreight[{i}].sources.autoPromotionOptions.selectionPolicy"
            if sources.direct:
                errors.append(
                    FieldError(
                        where,
                        "selection policy 'MatchUpstream' cannot be used when accepting "
                        "Freight directly from its origin",
                        "MatchUpstream",
                    )
                )
            if len(sources.stages or []) != 1:
                errors.append(
                    FieldError(
                        where,
                        "selection policy 'MatchUpstream' requires exactly one upstream Stage "
                        "to be specified",
                        "MatchUpstream",
                    )
                )
    return errors


async def validate_stage(request: AdmissionRequest, ctx: AdmissionContext) -> Verdict:
    """Stage validating webhook."""
    if request.operation not in ("CREATE", "UPDATE") or _unchanged_spec(request):
        return Verdict()
    stage, errors = _parse(request, "Stage", Stage)
    errors = [*await _common(request, ctx), *errors]
    if stage is not None:
        errors += _requested_freight_errors(stage.spec.requested_freight)
        template = stage.spec.promotion_template
        if template is not None:
            errors += step_errors("spec.promotionTemplate.spec.steps", template.spec.steps)
    if errors:
        raise invalid("Stage", request.name, errors)
    return Verdict()


async def _validate_task(request: AdmissionRequest, ctx: AdmissionContext, kind: str) -> Verdict:
    if request.operation not in ("CREATE", "UPDATE") or _unchanged_spec(request):
        return Verdict()
    errors = await _common(request, ctx)
    raw_steps = (request.object.get("spec") or {}).get("steps") or []
    try:
        steps = [PromotionStep.model_validate(s) for s in raw_steps]
    except ValidationError:
        steps = []  # the CRD schema reports malformed steps
    errors += step_errors("spec.steps", steps)
    if errors:
        raise invalid(kind, request.name, errors)
    return Verdict()


async def validate_promotion_task(request: AdmissionRequest, ctx: AdmissionContext) -> Verdict:
    """PromotionTask validating webhook."""
    return await _validate_task(request, ctx, "PromotionTask")


async def validate_cluster_promotion_task(
    request: AdmissionRequest, ctx: AdmissionContext
) -> Verdict:
    """ClusterPromotionTask validating webhook."""
    return await _validate_task(request, ctx, "ClusterPromotionTask")


def _subscription_key(sub: Any) -> tuple[str, str, str] | None:
    if sub.git is not None:
        return ("git", normalize_git_url(sub.git.repo_url), "Git repository")
    if sub.image is not None:
        return ("image", normalize_image_url(sub.image.repo_url), "image repository")
    if sub.chart is not None:
        url = normalize_chart_url(sub.chart.repo_url)
        if not sub.chart.repo_url.startswith("oci://"):
            url = f"{url}:{sub.chart.name or ''}"
        return ("chart", url, "chart")
    return None


async def validate_warehouse(request: AdmissionRequest, ctx: AdmissionContext) -> Verdict:
    """Warehouse validating webhook."""
    if request.operation not in ("CREATE", "UPDATE") or _unchanged_spec(request):
        return Verdict()
    warehouse, errors = _parse(request, "Warehouse", Warehouse)
    errors = [*await _common(request, ctx), *errors]
    if warehouse is not None:
        names: dict[str, int] = {}
        repos: dict[tuple[str, str], int] = {}
        for i, sub in enumerate(warehouse.spec.subscriptions):
            if sub.name:
                if sub.name in names:
                    errors.append(
                        FieldError(
                            f"spec.subscriptions[{i}].name",
                            f"subscription name {sub.name!r} already used at "
                            f"spec.subscriptions[{names[sub.name]}]",
                            sub.name,
                        )
                    )
                names.setdefault(sub.name, i)
            key = _subscription_key(sub)
            if key is None:
                continue
            kind, url, what = key
            if (kind, url) in repos:
                errors.append(
                    FieldError(
                        f"spec.subscriptions[{i}].{kind}",
                        f"subscription for {what} already exists at "
                        f"spec.subscriptions[{repos[(kind, url)]}]",
                        url,
                    )
                )
            repos.setdefault((kind, url), i)
    if errors:
        raise invalid("Warehouse", request.name, errors)
    return Verdict()
