"""The step loop: runs a Promotion's steps from ``status.currentStep`` (Kargo's orchestrator).

Owns the per-step state machine of kargo.md 2.1:

* a step not yet started is implicitly skipped when an earlier step (not ``continueOnError``)
  Failed/Errored and it has no ``if``; otherwise its ``if`` is evaluated (once, before the step
  first starts) and must be a bool;
* an unknown ``uses`` makes that step Errored and the loop goes on (later ``if`` may run);
* the step is marked started, its vars and config are evaluated, the config is validated with
  the step's ``config_model`` (errors name the key), and the step runs;
* its output goes to ``state[alias]`` whatever its status (and into ``state[X]`` for steps of a
  task ``X`` whose class sets ``propagates_task_output = True``);
* terminal errors finish the step at once; other errors count against the error threshold; a
  Running step is checked against its timeout; any exception from a step is caught;
* every run of a step has a deadline: the time left of its timeout, and at most
  ``attempt_timeout`` (whether or not it has a timeout). A run still going at its deadline is
  cancelled (work in threads stops at its next checkpoint, programs are killed) and counts as
  an error, so no Promotion stays Running for ever.

The loop stops at the first step that is still Running (or will be retried) and reports it;
otherwise it reports the final phase. The working status is saved through the injected
``save`` callback after a step is marked started and after every step outcome.

In a preview (``Orchestrator(preview=True)``) a step whose ``external_effects`` are not
``none`` does not run: its ``preview`` method (when it has one) says what it would do, else the
step is reported as one that would run; a step whose config needs outputs a preview does not
have (of a step that did not run) is reported the same way. Nothing waits and nothing is
retried: a step that would wait is reported as waiting, and the first error is final.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from shunter import metrics
from shunter._internal.durations import format_go_duration, parse_go_duration
from shunter._internal.logcontext import log_context
from shunter._internal.paths import PathEscapeError
from shunter.api.v1alpha1.common import PromotionStep
from shunter.api.v1alpha1.promotion import (
    PromotionPhase,
    PromotionStatus,
    PromotionStepStatus,
    StepExecutionMetadata,
)
from shunter.promotion.context import PromotionContext
from shunter.promotion.effects import EffectNote, Effects
from shunter.promotion.environment import ResourceFetcher, StepEvaluator
from shunter.promotion.phases import final_phase, has_failures
from shunter.promotion.registry import StepRegistry
from shunter.promotion.step import (
    Capabilities,
    StepContext,
    StepError,
    StepResult,
    StepRunner,
    TerminalStepError,
)
from shunter.promotion.tasks import alias_namespace
from shunter.promotion.validation import describe_validation_error

__all__ = [
    "DEFAULT_ATTEMPT_TIMEOUT",
    "Clock",
    "Observer",
    "Orchestrator",
    "RunOutcome",
    "SaveStatus",
    "error_threshold",
    "step_timeout",
    "utc_now",
]

_log = logging.getLogger(__name__)

#: ``save(status)``: persist the working status (e.g. a status patch on the Promotion).
SaveStatus = Callable[[PromotionStatus], Awaitable[None]]
#: Current time, timezone-aware.
Clock = Callable[[], datetime]
#: ``observe(alias, step, result)``: told of every step result (a preview collects them).
Observer = Callable[[str, PromotionStep, StepResult], None]


#: The longest a single run of a step may take (a step with a shorter timeout gets less).
DEFAULT_ATTEMPT_TIMEOUT = timedelta(minutes=15)


def utc_now() -> datetime:
    """The current UTC time, truncated to whole seconds like Kubernetes timestamps."""
    return datetime.now(UTC).replace(microsecond=0)


@dataclass(frozen=True)
class RunOutcome:
    """Where the loop stopped."""

    #: Running while a step waits or will be retried; else the final phase.
    phase: PromotionPhase
    message: str
    #: For a waiting step: the step's suggested delay before the next run.
    retry_after: timedelta | None = None
    #: The current step failed and will be retried (use a back-off before the next run).
    retrying: bool = False


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _metadata_for(
    metadata: list[StepExecutionMetadata], alias: str, step: PromotionStep
) -> StepExecutionMetadata:
    for meta in metadata:
        if meta.alias == alias:
            return meta
    meta = StepExecutionMetadata(alias=alias, continue_on_error=step.continue_on_error or None)
    metadata.append(meta)
    return meta


def _is_done(meta: StepExecutionMetadata) -> bool:
    return meta.finished_at is not None or (
        meta.started_at is None and meta.status is PromotionStepStatus.SKIPPED
    )


@dataclass
class _StepRun:
    """One attempt at one step."""

    pctx: PromotionContext
    status: PromotionStatus
    step: PromotionStep
    alias: str
    meta: StepExecutionMetadata
    work_dir: Path
    evaluator: StepEvaluator

    @property
    def state(self) -> dict[str, Any]:
        if self.status.state is None:
            self.status.state = {}
        return self.status.state


class Orchestrator:
    """Runs steps of one Promotion with a given registry and capabilities."""

    def __init__(
        self,
        *,
        registry: StepRegistry,
        capabilities: Capabilities,
        data: ResourceFetcher | None = None,
        clock: Clock = utc_now,
        attempt_timeout: timedelta = DEFAULT_ATTEMPT_TIMEOUT,
        preview: bool = False,
        observe: Observer | None = None,
    ) -> None:
        self._registry = registry
        self._capabilities = capabilities
        self._data = data
        self._clock = clock
        self._attempt_timeout = attempt_timeout
        self._preview = preview
        self._observe = observe

    async def execute(
        self,
        pctx: PromotionContext,
        status: PromotionStatus,
        *,
        work_dir: Path,
        save: SaveStatus,
    ) -> RunOutcome:
        """Run steps from ``status.current_step``, updating ``status`` in place.

        ``save`` is awaited after a step is marked started and after each finished step except
        the last one; the caller must persist the status once this returns.

        ``status`` must already hold ``step_execution_metadata``/``state``/``health_checks``
        as they should be used (the engine resets them when the working directory was lost).
        """
        steps = list(pctx.steps)
        metadata = status.step_execution_metadata = list(status.step_execution_metadata or [])
        status.state = dict(status.state or {})
        start = status.current_step or 0
        if start < 0 or start >= len(steps):
            start = 0
        for index in range(start, len(steps)):
            step = steps[index]
            alias = pctx.aliases[index]
            status.current_step = index
            meta = _metadata_for(metadata, alias, step)
            if _is_done(meta):
                # Finished before a restart (state was saved after it): do not run it again.
                continue
            run = _StepRun(
                pctx=pctx,
                status=status,
                step=step,
                alias=alias,
                meta=meta,
                work_dir=work_dir,
                evaluator=StepEvaluator(
                    pctx,
                    step=step,
                    alias=alias,
                    metadata=metadata,
                    state=status.state,
                    data=self._data,
                ),
            )
            outcome = await self._execute_step(run, save)
            if outcome is not None:
                return outcome
            if index < len(steps) - 1:
                # The caller saves the status it gets back; intermediate results are saved here.
                await save(status.model_copy(deep=True))
        phase, message = final_phase(metadata)
        status.current_step = max(len(steps) - 1, 0)
        return RunOutcome(phase=phase, message=message)

    async def _execute_step(self, run: _StepRun, save: SaveStatus) -> RunOutcome | None:
        """Run one step; ``None`` when it is finished, an outcome when the loop must stop."""
        meta, step, alias = run.meta, run.step, run.alias
        if meta.started_at is None:
            if not step.if_:
                if has_failures(run.status.step_execution_metadata or []):
                    meta.status = PromotionStepStatus.SKIPPED
                    return None
            else:
                try:
                    proceed = await run.evaluator.condition()
                except Exception as exc:
                    self._finish(
                        meta,
                        PromotionStepStatus.ERRORED,
                        f'error checking if step "{alias}" should be skipped: {exc}',
                    )
                    return None
                if not proceed:
                    meta.status = PromotionStepStatus.SKIPPED
                    return None

        runner_class = self._runner_class(step)
        if runner_class is None:
            self._finish(
                meta,
                PromotionStepStatus.ERRORED,
                f'step kind "{step.uses}" is not registered'
                if step.uses
                else f'step "{alias}" does not name a step kind (uses)',
            )
            return None

        if meta.started_at is None:
            meta.started_at = self._clock()
            meta.error_count = None
        meta.status = PromotionStepStatus.RUNNING
        meta.finished_at = None
        await save(run.status.model_copy(deep=True))

        try:
            raw_config = await run.evaluator.config()
        except Exception as exc:
            if self._previewed(runner_class):
                # A step that would not run anyway: its config may need outputs of steps
                # that did not run either.
                note = EffectNote(
                    f"would run {step.uses} (its config needs what a preview does not have: {exc})"
                )
                result = StepResult(status=PromotionStepStatus.SUCCEEDED, effect=note)
                return self._settle(run, runner_class, result, None)
            self._finish(
                meta,
                PromotionStepStatus.ERRORED,
                f"failed to build step context: failed to get step config: {exc}",
            )
            return None

        began = time.monotonic()
        with log_context(step=alias, step_kind=step.uses or ""):
            result, error = await self._run(run, runner_class, raw_config)
        metrics.STEP_DURATION.labels(step.uses or "", result.status.value).observe(
            time.monotonic() - began
        )
        self._store_output(run, runner_class, result)
        return self._settle(run, runner_class, result, error)

    def _previewed(self, runner_class: type[StepRunner]) -> bool:
        """In a preview: the step must not run (its effects are not ``none``)."""
        effects = getattr(runner_class, "external_effects", None)
        return self._preview and effects is not Effects.NONE

    def _runner_class(self, step: PromotionStep) -> type[StepRunner] | None:
        if not step.uses or step.uses not in self._registry:
            return None
        return self._registry.get(step.uses)

    async def _run(
        self, run: _StepRun, runner_class: type[StepRunner], raw_config: dict[str, Any]
    ) -> tuple[StepResult, StepError | None]:
        try:
            config = runner_class.config_model.model_validate(raw_config)
        except ValidationError as exc:
            message = f"invalid {run.step.uses} config: {describe_validation_error(exc)}"
            return StepResult(status=PromotionStepStatus.ERRORED), TerminalStepError(message)
        pctx = run.pctx
        ctx = StepContext(
            project=pctx.project,
            stage=pctx.stage,
            promotion=pctx.promotion,
            alias=run.alias,
            work_dir=run.work_dir,
            capabilities=self._capabilities,
            target_freight=pctx.target_freight.model_copy(deep=True),
            freight=pctx.freight.model_copy(deep=True),
            state=copy.deepcopy(run.state),
            actor=pctx.actor or None,
            evaluate=await run.evaluator.raw_evaluator(),
        )
        result: Any
        limit = self._attempt_limit(run, runner_class)
        deadline = asyncio.timeout(limit.total_seconds())
        try:
            async with deadline:
                runner = runner_class()
                if self._previewed(runner_class):
                    preview = getattr(runner, "preview", None)
                    if preview is None:
                        note = EffectNote(f"would run {run.step.uses}")
                        result = StepResult(status=PromotionStepStatus.SUCCEEDED, effect=note)
                    else:
                        result = await preview(ctx, config)
                else:
                    result = await runner.run(ctx, config)
        except TimeoutError as exc:
            if not deadline.expired():
                _log.exception("step %r (%s) raised", run.alias, run.step.uses)
                return StepResult(status=PromotionStepStatus.ERRORED), TerminalStepError(
                    f"step raised {type(exc).__name__}: {exc}"
                )
            _log.warning("step %r (%s) stopped at its deadline", run.alias, run.step.uses)
            return StepResult(status=PromotionStepStatus.ERRORED), StepError(
                f"the step did not finish within {format_go_duration(limit)} and was stopped"
            )
        except StepError as exc:
            status = PromotionStepStatus.FAILED if exc.failed else PromotionStepStatus.ERRORED
            return StepResult(status=status), exc
        except PathEscapeError as exc:
            return StepResult(status=PromotionStepStatus.ERRORED), TerminalStepError(str(exc))
        except Exception as exc:
            _log.exception("step %r (%s) raised", run.alias, run.step.uses)
            return (
                StepResult(status=PromotionStepStatus.ERRORED),
                TerminalStepError(f"step raised {type(exc).__name__}: {exc}"),
            )
        if not isinstance(result, StepResult) or not isinstance(result.status, PromotionStepStatus):
            return StepResult(status=PromotionStepStatus.ERRORED), TerminalStepError(
                f"step returned an invalid result: {type(result).__name__}"
            )
        return result, None

    def _attempt_limit(self, run: _StepRun, runner_class: type[StepRunner]) -> timedelta:
        """How long this run may take: the time left of the step's timeout, capped."""
        limit = self._attempt_timeout
        timeout = step_timeout(run.step, runner_class)
        if timeout is not None and timeout > timedelta(0) and run.meta.started_at is not None:
            left = _aware(run.meta.started_at) + timeout - self._clock()
            if timedelta(0) < left < limit:
                limit = left
        return limit

    @staticmethod
    def _store_output(run: _StepRun, runner_class: type[StepRunner], result: StepResult) -> None:
        raw: Any = result.output
        # State is persisted as JSON: keep only JSON data (other values become their text).
        output = json.loads(json.dumps(raw, default=str)) if isinstance(raw, dict) else {}
        state = run.state
        state[run.alias] = output
        if getattr(runner_class, "propagates_task_output", False):
            namespace = alias_namespace(run.alias)
            if namespace:
                target = state.get(namespace)
                if not isinstance(target, dict):
                    target = state[namespace] = {}
                target.update(copy.deepcopy(output))

    def _finish(
        self, meta: StepExecutionMetadata, status: PromotionStepStatus, message: str
    ) -> None:
        meta.status = status
        meta.message = message or None
        if meta.finished_at is None:
            meta.finished_at = self._clock()

    def _settle(
        self,
        run: _StepRun,
        runner_class: type[StepRunner],
        result: StepResult,
        error: StepError | None,
    ) -> RunOutcome | None:
        """Fold a step result into its metadata; ``None`` when the step is finished."""
        meta, alias = run.meta, run.alias
        if self._preview and result.status is PromotionStepStatus.RUNNING and error is None:
            # A preview never waits: it says what the step would wait for.
            waiting = result.message or "an outside change"
            result = StepResult(
                status=PromotionStepStatus.SUCCEEDED,
                output=result.output,
                effect=result.effect or EffectNote(f"would wait: {waiting}"),
            )
        if self._observe is not None:
            self._observe(alias, run.step, result)
        meta.status = result.status
        meta.message = result.message or None
        if error is not None:
            if meta.status is not PromotionStepStatus.FAILED:
                meta.status = PromotionStepStatus.ERRORED
                meta.message = f'error running step "{alias}": {error}'
            else:
                meta.message = f'step "{alias}": {error}'
        elif result.status is PromotionStepStatus.ERRORED:
            error = StepError(f'step "{alias}" errored: {result.message or "no details provided"}')
            meta.message = str(error)
        elif result.status is PromotionStepStatus.FAILED:
            error = TerminalStepError(result.message or f'step "{alias}" failed', failed=True)

        if meta.status in (
            PromotionStepStatus.SUCCEEDED,
            PromotionStepStatus.SKIPPED,
            PromotionStepStatus.ABORTED,
        ):
            self._finish(meta, meta.status, meta.message or "")
            if meta.status is PromotionStepStatus.SUCCEEDED and result.health_check is not None:
                checks = run.status.health_checks = list(run.status.health_checks or [])
                checks.append(result.health_check.model_copy(deep=True))
            return None
        terminal = isinstance(error, TerminalStepError)
        if meta.status is PromotionStepStatus.FAILED and terminal:
            self._finish(meta, PromotionStepStatus.FAILED, meta.message or str(error))
            return None
        if terminal:
            self._finish(
                meta,
                PromotionStepStatus.ERRORED,
                f"an unrecoverable error occurred: {meta.message or error}",
            )
            return None
        if error is not None:
            meta.error_count = (meta.error_count or 0) + 1
            threshold = 1 if self._preview else error_threshold(run.step, runner_class)
            if meta.error_count >= threshold:
                final = (
                    PromotionStepStatus.FAILED
                    if meta.status is PromotionStepStatus.FAILED
                    else PromotionStepStatus.ERRORED
                )
                self._finish(
                    meta,
                    final,
                    f'step "{alias}" met error threshold of {threshold}: {meta.message}',
                )
                return None

        timeout = step_timeout(run.step, runner_class)
        started = _aware(meta.started_at) if meta.started_at is not None else self._clock()
        if timeout is not None and timeout > timedelta(0) and self._clock() - started > timeout:
            self._finish(
                meta,
                PromotionStepStatus.ERRORED,
                f'step "{alias}" timed out after {format_go_duration(timeout)}',
            )
            return None

        if error is not None:
            meta.message = f"{meta.message}; step will be retried"
            return RunOutcome(
                phase=PromotionPhase.RUNNING, message=meta.message or "", retrying=True
            )
        return RunOutcome(phase=PromotionPhase.RUNNING, message="", retry_after=result.retry_after)


def error_threshold(step: PromotionStep, runner_class: type[StepRunner]) -> int:
    """``retry.errorThreshold`` if set (non-zero), else the step's default, at least 1."""
    configured = step.retry.error_threshold if step.retry is not None else None
    if configured:
        return configured
    default: Any = getattr(runner_class, "default_error_threshold", 1)
    return max(int(default or 1), 1)


def step_timeout(step: PromotionStep, runner_class: type[StepRunner] | None) -> timedelta | None:
    """``retry.timeout`` if set (an unparsable value counts as unset), else the step's default."""
    if step.retry is not None and step.retry.timeout:
        try:
            return parse_go_duration(step.retry.timeout)
        except ValueError:
            _log.warning("ignoring invalid retry.timeout %r", step.retry.timeout)
    if runner_class is None:
        return None
    default: Any = getattr(runner_class, "default_timeout", None)
    return default if isinstance(default, timedelta) else None
