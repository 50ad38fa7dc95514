"""Auto-rollback: Kargo Enterprise's ``promotionPolicies[].autoRollback``, which shunter
enforces.

When the policy that matches the Stage has ``autoRollback`` and

* the verification of the Stage's current Freight ended in a phase of ``onVerification``
  (absent or empty: ``[Failed]``), or
* its last Promotion ended in a phase of ``onPromotion`` (``Failed``, ``Errored``; none by
  default) and nothing else is queued for the Stage,

the Stage is promoted back to the newest FreightCollection in its ``freightHistory`` that was
verified in it (for a failed verification, another collection than the failed one), one
Promotion per origin whose Freight differs (for a failed Promotion, the Freight of its origin
again). Each rollback Promotion carries ``kargo.akuity.io/rollback: "true"`` (Kargo's marker,
``ctx.meta.promotion.rollback`` in its steps), the create-actor ``controller:shunter-rollback``
and the auto-promotion hold intent of its origin, so that auto-promotion does not promote the
failed Freight again until a person promotes something to the Stage (Kargo's holds).

It never loops: a failure of what a rollback brought (the rollback Promotion itself, or the
verification after it) triggers nothing, and one failure triggers at most one rollback (a
rollback Promotion created since the failure answers it, whatever became of it). With no
earlier verified Freight there is nothing to roll back to, and the Stage says so.

The outcome shows in the Stage's ``AutoRollback`` condition (until a Promotion other than the
rollback has run), in Events (``PromotionCreated`` with ``event.kargo.akuity.io/rollback``, or
``AutoRollbackSkipped``), and in the ``rollbacks`` hook of :class:`StageDeps` (for metrics).
Promotion windows gate rollbacks like any Promotion: while they keep the Stage closed no
rollback is created (admission would refuse it), and the pass at the next opening creates it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from shunter.api.v1alpha1 import Freight, Promotion, PromotionPhase
from shunter.api.v1alpha1 import annotations as ann
from shunter.api.v1alpha1.common import FreightCollection, VerificationPhase
from shunter.api.v1alpha1.project import AutoRollback
from shunter.controllers.conditions import get_condition, remove_condition, set_condition
from shunter.controllers.lookups import stage_auto_rollback
from shunter.controllers.stage.context import (
    TERMINAL_VERIFICATION,
    StageDeps,
    StagePass,
    current_collection,
    phase_of,
    promotions_frozen,
)
from shunter.controllers.stage.creation import create_promotion
from shunter.controllers.stage.promotions import finish_key

__all__ = ["CONDITION", "ROLLBACK_ACTOR", "auto_rollback", "is_rollback"]

log = logging.getLogger(__name__)

#: ``kargo.akuity.io/create-actor`` of rollback Promotions.
ROLLBACK_ACTOR = "controller:shunter-rollback"
#: The Stage condition reporting the latest auto-rollback decision.
CONDITION = "AutoRollback"


def is_rollback(promotion: Promotion) -> bool:
    """Whether the Promotion was created as a rollback."""
    return (promotion.metadata.annotations or {}).get(ann.ROLLBACK) == "true"


@dataclass(frozen=True)
class _Failure:
    """What went wrong, when, and what a rollback would have to undo."""

    #: ``verification Failed of Freight x`` / ``Promotion p Errored``.
    what: str
    at: datetime
    #: The collection a failed verification was about (to be left), else None.
    failed: FreightCollection | None = None
    #: A failed Promotion's origin (whose Freight is promoted again).
    origin: str | None = None


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _created(promotion: Promotion) -> datetime | None:
    stamp = promotion.metadata.creation_timestamp
    if not stamp:
        return None
    return _aware(datetime.fromisoformat(stamp.replace("Z", "+00:00")))


def _names(collection: FreightCollection) -> str:
    return ", ".join(sorted(i.name or "" for i in (collection.items or {}).values()))


def _verification_failure(sp: StagePass, config: AutoRollback) -> _Failure | None:
    current = current_collection(sp.status)
    if current is None or sp.status.current_promotion is not None:
        return None
    history = current.verification_history or []
    if not history or history[0].phase not in TERMINAL_VERIFICATION:
        return None
    latest = history[0]
    wanted = set(config.on_verification or ["Failed"])
    if latest.phase is None or latest.phase.value not in wanted or latest.finish_time is None:
        return None
    origin = _newest(
        p
        for p in sp.promotions
        if phase_of(p) == PromotionPhase.SUCCEEDED
        and p.status is not None
        and p.status.freight_collection is not None
        and p.status.freight_collection.id == current.id
    )
    if origin is not None and is_rollback(origin):
        return None  # what a rollback brought failed: never roll back again
    return _Failure(
        what=f"verification {latest.phase.value} of Freight {_names(current)}",
        at=_aware(latest.finish_time),
        failed=current,
    )


def _newest(promotions: Iterable[Promotion]) -> Promotion | None:
    found = sorted(promotions, key=finish_key)
    return found[-1] if found else None


def _promotion_failure(sp: StagePass, config: AutoRollback) -> _Failure | None:
    last = sp.status.last_promotion
    phase = last.status.phase if last is not None and last.status is not None else None
    if last is None or phase is None or phase.value not in set(config.on_promotion or []):
        return None
    if sp.status.current_promotion is not None or any(
        not (phase_of(p) or PromotionPhase.PENDING).is_terminal and not is_rollback(p)
        for p in sp.promotions
    ):
        return None  # something else is queued for the Stage: that is what people want
    promotion = next((p for p in sp.promotions if p.metadata.name == last.name), None)
    if promotion is None or is_rollback(promotion) or last.finished_at is None:
        return None
    origin = last.freight.origin if last.freight is not None else None
    return _Failure(
        what=f"Promotion {last.name} {phase.value}",
        at=_aware(last.finished_at),
        origin=origin.key if origin is not None else None,
    )


def _rolled_back_last(sp: StagePass) -> bool:
    """A rollback is the Stage's latest news: in flight, or its last Promotion (the condition
    stays until another Promotion has run)."""
    last = sp.status.last_promotion
    for promotion in sp.promotions:
        if not is_rollback(promotion):
            continue
        if not (phase_of(promotion) or PromotionPhase.PENDING).is_terminal:
            return True
        if last is not None and promotion.metadata.name == last.name:
            return True
    return False


def _answered(sp: StagePass, failure: _Failure) -> bool:
    """A rollback Promotion was created since the failure (whatever became of it)."""
    for promotion in sp.promotions:
        created = _created(promotion)
        if is_rollback(promotion) and created is not None and created >= failure.at:
            return True
    return False


def _verified(collection: FreightCollection) -> bool:
    return any(
        v.phase == VerificationPhase.SUCCESSFUL for v in collection.verification_history or []
    )


def _targets(deps: StageDeps, sp: StagePass, failure: _Failure) -> list[Freight] | None:
    """The Freight to promote back to, or None when no earlier verified Freight exists."""
    current = current_collection(sp.status)
    current_items = (current.items or {}) if current is not None else {}
    for collection in sp.status.freight_history or []:
        if failure.failed is not None and collection.id == failure.failed.id:
            continue
        if not _verified(collection):
            continue
        items = collection.items or {}
        if failure.origin is not None:
            wanted = {failure.origin: items[failure.origin]} if failure.origin in items else {}
        else:
            wanted = {
                key: item
                for key, item in items.items()
                if key not in current_items or current_items[key].name != item.name
            }
        freights = [deps.cache.freight(sp.namespace, item.name or "") for item in wanted.values()]
        if wanted and all(f is not None for f in freights):
            return [f for f in freights if f is not None]
    return None


async def auto_rollback(deps: StageDeps, sp: StagePass) -> None:
    """Roll the Stage back after a failure its policy names (see the module docstring)."""
    config = stage_auto_rollback(deps.cache, sp.stage)
    failures = (
        [f for f in (_verification_failure(sp, config), _promotion_failure(sp, config)) if f]
        if config is not None
        else []
    )
    if not failures:
        if not _rolled_back_last(sp):
            sp.status.conditions = remove_condition(sp.status.conditions, CONDITION)
        return
    failure = max(failures, key=lambda f: f.at)
    if _answered(sp, failure) or promotions_frozen(sp.status):
        return
    targets = _targets(deps, sp, failure)
    if targets is None:
        await _nothing_to_roll_back_to(deps, sp, failure)
        return
    names = []
    for freight in targets:
        label = freight.alias or freight.metadata.name or ""
        created = await create_promotion(
            deps,
            sp,
            freight,
            annotations={
                ann.ROLLBACK: "true",
                ann.CREATE_ACTOR: ROLLBACK_ACTOR,
                ann.AUTO_PROMOTION_HOLD: freight.origin.key,
            },
            message=f"Rolled Stage {sp.name!r} back to Freight {label} after {failure.what}",
        )
        if created is None:
            return  # refused (a window at admission): the next pass tries again
        names.append(created.metadata.name or "")
    log.info("rolled Stage %s/%s back after %s: %s", sp.namespace, sp.name, failure.what, names)
    _record(deps, sp, "rolled-back")
    sp.status.conditions = set_condition(
        sp.status.conditions,
        CONDITION,
        True,
        "RolledBack",
        f"{failure.what}: rolled back by Promotion {', '.join(names)}",
        generation=sp.generation,
        now=sp.now,
    )


async def _nothing_to_roll_back_to(deps: StageDeps, sp: StagePass, failure: _Failure) -> None:
    message = (
        f"{failure.what}, but no earlier Freight was verified in Stage {sp.name!r}: "
        "nothing to roll back to"
    )
    before = get_condition(sp.status.conditions, CONDITION)
    sp.status.conditions = set_condition(
        sp.status.conditions,
        CONDITION,
        False,
        "NoVerifiedFreight",
        message,
        generation=sp.generation,
        now=sp.now,
    )
    if before is not None and before.reason == "NoVerifiedFreight" and before.message == message:
        return
    _record(deps, sp, "no-verified-freight")
    await deps.events.emit(
        namespace=sp.namespace,
        kind="Stage",
        name=sp.name,
        uid=sp.stage.metadata.uid,
        reason="AutoRollbackSkipped",
        message=message,
        annotations={"event.kargo.akuity.io/stage-name": sp.name},
        warning=True,
    )


def _record(deps: StageDeps, sp: StagePass, outcome: str) -> None:
    if deps.rollbacks is not None:
        deps.rollbacks(sp.namespace, sp.name, outcome)
