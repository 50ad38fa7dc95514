"""set-metadata: config validation, the merge patch, a missing Kubernetes client.

The API behaviour is tested against a real API server in tests/integration/test_metadata_steps.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from shunter.promotion.registry import DEFAULT_REGISTRY
from shunter.promotion.step import StepContext, TerminalStepError
from shunter.steps.set_metadata import SetMetadataStep, merge_patch_for


def test_registered() -> None:
    assert DEFAULT_REGISTRY.get("set-metadata") is SetMetadataStep


@pytest.mark.parametrize(
    ("raw", "named"),
    [
        ({}, "updates"),
        ({"updates": []}, "updates"),
        ({"updates": [{"name": "s", "values": {"k": 1}}]}, "kind"),
        ({"updates": [{"kind": "Warehouse", "name": "s", "values": {"k": 1}}]}, "kind"),
        ({"updates": [{"kind": "Stage", "values": {"k": 1}}]}, "name"),
        ({"updates": [{"kind": "Stage", "name": "", "values": {"k": 1}}]}, "name"),
        ({"updates": [{"kind": "Stage", "name": "s"}]}, "values"),
        ({"updates": [{"kind": "Stage", "name": "s", "values": {}}]}, "values"),
        ({"updates": [{"kind": "Stage", "name": "s", "values": {"k": 1}, "x": 1}]}, "x"),
    ],
)
def test_config_errors_name_the_key(config_error: Any, raw: dict[str, Any], named: str) -> None:
    assert named in config_error(SetMetadataStep, raw)


@pytest.mark.parametrize(
    ("old", "new", "patch"),
    [
        ("a", "b", "b"),
        ({"a": 1}, [1], [1]),
        ([1], {"a": 1}, {"a": 1}),
        ({"a": 1, "b": 2}, {"a": 1}, {"b": None}),
        ({"a": {"x": 1, "y": 2}}, {"a": {"x": 1}, "c": 3}, {"a": {"y": None}, "c": 3}),
        ({"a": 1}, {"a": 1}, {}),
    ],
)
def test_merge_patch_for(old: Any, new: Any, patch: Any) -> None:
    assert merge_patch_for(old, new) == patch


async def test_needs_a_kube_client(run_step: Any, ctx: StepContext) -> None:
    with pytest.raises(TerminalStepError, match="needs a Kubernetes client"):
        await run_step(
            SetMetadataStep, ctx, {"updates": [{"kind": "Stage", "name": "s", "values": {"k": 1}}]}
        )
