"""Freight built from discovery results, and freightCreationCriteria."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from shunter.api.v1alpha1.warehouse import DiscoveredArtifacts, WarehouseSpec
from shunter.controllers.warehouse import CriteriaEvaluationError, build_freight, criteria_met
from shunter.freight import freight_id

NOW = datetime(2026, 11, 26, 12, 0, 0, 123456, tzinfo=UTC)


def _spec(*subs: dict[str, Any]) -> WarehouseSpec:
    return WarehouseSpec.model_validate({"subscriptions": list(subs)})


def _found(**kwargs: Any) -> DiscoveredArtifacts:
    return DiscoveredArtifacts.model_validate({"discoveredAt": "2026-11-26T12:00:00Z", **kwargs})


def test_best_result_of_each_subscription_becomes_freight() -> None:
    spec = _spec(
        {"image": {"repoURL": "reg.example.com/app"}},
        {"name": "config", "git": {"repoURL": "https://git.example.com/cfg.git"}},
        {"chart": {"repoURL": "oci://reg.example.com/charts/app"}},
    )
    found = _found(
        images=[
            {
                "repoURL": "reg.example.com/app",
                "references": [
                    {"tag": "1.2.0", "digest": "sha256:bb"},
                    {"tag": "1.1.0", "digest": "sha256:aa"},
                ],
            }
        ],
        git=[
            {
                "repoURL": "https://git.example.com/cfg.git",
                "commits": [{"id": "abc123", "branch": "main", "subject": "fix", "author": "a"}],
            }
        ],
        charts=[{"repoURL": "oci://reg.example.com/charts/app", "versions": ["2.0.0", "1.0.0"]}],
    )
    freight = build_freight("ns", "wh", spec, found, NOW)
    assert freight is not None
    assert freight["images"] == [
        {"repoURL": "reg.example.com/app", "tag": "1.2.0", "digest": "sha256:bb"}
    ]
    assert freight["commits"] == [
        {
            "repoURL": "https://git.example.com/cfg.git",
            "id": "abc123",
            "branch": "main",
            "message": "fix",
            "author": "a",
            "subscriptionName": "config",
        }
    ]
    assert freight["charts"] == [
        {"repoURL": "oci://reg.example.com/charts/app", "version": "2.0.0"}
    ]
    assert freight["origin"] == {"kind": "Warehouse", "name": "wh"}
    assert freight["discoveredAt"] == "2026-11-26T12:00:00.123456Z"
    expected = freight_id(
        "Warehouse", "wh", freight["commits"], freight["images"], freight["charts"]
    )
    assert freight["metadata"] == {"name": expected, "namespace": "ns"}


def test_no_freight_when_a_subscription_found_nothing() -> None:
    spec = _spec({"image": {"repoURL": "a"}}, {"image": {"repoURL": "b"}})
    found = _found(
        images=[
            {"repoURL": "a", "references": [{"tag": "1", "digest": "sha256:aa"}]},
            {"repoURL": "b", "references": []},
        ]
    )
    assert build_freight("ns", "wh", spec, found, NOW) is None


FREIGHT = {
    "origin": {"kind": "Warehouse", "name": "wh"},
    "images": [{"repoURL": "reg/app", "tag": "1.2.0", "digest": "sha256:aa"}],
    "charts": [{"repoURL": "oci://reg/charts/app", "version": "1.2.0"}],
}


@pytest.mark.parametrize(
    ("expression", "ok"),
    [
        (None, True),
        ("", True),
        ("imageFrom('reg/app').Tag == chartFrom('oci://reg/charts/app').Version", True),
        ("imageFrom('reg/app').Tag startsWith '2.'", False),
        ("true", True),
    ],
)
async def test_criteria(expression: str | None, ok: bool) -> None:
    assert await criteria_met(expression, FREIGHT, project="demo") is ok


async def test_criteria_results_are_read_as_go_bools() -> None:
    assert await criteria_met("'true'", FREIGHT, project="demo") is True
    assert await criteria_met("0", FREIGHT, project="demo") is False


@pytest.mark.parametrize(
    ("expression", "fragment"),
    [
        ("imageFrom('reg/app').Tag +", "unexpected end"),
        ("'yes'", "as bool"),
        ("[1][1e400]", "index out of range"),
        ("reduce(1..40, [#acc, #acc], 0)", "memory budget"),
    ],
)
async def test_criteria_errors_are_reported_not_raised(expression: str, fragment: str) -> None:
    with pytest.raises(CriteriaEvaluationError) as info:
        await criteria_met(expression, FREIGHT, project="demo")
    assert fragment in str(info.value)
