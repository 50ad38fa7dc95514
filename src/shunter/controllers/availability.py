"""Which Freight a Stage may take (Kargo's availability rules), and auto-promotion candidates.

For Stage S and Freight F: F's origin must be requested by S; then F is available if it is
approved for S, or the request takes it ``direct`` from the Warehouse, or it was verified (and
soaked for ``requiredSoakTime``) in one (``OneOf``, the default) or all (``All``) of the
upstream Stages. ``MatchUpstream`` restricts candidates to Freight currently in the one
upstream Stage.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from shunter.api.v1alpha1.freight import Freight
from shunter.api.v1alpha1.stage import (
    AutoPromotionSelectionPolicy,
    FreightAvailabilityStrategy,
    FreightRequest,
    Stage,
)

__all__ = [
    "Availability",
    "auto_promotion_candidate",
    "freight_availability",
    "freight_sort_key",
    "parse_duration",
]

_DURATION_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ns|us|µs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str) -> timedelta:
    """A Go-style duration (``1h30m``, ``5m0s``, ``90s``) as a timedelta."""
    text = text.strip()
    pos, total = 0, 0.0
    for match in _DURATION_PART.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        pos = match.end()
    if pos != len(text) or not text:
        raise ValueError(f"invalid duration {text!r}")
    return timedelta(seconds=total)


@dataclass(frozen=True)
class Availability:
    """Whether Freight is available to a Stage, and why not."""

    available: bool
    reason: str = ""


def _request_for(stage: Stage, freight: Freight) -> FreightRequest | None:
    for request in stage.spec.requested_freight:
        if request.origin.key == freight.origin.key:
            return request
    return None


def _soak(freight: Freight, upstream: str, now: datetime) -> timedelta:
    status = freight.status
    longest = timedelta(0)
    verified = (status.verified_in or {}).get(upstream) if status else None
    if verified and verified.longest_soak:
        try:
            longest = parse_duration(verified.longest_soak)
        except ValueError:
            longest = timedelta(0)
    current = (status.currently_in or {}).get(upstream) if status else None
    if current and current.since:
        longest = max(longest, now - current.since)
    return longest


def _verified_and_soaked(
    freight: Freight, upstream: str, required: timedelta | None, now: datetime
) -> bool:
    verified_in = freight.status.verified_in if freight.status else None
    if not verified_in or upstream not in verified_in:
        return False
    return required is None or _soak(freight, upstream, now) >= required


def freight_availability(
    stage: Stage, freight: Freight, now: datetime | None = None
) -> Availability:
    """Kargo's ``IsFreightAvailable`` with a reason when the answer is no."""
    now = now or datetime.now(UTC)
    name = stage.metadata.name or ""
    if freight.metadata.namespace and freight.metadata.namespace != stage.metadata.namespace:
        return Availability(False, "Freight is in another namespace")
    request = _request_for(stage, freight)
    if request is None:
        return Availability(
            False,
            f"Stage {name!r} does not request Freight from {freight.origin.key}",
        )
    approved = freight.status.approved_for if freight.status else None
    if approved and name in approved:
        return Availability(True)
    sources = request.sources
    if sources.direct:
        return Availability(True)
    upstreams = sources.stages or []
    if not upstreams:
        return Availability(False, "the Stage's Freight request names no source")
    required = parse_duration(sources.required_soak_time) if sources.required_soak_time else None
    ok = [_verified_and_soaked(freight, u, required, now) for u in upstreams]
    strategy = sources.availability_strategy or FreightAvailabilityStrategy.ONE_OF
    if strategy == FreightAvailabilityStrategy.ALL:
        if all(ok):
            return Availability(True)
        missing = [u for u, good in zip(upstreams, ok, strict=True) if not good]
        return Availability(False, _not_verified_message(missing, required, all_of=True))
    if any(ok):
        return Availability(True)
    return Availability(False, _not_verified_message(upstreams, required, all_of=False))


def _not_verified_message(stages: list[str], soak: timedelta | None, *, all_of: bool) -> str:
    names = ", ".join(repr(s) for s in stages)
    which = "every one of" if all_of else "any of"
    soak_text = f" for at least {soak}" if soak else ""
    return f"Freight has not been verified{soak_text} in {which} the upstream Stages {names}"


def freight_sort_key(freight: Freight) -> tuple[datetime, str]:
    """Newest first when sorted in reverse: discoveredAt (else creation time), then name."""
    when = freight.discovered_at
    if when is None and freight.metadata.creation_timestamp:
        try:
            when = datetime.fromisoformat(freight.metadata.creation_timestamp)
        except ValueError:
            when = None
    if when is not None and when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return (when or datetime.min.replace(tzinfo=UTC), freight.metadata.name or "")


def auto_promotion_candidate(
    stage: Stage,
    request: FreightRequest,
    freights: Iterable[Freight],
    now: datetime | None = None,
) -> Freight | None:
    """The newest available Freight of one origin, or None (Kargo's candidate selection)."""
    now = now or datetime.now(UTC)
    pool = [
        f
        for f in freights
        if f.origin.key == request.origin.key and freight_availability(stage, f, now).available
    ]
    options = request.sources.auto_promotion_options
    if options and options.selection_policy == AutoPromotionSelectionPolicy.MATCH_UPSTREAM:
        upstreams = request.sources.stages or []
        if len(upstreams) != 1:
            return None
        pool = [
            f
            for f in pool
            if f.status and f.status.currently_in and upstreams[0] in f.status.currently_in
        ]
        if len(pool) != 1:
            return None
    if not pool:
        return None
    return max(pool, key=freight_sort_key)
