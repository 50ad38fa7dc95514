"""fail: always a terminal failure, with Kargo's message."""

from __future__ import annotations

from typing import Any

import pytest

from shunter.promotion.step import StepContext, TerminalStepError
from shunter.steps.fail import FailStep


def test_config_errors(config_error: Any) -> None:
    assert "config.message" in config_error(FailStep, {"message": ""})
    assert 'unknown key "reason"' in config_error(FailStep, {"reason": "x"})


@pytest.mark.parametrize(
    ("raw", "message"), [({"message": "tests are red"}, "failed: tests are red"), ({}, "failed")]
)
async def test_fails_terminally(
    raw: dict[str, Any], message: str, ctx: StepContext, run_step: Any
) -> None:
    with pytest.raises(TerminalStepError) as info:
        await run_step(FailStep, ctx, raw)
    assert str(info.value) == message
    assert info.value.failed
