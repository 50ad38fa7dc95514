"""The UI's templates escape everything that comes from the API."""

from __future__ import annotations

from typing import Any

from shunter.ui import views
from shunter.ui.rendering import environment

HOSTILE = '<script>alert(1)</script><img src=x onerror="alert(2)">'


def _render(template: str, **values: Any) -> str:
    return environment().get_template(template).render(csrf_token="t", **values)


def test_alias_description_and_color_are_escaped_on_a_stage_card() -> None:
    freight = {"metadata": {"name": "f" * 40}, "alias": HOSTILE, "images": [{"tag": HOSTILE}]}
    stage = {
        "metadata": {
            "name": "prod",
            "annotations": {
                "kargo.akuity.io/description": HOSTILE,
                "kargo.akuity.io/color": "red;background:url(javascript:alert(3))",
            },
        },
        "spec": {"requestedFreight": []},
        "status": {"freightHistory": [{"id": "c", "items": {"W/x": {"name": "f" * 40}}}]},
    }
    html = _render(
        "_stage_card.html", project="p", card=views.stage_card(stage, {"f" * 40: freight})
    )
    assert "<script>" not in html
    assert "<img" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "javascript:" not in html


def test_step_messages_and_outputs_are_escaped_on_a_promotion() -> None:
    promotion = {
        "metadata": {"name": "p.1.f", "annotations": {"kargo.akuity.io/create-actor": HOSTILE}},
        "spec": {"stage": "prod", "freight": "f", "steps": [{"uses": "http", "as": "call"}]},
        "status": {
            "phase": "Failed",
            "message": HOSTILE,
            "stepExecutionMetadata": [{"alias": "call", "status": "Failed", "message": HOSTILE}],
            "state": {"call": {"body": HOSTILE}},
        },
    }
    html = _render("_promotion.html", project="p", p=views.promotion_row(promotion, {}))
    assert "<script>" not in html
    assert "<img" not in html
    assert html.count("&lt;script&gt;") >= 3


def test_a_timeline_row_escapes_the_alias_and_artifacts() -> None:
    freight = {
        "metadata": {"name": "f" * 40},
        "alias": HOSTILE,
        "origin": {"kind": "Warehouse", "name": HOSTILE},
        "commits": [{"repoURL": HOSTILE, "id": "abc", "message": HOSTILE}],
    }
    html = _render("_freight_row.html", project="p", row=views.freight_row(freight, {}))
    assert "<script>" not in html
    assert "<img" not in html


def test_a_freeze_shows_on_the_card_and_the_stage_page_escaped() -> None:
    stage = {
        "metadata": {"name": "prod"},
        "spec": {"requestedFreight": []},
        "status": {
            "promotionWindowStatus": {
                "closed": True,
                "reason": f"Deny promotion window {HOSTILE} is active",
                "nextOpen": "2026-12-01T09:00:00Z",
            }
        },
    }
    card = views.stage_card(stage, {})
    html = _render("_stage_card.html", project="p", card=card)
    assert 'class="pill frozen"' in html
    assert 'datetime="2026-12-01T09:00:00Z"' in html
    assert "<script>" not in html
    html = _render("_stage_status.html", project="p", card=card, apps=[])
    assert "Promotion windows" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "Opens" in html


def test_a_preview_report_escapes_repository_content_and_colours_each_line() -> None:
    from shunter.preview import PreviewReport  # noqa: PLC0415
    from shunter.preview.report import StepPreview  # noqa: PLC0415
    from shunter.promotion.effects import RepositoryChange  # noqa: PLC0415
    from shunter.ui.previews import report_view  # noqa: PLC0415

    diff = "\n".join(
        [
            "diff --git a/values.yaml b/values.yaml",
            "--- a/values.yaml",
            "+++ b/values.yaml",
            "@@ -1,2 +1,2 @@",
            " name: " + HOSTILE,
            "-tag: old",
            "+tag: " + HOSTILE,
        ]
    )
    report = PreviewReport(
        project="p",
        stage="prod",
        freight="f" * 40,
        freight_alias=HOSTILE,
        phase="Succeeded",
        steps=[
            StepPreview(1, "clone", "git-clone", "Succeeded", message=HOSTILE),
            StepPreview(2, "push", "git-push", "Succeeded", effect="would push " + HOSTILE),
        ],
        changes=[RepositoryChange("https://git.example/r.git", "main", "a" * 40, "b" * 40, diff)],
    )
    view = report_view(report)
    assert [line.kind for line in view.repositories[0].lines] == [
        "meta", "file", "file", "hunk", "context", "del", "add",
    ]  # fmt: skip
    assert (view.repositories[0].added, view.repositories[0].removed) == (1, 1)
    html = _render("_preview.html", preview=view, problem="", who="admin")
    assert "<script>" not in html
    assert "<img" not in html
    assert html.count("&lt;script&gt;") >= 3
    assert '<span class="add">+tag: &lt;script&gt;' in html
    assert 'data-uses="git-push"' in html
