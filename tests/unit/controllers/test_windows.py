"""Which promotion windows gate a Stage: ProjectConfig and ClusterConfig, selectors, and the
status and message a closed schedule gives."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from shunter.api.v1alpha1 import ClusterConfig, Project, ProjectConfig, Stage
from shunter.api.v1alpha1.stage import PromotionWindowStatus
from shunter.controllers.windows import (
    matching_windows,
    waiting_message,
    window_state,
    window_status,
)

NOON = datetime(2026, 6, 3, 12, tzinfo=UTC)  # a Wednesday


def stage(name: str = "prod", **labels: str) -> Stage:
    return Stage.model_validate(
        {
            "metadata": {"name": name, "namespace": "shop", "labels": labels},
            "spec": {
                "requestedFreight": [
                    {"origin": {"kind": "Warehouse", "name": "w"}, "sources": {"direct": True}}
                ]
            },
        }
    )


def project_config(*windows: dict[str, Any]) -> ProjectConfig:
    return ProjectConfig.model_validate(
        {"metadata": {"name": "shop"}, "spec": {"promotionWindows": list(windows)}}
    )


def cluster_config(*windows: dict[str, Any]) -> ClusterConfig:
    return ClusterConfig.model_validate(
        {"metadata": {"name": "cluster"}, "spec": {"promotionWindows": list(windows)}}
    )


def project(**labels: str) -> Project:
    return Project.model_validate({"metadata": {"name": "shop", "labels": labels}})


FREEZE = {"name": "freeze", "kind": "Deny", "dtstart": "20260601T000000Z"}


def names(found: list[Any]) -> list[str]:
    return [w.name for w in found]


def test_no_windows_no_status() -> None:
    assert matching_windows(stage(), None, None) == []
    assert window_state([], NOON) is None
    assert window_status(None) is None


def test_project_windows_match_by_stage_name_and_labels() -> None:
    config = project_config(
        FREEZE,
        {**FREEZE, "name": "prod-only", "stageSelector": {"name": "glob:prod*"}},
        {**FREEZE, "name": "uat-only", "stageSelector": {"name": "uat"}},
        {**FREEZE, "name": "tier", "stageSelector": {"matchLabels": {"tier": "production"}}},
    )
    assert names(matching_windows(stage("prod"), config, None)) == ["freeze", "prod-only"]
    assert names(matching_windows(stage("prod", tier="production"), config, None)) == [
        "freeze",
        "prod-only",
        "tier",
    ]
    assert names(matching_windows(stage("uat"), config, None)) == ["freeze", "uat-only"]


def test_cluster_windows_match_by_project_name_and_labels_too() -> None:
    config = cluster_config(
        {**FREEZE, "name": "everyone"},
        {**FREEZE, "name": "shop", "projectSelector": {"name": "shop"}},
        {**FREEZE, "name": "others", "projectSelector": {"name": "regex:^other"}},
        {
            **FREEZE,
            "name": "regulated",
            "projectSelector": {
                "matchExpressions": [{"key": "compliance", "operator": "In", "values": ["pci"]}]
            },
            "stageSelector": {"name": "prod"},
        },
    )
    found = matching_windows(stage(), project_config(), config, project())
    assert names(found) == ["everyone", "shop"]
    assert {w.source for w in found} == {"ClusterConfig"}
    found = matching_windows(stage(), None, config, project(compliance="pci"))
    assert names(found) == ["everyone", "shop", "regulated"]
    assert names(matching_windows(stage("dev"), None, config, project(compliance="pci"))) == [
        "everyone",
        "shop",
    ]


def test_project_and_cluster_windows_add_up() -> None:
    allow = {
        "name": "hours",
        "kind": "Allow",
        "rrule": "FREQ=DAILY",
        "dtstart": "20260101T080000Z",
        "dtend": "20260101T100000Z",
    }
    found = matching_windows(stage(), project_config(allow), cluster_config(FREEZE), project())
    state = window_state(found, NOON)
    assert state is not None
    assert state.closed
    assert state.reason == 'Deny promotion window "freeze" (ClusterConfig) is active'


def test_an_invalid_window_is_reported_not_raised() -> None:
    bad = {
        "name": "bad",
        "kind": "Allow",
        "rrule": "FREQ=DAILY;BYHOUR=99",
        "dtstart": "20260101T080000Z",
        "dtend": "20260101T100000Z",
    }
    state = window_state(matching_windows(stage(), project_config(bad), None), NOON)
    assert state is not None
    assert state.closed
    assert state.reason is not None
    assert state.reason.startswith('promotion window "bad" (ProjectConfig) is invalid: rrule: ')


def test_status_and_waiting_message() -> None:
    allow = {
        "name": "hours",
        "kind": "Allow",
        "rrule": "FREQ=DAILY",
        "dtstart": "TZID=Europe/Berlin:20260101T080000",
        "dtend": "TZID=Europe/Berlin:20260101T100000",
    }
    status = window_status(
        window_state(matching_windows(stage(), project_config(allow), None), NOON)
    )
    assert status == PromotionWindowStatus(
        closed=True,
        reason='outside the Allow promotion window "hours" (ProjectConfig)',
        next_open=datetime(2026, 6, 4, 6, tzinfo=UTC),
    )
    assert waiting_message(status) == (
        'Waiting for a promotion window: outside the Allow promotion window "hours" '
        "(ProjectConfig); it opens at 2026-06-04T06:00:00Z"
    )
