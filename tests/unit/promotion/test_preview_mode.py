"""The orchestrator in preview mode: steps without external effects run, the others do not
(their ``preview`` says what they would do, or the preview says they would run), nothing
waits, nothing is retried; and the registry refuses a step that does not declare its
effects."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any, ClassVar

import pytest

from shunter.api.v1alpha1 import PromotionStep
from shunter.api.v1alpha1.promotion import PromotionPhase, PromotionStatus, PromotionStepStatus
from shunter.credentials.types import StaticCredentialsDatabase
from shunter.promotion.effects import EffectNote, Effects
from shunter.promotion.orchestrator import Orchestrator
from shunter.promotion.registry import StepRegistry
from shunter.promotion.step import Capabilities, StepConfig, StepContext, StepResult

Kit = Any


class TargetConfig(StepConfig):
    target: str


class PublishStep:
    """Publishes somewhere outside (here: a class list standing in for a remote): an effect."""

    name: ClassVar[str] = "test-publish"
    config_model: ClassVar[type[StepConfig]] = TargetConfig
    default_timeout: ClassVar[timedelta | None] = None
    default_error_threshold: ClassVar[int] = 1
    external_effects: ClassVar[Effects] = Effects.WRITES
    published: ClassVar[list[str]] = []

    async def run(self, ctx: StepContext, config: Any) -> StepResult:
        PublishStep.published.append(config.target)
        return StepResult(status=PromotionStepStatus.SUCCEEDED, output={"id": 42})

    async def preview(self, ctx: StepContext, config: Any) -> StepResult:
        return StepResult(
            status=PromotionStepStatus.SUCCEEDED,
            output={"id": 0},
            effect=EffectNote(f"would publish to {config.target}"),
        )


class NotifyStep(PublishStep):
    """An effect without a preview method."""

    name: ClassVar[str] = "test-notify"
    preview = None  # type: ignore[assignment]


class AwaitStep:
    """Waits for an outside change (for ever, here)."""

    name: ClassVar[str] = "test-await"
    config_model: ClassVar[type[StepConfig]] = TargetConfig
    default_timeout: ClassVar[timedelta | None] = None
    default_error_threshold: ClassVar[int] = 1
    external_effects: ClassVar[Effects] = Effects.WAITS

    async def run(self, ctx: StepContext, config: Any) -> StepResult:
        return StepResult(status=PromotionStepStatus.RUNNING, message="still waiting")


@pytest.fixture
def preview_registry(registry: StepRegistry) -> StepRegistry:
    for kind in (PublishStep, NotifyStep, AwaitStep):
        registry.add(kind)
    return registry


async def _noop(_status: PromotionStatus) -> None:
    return None


async def _preview(
    kit: Kit, registry: StepRegistry, steps: list[dict[str, Any]], work: Path
) -> Any:
    effects: dict[str, StepResult] = {}

    def observe(alias: str, _step: PromotionStep, result: StepResult) -> None:
        effects[alias] = result

    orchestrator = Orchestrator(
        registry=registry,
        capabilities=Capabilities(credentials=StaticCredentialsDatabase()),
        preview=True,
        observe=observe,
    )
    status = PromotionStatus(phase=PromotionPhase.RUNNING, state={})
    outcome = await orchestrator.execute(kit.make_context(steps), status, work_dir=work, save=_noop)
    return outcome, status, effects


async def test_effects_are_previewed_and_the_rest_runs(
    kit: Kit, preview_registry: StepRegistry, tmp_path: Path
) -> None:
    PublishStep.published.clear()
    steps = [
        {"uses": "test-write-file", "as": "write", "config": {"path": "out.txt", "content": "x"}},
        {"uses": "test-publish", "as": "publish", "config": {"target": "prod"}},
        {
            "uses": "test-echo",
            "as": "echo",
            "config": {"values": {"id": "${{ outputs.publish.id }}"}},
        },
        {"uses": "test-notify", "as": "notify", "config": {"target": "chat"}},
    ]
    outcome, status, effects = await _preview(kit, preview_registry, steps, tmp_path)
    assert outcome.phase == PromotionPhase.SUCCEEDED
    assert PublishStep.published == [], "an effect ran in a preview"
    assert (tmp_path / "out.txt").read_text() == "x"
    assert kit.statuses(status) == {
        "write": "Succeeded",
        "publish": "Succeeded",
        "echo": "Succeeded",
        "notify": "Succeeded",
    }
    assert effects["publish"].effect == EffectNote("would publish to prod")
    assert effects["notify"].effect == EffectNote("would run test-notify")
    assert effects["write"].effect is None
    assert status.state["echo"] == {"id": 0}  # later steps see the preview's outputs


async def test_a_config_needing_outputs_that_do_not_exist_is_reported(
    kit: Kit, preview_registry: StepRegistry, tmp_path: Path
) -> None:
    steps = [
        {"uses": "test-notify", "as": "open", "config": {"target": "x"}},
        {"uses": "test-publish", "as": "merge", "config": {"target": "${{ outputs.open.pr.url }}"}},
    ]
    outcome, _, effects = await _preview(kit, preview_registry, steps, tmp_path)
    assert outcome.phase == PromotionPhase.SUCCEEDED
    note = effects["merge"].effect
    assert note is not None
    assert note.summary.startswith("would run test-publish (its config needs what a preview")


async def test_nothing_waits_and_nothing_is_retried(
    kit: Kit, preview_registry: StepRegistry, tmp_path: Path
) -> None:
    steps = [
        {"uses": "test-await", "as": "wait", "config": {"target": "pr"}},
        {"uses": "test-wait", "as": "local-wait", "config": {"until": "never"}},
        {"uses": "test-flaky", "as": "flaky", "config": {"failures": 1, "counter": "n"}},
        {"uses": "test-write-file", "as": "after", "config": {"path": "a.txt"}},
    ]
    outcome, status, effects = await _preview(kit, preview_registry, steps, tmp_path)
    assert effects["wait"].effect == EffectNote("would run test-await")
    assert effects["local-wait"].effect is not None
    assert effects["local-wait"].effect.summary == "would wait: an outside change"
    assert outcome.phase == PromotionPhase.ERRORED
    assert kit.statuses(status)["flaky"] == "Errored"
    assert kit.statuses(status)["after"] == "Skipped"


def test_a_step_must_declare_its_effects() -> None:
    class Undeclared:
        name: ClassVar[str] = "test-undeclared"

    with pytest.raises(TypeError, match="must declare external_effects"):
        StepRegistry().add(Undeclared)  # type: ignore[arg-type]


def test_every_builtin_step_declares_its_effects() -> None:
    from shunter.promotion.registry import DEFAULT_REGISTRY  # noqa: PLC0415
    from shunter.steps import load_builtin_steps  # noqa: PLC0415

    load_builtin_steps()
    effects = {name: DEFAULT_REGISTRY.get(name).external_effects for name in DEFAULT_REGISTRY}
    writes = {n for n, e in effects.items() if e is Effects.WRITES}
    waits = {n for n, e in effects.items() if e is Effects.WAITS}
    assert writes == {
        "argocd-update",
        "git-merge-pr",
        "git-open-pr",
        "git-push",
        "http",
        "jira",
        "oci-push",
        "set-freight-alias",
        "set-metadata",
    }
    assert waits == {"argocd-wait", "git-wait-for-pr"}
    for name in writes | waits:
        assert callable(getattr(DEFAULT_REGISTRY.get(name), "preview", None)), name
