"""Kargo's shard rules: which labelled objects an operator takes, and its informers' selector."""

from __future__ import annotations

from typing import Any

import pytest

from shunter.cache import Shard


def _obj(shard: str | None) -> dict[str, Any]:
    labels = {"kargo.akuity.io/shard": shard} if shard is not None else {}
    return {"metadata": {"name": "s", "labels": labels}}


@pytest.mark.parametrize(
    ("shard", "selector", "takes"),
    [
        (Shard.of("", is_default_controller=False), "!kargo.akuity.io/shard", {None}),
        (Shard.of("", is_default_controller=True), "!kargo.akuity.io/shard", {None}),
        (Shard.of("a", is_default_controller=False), "kargo.akuity.io/shard=a", {"a"}),
        (Shard.of("a", is_default_controller=True), None, {"a", None}),
    ],
)
def test_selector_and_responsibility_agree(
    shard: Shard, selector: str | None, takes: set[str | None]
) -> None:
    assert shard.selector == selector
    for label in ("a", "b", None):
        assert shard.responsible(_obj(label)) == (label in takes), label
