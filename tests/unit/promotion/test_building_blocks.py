"""Small pieces of the engine: phases, durations, annotations, config errors, work dirs."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from shunter._internal.durations import format_go_duration, parse_go_duration
from shunter.api.v1alpha1 import FreightCollection, Promotion
from shunter.api.v1alpha1.promotion import (
    PromotionPhase,
    PromotionStepStatus,
    StepExecutionMetadata,
)
from shunter.api.v1alpha1.stage import Stage
from shunter.promotion.context import (
    AbortRequest,
    PromotionContext,
    create_actor,
    parse_abort_request,
)
from shunter.promotion.phases import final_phase, has_failures
from shunter.promotion.step import StepConfig
from shunter.promotion.validation import describe_validation_error
from shunter.promotion.workdir import cleanup_work_dir, ensure_work_dir, work_dir_path

Kit = Any


def _meta(status: str, *, coe: bool = False, message: str = "") -> StepExecutionMetadata:
    return StepExecutionMetadata(
        alias=f"{status}-{message}",
        status=PromotionStepStatus(status),
        message=message or None,
        continue_on_error=coe or None,
    )


@pytest.mark.parametrize(
    ("steps", "phase", "message"),
    [
        ([], PromotionPhase.SUCCEEDED, ""),
        ([_meta("Succeeded"), _meta("Skipped", message="s")], PromotionPhase.SUCCEEDED, "s"),
        ([_meta("Failed", message="f"), _meta("Succeeded")], PromotionPhase.FAILED, "f"),
        (
            [_meta("Failed", message="f"), _meta("Errored", message="e")],
            PromotionPhase.ERRORED,
            "e",
        ),
        (
            [_meta("Errored", message="e"), _meta("Failed", message="f")],
            PromotionPhase.ERRORED,
            "e",
        ),
        ([_meta("Aborted", message="a"), _meta("Skipped")], PromotionPhase.ABORTED, "a"),
        ([_meta("Errored", coe=True, message="e")], PromotionPhase.SUCCEEDED, ""),
        ([_meta("Running", message="r")], PromotionPhase.ERRORED, "r"),
    ],
)
def test_final_phase(
    steps: list[StepExecutionMetadata], phase: PromotionPhase, message: str
) -> None:
    assert final_phase(steps) == (phase, message)


def test_has_failures_ignores_continue_on_error() -> None:
    assert has_failures([_meta("Succeeded"), _meta("Failed")])
    assert not has_failures([_meta("Failed", coe=True), _meta("Skipped"), _meta("Aborted")])


@pytest.mark.parametrize(
    ("text", "expected", "rendered"),
    [
        ("5m", timedelta(minutes=5), "5m0s"),
        ("1h30m", timedelta(hours=1, minutes=30), "1h30m0s"),
        ("1.5s", timedelta(seconds=1.5), "1.5s"),
        ("300ms", timedelta(milliseconds=300), "300ms"),
        ("0", timedelta(0), "0s"),
        ("2h", timedelta(hours=2), "2h0m0s"),
        ("90s", timedelta(seconds=90), "1m30s"),
    ],
)
def test_go_durations(text: str, expected: timedelta, rendered: str) -> None:
    assert parse_go_duration(text) == expected
    assert format_go_duration(expected) == rendered


@pytest.mark.parametrize("text", ["", "5", "m", "5x", "1h 2m", "--1s"])
def test_invalid_go_durations(text: str) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_go_duration(text)


@pytest.mark.parametrize(
    ("annotations", "expected"),
    [
        ({}, None),
        ({"kargo.akuity.io/abort": "terminate"}, AbortRequest(action="terminate")),
        (
            {
                "kargo.akuity.io/abort": '{"action":"terminate","actor":"kubernetes:bob",'
                '"controlPlane":true}'
            },
            AbortRequest(action="terminate", actor="kubernetes:bob", control_plane=True),
        ),
        ({"kargo.akuity.io/abort": '{"actor":"bob"}'}, None),
        ({"kargo.akuity.io/abort": ""}, None),
        ({"kargo.akuity.io/abort": "[1]"}, None),
    ],
)
def test_parse_abort_request(annotations: dict[str, str], expected: AbortRequest | None) -> None:
    assert parse_abort_request(annotations) == expected


def test_create_actor_drops_the_kind_prefix() -> None:
    assert create_actor({"kargo.akuity.io/create-actor": "kubernetes:alice"}) == "alice"
    assert create_actor({"kargo.akuity.io/create-actor": "email:a@b.c"}) == "a@b.c"
    assert create_actor({"kargo.akuity.io/create-actor": "unknown actor"}) == ""
    assert create_actor({}) == ""


def test_context_from_promotion(kit: Kit) -> None:
    promotion = Promotion.model_validate(
        {
            "metadata": {
                "name": "preprod.01abc.f00dfee",
                "namespace": "sandbox-example",
                "uid": "1234-5678",
                "annotations": {
                    "kargo.akuity.io/create-actor": "kubernetes:alice",
                    "kargo.akuity.io/rollback": "true",
                    "kargo.akuity.io/abort": "terminate",
                },
            },
            "spec": {
                "stage": "preprod",
                "freight": "f00dfeed",
                "vars": [{"name": "a", "value": "1"}],
                "steps": [{"uses": "git-clone"}, {"uses": "git-push", "as": "push"}],
            },
        }
    )
    stage = Stage.model_validate(
        {
            "metadata": {"name": "preprod", "namespace": "sandbox-example"},
            "spec": {
                "requestedFreight": [
                    {"origin": {"kind": "Warehouse", "name": "w"}, "sources": {"direct": True}}
                ]
            },
        }
    )
    ref = kit.target_freight()
    pctx = PromotionContext.from_promotion(
        promotion,
        stage=stage,
        target_freight=ref,
        freight=FreightCollection(id="x", items={"Warehouse/example-container": ref}),
        target_freight_alias="wonky",
    )
    assert (pctx.project, pctx.stage, pctx.promotion, pctx.uid) == (
        "sandbox-example",
        "preprod",
        "preprod.01abc.f00dfee",
        "1234-5678",
    )
    assert pctx.actor == "alice"
    assert pctx.rollback is True
    assert pctx.abort == AbortRequest(action="terminate")
    assert pctx.aliases == ("step-1", "push")
    assert [v.name for v in pctx.vars] == ["a"]
    assert len(pctx.freight_requests) == 1


class _Nested(StepConfig):
    name: str


class _Config(StepConfig):
    path: str
    retries: int = 0
    nested: list[_Nested] = []


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"path": "p", "foo": 1}, 'config: unknown key "foo"'),
        ({}, "config.path: required"),
        ({"path": "p", "nested": [{}]}, "config.nested[0].name: required"),
        (
            {"path": "p", "retries": "many"},
            "config.retries: Input should be a valid integer, unable to parse string as an integer",
        ),
        (
            {"path": "p", "nested": [{"name": "n", "x": 1}], "y": 2},
            'config.nested[0]: unknown key "x"; config: unknown key "y"',
        ),
    ],
)
def test_describe_validation_error(data: dict[str, Any], expected: str) -> None:
    with pytest.raises(ValidationError) as info:
        _Config.model_validate(data)
    assert describe_validation_error(info.value) == expected


def test_validation_error_text_does_not_echo_values() -> None:
    with pytest.raises(ValidationError) as info:
        _Config.model_validate({"path": "p", "retries": "hunter2-secret"})
    assert "hunter2" not in describe_validation_error(info.value)


def test_work_dir_lifecycle(tmp_path: Path) -> None:
    root = tmp_path / "root"
    path, created = ensure_work_dir(root, "abc")
    assert created
    assert path == root / "promotion-abc"
    assert (path.stat().st_mode & 0o777) == 0o700
    (path / "f").write_text("x")
    assert ensure_work_dir(root, "abc") == (path, False)
    cleanup_work_dir(root, "abc")
    assert not path.exists()
    cleanup_work_dir(root, "abc")  # idempotent
    for bad in ("", "../x", "a/b", ".."):
        with pytest.raises(ValueError, match="invalid Promotion uid"):
            work_dir_path(root, bad)
