"""Engine and orchestrator semantics (kargo.md 2.1): order, skips, retries, timeouts, resume."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import pytest

from shunter.api.v1alpha1 import to_wire
from shunter.api.v1alpha1.promotion import (
    PromotionPhase,
    PromotionStatus,
    PromotionStepStatus,
)
from shunter.credentials.types import StaticCredentialsDatabase
from shunter.expressions.functions import ResourceRef
from shunter.promotion.context import AbortRequest
from shunter.promotion.effects import Effects
from shunter.promotion.engine import Engine
from shunter.promotion.orchestrator import utc_now
from shunter.promotion.registry import StepRegistry
from shunter.promotion.step import Capabilities, StepConfig, StepContext, StepResult

Kit = Any
EngineFactory = Any


async def test_steps_run_in_order_and_outputs_reach_later_steps(
    engine: Engine, kit: Kit, recorder: Any, work_root: Path
) -> None:
    pctx = kit.make_context(
        [
            {"uses": "test-write-file", "config": {"path": "a/b.txt", "content": "hi"}},
            {
                "uses": "test-echo",
                "as": "echo",
                "config": {"values": {"from": "${{ outputs['step-1'].path }}"}},
            },
        ]
    )
    result = await engine.run(pctx, None, save=recorder)
    status = result.status
    assert status.phase is PromotionPhase.SUCCEEDED
    assert result.terminal
    assert result.requeue_after is None
    assert kit.statuses(status) == {"step-1": "Succeeded", "echo": "Succeeded"}
    assert status.state == {
        "step-1": {"path": "a/b.txt", "seenState": []},
        "echo": {"from": "a/b.txt"},
    }
    assert status.current_step == 1
    assert status.started_at is not None
    assert status.finished_at is not None
    assert status.freight is not None
    assert status.freight.name == kit.freight_name
    assert status.freight_collection is not None
    assert status.freight_collection.id == "c0ffee"
    # The working directory is removed once the Promotion is terminal.
    assert not (work_root / "promotion-uid-1").exists()
    # The status serializes to the wire form.
    wire = to_wire(status)
    assert wire["stepExecutionMetadata"][0]["alias"] == "step-1"
    assert PromotionStatus.model_validate(wire) == status


async def test_status_is_saved_after_each_step_with_increasing_current_step(
    engine: Engine, kit: Kit, recorder: Any
) -> None:
    pctx = kit.make_context(
        [{"uses": "test-echo", "as": f"s{i}", "config": {"values": {"i": i}}} for i in range(4)]
    )
    await engine.run(pctx, None, save=recorder)
    steps_seen = [s.current_step for s in recorder.saved]
    assert steps_seen == sorted(steps_seen)
    assert set(steps_seen) == {0, 1, 2, 3}
    # Every step was saved once as Running (started) and once finished.
    started = [
        s
        for s in recorder.saved
        if any(m.status is PromotionStepStatus.RUNNING for m in s.step_execution_metadata or [])
    ]
    assert len(started) == 4
    # Started and finished for each step; the last step's result is saved with the final phase.
    assert len(recorder.saved) == 8
    assert recorder.last.phase is PromotionPhase.SUCCEEDED
    for saved in recorder.saved[:-1]:
        assert saved.phase is PromotionPhase.RUNNING


async def test_default_aliases_are_positional(engine: Engine, kit: Kit) -> None:
    pctx = kit.make_context(
        [{"uses": "test-echo"}, {"uses": "test-echo", "as": "x"}, {"uses": "test-echo"}]
    )
    status = (await engine.run(pctx, None)).status
    assert list(kit.statuses(status)) == ["step-1", "x", "step-3"]


async def test_ctx_and_freight_functions_in_config(make_engine: EngineFactory, kit: Kit) -> None:
    pctx = kit.make_context(
        [
            {
                "uses": "test-echo",
                "as": "ctx",
                "config": {
                    "values": {
                        "project": "${{ ctx.project }}",
                        "stage": "${{ ctx.stage }}",
                        "promotion": "${{ ctx.promotion }}",
                        "freight": "${{ ctx.targetFreight.name }}",
                        "alias": "${{ ctx.targetFreight.alias }}",
                        "origin": "${{ ctx.targetFreight.origin.kind }}/"
                        "${{ ctx.targetFreight.origin.name }}",
                        "actor": "${{ ctx.meta.promotion.actor }}",
                        "rollback": "${{ ctx.meta.promotion.rollback }}",
                        "step": "${{ ctx.meta.step.alias }}",
                        "tag": "${{ imageFrom(vars.image).Tag }}",
                        "tagByOrigin": "${{ imageFrom(vars.image, "
                        "warehouse('example-container')).Tag }}",
                        "number": "${{ 40 + 2 }}",
                        "quoted": "${{ quote(40 + 2) }}",
                    }
                },
            }
        ],
        vars_=[{"name": "image", "value": kit.image_repo}],
    )
    status = (await make_engine().run(pctx, None)).status
    assert status.phase is PromotionPhase.SUCCEEDED, status.message
    assert status.state is not None
    assert status.state["ctx"] == {
        "project": "sandbox-example",
        "stage": "preprod",
        "promotion": pctx.promotion,
        "freight": kit.freight_name,
        "alias": "wonky-wombat",
        "origin": "Warehouse/example-container",
        "actor": "admin",
        "rollback": False,
        "step": "ctx",
        "tag": kit.image_tag,
        "tagByOrigin": kit.image_tag,
        "number": 42,
        "quoted": "42",
    }


async def test_vars_evaluate_in_order_and_later_ones_win(engine: Engine, kit: Kit) -> None:
    pctx = kit.make_context(
        [
            {"uses": "test-echo", "as": "first", "config": {"values": {"n": 5}}},
            {
                "uses": "test-echo",
                "as": "second",
                "vars": [
                    {"name": "a", "value": "step"},
                    {"name": "n", "value": "${{ outputs.first.n * 2 }}"},
                ],
                "config": {
                    "values": {"a": "${{ vars.a }}", "b": "${{ vars.b }}", "n": "${{ vars.n }}"}
                },
            },
        ],
        vars_=[
            {"name": "a", "value": "global"},
            {"name": "b", "value": "${{ vars.a }}-derived"},
        ],
    )
    status = (await engine.run(pctx, None)).status
    assert status.state is not None
    assert status.state["second"] == {"a": "step", "b": "global-derived", "n": 10}


async def test_promotion_vars_cannot_see_outputs(engine: Engine, kit: Kit) -> None:
    pctx = kit.make_context(
        [
            # No config and no if: the Promotion vars are not evaluated for this step.
            {"uses": "test-echo", "as": "first"},
            {"uses": "test-echo", "as": "second", "config": {"values": {"v": "${{ vars.bad }}"}}},
        ],
        vars_=[{"name": "bad", "value": "${{ outputs.first }}"}],
    )
    status = (await engine.run(pctx, None)).status
    assert status.phase is PromotionPhase.ERRORED
    assert kit.statuses(status)["second"] == "Errored"
    assert 'error pre-processing promotion variable "bad"' in (status.message or "")


async def test_if_false_skips_and_if_true_runs(engine: Engine, kit: Kit) -> None:
    pctx = kit.make_context(
        [
            {"uses": "test-echo", "as": "no", "if": "${{ 1 > 2 }}"},
            {"uses": "test-echo", "as": "yes", "if": "${{ vars.go == 'yes' }}"},
        ],
        vars_=[{"name": "go", "value": "yes"}],
    )
    status = (await engine.run(pctx, None)).status
    assert kit.statuses(status) == {"no": "Skipped", "yes": "Succeeded"}
    assert status.phase is PromotionPhase.SUCCEEDED
    assert status.state is not None
    assert "no" not in status.state


async def test_non_bool_if_errors_the_step_and_later_ifs_still_run(
    engine: Engine, kit: Kit
) -> None:
    pctx = kit.make_context(
        [
            {"uses": "test-echo", "as": "odd", "if": "${{ 'maybe' }}"},
            {"uses": "test-echo", "as": "plain"},
            {"uses": "test-echo", "as": "cleanup", "if": "${{ always() }}"},
        ]
    )
    status = (await engine.run(pctx, None)).status
    assert kit.statuses(status) == {"odd": "Errored", "plain": "Skipped", "cleanup": "Succeeded"}
    assert kit.messages(status)["odd"] == (
        'error checking if step "odd" should be skipped: '
        "expression must evaluate to a boolean, got string"
    )
    assert status.phase is PromotionPhase.ERRORED
    assert status.message == kit.messages(status)["odd"]


async def test_status_functions_drive_ifs_after_a_failure(engine: Engine, kit: Kit) -> None:
    pctx = kit.make_context(
        [
            {"uses": "test-echo", "as": "ok"},
            {"uses": "test-fail", "as": "gate", "config": {"reason": "blocked by policy"}},
            {"uses": "test-echo", "as": "implicit"},
            {"uses": "test-echo", "as": "on-success", "if": "${{ success() }}"},
            {"uses": "test-echo", "as": "on-failure", "if": "${{ failure() }}"},
            {"uses": "test-echo", "as": "always", "if": "${{ always() }}"},
            {
                "uses": "test-echo",
                "as": "status",
                "if": "${{ status('gate') == 'Failed' && status('ok') == 'Succeeded' }}",
                "config": {"values": {"missing": "${{ status('nope') }}x"}},
            },
        ]
    )
    status = (await engine.run(pctx, None)).status
    assert kit.statuses(status) == {
        "ok": "Succeeded",
        "gate": "Failed",
        "implicit": "Skipped",
        "on-success": "Skipped",
        "on-failure": "Succeeded",
        "always": "Succeeded",
        "status": "Succeeded",
    }
    assert status.state is not None
    assert status.state["status"] == {"missing": "x"}
    assert status.phase is PromotionPhase.FAILED
    assert status.message == 'step "gate": blocked by policy'


async def test_continue_on_error_does_not_count(engine: Engine, kit: Kit) -> None:
    pctx = kit.make_context(
        [
            {"uses": "test-fail", "as": "optional", "continueOnError": True},
            {"uses": "test-echo", "as": "next"},
            {"uses": "test-echo", "as": "check", "if": "${{ success() && !failure() }}"},
        ]
    )
    status = (await engine.run(pctx, None)).status
    assert kit.statuses(status) == {"optional": "Failed", "next": "Succeeded", "check": "Succeeded"}
    assert status.step_execution_metadata is not None
    assert status.step_execution_metadata[0].continue_on_error is True
    assert status.phase is PromotionPhase.SUCCEEDED
    assert not status.message


async def test_worst_status_decides_the_final_phase(engine: Engine, kit: Kit) -> None:
    pctx = kit.make_context(
        [
            {"uses": "test-fail", "as": "failed"},
            {"uses": "nope", "as": "errored", "if": "${{ always() }}"},
            {"uses": "test-echo", "as": "fine", "if": "${{ always() }}"},
        ]
    )
    status = (await engine.run(pctx, None)).status
    assert kit.statuses(status) == {"failed": "Failed", "errored": "Errored", "fine": "Succeeded"}
    assert status.phase is PromotionPhase.ERRORED
    assert status.message == 'step kind "nope" is not registered'


async def test_unknown_step_kind_errors_and_execution_goes_on(engine: Engine, kit: Kit) -> None:
    pctx = kit.make_context(
        [
            {"uses": "no-such-step", "as": "bad"},
            {"uses": "test-echo", "as": "skipped"},
            {"uses": "test-echo", "as": "report", "if": "${{ failure() }}"},
        ]
    )
    status = (await engine.run(pctx, None)).status
    assert kit.statuses(status) == {"bad": "Errored", "skipped": "Skipped", "report": "Succeeded"}
    assert kit.messages(status)["bad"] == 'step kind "no-such-step" is not registered'
    assert status.phase is PromotionPhase.ERRORED


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"path": "x", "foo": 1}, 'config: unknown key "foo"'),
        ({}, "config.path: required"),
        ({"path": "x", "items": [{"name": "a"}, {}]}, "config.items[1].name: required"),
        ({"path": "x", "items": [{"name": "a", "bar": 2}]}, 'config.items[0]: unknown key "bar"'),
        ({"path": 3}, "config.path: Input should be a valid string"),
    ],
)
async def test_config_validation_errors_name_the_key(
    engine: Engine, kit: Kit, config: dict[str, Any], expected: str
) -> None:
    pctx = kit.make_context([{"uses": "test-strict", "as": "strict", "config": config}])
    status = (await engine.run(pctx, None)).status
    assert status.phase is PromotionPhase.ERRORED
    message = kit.messages(status)["strict"]
    assert expected in message
    assert message.startswith("an unrecoverable error occurred:")
    assert status.step_execution_metadata is not None
    # Terminal: no retries counted.
    assert not status.step_execution_metadata[0].error_count


async def test_config_expression_error_errors_the_step(engine: Engine, kit: Kit) -> None:
    pctx = kit.make_context(
        [{"uses": "test-echo", "as": "x", "config": {"values": {"v": "${{ 1 + }}"}}}]
    )
    status = (await engine.run(pctx, None)).status
    assert kit.statuses(status) == {"x": "Errored"}
    assert kit.messages(status)["x"].startswith("failed to build step context:")


async def test_any_exception_from_a_step_is_caught(engine: Engine, kit: Kit) -> None:
    pctx = kit.make_context(
        [
            {"uses": "test-boom", "as": "boom"},
            {"uses": "test-echo", "as": "after", "if": "${{ always() }}"},
        ]
    )
    result = await engine.run(pctx, None)
    status = result.status
    assert kit.statuses(status) == {"boom": "Errored", "after": "Succeeded"}
    message = kit.messages(status)["boom"]
    assert message.startswith('an unrecoverable error occurred: error running step "boom": ')
    assert "step raised" in message
    assert "kaboom" in message
    assert status.phase is PromotionPhase.ERRORED


async def test_invalid_step_result_errors(engine: Engine, kit: Kit) -> None:
    pctx = kit.make_context([{"uses": "test-bad-result", "as": "bad"}])
    status = (await engine.run(pctx, None)).status
    assert kit.statuses(status) == {"bad": "Errored"}
    assert "invalid result" in kit.messages(status)["bad"]


async def test_output_is_stored_whatever_the_status(engine: Engine, kit: Kit) -> None:
    pctx = kit.make_context(
        [
            {
                "uses": "test-echo",
                "as": "sad",
                "config": {"values": {"why": "because"}, "status": "Failed", "message": "nope"},
            }
        ]
    )
    status = (await engine.run(pctx, None)).status
    assert kit.statuses(status) == {"sad": "Failed"}
    assert status.message == "nope"
    assert status.state == {"sad": {"why": "because"}}


async def test_retryable_errors_count_against_the_threshold(
    make_engine: EngineFactory, kit: Kit, recorder: Any
) -> None:
    steps = [
        {"uses": "test-echo", "as": "before"},
        {
            "uses": "test-flaky",
            "as": "flaky",
            "retry": {"errorThreshold": 3},
            "config": {"failures": 2, "counter": "count"},
        },
    ]
    pctx = kit.make_context(steps)
    engine = make_engine()
    first = await engine.run(pctx, None, save=recorder)
    assert first.status.phase is PromotionPhase.RUNNING
    meta = first.status.step_execution_metadata[1]
    assert meta.status is PromotionStepStatus.ERRORED
    assert meta.error_count == 1
    assert meta.finished_at is None
    assert meta.message == 'error running step "flaky": attempt 1 failed; step will be retried'
    assert first.status.current_step == 1
    assert first.requeue_after == timedelta(milliseconds=10)

    second = await engine.run(pctx, first.status, save=recorder)
    assert second.status.phase is PromotionPhase.RUNNING
    assert second.status.step_execution_metadata[1].error_count == 2
    assert second.requeue_after == timedelta(milliseconds=20)

    third = await engine.run(pctx, second.status, save=recorder)
    assert third.status.phase is PromotionPhase.SUCCEEDED
    assert third.status.state is not None
    assert third.status.state["flaky"] == {"attempts": 3}
    # The first step ran exactly once.
    assert [m.alias for m in third.status.step_execution_metadata or []] == ["before", "flaky"]


async def test_default_threshold_is_one(engine: Engine, kit: Kit) -> None:
    pctx = kit.make_context(
        [{"uses": "test-flaky", "as": "flaky", "config": {"failures": 5, "counter": "c"}}]
    )
    status = (await engine.run(pctx, None)).status
    assert status.phase is PromotionPhase.ERRORED
    assert kit.messages(status)["flaky"] == (
        'step "flaky" met error threshold of 1: error running step "flaky": attempt 1 failed'
    )


async def test_runner_default_threshold_applies_when_retry_is_unset(
    engine: Engine, kit: Kit
) -> None:
    pctx = kit.make_context(
        [
            {
                "uses": "test-patient-flaky",
                "as": "f",
                "config": {"failures": 5, "counter": "c", "failed": True},
            }
        ]
    )
    first = await engine.run(pctx, None)
    assert first.status.phase is PromotionPhase.RUNNING
    second = await engine.run(pctx, first.status)
    assert second.status.phase is PromotionPhase.FAILED
    assert kit.statuses(second.status) == {"f": "Failed"}
    assert kit.messages(second.status)["f"] == (
        'step "f" met error threshold of 2: step "f": attempt 2 failed'
    )


async def test_running_step_times_out(engine: Engine, kit: Kit, clock: Any) -> None:
    pctx = kit.make_context(
        [
            {
                "uses": "test-wait",
                "as": "wait",
                "retry": {"timeout": "1m"},
                "config": {"until": "done"},
            }
        ]
    )
    first = await engine.run(pctx, None)
    assert first.status.phase is PromotionPhase.RUNNING
    assert kit.statuses(first.status) == {"wait": "Running"}
    # Default interval (30s) is shorter than the remaining minute.
    assert first.requeue_after == timedelta(seconds=30)
    clock.advance(timedelta(seconds=45))
    second = await engine.run(pctx, first.status)
    assert second.status.phase is PromotionPhase.RUNNING
    # Woken just after the deadline rather than at the default interval.
    assert second.requeue_after == timedelta(seconds=16)
    clock.advance(timedelta(seconds=16))
    third = await engine.run(pctx, second.status)
    assert third.status.phase is PromotionPhase.ERRORED
    assert kit.messages(third.status)["wait"] == 'step "wait" timed out after 1m0s'


async def test_runner_default_timeout(engine: Engine, kit: Kit, clock: Any) -> None:
    pctx = kit.make_context([{"uses": "test-slow-wait", "as": "w", "config": {"until": "x"}}])
    first = await engine.run(pctx, None)
    clock.advance(timedelta(minutes=5, seconds=1))
    second = await engine.run(pctx, first.status)
    assert kit.messages(second.status)["w"] == 'step "w" timed out after 5m0s'


@pytest.mark.parametrize("how", ["thread", "loop"])
async def test_every_run_has_a_deadline(
    make_engine: Any, kit: Kit, tmp_path: Path, how: str
) -> None:
    """Issue 12, finding 6: a step that never returns (busy in a worker thread, or awaiting
    for ever) is stopped at its deadline, and its thread stops too."""
    engine = make_engine(attempt_timeout=timedelta(milliseconds=300))
    marker = tmp_path / "stopped"
    config = {"how": how, "marker": str(marker)}
    pctx = kit.make_context([{"uses": "test-stuck", "as": "s", "config": config}])
    result = await engine.run(pctx, None)
    assert result.status.phase is PromotionPhase.ERRORED
    assert kit.messages(result.status)["s"] == (
        'step "s" met error threshold of 1: error running step "s": '
        "the step did not finish within 300ms and was stopped"
    )
    if how == "thread":
        assert marker.read_text() == "yes"


async def test_the_deadline_of_a_run_is_what_is_left_of_the_timeout(
    make_engine: Any, kit: Kit
) -> None:
    engine = make_engine(attempt_timeout=timedelta(hours=1))
    pctx = kit.make_context(
        [{"uses": "test-stuck", "as": "s", "retry": {"timeout": "200ms"}, "config": {}}]
    )
    result = await engine.run(pctx, None)
    assert result.status.phase is PromotionPhase.ERRORED
    assert "did not finish within 200ms" in kit.messages(result.status)["s"]


async def test_retry_after_is_clamped(engine: Engine, kit: Kit) -> None:
    pctx = kit.make_context(
        [{"uses": "test-wait", "as": "w", "config": {"until": "x", "retryAfterMs": 1}}]
    )
    result = await engine.run(pctx, None)
    assert result.requeue_after == timedelta(milliseconds=50)
    pctx = kit.make_context(
        [{"uses": "test-wait", "as": "w", "config": {"until": "x", "retryAfterMs": 2000}}],
        uid="uid-2",
    )
    result = await engine.run(pctx, None)
    assert result.requeue_after == timedelta(seconds=2)


async def test_production_clamp_is_ten_seconds(registry: Any, work_root: Path, kit: Kit) -> None:

    engine = Engine(
        capabilities=Capabilities(credentials=StaticCredentialsDatabase()),
        work_root=work_root,
        registry=registry,
    )
    pctx = kit.make_context(
        [{"uses": "test-wait", "as": "w", "config": {"until": "x", "retryAfterMs": 1}}]
    )
    assert (await engine.run(pctx, None)).requeue_after == timedelta(seconds=10)
    pctx = kit.make_context(
        [{"uses": "test-wait", "as": "w", "config": {"until": "x"}}], uid="uid-3"
    )
    assert (await engine.run(pctx, None)).requeue_after == timedelta(minutes=5)


async def test_if_is_evaluated_only_before_the_step_first_starts(
    engine: Engine, kit: Kit, work_root: Path
) -> None:
    pctx = kit.make_context(
        [
            {
                "uses": "test-wait",
                "as": "me",
                # True only until the step has produced output.
                "if": "${{ outputs.me == nil }}",
                "config": {"until": "go"},
            }
        ]
    )
    first = await engine.run(pctx, None)
    assert kit.statuses(first.status) == {"me": "Running"}
    (work_root / "promotion-uid-1" / "go").write_text("")
    second = await engine.run(pctx, first.status)
    assert kit.statuses(second.status) == {"me": "Succeeded"}


async def test_resume_after_restart_continues_at_current_step(
    make_engine: EngineFactory, kit: Kit, recorder: Any, work_root: Path
) -> None:
    steps = [
        {"uses": "test-write-file", "as": "one", "config": {"path": "one.txt"}},
        {"uses": "test-wait", "as": "two", "config": {"until": "release"}},
        {"uses": "test-write-file", "as": "three", "config": {"path": "three.txt"}},
    ]
    pctx = kit.make_context(steps)
    first = await make_engine().run(pctx, None, save=recorder)
    assert first.status.current_step == 1
    saved = recorder.last
    work_dir = work_root / "promotion-uid-1"
    (work_dir / "release").write_text("")

    # A new process: a new Engine, the status as it was persisted.
    restarted = make_engine()
    second = await restarted.run(pctx, PromotionStatus.model_validate(to_wire(saved)))
    assert second.status.phase is PromotionPhase.SUCCEEDED
    assert kit.statuses(second.status) == {
        "one": "Succeeded",
        "two": "Succeeded",
        "three": "Succeeded",
    }
    # Step one ran once; step two twice (waiting, then done); three once.
    assert second.status.state is not None
    assert second.status.state["three"]["seenState"] == ["one", "two"]


async def test_step_running_when_the_process_died_is_run_again(
    make_engine: EngineFactory, kit: Kit, recorder: Any, work_root: Path
) -> None:
    steps = [
        {"uses": "test-write-file", "as": "one", "config": {"path": "one.txt"}},
        {"uses": "test-write-file", "as": "two", "config": {"path": "two.txt"}},
    ]
    pctx = kit.make_context(steps)
    await make_engine().run(pctx, None, save=recorder)
    # The save made when "two" was marked started: the process died right after it.
    crashed = next(
        s for s in recorder.saved if s.current_step == 1 and kit.statuses(s).get("two") == "Running"
    )
    work_dir = work_root / "promotion-uid-1"
    work_dir.mkdir(parents=True)  # the same machine: the directory survived
    (work_dir / "runs.log").write_text("one\n")
    result = await make_engine().run(pctx, crashed)
    assert result.status.phase is PromotionPhase.SUCCEEDED
    assert kit.statuses(result.status) == {"one": "Succeeded", "two": "Succeeded"}
    assert result.status.state is not None
    assert result.status.state["two"]["seenState"] == ["one"]


async def test_finished_step_saved_before_a_crash_is_not_run_again(
    make_engine: EngineFactory, kit: Kit, recorder: Any, work_root: Path
) -> None:
    steps = [
        {"uses": "test-write-file", "as": "one", "config": {"path": "one.txt"}},
        {"uses": "test-wait", "as": "two", "config": {"until": "never"}},
    ]
    pctx = kit.make_context(steps)
    await make_engine().run(pctx, None, save=recorder)
    after_one = next(
        s
        for s in recorder.saved
        if s.current_step == 0 and kit.statuses(s).get("one") == "Succeeded"
    )
    result = await make_engine().run(pctx, after_one)
    log = (work_root / "promotion-uid-1" / "runs.log").read_text().split()
    # "one" ran in the first process only; "two" ran in both.
    assert log == ["one", "two", "two"]
    assert result.status.current_step == 1


async def test_lost_work_dir_restarts_at_step_zero_but_keeps_state(
    engine: Engine, kit: Kit, work_root: Path
) -> None:
    steps = [
        {"uses": "test-write-file", "as": "one", "config": {"path": "one.txt"}},
        {"uses": "test-wait", "as": "two", "config": {"until": "release"}, "if": "${{ true }}"},
    ]
    pctx = kit.make_context(steps)
    first = await engine.run(pctx, None)
    assert first.status.current_step == 1
    first.status.health_checks = [{"uses": "x"}]  # type: ignore[list-item]
    shutil.rmtree(work_root / "promotion-uid-1")

    second = await engine.run(pctx, first.status)
    assert second.status.current_step == 1
    assert second.status.health_checks is None
    # Step one ran again and saw the state kept from the earlier run.
    assert second.status.state is not None
    assert second.status.state["one"]["seenState"] == ["one", "two"]
    log = (work_root / "promotion-uid-1" / "runs.log").read_text().split()
    assert log == ["one", "two"]


async def test_abort_marks_running_step_and_phase_aborted(
    engine: Engine, kit: Kit, recorder: Any, work_root: Path
) -> None:

    steps = [
        {"uses": "test-wait", "as": "wait", "config": {"until": "never"}},
        {"uses": "test-echo", "as": "after"},
    ]
    first = await engine.run(kit.make_context(steps), None)
    assert (work_root / "promotion-uid-1").exists()
    aborting = kit.make_context(steps, abort=AbortRequest(action="terminate", actor="alice"))
    result = await engine.run(aborting, first.status, save=recorder)
    status = result.status
    assert status.phase is PromotionPhase.ABORTED
    assert status.message == "Promotion terminated by alice"
    assert kit.statuses(status) == {"wait": "Aborted"}
    assert status.finished_at is not None
    assert result.terminal
    assert recorder.last.phase is PromotionPhase.ABORTED
    assert not (work_root / "promotion-uid-1").exists()
    # A terminal Promotion is left alone.
    again = await engine.run(kit.make_context(steps), status)
    assert again.status == status


async def test_abort_without_actor_names_the_controller(engine: Engine, kit: Kit) -> None:
    steps = [{"uses": "test-echo"}]
    result = await engine.terminate(kit.make_context(steps), PromotionStatus())
    assert result.status.phase is PromotionPhase.ABORTED
    assert result.status.message == "Promotion terminated by controller:promotion-controller"


async def test_health_checks_of_succeeded_steps_are_collected(engine: Engine, kit: Kit) -> None:
    pctx = kit.make_context(
        [
            {"uses": "test-echo", "as": "a", "config": {"healthCheck": True}},
            {"uses": "test-echo", "as": "b"},
            {"uses": "test-echo", "as": "c", "config": {"healthCheck": True}},
        ]
    )
    status = (await engine.run(pctx, None)).status
    assert [to_wire(h) for h in status.health_checks or []] == [
        {"uses": "test-health", "config": {"alias": "a"}},
        {"uses": "test-health", "config": {"alias": "c"}},
    ]


async def test_steps_get_a_raw_expression_evaluator(engine: Engine, kit: Kit) -> None:
    pctx = kit.make_context(
        [
            {"uses": "test-echo", "as": "first", "config": {"values": {"two": 2}}},
            {
                "uses": "test-echo",
                "as": "second",
                "vars": [{"name": "n", "value": "${{ outputs.first.two * 100 }}"}],
                "config": {"evaluate": "vars.n + extra + outputs.first.two"},
            },
        ]
    )
    status = (await engine.run(pctx, None)).status
    assert status.state is not None
    assert status.state["second"] == {"evaluated": 242}


async def test_data_functions_read_through_the_injected_fetcher(
    make_engine: EngineFactory, kit: Kit
) -> None:

    fetched: list[tuple[str, ResourceRef]] = []

    async def fetch(project: str, ref: ResourceRef) -> dict[str, Any] | None:
        fetched.append((project, ref))
        if ref.kind == "ConfigMap" and ref.name == "settings":
            return {"metadata": {"name": "settings"}, "data": {"env": "preprod"}}
        if ref.kind == "Warehouse" and ref.name == "example-container":
            return {"spec": {"subscriptions": [{"image": {"repoURL": kit.image_repo}}]}}
        return None

    pctx = kit.make_context(
        [
            {
                "uses": "test-echo",
                "as": "read",
                "config": {
                    "values": {
                        "env": "${{ configMap('settings').env }}",
                        "again": "${{ configMap('settings').env }}",
                        "missing": "${{ configMap('absent').key }}x",
                        "tag": "${{ imageFrom(vars.image).Tag }}",
                    }
                },
            }
        ],
        vars_=[{"name": "image", "value": kit.image_repo}],
        requests=True,
    )
    status = (await make_engine(data=fetch).run(pctx, None)).status
    assert status.phase is PromotionPhase.SUCCEEDED, status.message
    assert status.state is not None
    assert status.state["read"] == {
        "env": "preprod",
        "again": "preprod",
        "missing": "x",
        "tag": kit.image_tag,
    }
    # One fetch per object per step (the per-step cache).
    assert sorted((p, r.kind, r.name) for p, r in fetched) == [
        ("sandbox-example", "ConfigMap", "absent"),
        ("sandbox-example", "ConfigMap", "settings"),
        ("sandbox-example", "Warehouse", "example-container"),
    ]


async def test_no_steps_is_an_error(engine: Engine, kit: Kit) -> None:
    status = (await engine.run(kit.make_context([]), None)).status
    assert status.phase is PromotionPhase.ERRORED
    assert status.message == "Promotion has no steps"


async def test_utc_now_has_whole_seconds() -> None:
    now = utc_now()
    assert now.microsecond == 0
    assert now.tzinfo is not None


class _DateOutputStep:
    """Returns a non-JSON value in its output."""

    name: ClassVar[str] = "test-date-output"
    config_model: ClassVar[type[StepConfig]] = StepConfig
    default_timeout: ClassVar[timedelta | None] = None
    default_error_threshold: ClassVar[int] = 1
    external_effects: ClassVar[Effects] = Effects.NONE

    async def run(self, ctx: StepContext, config: Any) -> StepResult:
        return StepResult(
            status=PromotionStepStatus.SUCCEEDED,
            output={"when": datetime(2025, 1, 1, tzinfo=UTC), "n": 1},
        )


async def test_outputs_are_kept_as_json(
    registry: StepRegistry, make_engine: EngineFactory, kit: Kit
) -> None:
    registry.add(_DateOutputStep)
    status = (
        await make_engine().run(kit.make_context([{"uses": "test-date-output"}]), None)
    ).status
    assert status.state == {"step-1": {"when": "2025-01-01 00:00:00+00:00", "n": 1}}
    assert to_wire(status)["state"] == status.state
