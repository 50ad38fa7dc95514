"""Promotion windows with the operator as a process: a Deny window active now on prod holds
back auto-promotion and says so in the Stage's ``promotionWindowStatus``; the promotion runs
once the window (a few seconds long) has ended - without any event but the Stage's own timer.
A manual Promotion is refused at admission while the window is active (with the window's name
and when it opens), and admitted once it has ended; a malformed window is refused naming its
field."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from shunter.cli import main
from shunter_devenv.cluster import Cluster
from shunter_devenv.seedpipeline import SeedPipeline as Seed
from shunter_devenv.seedpipeline import seed_pipeline
from shunter_devenv.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]
VALUES = (ROOT / "tests" / "data" / "values" / "realistic-values.yaml").read_text()
PROJECT = "windows-example"
#: How long the test's Deny windows last.
WINDOW = timedelta(seconds=20)
ZONE = ZoneInfo("Europe/Berlin")


@pytest.fixture(scope="module")
def seed(kube: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seed]:
    with seed_pipeline(kube, tmp_path_factory.mktemp("windows"), VALUES, project=PROJECT) as p:
        yield p


def _ical(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _parse(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def _freeze(name: str) -> tuple[dict[str, Any], datetime]:
    """A Deny window on prod from a second ago until ``WINDOW`` from now (whole seconds)."""
    now = datetime.now(UTC).replace(microsecond=0)
    end = now + WINDOW
    window = {
        "name": name,
        "kind": "Deny",
        "stageSelector": {"name": "prod"},
        "dtstart": _ical(now - timedelta(seconds=1)),
        "dtend": _ical(end),
    }
    return window, end


def _config_body(*, prod_auto: bool, windows: list[dict[str, Any]]) -> str:
    return json.dumps(
        {
            "apiVersion": "kargo.akuity.io/v1alpha1",
            "kind": "ProjectConfig",
            "metadata": {"name": PROJECT, "namespace": PROJECT},
            "spec": {
                "promotionPolicies": [
                    {"stageSelector": {"name": "preprod"}, "autoPromotionEnabled": True},
                    {"stageSelector": {"name": "prod"}, "autoPromotionEnabled": prod_auto},
                ],
                "promotionWindows": windows,
            },
        }
    )


def _project_config(seed: Seed, *, prod_auto: bool, windows: list[dict[str, Any]]) -> None:
    seed.kube.apply(_config_body(prod_auto=prod_auto, windows=windows), server_side=False)


def _verified_in_preprod(seed: Seed, tag: str) -> str | None:
    freight = seed.freight_for_tag(tag)
    if freight is None:
        return None
    name: str = freight["metadata"]["name"]
    status = seed.get("freight", name).get("status", {})
    return name if "preprod" in status.get("verifiedIn", {}) else None


def _window_status(seed: Seed) -> dict[str, Any] | None:
    status: dict[str, Any] | None = (
        seed.get("stage", "prod").get("status", {}).get("promotionWindowStatus")
    )
    return status


def test_auto_promotion_waits_for_a_deny_window_to_end(seed: Seed) -> None:
    first = wait_for(
        lambda: _verified_in_preprod(seed, "2026-11-01_0900-1111111"),
        what="the first Freight verified in preprod",
        details=seed.diagnostics,
    )
    window, end = _freeze("change-freeze")
    _project_config(seed, prod_auto=True, windows=[window])

    status = wait_for(
        lambda: (s := _window_status(seed)) and s.get("closed") and s,
        what="prod closed by the window",
        details=seed.diagnostics,
    )
    assert status["reason"] == 'Deny promotion window "change-freeze" (ProjectConfig) is active'
    assert _parse(status["nextOpen"]) == end
    assert datetime.now(UTC) < end, "the machine was too slow to look inside the window"
    assert seed.promotions("prod") == [], "auto-promotion must wait while the window is active"

    promotion = wait_for(
        lambda: next(iter(seed.promotions("prod")), None),
        timeout=WINDOW.total_seconds() + 60,
        what="the auto-promotion once the window ended",
        details=seed.diagnostics,
    )
    assert _parse(promotion["metadata"]["creationTimestamp"]) >= end
    assert promotion["spec"]["freight"] == first
    wait_for(
        lambda: seed.current_freight("prod") == first,
        what="prod to hold the Freight",
        details=seed.diagnostics,
    )
    wait_for(
        lambda: (s := _window_status(seed)) and not s["closed"] and s,
        what="prod open again",
    )


def _promotion_body(freight: str) -> str:
    return json.dumps(
        {
            "apiVersion": "kargo.akuity.io/v1alpha1",
            "kind": "Promotion",
            "metadata": {"generateName": "by-hand-", "namespace": PROJECT},
            "spec": {"stage": "prod", "freight": freight},
        }
    )


def test_a_manual_promotion_is_refused_while_the_window_is_active(
    seed: Seed, capsys: pytest.CaptureFixture[str]
) -> None:
    _project_config(seed, prod_auto=False, windows=[])
    tag = "2026-11-20_1000-2222222"
    seed.push(tag, datetime.now(UTC))
    seed.refresh_warehouse()
    freight = wait_for(
        lambda: _verified_in_preprod(seed, tag),
        what="the new Freight verified in preprod",
        details=seed.diagnostics,
    )
    window, end = _freeze("release-freeze")
    _project_config(seed, prod_auto=False, windows=[window])
    wait_for(
        lambda: (s := _window_status(seed)) and s.get("closed"),
        what="prod closed by the window",
        details=seed.diagnostics,
    )
    refused = seed.kube.kubectl("create", "-f", "-", stdin=_promotion_body(freight), check=False)
    opens = end.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert refused.returncode != 0
    assert "Forbidden" in refused.stderr, refused.stderr
    assert (
        'promotion of Stage "prod" is not permitted at this time: Deny promotion window '
        f'"release-freeze" (ProjectConfig) is active; it opens at {opens}'
    ) in refused.stderr, refused.stderr
    kubeconfig = str(seed.kube.kubeconfig_path)
    args = ["promote", "--kubeconfig", kubeconfig, "-n", PROJECT, "--stage", "prod"]
    capsys.readouterr()
    assert main([*args, "--freight", freight]) != 0
    err = capsys.readouterr().err
    assert '"release-freeze"' in err, err
    assert "RBAC" not in err, "a closed window is not a missing permission"
    assert datetime.now(UTC) < end, "the machine was too slow to look inside the window"
    stored = [p for p in seed.promotions("prod") if p["spec"]["freight"] == freight]
    assert stored == [], "nothing is stored while the window is active"

    wait_for(
        lambda: (s := _window_status(seed)) and not s["closed"],
        timeout=WINDOW.total_seconds() + 60,
        what="prod open again",
        details=seed.diagnostics,
    )
    assert main([*args, "--freight", freight]) == 0
    name = next(p for p in seed.promotions("prod") if p["spec"]["freight"] == freight)["metadata"][
        "name"
    ]

    def finished() -> dict[str, Any] | None:
        status: dict[str, Any] = seed.get("promotion", name).get("status", {})
        return status if status.get("phase") in ("Succeeded", "Failed", "Errored") else None

    status = wait_for(finished, what="the Promotion", details=seed.diagnostics)
    assert status["phase"] == "Succeeded", status
    assert _parse(status["startedAt"]) >= end


def test_malformed_windows_are_refused_naming_the_field(seed: Seed) -> None:
    """A ProjectConfig with a malformed window is never stored: the previous one stays."""
    good = {"name": "nightly", "kind": "Deny", "rrule": "FREQ=DAILY"}
    good |= {"dtstart": "20260101T020000Z", "dtend": "20260101T030000Z"}
    _project_config(seed, prod_auto=False, windows=[])
    for field, value, expected in [
        ("rrule", "FREQ=WEEKLY;BYDAY=XX", "is not a valid recurrence rule"),
        ("dtstart", "TZID=Mars/Olympus:20260101T020000", "unknown time zone 'Mars/Olympus'"),
    ]:
        windows = [good, {**good, "name": "broken", field: value}]
        body = _config_body(prod_auto=False, windows=windows)
        refused = seed.kube.kubectl("apply", "-f", "-", stdin=body, check=False)
        assert refused.returncode != 0
        assert f'spec.promotionWindows[1].{field}: Invalid value: "{value}": ' in refused.stderr
        assert expected in refused.stderr, refused.stderr
        assert seed.get("projectconfig", PROJECT).get("spec", {}).get("promotionWindows") in (
            None,
            [],
        )


def _cluster_windows(seed: Seed, windows: list[dict[str, Any]] | None) -> None:
    """Set the ClusterConfig's windows (creating it if needed), leaving its other fields."""
    found = seed.kube.kubectl("get", "clusterconfig", "cluster", check=False).returncode == 0
    if not found:
        body = {
            "apiVersion": "kargo.akuity.io/v1alpha1",
            "kind": "ClusterConfig",
            "metadata": {"name": "cluster"},
            "spec": {},
        }
        seed.kube.kubectl("create", "-f", "-", stdin=json.dumps(body))
    patch = json.dumps({"spec": {"promotionWindows": windows}})
    seed.kube.kubectl("patch", "clusterconfig", "cluster", "--type", "merge", "-p", patch)


