"""What the UI's views compute from API objects (no server, no browser)."""

from __future__ import annotations

from typing import Any

from shunter.ui import views

FREIGHT: dict[str, Any] = {
    "metadata": {"name": "f" * 40, "labels": {"kargo.akuity.io/alias": "calm-otter"}},
    "alias": "calm-otter",
    "discoveredAt": "2026-11-26T12:00:00Z",
    "origin": {"kind": "Warehouse", "name": "images"},
    "images": [{"repoURL": "reg.example/team/app", "tag": "1.2.3", "digest": "sha256:" + "a" * 64}],
    "commits": [{"repoURL": "https://git.example/app.git", "id": "0123456789abcdef"}],
    "charts": [{"repoURL": "oci://charts.example/app", "name": "app", "version": "0.4.0"}],
    "status": {
        "currentlyIn": {"prod": {}},
        "verifiedIn": {"prod": {}, "preprod": {}},
        "approvedFor": {"hotfix": {}},
    },
}


def _stage(name: str, **status: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "annotations": {"kargo.akuity.io/color": "#ff0000"}},
        "spec": {
            "requestedFreight": [
                {"origin": {"kind": "Warehouse", "name": "images"}, "sources": {"stages": ["qa"]}}
            ]
        },
        "status": status,
    }


def test_artifacts_show_tag_commit_and_chart() -> None:
    arts = views.artifacts_of(FREIGHT)
    assert [(a.kind, a.label, a.short) for a in arts] == [
        ("image", "app:1.2.3", "1.2.3"),
        ("commit", "app.git@0123456", "0123456"),
        ("chart", "app:0.4.0", "0.4.0"),
    ]


def test_colors_that_could_inject_css_are_dropped() -> None:
    assert views.safe_color("#a1b2c3") == "#a1b2c3"
    assert views.safe_color("teal") == "teal"
    assert views.safe_color("red; background: url(x)") is None
    assert views.safe_color("</style>") is None
    assert views.safe_color(7) is None


def test_stage_card_reads_current_freight_health_verification_and_promotion() -> None:
    stage = _stage(
        "prod",
        freightHistory=[
            {
                "id": "c1",
                "items": {"Warehouse/images": {"name": "f" * 40, "origin": FREIGHT["origin"]}},
                "verificationHistory": [{"id": "v1", "phase": "Failed", "message": "smoke"}],
            }
        ],
        health={"status": "Unhealthy", "issues": ["app degraded"]},
        lastPromotion={"name": "prod.x.fff", "status": {"phase": "Errored"}},
        autoPromotionEnabled=True,
        conditions=[{"type": "Ready", "status": "False", "message": "broken", "reason": "X"}],
    )
    card = views.stage_card(stage, {"f" * 40: FREIGHT})
    assert card.color == "#ff0000"
    assert [(b.alias, b.main) for b in card.freight] == [("calm-otter", "1.2.3")]
    assert (card.health, card.health_issues) == ("Unhealthy", ["app degraded"])
    assert card.verification is not None
    assert (card.verification.id, card.verification.phase) == ("v1", "Failed")
    assert (card.promotion_phase, card.promotion_running) == ("Errored", False)
    assert card.auto_promotion
    assert card.problem == "broken"
    assert card.upstream_stages == ["qa"]


def test_a_running_promotion_wins_over_the_last_one() -> None:
    card = views.stage_card(
        _stage("prod", currentPromotion={"name": "p2"}, lastPromotion={"name": "p1"}), {}
    )
    assert (card.promotion_name, card.promotion_phase, card.promotion_running) == (
        "p2",
        "Running",
        True,
    )


def test_graph_edges_follow_requested_freight() -> None:
    direct = {
        "metadata": {"name": "qa"},
        "spec": {
            "requestedFreight": [
                {"origin": {"kind": "Warehouse", "name": "images"}, "sources": {"direct": True}}
            ]
        },
    }
    cards = [views.stage_card(direct, {}), views.stage_card(_stage("prod"), {})]
    assert views.graph_edges(cards, ["images"]) == [
        ("warehouse-images", "stage-qa"),
        ("stage-qa", "stage-prod"),
    ]


