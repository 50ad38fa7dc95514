"""compose-output: the config becomes the output; the step propagates to its task."""

from __future__ import annotations

from typing import Any

from shunter.api.v1alpha1.promotion import PromotionStepStatus
from shunter.promotion.registry import DEFAULT_REGISTRY
from shunter.promotion.step import StepContext
from shunter.steps.compose_output import ComposeOutputStep


def test_empty_config_is_refused(config_error: Any) -> None:
    assert "at least one output key" in config_error(ComposeOutputStep, {})


async def test_config_is_the_output(ctx: StepContext, run_step: Any) -> None:
    raw = {
        "prURL": "https://example.com/pull/7",
        "mergeCommit": "abc123",
        "nested": {"list": [1, 2.5, True, None]},
        "model_config": "odd key names are just keys",
        "copy": "too",
    }
    result = await run_step(ComposeOutputStep, ctx, raw)
    assert result.status is PromotionStepStatus.SUCCEEDED
    assert result.output == raw
    result.output["nested"]["list"].append("mutated")
    assert raw["nested"] == {"list": [1, 2.5, True, None]}


def test_registration_and_task_propagation() -> None:
    assert DEFAULT_REGISTRY.get("compose-output") is ComposeOutputStep
    assert ComposeOutputStep.propagates_task_output is True
