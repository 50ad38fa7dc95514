"""Inflated task steps at run time: ``task.outputs``, compose-output, ``status()`` scoping."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from shunter._internal.yamlio import load_manifest_files
from shunter.api.v1alpha1 import PromotionStep, PromotionTask, Stage
from shunter.api.v1alpha1.common import PromotionTaskReference
from shunter.api.v1alpha1.promotion import (
    PromotionPhase,
    PromotionStepStatus,
    StepExecutionMetadata,
)
from shunter.api.v1alpha1.promotion_task import PromotionTaskSpec
from shunter.promotion.context import PromotionContext
from shunter.promotion.engine import Engine
from shunter.promotion.environment import StepEvaluator, task_outputs
from shunter.promotion.tasks import inflate_stage_template, inflate_steps

Kit = Any
ROOT = Path(__file__).resolve().parents[3]


def _lookup(*tasks: PromotionTask) -> Any:
    specs = {t.metadata.name: t.spec for t in tasks}

    async def lookup(project: str, ref: PromotionTaskReference) -> PromotionTaskSpec | None:
        spec = specs.get(ref.name)
        return spec.model_copy(deep=True) if spec is not None else None

    return lookup


def _context_with(kit: Kit, steps: list[Any], vars_: list[Any]) -> PromotionContext:
    base = kit.make_context([])
    return PromotionContext(
        project=base.project,
        stage=base.stage,
        promotion=base.promotion,
        uid=base.uid,
        steps=steps,
        vars=vars_,
        target_freight=base.target_freight,
        freight=base.freight,
        actor=base.actor,
    )


async def test_seed_commit_message_resolves_from_task_outputs(kit: Kit) -> None:
    docs = load_manifest_files(ROOT / "examples" / "seed")
    stage = next(
        Stage.from_wire(d)
        for d in docs
        if d["metadata"]["name"] == "preprod" and d["kind"] == "Stage"
    )
    task = next(PromotionTask.from_wire(d) for d in docs if d["kind"] == "PromotionTask")
    inflated = await inflate_stage_template(stage, _lookup(task))
    pctx = _context_with(kit, inflated.steps, inflated.vars)
    commit = inflated.steps[2]
    assert commit.as_ == "task-1::commit"
    state = {
        "task-1::step-1": {},
        "task-1::update-image": {"commitMessage": "Updated general.lmsImageTag"},
        "other::update-image": {"commitMessage": "not this one"},
    }
    evaluator = StepEvaluator(pctx, step=commit, alias="task-1::commit", metadata=[], state=state)
    assert await evaluator.config() == {"path": "./src", "message": "Updated general.lmsImageTag"}
    # The yaml-update step sees the Freight's image tag and the Stage's env path.
    update = inflated.steps[1]
    evaluator = StepEvaluator(
        pctx, step=update, alias="task-1::update-image", metadata=[], state=state
    )
    assert await evaluator.config() == {
        "path": "./src/preprod/values.yaml",
        "updates": [{"key": "general.lmsImageTag", "value": kit.image_tag}],
    }
    clone = await StepEvaluator(
        pctx, step=inflated.steps[0], alias="task-1::step-1", metadata=[], state=state
    ).config()
    assert clone == {
        "repoURL": "https://github.com/test/sandbox.git",
        "checkout": [{"branch": "master", "path": "./src"}],
    }


def test_task_outputs_only_hold_the_same_task() -> None:
    state = {
        "t::a": {"x": 1},
        "t::b": {"y": 2},
        "u::a": {"z": 3},
        "t": {"merged": True},
        "plain": {},
    }
    assert task_outputs("t::c", state) == {"a": {"x": 1}, "b": {"y": 2}}
    assert task_outputs("plain", state) is None


async def test_compose_output_is_merged_into_the_task_alias(engine: Engine, kit: Kit) -> None:
    task = PromotionTask.model_validate(
        {
            "metadata": {"name": "pr", "namespace": "sandbox-example"},
            "spec": {
                "vars": [{"name": "repo"}],
                "steps": [
                    {
                        "uses": "test-echo",
                        "as": "open-pr",
                        "config": {"values": {"pr": {"id": 7}, "repo": "${{ vars.repo }}"}},
                    },
                    {
                        "uses": "test-compose",
                        "as": "out",
                        "config": {
                            "values": {
                                "prId": "${{ task.outputs['open-pr'].pr.id }}",
                                "where": "${{ status('open-pr') }}",
                            }
                        },
                    },
                ],
            },
        }
    )
    template = [
        {"task": {"name": "pr"}, "as": "review", "vars": [{"name": "repo", "value": "r1"}]},
        {
            "uses": "test-echo",
            "as": "report",
            "config": {
                "values": {
                    "id": "${{ outputs.review.prId }}",
                    "direct": "${{ outputs['review::open-pr'].pr.id }}",
                    "outside": "${{ status('open-pr') }}-",
                    "namespaced": "${{ status('review::open-pr') }}-",
                }
            },
        },
    ]
    steps = await inflate_steps(
        "sandbox-example", [PromotionStep.model_validate(s) for s in template], [], _lookup(task)
    )
    assert [s.as_ for s in steps] == ["review::open-pr", "review::out", "report"]
    status = (await engine.run(_context_with(kit, steps, []), None)).status
    assert status.phase is PromotionPhase.SUCCEEDED, status.message
    assert status.state is not None
    assert status.state["review::out"] == {"prId": 7, "where": "Succeeded"}
    # compose-output also writes into state["review"]; a plain step does not.
    assert status.state["review"] == {"prId": 7, "where": "Succeeded"}
    assert status.state["review::open-pr"] == {"pr": {"id": 7}, "repo": "r1"}
    assert status.state["report"] == {
        "id": 7,
        "direct": 7,
        # status() at the top level only matches un-namespaced aliases.
        "outside": "-",
        "namespaced": "-",
    }


async def test_success_and_failure_see_all_earlier_steps(kit: Kit) -> None:
    step = kit.make_context([{"uses": "x", "if": "${{ failure() }}"}]).steps[0]
    pctx = kit.make_context([{"uses": "x"}])
    failed = [
        StepExecutionMetadata(alias="a", status=PromotionStepStatus.SUCCEEDED),
        StepExecutionMetadata(alias="b", status=PromotionStepStatus.ERRORED),
    ]
    assert await StepEvaluator(pctx, step=step, alias="c", metadata=failed, state={}).condition()
    ignored = [
        StepExecutionMetadata(alias="b", status=PromotionStepStatus.ERRORED, continue_on_error=True)
    ]
    assert not await StepEvaluator(
        pctx, step=step, alias="c", metadata=ignored, state={}
    ).condition()
