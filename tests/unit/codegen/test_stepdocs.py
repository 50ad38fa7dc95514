"""docs/reference/steps.md is generated from the step modules and must be current."""

from __future__ import annotations

from pathlib import Path

from shunter.codegen.stepdocs import render_steps_reference
from shunter.promotion.registry import DEFAULT_REGISTRY
from shunter.steps import load_builtin_steps

ROOT = Path(__file__).resolve().parents[3]


def test_steps_reference_is_current() -> None:
    page = (ROOT / "docs" / "reference" / "steps.md").read_text()
    assert page == render_steps_reference(), "docs/reference/steps.md is stale: run `make crds`"


def test_every_registered_step_is_documented() -> None:
    load_builtin_steps()
    page = (ROOT / "docs" / "reference" / "steps.md").read_text()
    for name in DEFAULT_REGISTRY:
        assert f"## {name}\n" in page
