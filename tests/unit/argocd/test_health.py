"""Health evaluation of one Application, worst-wins merging, the config and the output shape."""

from __future__ import annotations

from typing import Any

import pytest

from shunter.api.v1alpha1.stage import HealthState
from shunter.argocd import Application, assess_application, parse_health_config, worst
from shunter.argocd.health import trimmed_status

T0 = "2026-01-01T10:00:00Z"
T1 = "2026-01-01T10:00:05Z"
SHA = "a" * 40
OTHER = "b" * 40


def _app(
    *,
    health: str | None = "Healthy",
    revision: str = SHA,
    revisions: list[str] | None = None,
    sources: int = 1,
    finished: str | None = T0,
    reconciled: str | None = T0,
    operation: dict[str, Any] | None = None,
    conditions: list[dict[str, Any]] | None = None,
) -> Application:
    spec: dict[str, Any]
    if sources == 1:
        spec = {"source": {"repoURL": "https://git.example.com/a.git"}}
    else:
        spec = {
            "sources": [{"repoURL": f"https://git.example.com/{i}.git"} for i in range(sources)]
        }
    status: dict[str, Any] = {
        "sync": {"status": "Synced", "revision": revision},
        "operationState": {
            "phase": "Succeeded",
            "startedAt": T0,
            "operation": {"sync": {}},
            "syncResult": {"revision": revision},
        },
    }
    if revisions is not None:
        status["sync"]["revisions"] = revisions
    if health is not None:
        status["health"] = {"status": health}
    if finished is not None:
        status["operationState"]["finishedAt"] = finished
    if reconciled is not None:
        status["reconciledAt"] = reconciled
    if conditions is not None:
        status["conditions"] = conditions
    obj: dict[str, Any] = {
        "metadata": {"name": "gb", "namespace": "argocd"},
        "spec": spec,
        "status": status,
    }
    if operation is not None:
        obj["operation"] = operation
    return Application.from_object(obj)


@pytest.mark.parametrize(
    ("health", "state"),
    [
        ("Healthy", HealthState.HEALTHY),
        ("Progressing", HealthState.PROGRESSING),
        (None, HealthState.PROGRESSING),
        ("Suspended", HealthState.PROGRESSING),
        ("Degraded", HealthState.UNHEALTHY),
        ("Missing", HealthState.UNHEALTHY),
        ("Unknown", HealthState.UNHEALTHY),
    ],
)
def test_health_states(health: str | None, state: HealthState) -> None:
    verdict = assess_application(_app(health=health), [SHA])
    assert verdict.state is state
    assert bool(verdict.issues) == (state is not HealthState.HEALTHY)


def test_degraded_issue_text() -> None:
    verdict = assess_application(_app(health="Degraded"), [])
    assert verdict.issues == (
        "Argo CD Application 'gb' in namespace 'argocd' has health state 'Degraded'",
    )


def test_stale_reconciliation_is_unknown_and_asks_for_a_refresh() -> None:
    verdict = assess_application(_app(finished=T1, reconciled=T0), [SHA])
    assert verdict.state is HealthState.UNKNOWN
    assert verdict.refresh
    never = assess_application(_app(reconciled=None), [SHA])
    assert never.state is HealthState.UNKNOWN
    assert never.refresh
    # Reconciled in the same second as the operation finished: trusted.
    assert assess_application(_app(finished=T0, reconciled=T0), [SHA]).state is HealthState.HEALTHY


def test_error_conditions_are_unhealthy_before_anything_else() -> None:
    conditions = [
        {"type": "ComparisonError", "message": "repo unreachable"},
        {"type": "SharedResourceWarning", "message": "ignored"},
        {"type": "InvalidSpecError", "message": "bad path"},
    ]
    verdict = assess_application(_app(conditions=conditions, revision=OTHER), [SHA])
    assert verdict.state is HealthState.UNHEALTHY
    assert verdict.issues == (
        "Argo CD Application 'gb' in namespace 'argocd' has a 'ComparisonError' condition: "
        "repo unreachable",
        "Argo CD Application 'gb' in namespace 'argocd' has a 'InvalidSpecError' condition: "
        "bad path",
    )


def test_wrong_revision_is_unhealthy_even_when_healthy() -> None:
    verdict = assess_application(_app(revision=OTHER), [SHA])
    assert verdict.state is HealthState.UNHEALTHY
    assert f"synced to {OTHER!r}, not to {SHA!r}" in verdict.issues[0]


def test_no_desired_revision_skips_the_sync_check() -> None:
    assert assess_application(_app(revision=OTHER), [""]).state is HealthState.HEALTHY
    assert assess_application(_app(revision=OTHER), []).state is HealthState.HEALTHY


@pytest.mark.parametrize(
    "app",
    [
        _app(operation={"sync": {}}),  # requested, not picked up yet
        _app(finished=None, reconciled=None),  # running
    ],
)
def test_sync_in_progress_is_unknown(app: Application) -> None:
    verdict = assess_application(app, [SHA])
    assert verdict.state is HealthState.UNKNOWN
    assert verdict.issues == ("Argo CD Application 'gb' in namespace 'argocd' is being synced",)


def test_source_count_mismatch_is_unknown() -> None:
    verdict = assess_application(_app(sources=2, revisions=[SHA, OTHER]), [SHA])
    assert verdict.state is HealthState.UNKNOWN
    assert "2 source(s) but 1 desired revision(s)" in verdict.issues[0]


def test_multi_source_compares_per_source() -> None:
    app = _app(sources=2, revisions=[SHA, OTHER])
    assert assess_application(app, ["", OTHER]).state is HealthState.HEALTHY
    bad = assess_application(app, [OTHER, OTHER])
    assert bad.state is HealthState.UNHEALTHY
    assert "source 0 (https://git.example.com/0.git)" in bad.issues[0]


def test_worst_wins() -> None:
    assert worst() is HealthState.HEALTHY
    assert worst(HealthState.HEALTHY, HealthState.PROGRESSING) is HealthState.PROGRESSING
    assert worst(HealthState.UNKNOWN, HealthState.PROGRESSING) is HealthState.UNKNOWN
    assert worst(HealthState.UNKNOWN, HealthState.UNHEALTHY, HealthState.HEALTHY) is (
        HealthState.UNHEALTHY
    )


def test_parse_config() -> None:
    checks = parse_health_config(
        {"apps": [{"name": "a", "desiredRevisions": [SHA]}, {"name": "b", "namespace": "x"}]}
    )
    assert [(c.name, c.namespace, c.desired_revisions) for c in checks] == [
        ("a", "", (SHA,)),
        ("b", "x", ()),
    ]
    for bad in ({}, {"apps": [{}]}, {"apps": [{"name": "a", "desiredRevisions": [1]}]}):
        with pytest.raises(ValueError, match="apps"):
            parse_health_config(bad)


def test_trimmed_status_drops_volatile_fields() -> None:
    app = _app(conditions=[{"type": "X", "message": "m", "lastTransitionTime": T0}])
    entry = trimmed_status(app, "argocd", "gb")
    assert entry["Namespace"] == "argocd"
    assert entry["Name"] == "gb"
    assert "reconciledAt" not in entry
    assert entry["conditions"] == [{"type": "X", "message": "m"}]
    assert entry["operationState"]["finishedAt"] == T0
    assert "startedAt" not in entry["operationState"]
    assert trimmed_status(None, "argocd", "x") == {
        "Namespace": "argocd",
        "Name": "x",
        "health": {"status": "Unknown"},
        "sync": {"status": "Unknown"},
    }
