"""PromotionTask inflation of Stage promotion templates (kargo.md 2.2)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from shunter._internal.yamlio import load_manifest_files
from shunter.api.v1alpha1 import PromotionStep, PromotionTask, Stage, to_wire
from shunter.api.v1alpha1.common import ExpressionVariable, PromotionTaskReference
from shunter.api.v1alpha1.promotion_task import ClusterPromotionTask, PromotionTaskSpec
from shunter.promotion.errors import (
    InflationError,
    InvalidStepsError,
    MissingTaskVariableError,
    TaskNotFoundError,
)
from shunter.promotion.tasks import (
    inflate_stage_template,
    inflate_steps,
    promotion_vars,
    task_input_vars,
    validate_template_steps,
)

ROOT = Path(__file__).resolve().parents[3]
SEED = ROOT / "examples" / "seed"


class TaskStore:
    """A TaskLookup over in-memory task objects (the API server's role)."""

    def __init__(self, *tasks: PromotionTask | ClusterPromotionTask) -> None:
        self.calls: list[tuple[str, str, str]] = []
        self._tasks: dict[tuple[str, str, str], PromotionTaskSpec] = {
            (t.kind, t.metadata.namespace or "", t.metadata.name or ""): t.spec for t in tasks
        }

    async def __call__(self, project: str, ref: PromotionTaskReference) -> PromotionTaskSpec | None:
        kind = ref.kind.value if ref.kind is not None else "PromotionTask"
        namespace = "" if kind == "ClusterPromotionTask" else project
        self.calls.append((kind, namespace, ref.name))
        spec = self._tasks.get((kind, namespace, ref.name))
        return spec.model_copy(deep=True) if spec is not None else None


def _seed() -> tuple[dict[str, Stage], TaskStore]:
    docs = load_manifest_files(SEED)
    stages = {d["metadata"]["name"]: Stage.from_wire(d) for d in docs if d["kind"] == "Stage"}
    tasks = [PromotionTask.from_wire(d) for d in docs if d["kind"] == "PromotionTask"]
    return stages, TaskStore(*tasks)


def _step(**fields: Any) -> PromotionStep:
    return PromotionStep.model_validate(fields)


def _task(
    name: str,
    steps: list[dict[str, Any]],
    vars_: list[dict[str, Any]] | None = None,
    *,
    cluster: bool = False,
) -> PromotionTask | ClusterPromotionTask:
    body: dict[str, Any] = {
        "metadata": {"name": name} if cluster else {"name": name, "namespace": "proj"},
        "spec": {"steps": steps, **({"vars": vars_} if vars_ is not None else {})},
    }
    return (
        ClusterPromotionTask.model_validate(body) if cluster else PromotionTask.model_validate(body)
    )


async def test_seed_preprod_template_inflates_into_aliased_task_steps() -> None:
    stages, store = _seed()
    inflated = await inflate_stage_template(stages["preprod"], store)
    assert [s.as_ for s in inflated.steps] == [
        "task-1::step-1",
        "task-1::update-image",
        "task-1::commit",
        "task-1::step-4",
    ]
    assert [s.uses for s in inflated.steps] == [
        "git-clone",
        "yaml-update",
        "git-commit",
        "git-push",
    ]
    assert store.calls == [("PromotionTask", "sandbox-example", "promote")]
    for step in inflated.steps:
        values = {v.name: v.value for v in step.vars or []}
        assert values["envPath"] == "preprod"
        assert values["image"] == (
            "us-east1-docker.pkg.dev/container/main-containers/example-container"
        )
        assert values["branch"] == "master"
        # Task defaults first, then the task-ref step's vars.
        assert [v.name for v in step.vars or []] == ["image", "repoURL", "branch", "envPath"]
    assert inflated.vars == []
    # Config is copied as written: expressions are evaluated at run time.
    assert inflated.steps[2].config == {
        "path": "./src",
        "message": "${{ task.outputs['update-image'].commitMessage }}",
    }


async def test_seed_prod_template_gets_its_own_env_path() -> None:
    stages, store = _seed()
    inflated = await inflate_stage_template(stages["prod"], store)
    assert {v.value for s in inflated.steps for v in s.vars or [] if v.name == "envPath"} == {
        "prod"
    }


async def test_inflated_steps_serialize_as_promotion_steps() -> None:
    stages, store = _seed()
    inflated = await inflate_stage_template(stages["preprod"], store)
    wire = [to_wire(s) for s in inflated.steps]
    assert wire[1]["as"] == "task-1::update-image"
    assert "task" not in wire[1]
    assert all(PromotionStep.model_validate(w).uses for w in wire)


async def test_missing_required_variable_is_reported_by_name() -> None:
    store = TaskStore(_task("t", [{"uses": "noop"}], [{"name": "envPath"}]))
    with pytest.raises(MissingTaskVariableError) as info:
        await inflate_steps("proj", [_step(task={"name": "t"})], [], store)
    assert 'missing value for variable "envPath"' in str(info.value)
    assert str(info.value) == (
        'inflate task steps for task "t" ("task-1"): missing value for variable "envPath"'
    )


def test_task_var_resolution_order() -> None:
    task_vars = [
        ExpressionVariable(name="a", value="default-a"),
        ExpressionVariable(name="b", value="default-b"),
        ExpressionVariable(name="c"),
    ]
    globals_ = [ExpressionVariable(name="a", value="global-a"), ExpressionVariable(name="b")]
    step_vars = [ExpressionVariable(name="c", value="step-c")]
    out = task_input_vars(task_vars, globals_, step_vars)
    # a: global non-empty wins -> nothing added; b: global empty -> default; c: step supplies.
    assert [(v.name, v.value) for v in out] == [("b", "default-b"), ("c", "step-c")]


def test_required_task_var_satisfied_by_global_var() -> None:
    out = task_input_vars(
        [ExpressionVariable(name="env")], [ExpressionVariable(name="env", value="x")], []
    )
    assert out == []


def test_required_task_var_with_empty_step_value_is_missing() -> None:
    with pytest.raises(MissingTaskVariableError):
        task_input_vars([ExpressionVariable(name="env")], [], [ExpressionVariable(name="env")])


async def test_task_vars_are_prepended_to_each_task_steps_own_vars() -> None:
    store = TaskStore(
        _task(
            "t",
            [{"uses": "noop", "as": "x", "vars": [{"name": "own", "value": "1"}]}],
            [{"name": "d", "value": "dv"}],
        )
    )
    steps = await inflate_steps(
        "proj",
        [_step(task={"name": "t"}, **{"as": "deploy"}, vars=[{"name": "e", "value": "ev"}])],
        [],
        store,
    )
    assert steps[0].as_ == "deploy::x"
    assert [(v.name, v.value) for v in steps[0].vars or []] == [
        ("d", "dv"),
        ("e", "ev"),
        ("own", "1"),
    ]


async def test_plain_steps_get_positional_default_aliases_and_tasks_are_numbered() -> None:
    store = TaskStore(_task("t", [{"uses": "noop"}, {"uses": "noop"}]))
    steps = await inflate_steps(
        "proj",
        [
            _step(uses="a"),
            _step(task={"name": "t"}),
            _step(uses="b", **{"as": "named"}),
            _step(task={"name": "t"}),
            _step(uses="c"),
        ],
        [],
        store,
    )
    assert [s.as_ for s in steps] == [
        "step-1",
        "task-2::step-1",
        "task-2::step-2",
        "named",
        "task-4::step-1",
        "task-4::step-2",
        "step-5",
    ]


async def test_cluster_promotion_task_is_looked_up_cluster_wide() -> None:
    store = TaskStore(_task("shared", [{"uses": "noop"}], cluster=True))
    steps = await inflate_steps(
        "proj", [_step(task={"name": "shared", "kind": "ClusterPromotionTask"})], [], store
    )
    assert steps[0].as_ == "task-1::step-1"
    assert store.calls == [("ClusterPromotionTask", "", "shared")]


async def test_unknown_task_is_a_clear_error() -> None:
    with pytest.raises(TaskNotFoundError, match=r'PromotionTask "nope" not found in namespace'):
        await inflate_steps("proj", [_step(task={"name": "nope"})], [], TaskStore())
    with pytest.raises(TaskNotFoundError, match=r'ClusterPromotionTask "nope" not found'):
        await inflate_steps(
            "proj", [_step(task={"name": "nope", "kind": "ClusterPromotionTask"})], [], TaskStore()
        )


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        ([{"uses": "a", "as": "x"}, {"uses": "b", "as": "x"}], "duplicates that of steps[0]"),
        ([{"uses": "a", "as": "step-3"}], '"step-3" is reserved'),
        ([{"uses": "a", "as": "task-12"}], '"task-12" is reserved'),
        ([{"task": {"name": "t"}, "if": "${{ true }}"}], "cannot set if"),
        ([{"task": {"name": "t"}, "config": {}}], "cannot set config"),
        ([{"task": {"name": "t"}, "continueOnError": True}], "cannot set continueOnError"),
        ([{"task": {"name": "t"}, "retry": {"errorThreshold": 2}}], "cannot set retry"),
        ([{"as": "nothing"}], "exactly one of uses or task"),
        ([{"uses": "a", "task": {"name": "t"}}], "exactly one of uses or task"),
    ],
)
def test_template_step_validation(steps: list[dict[str, Any]], expected: str) -> None:
    with pytest.raises(InvalidStepsError) as info:
        validate_template_steps([PromotionStep.model_validate(s) for s in steps])
    assert expected in str(info.value)


