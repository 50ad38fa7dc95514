"""The engine facade the Promotion controller calls: :class:`Engine`.

Owns one reconcile of a Promotion that is allowed to run (the Stage chose it):

* abort: when the Promotion carries a ``terminate`` abort request, the running step becomes
  Aborted and the phase Aborted (``Promotion terminated by <actor>``);
* the working directory ``<work_root>/promotion-<uid>``: when it has to be created (new
  Promotion, or the operator restarted on another machine), execution restarts at step 0 with
  step metadata and health checks cleared but ``state`` kept;
* ``phase``/``startedAt``/``freight``/``freightCollection`` bookkeeping, then the step loop of
  :mod:`shunter.promotion.orchestrator`, with ``save(status)`` after every step;
* the final phase, ``finishedAt``, removal of the working directory (and of its git working
  trees from the mirrors) on a terminal phase, and a "requeue after" hint while a step is
  Running.

Nothing a step does can make :meth:`Engine.run` raise; only ``save`` errors propagate.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from shunter.api.v1alpha1.promotion import (
    PromotionPhase,
    PromotionStatus,
    PromotionStepStatus,
)
from shunter.promotion.context import PromotionContext
from shunter.promotion.environment import ResourceFetcher
from shunter.promotion.orchestrator import (
    DEFAULT_ATTEMPT_TIMEOUT,
    Clock,
    Orchestrator,
    RunOutcome,
    SaveStatus,
    step_timeout,
    utc_now,
)
from shunter.promotion.registry import DEFAULT_REGISTRY, StepRegistry
from shunter.promotion.step import Capabilities, StepRunner
from shunter.promotion.workdir import cleanup_work_dir, ensure_work_dir, work_dir_path

__all__ = ["DEFAULT_REQUEUE", "MIN_REQUEUE", "Engine", "EngineResult", "RequeuePolicy"]

_log = logging.getLogger(__name__)

#: Kargo's floor on a step's suggested ``retryAfter``.
MIN_REQUEUE = timedelta(seconds=10)
#: Kargo's poll interval for a Running step that suggests nothing.
DEFAULT_REQUEUE = timedelta(minutes=5)


@dataclass(frozen=True)
class RequeuePolicy:
    """How soon to look at a Promotion again while a step is Running or retrying."""

    #: Floor applied to a step's ``retry_after`` (tests use a small value).
    min_interval: timedelta = MIN_REQUEUE
    #: Interval when the step suggests nothing.
    default_interval: timedelta = DEFAULT_REQUEUE
    #: Back-off after a retryable error: ``base * 2**(errorCount-1)``, capped at ``max``.
    backoff_base: timedelta = timedelta(seconds=5)
    backoff_max: timedelta = timedelta(minutes=5)


@dataclass(frozen=True)
class EngineResult:
    """The Promotion's new status and when to run it again (``None``: terminal)."""

    status: PromotionStatus
    requeue_after: timedelta | None = None

    @property
    def terminal(self) -> bool:
        """Whether the Promotion has finished."""
        return self.status.phase is not None and self.status.phase.is_terminal


async def _discard(_status: PromotionStatus) -> None:
    return None


