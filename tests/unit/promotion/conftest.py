"""Test-only step kinds, a clock, and helpers to build Promotion contexts for engine tests.

The step classes below are real step implementations written for the tests (they write files,
fail a given number of times, wait for a file, raise), registered in a local StepRegistry so
they never reach the default one.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import pytest

from shunter._internal.threads import checkpoint, run_in_thread
from shunter.api.v1alpha1 import FreightCollection, FreightReference, PromotionStep
from shunter.api.v1alpha1.common import ExpressionVariable, HealthCheckStep
from shunter.api.v1alpha1.promotion import PromotionStatus, PromotionStepStatus
from shunter.api.v1alpha1.stage import FreightRequest
from shunter.credentials.types import StaticCredentialsDatabase
from shunter.promotion.context import AbortRequest, PromotionContext
from shunter.promotion.effects import Effects
from shunter.promotion.engine import Engine, RequeuePolicy
from shunter.promotion.environment import ResourceFetcher
from shunter.promotion.registry import StepRegistry
from shunter.promotion.step import (
    Capabilities,
    StepConfig,
    StepContext,
    StepError,
    StepResult,
    TerminalStepError,
)

IMAGE_REPO = "us-east1-docker.pkg.dev/container/main-containers/example-container"
IMAGE_TAG = "2024-05-01_1200-abcdef1"
FREIGHT_NAME = "f00dfeedf00dfeedf00dfeedf00dfeedf00dfeed"


# --- test step kinds --------------------------------------------------------------------------


class WriteFileConfig(StepConfig):
    path: str
    content: str = ""


class WriteFileStep:
    """Writes ``content`` to ``path`` and appends a line to ``runs.log``."""

    name: ClassVar[str] = "test-write-file"
    config_model: ClassVar[type[StepConfig]] = WriteFileConfig
    default_timeout: ClassVar[timedelta | None] = None
    default_error_threshold: ClassVar[int] = 1
    external_effects: ClassVar[Effects] = Effects.NONE

    async def run(self, ctx: StepContext, config: Any) -> StepResult:
        target = ctx.path(config.path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(config.content, encoding="utf-8")
        with (ctx.work_dir / "runs.log").open("a", encoding="utf-8") as log:
            log.write(ctx.alias + "\n")
        return StepResult(
            status=PromotionStepStatus.SUCCEEDED,
            output={"path": config.path, "seenState": sorted(ctx.state)},
        )


class EchoConfig(StepConfig):
    values: dict[str, Any] = {}
    message: str = ""
    status: PromotionStepStatus = PromotionStepStatus.SUCCEEDED
    health_check: bool = False
    evaluate: str | None = None


class EchoStep:
    """Returns its (evaluated) ``values`` as output, with the status it is told to return."""

    name: ClassVar[str] = "test-echo"
    config_model: ClassVar[type[StepConfig]] = EchoConfig
    default_timeout: ClassVar[timedelta | None] = None
    default_error_threshold: ClassVar[int] = 1
    external_effects: ClassVar[Effects] = Effects.NONE

    async def run(self, ctx: StepContext, config: Any) -> StepResult:
        output = dict(config.values)
        if config.evaluate is not None:
            assert ctx.evaluate is not None
            output["evaluated"] = await ctx.evaluate(config.evaluate, {"extra": 40})
        return StepResult(
            status=config.status,
            message=config.message,
            output=output,
            health_check=HealthCheckStep(uses="test-health", config={"alias": ctx.alias})
            if config.health_check
            else None,
        )


class ComposeStep(EchoStep):
    """Like test-echo, with task output propagation (Kargo's compose-output)."""

    name: ClassVar[str] = "test-compose"
    propagates_task_output: ClassVar[bool] = True


class FlakyConfig(StepConfig):
    failures: int
    counter: str
    failed: bool = False


class FlakyStep:
    """Raises a retryable StepError ``failures`` times (counted in a file), then succeeds."""

    name: ClassVar[str] = "test-flaky"
    config_model: ClassVar[type[StepConfig]] = FlakyConfig
    default_timeout: ClassVar[timedelta | None] = None
    default_error_threshold: ClassVar[int] = 1
    external_effects: ClassVar[Effects] = Effects.NONE

    async def run(self, ctx: StepContext, config: Any) -> StepResult:
        counter = ctx.path(config.counter)
        attempts = int(counter.read_text()) if counter.exists() else 0
        counter.write_text(str(attempts + 1))
        if attempts < config.failures:
            raise StepError(f"attempt {attempts + 1} failed", failed=config.failed)
        return StepResult(status=PromotionStepStatus.SUCCEEDED, output={"attempts": attempts + 1})


class PatientFlakyStep(FlakyStep):
    """test-flaky with a default error threshold of 2."""

    name: ClassVar[str] = "test-patient-flaky"
    default_error_threshold: ClassVar[int] = 2
    external_effects: ClassVar[Effects] = Effects.NONE


class WaitConfig(StepConfig):
    until: str
    retry_after_ms: int | None = None


class WaitStep:
    """Running until the file ``until`` exists in the work directory."""

    name: ClassVar[str] = "test-wait"
    config_model: ClassVar[type[StepConfig]] = WaitConfig
    default_timeout: ClassVar[timedelta | None] = None
    default_error_threshold: ClassVar[int] = 1
    external_effects: ClassVar[Effects] = Effects.NONE

    async def run(self, ctx: StepContext, config: Any) -> StepResult:
        with (ctx.work_dir / "runs.log").open("a", encoding="utf-8") as log:
            log.write(ctx.alias + "\n")
        if ctx.path(config.until).exists():
            return StepResult(status=PromotionStepStatus.SUCCEEDED, output={"waited": True})
        retry = (
            timedelta(milliseconds=config.retry_after_ms)
            if config.retry_after_ms is not None
            else None
        )
        return StepResult(
            status=PromotionStepStatus.RUNNING, output={"waiting": True}, retry_after=retry
        )


class SlowWaitStep(WaitStep):
    """test-wait with a default timeout of 5 minutes (like argocd-update)."""

    name: ClassVar[str] = "test-slow-wait"
    default_timeout: ClassVar[timedelta | None] = timedelta(minutes=5)


class NoConfig(StepConfig):
    pass


class BoomStep:
    """Raises an arbitrary (non-StepError) exception."""

    name: ClassVar[str] = "test-boom"
    config_model: ClassVar[type[StepConfig]] = NoConfig
    default_timeout: ClassVar[timedelta | None] = None
    default_error_threshold: ClassVar[int] = 3
    external_effects: ClassVar[Effects] = Effects.NONE

    async def run(self, ctx: StepContext, config: Any) -> StepResult:
        exc_type = random.choice([ZeroDivisionError, KeyError, RuntimeError, OSError])
        raise exc_type("kaboom")


class FailConfig(StepConfig):
    reason: str = "policy says no"


class FailStep:
    """Fails for business reasons (terminal)."""

    name: ClassVar[str] = "test-fail"
    config_model: ClassVar[type[StepConfig]] = FailConfig
    default_timeout: ClassVar[timedelta | None] = None
    default_error_threshold: ClassVar[int] = 1
    external_effects: ClassVar[Effects] = Effects.NONE

    async def run(self, ctx: StepContext, config: Any) -> StepResult:
        raise TerminalStepError(config.reason, failed=True)


class ItemConfig(StepConfig):
    name: str


class StrictConfig(StepConfig):
    path: str
    items: list[ItemConfig] = []


class StrictStep:
    """Only validates its config."""

    name: ClassVar[str] = "test-strict"
    config_model: ClassVar[type[StepConfig]] = StrictConfig
    default_timeout: ClassVar[timedelta | None] = None
    default_error_threshold: ClassVar[int] = 1
    external_effects: ClassVar[Effects] = Effects.NONE

    async def run(self, ctx: StepContext, config: Any) -> StepResult:
        return StepResult(status=PromotionStepStatus.SUCCEEDED)


class StuckConfig(StepConfig):
    #: ``thread``: loop in a worker thread (with checkpoints); ``loop``: await for ever.
    how: str = "thread"
    #: An absolute path (the test's, outside the work directory) written when the thread stops.
    marker: str | None = None


class StuckStep:
    """Never finishes on its own; writes ``marker`` when its thread was stopped."""

    name: ClassVar[str] = "test-stuck"
    config_model: ClassVar[type[StepConfig]] = StuckConfig
    default_timeout: ClassVar[timedelta | None] = None
    default_error_threshold: ClassVar[int] = 1
    external_effects: ClassVar[Effects] = Effects.NONE

    async def run(self, ctx: StepContext, config: Any) -> StepResult:
        if config.how == "loop":
            await asyncio.Event().wait()

        def spin() -> None:
            try:
                while True:
                    checkpoint()
                    time.sleep(0.01)
            finally:
                if config.marker:
                    Path(config.marker).write_text("yes")

        await run_in_thread(spin)
        return StepResult(status=PromotionStepStatus.SUCCEEDED)


class BadResultStep:
    """Returns something that is not a StepResult."""

    name: ClassVar[str] = "test-bad-result"
    config_model: ClassVar[type[StepConfig]] = NoConfig
    default_timeout: ClassVar[timedelta | None] = None
    default_error_threshold: ClassVar[int] = 1
    external_effects: ClassVar[Effects] = Effects.NONE

    async def run(self, ctx: StepContext, config: Any) -> StepResult:
        return {"status": "Succeeded"}  # type: ignore[return-value]


STEP_KINDS: tuple[Any, ...] = (
    WriteFileStep,
    EchoStep,
    ComposeStep,
    FlakyStep,
    PatientFlakyStep,
    WaitStep,
    SlowWaitStep,
    BoomStep,
    FailStep,
    StrictStep,
    BadResultStep,
    StuckStep,
)


# --- clock, recorder, builders -----------------------------------------------------------------


@dataclass
class ManualClock:
    """Time that moves only when a test moves it."""

    now: datetime = field(default_factory=lambda: datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@dataclass
class SaveRecorder:
    """The engine's ``save`` callback: keeps every status it was given."""

    saved: list[PromotionStatus] = field(default_factory=list)

    async def __call__(self, status: PromotionStatus) -> None:
        self.saved.append(status.model_copy(deep=True))

    @property
    def last(self) -> PromotionStatus:
        return self.saved[-1]


def target_freight() -> FreightReference:
    return FreightReference.model_validate(
        {
            "name": FREIGHT_NAME,
            "origin": {"kind": "Warehouse", "name": "example-container"},
            "images": [{"repoURL": IMAGE_REPO, "tag": IMAGE_TAG, "digest": "sha256:abc"}],
        }
    )


def make_context(
    steps: list[dict[str, Any]],
    *,
    vars_: list[dict[str, Any]] | None = None,
    uid: str = "uid-1",
    abort: AbortRequest | None = None,
    actor: str = "admin",
    requests: bool = False,
) -> PromotionContext:
    ref = target_freight()
    freight_requests: tuple[FreightRequest, ...] = ()
    if requests:
        freight_requests = (
            FreightRequest.model_validate(
                {
                    "origin": {"kind": "Warehouse", "name": "example-container"},
                    "sources": {"direct": True},
                }
            ),
        )
    return PromotionContext(
        project="sandbox-example",
        stage="preprod",
        promotion="preprod.01j00000000000000000000000.f00dfee",
        uid=uid,
        steps=[PromotionStep.model_validate(s) for s in steps],
        vars=[ExpressionVariable.model_validate(v) for v in vars_ or []],
        target_freight=ref,
        freight=FreightCollection(id="c0ffee", items={"Warehouse/example-container": ref}),
        freight_requests=freight_requests,
        target_freight_alias="wonky-wombat",
        actor=actor,
        abort=abort,
    )


@pytest.fixture
def registry() -> StepRegistry:
    reg = StepRegistry()
    for kind in STEP_KINDS:
        reg.add(kind)
    return reg


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def work_root(tmp_path: Path) -> Path:
    return tmp_path / "work"


EngineFactory = Callable[..., Engine]


@pytest.fixture
def make_engine(registry: StepRegistry, clock: ManualClock, work_root: Path) -> EngineFactory:
    def build(data: ResourceFetcher | None = None, **kwargs: Any) -> Engine:
        return Engine(
            capabilities=Capabilities(credentials=StaticCredentialsDatabase()),
            work_root=work_root,
            registry=registry,
            data=data,
            clock=clock,
            requeue=kwargs.pop(
                "requeue",
                RequeuePolicy(
                    min_interval=timedelta(milliseconds=50),
                    default_interval=timedelta(seconds=30),
                    backoff_base=timedelta(milliseconds=10),
                    backoff_max=timedelta(seconds=1),
                ),
            ),
            **kwargs,
        )

    return build


@pytest.fixture
def engine(make_engine: EngineFactory) -> Engine:
    return make_engine()


@pytest.fixture
def recorder() -> SaveRecorder:
    return SaveRecorder()


def statuses(status: PromotionStatus) -> dict[str, str]:
    """Alias -> step status value, for compact assertions."""
    return {
        m.alias or "": m.status.value if m.status is not None else ""
        for m in status.step_execution_metadata or []
    }


def messages(status: PromotionStatus) -> dict[str, str]:
    """Alias -> step message."""
    return {m.alias or "": m.message or "" for m in status.step_execution_metadata or []}


@dataclass(frozen=True)
class Kit:
    """Helpers for test modules (conftest modules cannot be imported under importlib mode)."""

    make_context: Callable[..., PromotionContext] = make_context
    statuses: Callable[[PromotionStatus], dict[str, str]] = statuses
    messages: Callable[[PromotionStatus], dict[str, str]] = messages
    target_freight: Callable[[], FreightReference] = target_freight
    image_repo: str = IMAGE_REPO
    image_tag: str = IMAGE_TAG
    freight_name: str = FREIGHT_NAME


@pytest.fixture
def kit() -> Kit:
    return Kit()