def test_edges_to_unknown_nodes_are_left_out() -> None:
    assert views.graph_edges([views.stage_card(_stage("prod"), {})], []) == []


def test_timeline_row_markers_current_verified_approved() -> None:
    row = views.freight_row(FREIGHT, {"prod": "#ff0000"})
    assert [(m.stage, m.kind, m.color) for m in row.markers] == [
        ("prod", "current", "#ff0000"),
        ("preprod", "verified", None),
        ("hotfix", "approved", None),
    ]
    assert row.alias == "calm-otter"
    assert row.row_id == "freight-" + "f" * 40


def test_newest_freight_sorts_last() -> None:
    old = {"metadata": {"name": "a", "creationTimestamp": "2020-01-01T00:00:00Z"}}
    assert sorted([FREIGHT, old], key=views.freight_sort_key) == [old, FREIGHT]


def test_promotion_row_pairs_steps_with_their_status_and_outputs() -> None:
    promotion = {
        "metadata": {
            "name": "prod.01abc.fffffff",
            "creationTimestamp": "2026-11-26T12:00:00Z",
            "annotations": {"kargo.akuity.io/create-actor": "kubernetes:alice"},
        },
        "spec": {
            "stage": "prod",
            "freight": "f" * 40,
            "steps": [{"uses": "git-clone"}, {"uses": "git-push", "as": "push"}],
        },
        "status": {
            "phase": "Running",
            "currentStep": 1,
            "stepExecutionMetadata": [
                {"alias": "step-1", "status": "Succeeded", "startedAt": "2026-11-26T12:00:00Z",
                 "finishedAt": "2026-11-26T12:00:03Z"},
                {"alias": "push", "status": "Running", "message": "<b>pushing</b>"},
            ],
            "state": {"push": {"commit": "abc123"}},
        },
    }  # fmt: skip
    row = views.promotion_row(promotion, {"f" * 40: FREIGHT})
    assert row.actor == "kubernetes:alice"
    assert row.freight.alias == "calm-otter"
    assert [(s.alias, s.uses, s.status) for s in row.steps] == [
        ("step-1", "git-clone", "Succeeded"),
        ("push", "git-push", "Running"),
    ]
    assert '"commit": "abc123"' in row.steps[1].outputs
    assert not row.terminal


def test_project_summary_counts_health_promotions_and_failures() -> None:
    stages = [
        _stage("a", health={"status": "Healthy"}, currentPromotion={"name": "p"}),
        _stage("b", health={"status": "Unhealthy"},
               lastPromotion={"status": {"phase": "Failed"}, "finishedAt": "2026-11-26T12:00:00Z"}),
    ]  # fmt: skip
    summary = views.project_summary("demo", stages)
    assert (summary.stages, summary.healthy, summary.unhealthy) == (2, 1, 1)
    assert (summary.promoting, summary.failed) == (1, 1)
    assert summary.last_activity == "2026-11-26T12:00:00Z"


def test_a_closed_promotion_window_is_on_the_card() -> None:
    status = {
        "closed": True,
        "reason": 'Deny promotion window "freeze" (ProjectConfig) is active',
        "nextOpen": "2026-12-01T09:00:00Z",
    }
    card = views.stage_card(_stage("prod", promotionWindowStatus=status), {})
    assert card.window == views.WindowNote(
        closed=True,
        reason='Deny promotion window "freeze" (ProjectConfig) is active',
        next_open="2026-12-01T09:00:00Z",
        next_close="",
        next_close_reason="",
    )
    assert views.stage_card(_stage("prod"), {}).window is None


def test_a_rollback_promotion_is_marked() -> None:
    promotion = {
        "metadata": {
            "name": "prod.x.fff",
            "annotations": {
                "kargo.akuity.io/rollback": "true",
                "kargo.akuity.io/create-actor": "controller:shunter-rollback",
            },
        },
        "spec": {"stage": "prod", "freight": "f" * 40},
    }
    row = views.promotion_row(promotion, {})
    assert row.rollback
    assert row.actor == "controller:shunter-rollback"
    assert not views.promotion_row({"metadata": {"name": "p"}, "spec": {}}, {}).rollback