class Engine:
    """Runs Promotions.

    Args:
        capabilities: services handed to steps (credentials, git author, ...).
        work_root: parent of the per-Promotion working directories.
        registry: step kinds (defaults to the one ``shunter.steps`` fills).
        data: readers behind ``configMap()``/``secret()``/``freightMetadata()``/
            ``stageMetadata()`` in expressions (optional).
        clock: current time (timezone-aware).
        requeue: requeue/back-off policy.
        controller_actor: actor named in the abort message when the request names none.
    """

    def __init__(
        self,
        *,
        capabilities: Capabilities,
        work_root: Path,
        registry: StepRegistry = DEFAULT_REGISTRY,
        data: ResourceFetcher | None = None,
        clock: Clock = utc_now,
        requeue: RequeuePolicy | None = None,
        controller_actor: str = "controller:promotion-controller",
        attempt_timeout: timedelta = DEFAULT_ATTEMPT_TIMEOUT,
    ) -> None:
        self._registry = registry
        self._work_root = work_root
        self._clock = clock
        self._requeue = requeue or RequeuePolicy()
        self._controller_actor = controller_actor
        self._mirrors = capabilities.git_mirrors
        self._orchestrator = Orchestrator(
            registry=registry,
            capabilities=capabilities,
            data=data,
            clock=clock,
            attempt_timeout=attempt_timeout,
        )

    @property
    def work_root(self) -> Path:
        """Parent of the per-Promotion working directories."""
        return self._work_root

    def work_dir(self, uid: str) -> Path:
        """The working directory of the Promotion with this uid."""
        return work_dir_path(self._work_root, uid)

    def cleanup(self, uid: str) -> None:
        """Remove a Promotion's working directory (terminal phase or deletion), then let the
        git mirrors forget its working trees (in the background)."""
        cleanup_work_dir(self._work_root, uid)
        self._mirrors.prune_soon()

    async def run(
        self,
        pctx: PromotionContext,
        status: PromotionStatus | None,
        *,
        save: SaveStatus | None = None,
    ) -> EngineResult:
        """Run the Promotion from ``status.currentStep`` until a step waits or all are done.

        ``status`` is not modified; the returned status is the new one. ``save`` is awaited with
        a copy of the working status after a step is marked started and after every step
        outcome, and once more with the returned status.
        """
        persist = save or _discard
        working = status.model_copy(deep=True) if status is not None else PromotionStatus()
        if working.phase is not None and working.phase.is_terminal:
            return EngineResult(status=working)
        if pctx.abort is not None and pctx.abort.terminates:
            return await self.terminate(pctx, working, actor=pctx.abort.actor, save=persist)

        now = self._clock()
        working.phase = PromotionPhase.RUNNING
        working.message = None
        working.finished_at = None
        if working.started_at is None:
            working.started_at = now
        working.freight = pctx.target_freight.model_copy(deep=True)
        working.freight_collection = pctx.freight.model_copy(deep=True)
        working.state = dict(working.state or {})

        try:
            work_dir, created = ensure_work_dir(self._work_root, pctx.uid)
        except (OSError, ValueError) as exc:
            return await self._finish_errored(
                working, f"error creating working directory: {exc}", persist
            )
        if created:
            working.current_step = 0
            working.step_execution_metadata = None
            working.health_checks = None
        if not pctx.steps:
            return await self._finish_errored(working, "Promotion has no steps", persist)

        outcome = await self._orchestrator.execute(pctx, working, work_dir=work_dir, save=persist)
        return await self._conclude(pctx, working, outcome, persist)

    async def terminate(
        self,
        pctx: PromotionContext,
        status: PromotionStatus | None,
        *,
        actor: str = "",
        save: SaveStatus | None = None,
    ) -> EngineResult:
        """Abort the Promotion: running step Aborted, phase Aborted, working directory removed."""
        persist = save or _discard
        working = status.model_copy(deep=True) if status is not None else PromotionStatus()
        if working.phase is not None and working.phase.is_terminal:
            return EngineResult(status=working)
        now = self._clock()
        metadata = list(working.step_execution_metadata or [])
        current = working.current_step or 0
        if (
            working.phase is PromotionPhase.RUNNING
            and len(metadata) == current + 1
            and metadata[current].status is PromotionStepStatus.RUNNING
        ):
            metadata[current].status = PromotionStepStatus.ABORTED
            metadata[current].finished_at = now
        working.step_execution_metadata = metadata or None
        working.phase = PromotionPhase.ABORTED
        who = actor or self._controller_actor
        working.message = (
            f"Promotion terminated by {who}" if who else "Promotion terminated per user request"
        )
        working.finished_at = now
        await persist(working.model_copy(deep=True))
        self.cleanup(pctx.uid)
        return EngineResult(status=working)

    async def _finish_errored(
        self, working: PromotionStatus, message: str, persist: SaveStatus
    ) -> EngineResult:
        working.phase = PromotionPhase.ERRORED
        working.message = message
        working.finished_at = self._clock()
        await persist(working.model_copy(deep=True))
        return EngineResult(status=working)

    async def _conclude(
        self,
        pctx: PromotionContext,
        working: PromotionStatus,
        outcome: RunOutcome,
        persist: SaveStatus,
    ) -> EngineResult:
        working.phase = outcome.phase
        working.message = outcome.message or None
        requeue: timedelta | None = None
        if outcome.phase.is_terminal:
            working.finished_at = self._clock()
        else:
            requeue = self._requeue_after(pctx, working, outcome)
        await persist(working.model_copy(deep=True))
        if outcome.phase.is_terminal:
            self.cleanup(pctx.uid)
        return EngineResult(status=working, requeue_after=requeue)

    def _requeue_after(
        self, pctx: PromotionContext, working: PromotionStatus, outcome: RunOutcome
    ) -> timedelta:
        policy = self._requeue
        index = working.current_step or 0
        metadata = working.step_execution_metadata or []
        meta = next((m for m in metadata if m.alias == pctx.aliases[index]), None)
        if outcome.retrying:
            errors = max((meta.error_count or 1) if meta is not None else 1, 1)
            backoff = policy.backoff_base * (1 << min(errors - 1, 20))
            return min(backoff, policy.backoff_max)
        interval = policy.default_interval
        if outcome.retry_after is not None:
            interval = max(outcome.retry_after, policy.min_interval)
        step = pctx.steps[index]
        runner: type[StepRunner] | None = (
            self._registry.get(step.uses) if step.uses and step.uses in self._registry else None
        )
        timeout = step_timeout(step, runner)
        if timeout and meta is not None and meta.started_at is not None:
            started = meta.started_at
            if started.tzinfo is None:
                started = started.replace(tzinfo=self._clock().tzinfo)
            remaining = started + timeout - self._clock()
            if remaining < interval:
                # Wake just after the deadline so the timeout check fires on that run.
                interval = max(remaining, timedelta(0)) + timedelta(seconds=1)
        return interval
