"""The text a preview prints: steps, effects not carried out, diffs (long ones cut)."""

from __future__ import annotations

from shunter.preview.report import MAX_DIFF_LINES, PreviewReport, StepPreview, render_text
from shunter.promotion.effects import RepositoryChange


def _report(**kwargs: object) -> PreviewReport:
    values: dict[str, object] = {
        "project": "shop",
        "stage": "prod",
        "freight": "f" * 40,
        "freight_alias": "calm-otter",
        "phase": "Succeeded",
        "steps": [
            StepPreview(1, "clone", "git-clone", "Succeeded"),
            StepPreview(2, "push", "git-push", "Succeeded", effect="would push commit abc1234"),
            StepPreview(3, "sync", "argocd-update", "Succeeded", effect="would update app"),
        ],
    }
    values.update(kwargs)
    return PreviewReport(**values)  # type: ignore[arg-type]


def test_steps_effects_and_diff() -> None:
    diff = "diff --git a/v b/v\n--- a/v\n+++ b/v\n@@ -1 +1 @@\n-a\n+b\n"
    change = RepositoryChange("https://git/x.git", "main", "1" * 40, "2" * 40, diff)
    text = render_text(_report(changes=[change]))
    assert text.startswith(
        f"Preview of promoting Freight calm-otter ({'f' * 40}) to Stage prod in project shop: "
        "nothing was changed."
    )
    assert "Every step would go through." in text
    assert "   2. push   git-push           not run: would push commit abc1234" in text
    assert "Effects not carried out:\n  - push (git-push): would push commit abc1234\n" in text
    assert "  - sync (argocd-update): would update app" in text
    assert "Changes to https://git/x.git, branch main (1111111 -> 2222222):\n" + diff in text


def test_a_failure_and_a_new_branch() -> None:
    change = RepositoryChange("https://git/x.git", "kargo/promotion/p", "", "2" * 40, "")
    text = render_text(_report(phase="Errored", message="step clone: denied", changes=[change]))
    assert "The Promotion would end Errored: step clone: denied" in text
    assert "branch kargo/promotion/p ((none) -> 2222222):\n  (no changes)" in text


def test_long_diffs_are_cut() -> None:
    diff = "".join(f"+line {n}\n" for n in range(MAX_DIFF_LINES + 5))
    change = RepositoryChange("r", "main", "1" * 40, "2" * 40, diff)
    text = render_text(_report(changes=[change]))
    assert f"+line {MAX_DIFF_LINES - 1}\n" in text
    assert f"+line {MAX_DIFF_LINES}\n" not in text
    assert "... (5 more lines not shown)" in text
