"""The Stage's marks on Freight: ``currentlyIn`` (with the longest soak when Freight leaves),
``verifiedIn`` once the current collection is verified, and, for control-flow Stages (no
promotion steps), ``verifiedIn`` for every Freight available to them.

Writes go to the Freight's status; the Freight change then wakes the Stages that depend on it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from shunter.api.v1alpha1.common import VerificationPhase
from shunter.api.v1alpha1.stage import HealthState
from shunter.controllers.availability import freight_availability, parse_duration
from shunter.controllers.stage.context import (
    StageDeps,
    StagePass,
    current_collection,
    patch_freight_status,
    timestamp,
)

__all__ = ["mark_control_flow", "mark_verified", "sync_currently_in"]


async def sync_currently_in(deps: StageDeps, sp: StagePass) -> None:
    """``currentlyIn`` on the Freight of the current collection, and off the rest."""
    name = sp.name
    current = current_collection(sp.status)
    in_collection = {i.name for i in (current.items or {}).values()} if current else set()
    for freight in sp.freights:
        fstatus = freight.status
        claims = bool(fstatus and fstatus.currently_in and name in fstatus.currently_in)
        fname = freight.metadata.name or ""
        if claims and fname not in in_collection:
            patch: dict[str, Any] = {"currentlyIn": {name: None}}
            verified = fstatus.verified_in.get(name) if fstatus and fstatus.verified_in else None
            since = fstatus.currently_in[name].since if fstatus and fstatus.currently_in else None
            if verified is not None and since is not None:
                soak = sp.now - since
                previous = parse_duration(verified.longest_soak) if verified.longest_soak else None
                if previous is None or soak > previous:
                    patch["verifiedIn"] = {name: {"longestSoak": _go_duration(soak)}}
            await patch_freight_status(deps, freight, patch)
        elif not claims and fname in in_collection:
            await patch_freight_status(
                deps, freight, {"currentlyIn": {name: {"since": timestamp(sp.now)}}}
            )


async def mark_verified(deps: StageDeps, sp: StagePass) -> None:
    """``verifiedIn`` on the current collection's Freight once it is healthy and verified."""
    status = sp.status
    current = current_collection(status)
    if current is None or status.health is None:
        return
    if status.health.status != HealthState.HEALTHY:
        return
    history = current.verification_history or []
    if not history or history[0].phase != VerificationPhase.SUCCESSFUL:
        return
    name = sp.name
    names = {i.name for i in (current.items or {}).values()}
    for freight in sp.freights:
        if freight.metadata.name not in names:
            continue
        verified = freight.status.verified_in if freight.status else None
        if verified and name in verified:
            continue
        when = history[0].finish_time or sp.now
        await patch_freight_status(
            deps, freight, {"verifiedIn": {name: {"verifiedAt": timestamp(when)}}}
        )
        await deps.events.emit(
            namespace=freight.metadata.namespace or "",
            kind="Freight",
            name=freight.metadata.name or "",
            uid=freight.metadata.uid,
            reason="FreightVerificationSucceeded",
            message=f"Freight verified in Stage {name!r}",
            annotations={"event.kargo.akuity.io/stage-name": name},
        )


async def mark_control_flow(deps: StageDeps, sp: StagePass) -> None:
    """A control-flow Stage verifies every Freight available to it at once."""
    name = sp.name
    for freight in sp.freights:
        verified = freight.status.verified_in if freight.status else None
        if verified and name in verified:
            continue
        if not freight_availability(sp.stage, freight, sp.now).available:
            continue
        await patch_freight_status(
            deps, freight, {"verifiedIn": {name: {"verifiedAt": timestamp(sp.now)}}}
        )


def _go_duration(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"
