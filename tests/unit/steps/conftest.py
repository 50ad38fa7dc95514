"""Fixtures shared by the step tests: a work directory, a step context, a config runner.

Steps run the way the engine runs them: the raw config is validated with the step's
``config_model`` (errors described by the engine's own describer), then ``run`` gets a
:class:`StepContext`. ``ctx.evaluate`` is the real expression language.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from shunter.api.v1alpha1.common import FreightCollection, FreightReference
from shunter.credentials.types import StaticCredentialsDatabase
from shunter.expressions import evaluate
from shunter.promotion.step import Capabilities, StepContext, StepResult, StepRunner
from shunter.promotion.validation import describe_validation_error

RunStep = Callable[[type[StepRunner], StepContext, Mapping[str, Any]], Awaitable[StepResult]]
ConfigError = Callable[[type[StepRunner], Mapping[str, Any]], str]


async def _evaluate(expression: str, extra: Mapping[str, Any]) -> Any:
    return evaluate(expression, dict(extra))


def make_context(work_dir: Path, freight: FreightCollection | None = None) -> StepContext:
    """A step context on ``work_dir`` with the real expression evaluator."""
    return StepContext(
        project="demo",
        stage="preprod",
        promotion="promo-1",
        alias="step-1",
        work_dir=work_dir,
        capabilities=Capabilities(credentials=StaticCredentialsDatabase()),
        target_freight=FreightReference(),
        freight=freight or FreightCollection(id="fc"),
        evaluate=_evaluate,
    )


@pytest.fixture
def work_dir(tmp_path: Path) -> Path:
    path = tmp_path / "work"
    path.mkdir()
    return path


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A directory next to the work directory holding ``secret.txt`` (must never change)."""
    path = tmp_path / "outside"
    path.mkdir()
    (path / "secret.txt").write_text("top secret\n")
    return path


@pytest.fixture
def ctx(work_dir: Path) -> StepContext:
    return make_context(work_dir)


@pytest.fixture
def ctx_with_freight(work_dir: Path) -> Callable[[FreightCollection], StepContext]:
    """``ctx_with_freight(collection)``: a context whose promoted Freight is ``collection``."""
    return lambda freight: make_context(work_dir, freight)


@pytest.fixture
def run_step() -> RunStep:
    """``await run_step(StepClass, ctx, raw_config)``: validate, then run a fresh runner."""

    async def run(step: type[StepRunner], ctx: StepContext, raw: Mapping[str, Any]) -> StepResult:
        config = step.config_model.model_validate(dict(raw))
        return await step().run(ctx, config)

    return run


@pytest.fixture
def config_error() -> ConfigError:
    """``config_error(StepClass, raw)``: the engine's message for an invalid config."""

    def describe(step: type[StepRunner], raw: Mapping[str, Any]) -> str:
        try:
            step.config_model.model_validate(dict(raw))
        except ValidationError as exc:
            return describe_validation_error(exc)
        raise AssertionError(f"config {dict(raw)!r} was accepted")

    return describe
