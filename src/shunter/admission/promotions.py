"""Promotion admission, as Kargo's Promotion webhooks do it.

Mutating, on CREATE: the Promotion is completed from its Stage
(:func:`shunter.controllers.promotion_spec.complete_promotion`: ``spec.origin`` resolved,
steps and vars, hold/resume intent, labels, owner reference), named
``<stage>.<ulid>.<freight[:7]>`` whatever name or ``generateName`` it came with, and given a
``kargo.akuity.io/create-actor`` of ``kubernetes:<user>`` unless the operator created it. On
UPDATE the creation annotations (actor, hold, resume) keep their admitted values and an abort
request records who asked.

Validating: creating, changing or deleting a Promotion needs the custom ``promote`` verb on its
Stage (a SubjectAccessReview; the operator itself and Kubernetes' garbage collector are
exempt); a new Promotion must be in a project namespace and its Freight available to the Stage
(refused with the reason); a new Promotion is refused while the promotion windows of its
Stage are closed (403 Forbidden, as Kargo Enterprise answers: ``promotion of Stage "prod" is
not permitted at this time: <the Stage's promotionWindowStatus reason>; it opens at <time>``),
whoever creates it; the spec never changes after creation.
"""

from __future__ import annotations

from datetime import UTC, datetime

from shunter.admission.context import (
    AdmissionContext,
    project_namespace_check,
    stamp_request_actor,
)
from shunter.admission.identity import PROMOTE_VERB, kubernetes_actor
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
from shunter.api.v1alpha1 import Stage
from shunter.api.v1alpha1 import annotations as ann
from shunter.api.v1alpha1 import labels as lbl
from shunter.controllers.availability import freight_availability
from shunter.controllers.naming import promotion_name, shorten_label_value
from shunter.controllers.promotion_spec import PromotionSpecError, complete_promotion
from shunter.controllers.windows import closed_explanation
from shunter.kube.client import KubeError

__all__ = ["check_promotion_window", "mutate_promotion", "validate_promotion"]

KIND = "Promotion"
RESOURCE = "promotions.kargo.akuity.io"
_CREATION_ANNOTATIONS = (ann.CREATE_ACTOR, ann.AUTO_PROMOTION_HOLD, ann.AUTO_PROMOTION_RESUME)


def _spec(obj: JSON) -> JSON:
    spec = obj.get("spec")
    return spec if isinstance(spec, dict) else {}


async def _stage(ctx: AdmissionContext, request: AdmissionRequest, obj: JSON) -> Stage | None:
    name = str(_spec(obj).get("stage") or "")
    return await ctx.lookups.stage(request.namespace, name) if name else None


def _no_stage(request: AdmissionRequest, obj: JSON) -> AdmissionError:
    name = str(_spec(obj).get("stage") or "")
    return invalid(
        KIND,
        request.name or str(obj.get("metadata", {}).get("name") or ""),
        [
            FieldError(
                "spec.stage",
                f"could not find Stage {name!r} in namespace {request.namespace!r}",
                name,
            )
        ],
    )


async def mutate_promotion(request: AdmissionRequest, ctx: AdmissionContext) -> Verdict:
    """The mutating webhook (CREATE and UPDATE)."""
    obj = mutable_copy(request.object)
    meta: JSON = obj.setdefault("metadata", {})
    annotations: dict[str, str] = meta.setdefault("annotations", {})
    from_operator = ctx.control_plane.is_operator(request.user)
    stage = await _stage(ctx, request, obj)
    if request.operation == "CREATE":
        if stage is None:
            raise _no_stage(request, obj)
        if not from_operator:
            annotations[ann.CREATE_ACTOR] = kubernetes_actor(request.user)
        actor = annotations.get(ann.CREATE_ACTOR, "")
        user_initiated = not from_operator or (actor and not actor.startswith("controller:"))
        try:
            obj = await complete_promotion(obj, stage, ctx.lookups, intent=bool(user_initiated))
        except PromotionSpecError as exc:
            name = str(meta.get("name") or meta.get("generateName") or "")
            raise invalid(KIND, name, [FieldError(exc.field, exc.message, exc.value)]) from None
        meta = obj["metadata"]
        meta["name"] = promotion_name(stage.metadata.name or "", str(_spec(obj)["freight"]))
        meta.pop("generateName", None)
        annotations = meta["annotations"]
        old = None
    elif request.operation == "UPDATE":
        old_annotations = (request.old_object.get("metadata") or {}).get("annotations") or {}
        # The controller completes a Promotion admitted before the webhooks served its
        # namespace (hold intent included); otherwise the creation annotations stay as admitted.
        completing = from_operator and not _spec(request.old_object).get("steps")
        for key in () if completing else _CREATION_ANNOTATIONS:
            if key in old_annotations:
                annotations[key] = old_annotations[key]
            else:
                annotations.pop(key, None)
        old = old_annotations.get(ann.ABORT)
        if stage is not None:
            labels: JSON = meta.setdefault("labels", {})
            labels[lbl.STAGE] = shorten_label_value(stage.metadata.name or "")
            annotations[ann.STAGE] = stage.metadata.name or ""
    else:
        return Verdict()
    stamped = stamp_request_actor(
        annotations.get(ann.ABORT),
        old,
        key="action",
        user=request.user,
        from_operator=from_operator,
    )
    if stamped is not None:
        annotations[ann.ABORT] = stamped
    return Verdict(mutated=obj)


