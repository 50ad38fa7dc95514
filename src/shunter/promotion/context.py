"""What the engine needs to know about one Promotion run: :class:`PromotionContext`.

The Promotion controller builds it (usually with :meth:`PromotionContext.from_promotion`) from
the Promotion, its Stage and the Freight being promoted, then hands it to
:meth:`shunter.promotion.engine.Engine.run`. It also owns the parsing of the Promotion's
``kargo.akuity.io/abort`` and ``kargo.akuity.io/create-actor`` annotations.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from shunter.api.v1alpha1.annotations import ABORT, CREATE_ACTOR, ROLLBACK
from shunter.api.v1alpha1.common import (
    ExpressionVariable,
    FreightCollection,
    FreightReference,
    PromotionStep,
)
from shunter.api.v1alpha1.promotion import Promotion
from shunter.api.v1alpha1.stage import FreightRequest, Stage

__all__ = [
    "ABORT_ACTION_TERMINATE",
    "AbortRequest",
    "PromotionContext",
    "create_actor",
    "parse_abort_request",
]

ABORT_ACTION_TERMINATE = "terminate"
_UNKNOWN_ACTOR = "unknown actor"


@dataclass(frozen=True)
class AbortRequest:
    """The value of a Promotion's ``kargo.akuity.io/abort`` annotation."""

    action: str
    actor: str = ""
    control_plane: bool = False

    @property
    def terminates(self) -> bool:
        """Whether the request asks to terminate the Promotion."""
        return self.action == ABORT_ACTION_TERMINATE


def parse_abort_request(annotations: Mapping[str, str] | None) -> AbortRequest | None:
    """The abort request in ``annotations`` (``terminate`` or a JSON object), if any."""
    raw = (annotations or {}).get(ABORT)
    if raw is None:
        return None
    try:
        decoded = json.loads(raw)
    except ValueError:
        decoded = None
    if isinstance(decoded, dict):
        action = decoded.get("action")
        actor = decoded.get("actor")
        return (
            AbortRequest(
                action=action,
                actor=actor if isinstance(actor, str) else "",
                control_plane=decoded.get("controlPlane") is True,
            )
            if isinstance(action, str) and action
            else None
        )
    if decoded is not None:
        return None
    return AbortRequest(action=raw) if raw else None


def create_actor(annotations: Mapping[str, str] | None) -> str:
    """``ctx.meta.promotion.actor``: the create-actor annotation without its ``kind:`` prefix."""
    value = (annotations or {}).get(CREATE_ACTOR)
    if value is None:
        return ""
    if ":" in value:
        return value.split(":", 1)[1]
    return "" if value == _UNKNOWN_ACTOR else value


@dataclass(frozen=True)
class PromotionContext:
    """One Promotion as the engine sees it.

    ``steps`` are the Promotion's ``spec.steps`` (already inflated); ``vars`` its ``spec.vars``.
    ``target_freight`` and ``freight`` are written to ``status.freight`` and
    ``status.freightCollection`` by the engine.
    """

    project: str
    stage: str
    promotion: str
    uid: str
    steps: Sequence[PromotionStep]
    target_freight: FreightReference
    freight: FreightCollection
    vars: Sequence[ExpressionVariable] = ()
    freight_requests: Sequence[FreightRequest] = ()
    target_freight_alias: str = ""
    actor: str = ""
    rollback: bool = False
    ui_base_url: str = ""
    abort: AbortRequest | None = None
    #: Step index -> alias; filled in ``__post_init__`` (``step-<i+1>`` when ``as`` is empty).
    aliases: tuple[str, ...] = field(default=(), init=False)

    def __post_init__(self) -> None:
        aliases = tuple(step.as_ or f"step-{i + 1}" for i, step in enumerate(self.steps))
        object.__setattr__(self, "aliases", aliases)

    @classmethod
    def from_promotion(
        cls,
        promotion: Promotion,
        *,
        stage: Stage | None,
        target_freight: FreightReference,
        freight: FreightCollection,
        target_freight_alias: str = "",
        ui_base_url: str = "",
    ) -> PromotionContext:
        """Build the context from API objects (steps must already be inflated)."""
        meta = promotion.metadata
        annotations = meta.annotations or {}
        requests: Sequence[FreightRequest] = ()
        if stage is not None:
            requests = tuple(r.model_copy(deep=True) for r in stage.spec.requested_freight)
        return cls(
            project=meta.namespace or "",
            stage=promotion.spec.stage,
            promotion=meta.name or "",
            uid=meta.uid or "",
            steps=tuple(promotion.spec.steps or ()),
            vars=tuple(promotion.spec.vars or ()),
            target_freight=target_freight,
            freight=freight,
            freight_requests=requests,
            target_freight_alias=target_freight_alias,
            actor=create_actor(annotations),
            rollback=annotations.get(ROLLBACK) == "true",
            ui_base_url=ui_base_url,
            abort=parse_abort_request(annotations),
        )
