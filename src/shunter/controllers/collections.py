"""FreightCollections: the Freight in a Stage at one time, one item per origin.

A collection's ``id`` is the SHA-1 of its Freight names, sorted and joined with ``,``
(Kargo's definition). ``freightHistory`` keeps the newest ten collections, newest first.
:func:`promotion_context` is what a Promotion of a piece of Freight runs with: the collection
the Stage will hold afterwards (the last Promotion's, or the current one, with the Freight put
in for its origin).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from shunter.api.v1alpha1.common import FreightCollection, FreightReference
from shunter.api.v1alpha1.freight import Freight
from shunter.api.v1alpha1.promotion import Promotion
from shunter.api.v1alpha1.stage import Stage
from shunter.promotion.context import PromotionContext

__all__ = [
    "MAX_HISTORY",
    "collection_id",
    "freight_reference",
    "promotion_context",
    "push_history",
    "with_freight",
]

MAX_HISTORY = 10


def collection_id(names: Iterable[str]) -> str:
    """Kargo's FreightCollection ID."""
    return hashlib.sha1(",".join(sorted(names)).encode()).hexdigest()  # noqa: S324 - an ID


def freight_reference(freight: Freight) -> FreightReference:
    """The reference a Stage or Promotion status keeps of a piece of Freight."""
    return FreightReference(
        name=freight.metadata.name,
        origin=freight.origin.model_copy(),
        commits=[c.model_copy() for c in freight.commits] if freight.commits else None,
        images=[i.model_copy() for i in freight.images] if freight.images else None,
        charts=[c.model_copy() for c in freight.charts] if freight.charts else None,
        artifacts=[a.model_copy() for a in freight.artifacts] if freight.artifacts else None,
    )


def with_freight(
    base: FreightCollection | None,
    ref: FreightReference,
    requested_origins: Iterable[str],
) -> FreightCollection:
    """``base`` (the Stage's current collection) with ``ref`` put in for its origin.

    Items of origins the Stage no longer requests are dropped.
    """
    keep = set(requested_origins)
    items = {
        key: item.model_copy(deep=True)
        for key, item in ((base.items or {}) if base else {}).items()
        if key in keep
    }
    if ref.origin is not None:
        items[ref.origin.key] = ref
    names = [item.name or "" for item in items.values()]
    return FreightCollection(id=collection_id(names), items=items)


def push_history(
    history: list[FreightCollection] | None, collection: FreightCollection
) -> list[FreightCollection]:
    """``collection`` on top of ``history``, capped at :data:`MAX_HISTORY`."""
    return [collection, *(history or [])][:MAX_HISTORY]


def promotion_context(promotion: Promotion, stage: Stage, freight: Freight) -> PromotionContext:
    """The context the engine runs ``promotion`` of ``freight`` to ``stage`` with."""
    target = freight_reference(freight)
    last = stage.status.last_promotion if stage.status else None
    base = last.status.freight_collection if last and last.status else None
    if base is None and stage.status and stage.status.freight_history:
        base = stage.status.freight_history[0]
    collection = with_freight(base, target, [r.origin.key for r in stage.spec.requested_freight])
    return PromotionContext.from_promotion(
        promotion,
        stage=stage,
        target_freight=target,
        freight=collection,
        target_freight_alias=freight.alias or "",
    )
