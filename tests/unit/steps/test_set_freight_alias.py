"""set-freight-alias: config validation and a missing Kubernetes client.

The API behaviour is tested against a real API server in tests/integration/test_metadata_steps.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from shunter.promotion.registry import DEFAULT_REGISTRY
from shunter.promotion.step import StepContext, TerminalStepError
from shunter.steps.set_freight_alias import SetFreightAliasStep


def test_registered() -> None:
    assert DEFAULT_REGISTRY.get("set-freight-alias") is SetFreightAliasStep


@pytest.mark.parametrize(
    ("raw", "named"),
    [
        ({"alias": "a"}, "name"),
        ({"name": "f"}, "alias"),
        ({"name": "", "alias": "a"}, "name"),
        ({"name": "f", "alias": ""}, "alias"),
        ({"name": "f", "alias": "has space"}, "alias"),
        ({"name": "f", "alias": "-dash"}, "alias"),
        ({"name": "f", "alias": "a" * 64}, "alias"),
        ({"name": "f", "alias": "a", "x": 1}, "x"),
    ],
)
def test_config_errors_name_the_key(config_error: Any, raw: dict[str, Any], named: str) -> None:
    assert named in config_error(SetFreightAliasStep, raw)


def test_accepts_label_values() -> None:
    for alias in ("a", "release-1.0", "A_b.c-9", "x" * 63):
        SetFreightAliasStep.config_model.model_validate({"name": "f", "alias": alias})


async def test_needs_a_kube_client(run_step: Any, ctx: StepContext) -> None:
    with pytest.raises(TerminalStepError, match="needs a Kubernetes client"):
        await run_step(SetFreightAliasStep, ctx, {"name": "f", "alias": "a"})
