"""Promotions the Stage controller creates itself (auto-promotion, auto-rollback): named as
Kargo names them, recorded in the cache and in the pass at once (so the rest of the pass and
the next one see them), announced with a ``PromotionCreated`` Event, and queued to run."""

from __future__ import annotations

import logging

from shunter.api.v1alpha1 import Freight, Promotion
from shunter.api.v1alpha1 import annotations as ann
from shunter.api.v1alpha1 import labels as lbl
from shunter.cache import PROMOTIONS
from shunter.controllers.naming import promotion_name
from shunter.controllers.stage.context import StageDeps, StagePass
from shunter.kube.client import ConflictError, KubeError

__all__ = ["create_promotion"]

log = logging.getLogger(__name__)

_EVENT = "event.kargo.akuity.io/"


async def create_promotion(
    deps: StageDeps,
    sp: StagePass,
    freight: Freight,
    *,
    annotations: dict[str, str],
    message: str,
) -> Promotion | None:
    """Create a Promotion of ``freight`` to the Stage with these annotations (its
    ``kargo.akuity.io/create-actor`` among them); None when the API server refused it."""
    namespace, stage_name = sp.namespace, sp.name
    fname = freight.metadata.name or ""
    body = {
        "apiVersion": "kargo.akuity.io/v1alpha1",
        "kind": "Promotion",
        "metadata": {
            "name": promotion_name(stage_name, fname),
            "namespace": namespace,
            "annotations": annotations,
            # A Promotion belongs to its Stage's shard from the start (Kargo's webhook).
            "labels": {lbl.SHARD: sp.stage.spec.shard} if sp.stage.spec.shard else {},
        },
        "spec": {"stage": stage_name, "freight": fname},
    }
    try:
        created = await deps.kube.create_custom(namespace, "promotions", body)
    except ConflictError:
        return None
    except KubeError as exc:
        if exc.status != 403:
            raise
        # Refused at admission (a promotion window, say): the next pass tries again.
        log.info("Promotion of %s to %s/%s refused: %s", fname, namespace, stage_name, exc)
        return None
    deps.cache.apply(PROMOTIONS, created)
    promotion = Promotion.model_validate(created)
    sp.promotions.append(promotion)
    pname = promotion.metadata.name or ""
    event_annotations = {
        f"{_EVENT}project": namespace,
        f"{_EVENT}promotion-name": pname,
        f"{_EVENT}stage-name": stage_name,
        f"{_EVENT}freight-name": fname,
        f"{_EVENT}freight-alias": freight.alias or "",
        f"{_EVENT}actor": annotations.get(ann.CREATE_ACTOR, ""),
    }
    if annotations.get(ann.ROLLBACK) == "true":
        event_annotations[f"{_EVENT}rollback"] = "true"
    await deps.events.emit(
        namespace=namespace,
        kind="Promotion",
        name=pname,
        uid=promotion.metadata.uid,
        reason="PromotionCreated",
        message=message,
        annotations=event_annotations,
    )
    deps.enqueue.promotion(namespace, pname)
    return promotion