async def _authorize(ctx: AdmissionContext, request: AdmissionRequest, action: str) -> None:
    """Refuse unless the requester may ``promote`` the Promotion's Stage."""
    if ctx.control_plane.is_operator(request.user):
        return
    if request.operation == "DELETE" and ctx.control_plane.is_garbage_collector(request.user):
        return
    obj = request.current
    stage = str(_spec(obj).get("stage") or "")
    name = request.name or str((obj.get("metadata") or {}).get("name") or "")
    try:
        allowed = await ctx.authorizer.may_promote(request.user, request.namespace, stage)
    except KubeError:
        raise forbidden(
            RESOURCE, name, f"error creating SubjectAccessReview; refusing to {action} Promotion"
        ) from None
    if not allowed:
        raise forbidden(
            RESOURCE,
            name,
            f'user "{request.user.username}" cannot {action} Promotions for Stage "{stage}" '
            f'in namespace "{request.namespace}": it needs the "{PROMOTE_VERB}" verb on '
            f'stages/{stage} (resource "stages", API group "kargo.akuity.io")',
        )


async def validate_promotion(request: AdmissionRequest, ctx: AdmissionContext) -> Verdict:
    """The validating webhook (CREATE, UPDATE, DELETE)."""
    action = {"CREATE": "create", "UPDATE": "update", "DELETE": "delete"}.get(request.operation)
    if action is None:
        return Verdict()
    if request.operation == "CREATE":
        problem = await project_namespace_check(ctx, request.namespace)
        if problem is not None:
            raise invalid(KIND, request.name, [problem])
    await _authorize(ctx, request, action)
    if request.operation == "CREATE":
        stage = await _check_available(request, ctx)
        await check_promotion_window(request, ctx, stage, datetime.now(UTC))
    elif request.operation == "UPDATE":
        _check_immutable(request, ctx)
    return Verdict()


async def _check_available(request: AdmissionRequest, ctx: AdmissionContext) -> Stage:
    """The Promotion's Stage, when its Freight is available to it (else refused)."""
    obj = request.object
    name = request.name or str((obj.get("metadata") or {}).get("name") or "")
    stage = await _stage(ctx, request, obj)
    if stage is None:
        raise _no_stage(request, obj)
    freight_name = str(_spec(obj).get("freight") or "")
    freight = await ctx.lookups.freight(request.namespace, freight_name)
    if freight is None:
        raise invalid(
            KIND,
            name,
            [
                FieldError(
                    "spec.freight",
                    f"Freight {freight_name!r} not found in namespace {request.namespace!r}",
                    freight_name,
                )
            ],
        )
    availability = freight_availability(stage, freight)
    if not availability.available:
        raise invalid(
            KIND,
            name,
            [
                FieldError(
                    "spec.freight",
                    f"Freight is not available to Stage {stage.metadata.name!r}: "
                    f"{availability.reason}",
                    freight_name,
                )
            ],
        )
    return stage


async def check_promotion_window(
    request: AdmissionRequest, ctx: AdmissionContext, stage: Stage, now: datetime
) -> None:
    """Refuse a new Promotion while the promotion windows of its Stage are closed at ``now``.

    Raises:
        AdmissionError: 403 Forbidden naming the Stage, the window and when it opens.
    """
    state = await ctx.lookups.promotion_windows(stage, now)
    if state is None or not state.closed:
        return
    name = request.name or str((request.object.get("metadata") or {}).get("name") or "")
    raise forbidden(
        RESOURCE,
        name,
        f'promotion of Stage "{stage.metadata.name}" is not permitted at this time: '
        + closed_explanation(state.reason, state.next_open),
    )


def _check_immutable(request: AdmissionRequest, ctx: AdmissionContext) -> None:
    old, new = _spec(request.old_object), _spec(request.object)
    if old == new:
        return
    if not old.get("steps") and ctx.control_plane.is_operator(request.user):
        return  # the controller completes a Promotion admitted before the webhook served it
    raise invalid(KIND, request.name, [FieldError("spec", "spec is immutable")])
