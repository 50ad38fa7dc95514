"""Freight availability and auto-promotion candidates, as Kargo defines them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shunter.api.v1alpha1 import Freight, Stage
from shunter.controllers.availability import (
    auto_promotion_candidate,
    freight_availability,
    parse_duration,
)

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def _stage(sources: dict[str, Any], name: str = "prod", warehouse: str = "w") -> Stage:
    return Stage.model_validate(
        {
            "kind": "Stage",
            "metadata": {"name": name, "namespace": "p"},
            "spec": {
                "requestedFreight": [
                    {"origin": {"kind": "Warehouse", "name": warehouse}, "sources": sources}
                ]
            },
        }
    )


def _freight(name: str, status: dict[str, Any] | None = None, **extra: Any) -> Freight:
    doc: dict[str, Any] = {
        "kind": "Freight",
        "metadata": {"name": name, "namespace": "p"},
        "origin": {"kind": "Warehouse", "name": extra.pop("warehouse", "w")},
        "images": [{"repoURL": "r", "tag": name, "digest": "sha256:aa"}],
        **extra,
    }
    if status:
        doc["status"] = status
    return Freight.model_validate(doc)


def _ts(delta: timedelta) -> str:
    return (NOW - delta).isoformat().replace("+00:00", "Z")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("5m0s", 300), ("1h30m", 5400), ("90s", 90), ("1.5h", 5400), ("250ms", 0.25)],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text).total_seconds() == seconds


@pytest.mark.parametrize("text", ["", "5 minutes", "m", "1d"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(text)


def test_direct_source_takes_any_freight_of_the_origin() -> None:
    stage = _stage({"direct": True}, name="preprod")
    assert freight_availability(stage, _freight("a"), NOW).available


def test_wrong_origin_is_never_available_even_if_approved() -> None:
    stage = _stage({"direct": True})
    freight = _freight("a", {"approvedFor": {"prod": {}}}, warehouse="other")
    result = freight_availability(stage, freight, NOW)
    assert not result.available
    assert "does not request Freight from Warehouse/other" in result.reason


def test_upstream_verification_required() -> None:
    stage = _stage({"stages": ["preprod"]})
    unverified = freight_availability(stage, _freight("a"), NOW)
    assert not unverified.available
    assert "has not been verified in any of the upstream Stages 'preprod'" in unverified.reason
    verified = _freight("b", {"verifiedIn": {"preprod": {"verifiedAt": _ts(timedelta(0))}}})
    assert freight_availability(stage, verified, NOW).available


def test_approval_bypasses_verification() -> None:
    stage = _stage({"stages": ["preprod"]})
    approved = _freight("a", {"approvedFor": {"prod": {"approvedAt": _ts(timedelta(0))}}})
    assert freight_availability(stage, approved, NOW).available


def test_all_strategy_needs_every_upstream() -> None:
    stage = _stage({"stages": ["eu", "us"], "availabilityStrategy": "All"})
    one = _freight("a", {"verifiedIn": {"eu": {}}})
    both = _freight("b", {"verifiedIn": {"eu": {}, "us": {}}})
    assert not freight_availability(stage, one, NOW).available
    assert freight_availability(stage, both, NOW).available
    one_of = _stage({"stages": ["eu", "us"]})
    assert freight_availability(one_of, one, NOW).available


def test_soak_time_counts_current_stay_and_longest_soak() -> None:
    stage = _stage({"stages": ["preprod"], "requiredSoakTime": "1h"})
    fresh = _freight(
        "a",
        {
            "verifiedIn": {"preprod": {}},
            "currentlyIn": {"preprod": {"since": _ts(timedelta(minutes=10))}},
        },
    )
    soaked = _freight(
        "b",
        {
            "verifiedIn": {"preprod": {}},
            "currentlyIn": {"preprod": {"since": _ts(timedelta(hours=2))}},
        },
    )
    left = _freight("c", {"verifiedIn": {"preprod": {"longestSoak": "1h30m0s"}}})
    assert not freight_availability(stage, fresh, NOW).available
    assert "for at least 1:00:00" in freight_availability(stage, fresh, NOW).reason
    assert freight_availability(stage, soaked, NOW).available
    assert freight_availability(stage, left, NOW).available


def test_candidate_is_the_newest_available() -> None:
    stage = _stage({"direct": True}, name="preprod")
    old = _freight("old", discoveredAt=_ts(timedelta(hours=2)))
    new = _freight("new", discoveredAt=_ts(timedelta(hours=1)))
    foreign = _freight("zzz", warehouse="other", discoveredAt=_ts(timedelta(0)))
    request = stage.spec.requested_freight[0]
    candidate = auto_promotion_candidate(stage, request, [old, new, foreign], NOW)
    assert candidate is not None
    assert candidate.metadata.name == "new"


def test_candidate_ties_broken_by_name_descending() -> None:
    stage = _stage({"direct": True})
    same = _ts(timedelta(hours=1))
    a = _freight("aaa", discoveredAt=same)
    b = _freight("bbb", discoveredAt=same)
    candidate = auto_promotion_candidate(stage, stage.spec.requested_freight[0], [a, b], NOW)
    assert candidate is not None
    assert candidate.metadata.name == "bbb"


def test_match_upstream_takes_what_the_upstream_holds() -> None:
    stage = _stage(
        {"stages": ["preprod"], "autoPromotionOptions": {"selectionPolicy": "MatchUpstream"}}
    )
    newer = _freight("newer", {"verifiedIn": {"preprod": {}}}, discoveredAt=_ts(timedelta(0)))
    current = _freight(
        "current",
        {"verifiedIn": {"preprod": {}}, "currentlyIn": {"preprod": {}}},
        discoveredAt=_ts(timedelta(hours=1)),
    )
    candidate = auto_promotion_candidate(
        stage, stage.spec.requested_freight[0], [newer, current], NOW
    )
    assert candidate is not None
    assert candidate.metadata.name == "current"


def test_no_candidate_when_nothing_is_available() -> None:
    stage = _stage({"stages": ["preprod"]})
    assert (
        auto_promotion_candidate(stage, stage.spec.requested_freight[0], [_freight("a")], NOW)
        is None
    )