def test_cluster_windows_select_projects(seed: Seed) -> None:
    """A ClusterConfig window for other projects does not touch this one; one selecting this
    project and prod's labels gates prod."""
    before = seed.kube.kubectl("get", "clusterconfig", "cluster", "-o", "json", check=False)
    existed = before.returncode == 0
    previous = (
        json.loads(before.stdout).get("spec", {}).get("promotionWindows") if existed else None
    )
    _project_config(seed, prod_auto=False, windows=[])
    others = {"name": "others", "kind": "Deny", "projectSelector": {"name": "glob:other-*"}}
    weekend = {
        "name": "weekend",
        "kind": "Allow",
        "projectSelector": {"name": f"glob:{PROJECT[:7]}*"},
        "stageSelector": {"matchLabels": {"tier": "production"}},
        "rrule": "FREQ=WEEKLY;BYDAY=SA,SU",
        "dtstart": "TZID=Europe/Berlin:20260103T000000",
        "dtend": "TZID=Europe/Berlin:20260104T000000",
    }
    try:
        _cluster_windows(seed, [others])
        seed.kube.kubectl("label", "stage", "prod", "-n", PROJECT, "tier=production")
        wait_for(lambda: _window_status(seed) is None, what="no window on prod")
        _cluster_windows(seed, [others, weekend])
        status = wait_for(lambda: _window_status(seed), what="prod gated by the cluster's window")
        is_weekend = datetime.now(UTC).astimezone(ZONE).weekday() >= 5
        assert status["closed"] is not is_weekend
        assert status.get("nextOpen" if status["closed"] else "nextClose")
        if status["closed"]:
            assert status["reason"] == (
                'outside the Allow promotion window "weekend" (ClusterConfig)'
            )
    finally:
        if existed:
            _cluster_windows(seed, previous)
        else:
            seed.kube.kubectl("delete", "clusterconfig", "cluster")
        seed.kube.kubectl("label", "stage", "prod", "-n", PROJECT, "tier-", check=False)
    wait_for(lambda: _window_status(seed) is None, what="no window on prod again")