def test_user_aliases_that_only_look_like_defaults_are_allowed() -> None:
    validate_template_steps(
        [_step(uses="a", **{"as": "step-one"}), _step(uses="b", **{"as": "my-task-1"})]
    )


async def test_stage_without_steps_cannot_be_inflated() -> None:
    stage = Stage.model_validate(
        {
            "metadata": {"name": "s", "namespace": "proj"},
            "spec": {
                "requestedFreight": [
                    {"origin": {"kind": "Warehouse", "name": "w"}, "sources": {"direct": True}}
                ]
            },
        }
    )
    with pytest.raises(InflationError, match="defines no promotion steps"):
        await inflate_stage_template(stage, TaskStore())


async def test_promotion_vars_are_stage_vars_then_template_vars() -> None:
    stage = Stage.model_validate(
        {
            "metadata": {"name": "s", "namespace": "proj"},
            "spec": {
                "vars": [{"name": "a", "value": "stage"}],
                "requestedFreight": [
                    {"origin": {"kind": "Warehouse", "name": "w"}, "sources": {"direct": True}}
                ],
                "promotionTemplate": {
                    "spec": {
                        "vars": [{"name": "a", "value": "template"}, {"name": "b", "value": "2"}],
                        "steps": [{"uses": "noop"}],
                    }
                },
            },
        }
    )
    assert [(v.name, v.value) for v in promotion_vars(stage)] == [
        ("a", "stage"),
        ("a", "template"),
        ("b", "2"),
    ]
    inflated = await inflate_stage_template(stage, TaskStore())
    assert [(v.name, v.value) for v in inflated.vars] == [
        ("a", "stage"),
        ("a", "template"),
        ("b", "2"),
    ]
    assert inflated.steps[0].as_ == "step-1"


async def test_inflation_does_not_modify_the_template() -> None:
    stages, store = _seed()
    stage = stages["preprod"]
    before = to_wire(stage)
    await inflate_stage_template(stage, store)
    assert to_wire(stage) == before
