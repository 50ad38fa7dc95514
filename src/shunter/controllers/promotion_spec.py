"""What a new Promotion is given from its Stage, as Kargo's Promotion mutating webhook does it:
``spec.origin`` resolved to the candidate Freight, steps and vars copied from the Stage's
promotion template (tasks inflated), auto-promotion hold/resume intent, the Stage's labels,
annotation and controller owner reference.

Two callers: the admission webhook (at creation) and, when no webhook is installed, the
Promotion controller on the first reconcile. Both read through :class:`PromotionSources`.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, Protocol

from shunter.api.v1alpha1 import Freight, Stage, to_wire
from shunter.api.v1alpha1 import annotations as ann
from shunter.api.v1alpha1 import labels as lbl
from shunter.api.v1alpha1.common import FreightOrigin, PromotionTaskReference
from shunter.api.v1alpha1.promotion_task import PromotionTaskSpec
from shunter.controllers.availability import auto_promotion_candidate
from shunter.controllers.naming import shorten_label_value
from shunter.promotion.errors import InflationError
from shunter.promotion.tasks import inflate_stage_template

__all__ = ["PromotionSources", "PromotionSpecError", "complete_promotion", "intent_annotations"]

JSON = dict[str, Any]


class PromotionSources(Protocol):
    """The reads a new Promotion needs."""

    async def freight(self, namespace: str, name: str) -> Freight | None:
        """One Freight, or None."""
        ...

    async def freight_from(self, namespace: str, origin: str) -> list[Freight]:
        """The Freight of a namespace from one origin (``Warehouse/<name>``)."""
        ...

    async def task(self, project: str, ref: PromotionTaskReference) -> PromotionTaskSpec | None:
        """A (Cluster)PromotionTask's spec, or None."""
        ...

    async def auto_promotion_enabled(self, stage: Stage) -> bool:
        """Whether the project's policy lets the Stage auto-promote."""
        ...


class PromotionSpecError(Exception):
    """The Promotion cannot be completed; ``field`` is the path of the culprit."""

    def __init__(self, field: str, value: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.value = value
        self.message = message


def _request_for(stage: Stage, origin_key: str) -> Any:
    return next((r for r in stage.spec.requested_freight if r.origin.key == origin_key), None)


async def _resolve_origin(spec: JSON, stage: Stage, sources: PromotionSources) -> str:
    origin = FreightOrigin.model_validate(spec["origin"])
    request = _request_for(stage, origin.key)
    if request is None:
        raise PromotionSpecError(
            "spec.origin",
            origin.key,
            f"Stage {stage.metadata.name!r} does not request Freight from {origin.key}",
        )
    namespace = stage.metadata.namespace or ""
    candidate = auto_promotion_candidate(
        stage, request, await sources.freight_from(namespace, origin.key)
    )
    if candidate is None:
        raise PromotionSpecError(
            "spec.origin",
            origin.key,
            f"no auto-promotion candidate found for origin {origin.key!r} on Stage "
            f"{stage.metadata.name!r}",
        )
    return candidate.metadata.name or ""


async def intent_annotations(
    stage: Stage, freight_name: str, sources: PromotionSources
) -> dict[str, str | None]:
    """Kargo's hold/resume intent for a user-initiated Promotion: ``resume`` when it promotes
    the current auto-promotion candidate of its origin, ``hold`` otherwise; nothing (both
    cleared) when the Stage does not auto-promote or the Freight is unknown."""
    cleared: dict[str, str | None] = {
        ann.AUTO_PROMOTION_HOLD: None,
        ann.AUTO_PROMOTION_RESUME: None,
    }
    if not await sources.auto_promotion_enabled(stage):
        return cleared
    namespace = stage.metadata.namespace or ""
    freight = await sources.freight(namespace, freight_name)
    if freight is None:
        return cleared
    key = freight.origin.key
    request = _request_for(stage, key)
    candidate = (
        auto_promotion_candidate(stage, request, await sources.freight_from(namespace, key))
        if request
        else None
    )
    if candidate is not None and candidate.metadata.name == freight_name:
        return {ann.AUTO_PROMOTION_RESUME: key, ann.AUTO_PROMOTION_HOLD: None}
    return {ann.AUTO_PROMOTION_HOLD: key, ann.AUTO_PROMOTION_RESUME: None}


def _set(mapping: JSON, values: Mapping[str, str | None]) -> None:
    for key, value in values.items():
        if value is None:
            mapping.pop(key, None)
        else:
            mapping[key] = value


async def complete_promotion(
    promotion: Mapping[str, Any], stage: Stage, sources: PromotionSources, *, intent: bool
) -> JSON:
    """A copy of ``promotion`` completed from ``stage``.

    ``intent``: stamp hold/resume intent (a user-initiated Promotion); otherwise caller-set
    intent annotations are kept as they are.

    Raises:
        PromotionSpecError: no candidate for ``spec.origin``, no steps, a task that cannot be
            inflated.
    """
    out = copy.deepcopy(dict(promotion))
    spec: JSON = out.setdefault("spec", {})
    meta: JSON = out.setdefault("metadata", {})
    stage_name = stage.metadata.name or ""
    if not spec.get("freight") and spec.get("origin"):
        spec["freight"] = await _resolve_origin(spec, stage, sources)
        spec.pop("origin", None)
    template = stage.spec.promotion_template
    if template is None or not template.spec.steps:
        raise PromotionSpecError(
            "spec.stage",
            stage_name,
            f"Stage {stage_name!r} in namespace {stage.metadata.namespace!r} defines no "
            "promotion steps",
        )
    try:
        inflated = await inflate_stage_template(stage, sources.task)
    except InflationError as exc:
        raise PromotionSpecError(
            "spec.steps", stage_name, f"failed to inflate Promotion steps: {exc}"
        ) from None
    spec["steps"] = [to_wire(s) for s in inflated.steps]
    if inflated.vars:
        spec["vars"] = [to_wire(v) for v in inflated.vars]
    else:
        spec.pop("vars", None)
    annotations: JSON = meta.setdefault("annotations", {})
    labels: JSON = meta.setdefault("labels", {})
    if intent and spec.get("freight"):
        _set(annotations, await intent_annotations(stage, spec["freight"], sources))
    annotations[ann.STAGE] = stage_name
    labels[lbl.STAGE] = shorten_label_value(stage_name)
    _set(labels, {lbl.SHARD: stage.spec.shard or None})
    if stage.metadata.uid:
        meta["ownerReferences"] = [
            {
                "apiVersion": "kargo.akuity.io/v1alpha1",
                "kind": "Stage",
                "name": stage_name,
                "uid": stage.metadata.uid,
                "blockOwnerDeletion": True,
                "controller": True,
            }
        ]
    return out
