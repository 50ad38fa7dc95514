"""Helpers for ``status.conditions`` (``metav1.Condition`` lists keyed by type)."""

from __future__ import annotations

from datetime import UTC, datetime

from shunter.api.v1alpha1._base import Condition, ConditionStatus

__all__ = ["get_condition", "remove_condition", "set_condition"]


def get_condition(conditions: list[Condition] | None, type_: str) -> Condition | None:
    """The condition of that type, if present."""
    return next((c for c in conditions or [] if c.type == type_), None)


def set_condition(
    conditions: list[Condition] | None,
    type_: str,
    status: ConditionStatus | bool,
    reason: str,
    message: str = "",
    *,
    generation: int | None = None,
    now: datetime | None = None,
) -> list[Condition]:
    """A copy of ``conditions`` with one condition set; the transition time moves only when
    the status changes."""
    if isinstance(status, bool):
        status = ConditionStatus.TRUE if status else ConditionStatus.FALSE
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    out: list[Condition] = []
    found = False
    for cond in conditions or []:
        if cond.type != type_:
            out.append(cond)
            continue
        found = True
        changed_at = cond.last_transition_time if cond.status == status else now
        out.append(
            Condition(
                type=type_,
                status=status,
                reason=reason,
                message=message,
                observed_generation=generation,
                last_transition_time=changed_at,
            )
        )
    if not found:
        out.append(
            Condition(
                type=type_,
                status=status,
                reason=reason,
                message=message,
                observed_generation=generation,
                last_transition_time=now,
            )
        )
    return out


def remove_condition(conditions: list[Condition] | None, type_: str) -> list[Condition]:
    """A copy of ``conditions`` without that type."""
    return [c for c in conditions or [] if c.type != type_]
