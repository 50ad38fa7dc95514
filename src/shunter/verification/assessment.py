"""Rollouts' scheduling and phase arithmetic for one AnalysisRun (no I/O).

Owns, as Rollouts defines them:

* which metrics are due for a measurement (:func:`due_metrics`): never while terminating; the
  first one after ``initialDelay`` (counted from ``status.startedAt``); the next one when the
  last finished more than ``interval`` ago - or 10 s after an ``Error`` measurement - until the
  effective count is reached;
* a metric's phase (:func:`assess_metric`): ``Failed`` when ``failed > failureLimit`` (unless
  the limit is -1), ``Inconclusive`` when ``inconclusive > inconclusiveLimit``, ``Error`` when
  ``consecutiveError > consecutiveErrorLimit`` (later checks win); else ``Successful`` once
  ``consecutiveSuccessLimit`` consecutive successes were seen or the count is reached (with a
  consecutiveSuccessLimit that was not reached: ``Inconclusive`` when failureLimit also
  applies, ``Failed`` otherwise); a metric without a count runs until the run terminates;
* the run's phase (:func:`assess_run`): ``Running`` until every metric completed, then the
  worst metric phase (dry-run metrics do not count) with the message ``Metric "<name>"
  assessed <Phase> due to <reason>``; a terminating run (``spec.terminate``, or a metric that
  ended Failed/Error/Inconclusive) takes no new measurements and ends with the worst phase so
  far - ``Successful`` when nothing failed, message ``Run Terminated`` - which is why Kargo
  records an aborted verification as ``Failed`` itself;
* when to look again (:func:`next_reconcile_at`) and how many measurements to keep
  (:func:`trim_measurements`: 10 per metric unless ``measurementRetention`` says otherwise).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import re2  # type: ignore[import-untyped]

from shunter.verification.phases import AnalysisPhase, is_worse
from shunter.verification.status import AnalysisRunStatus, MetricResult, RunSummary
from shunter.verification.templates import Metric, TemplateError

__all__ = [
    "DEFAULT_ERROR_RETRY_SECONDS",
    "DEFAULT_MEASUREMENT_LIMIT",
    "assess_metric",
    "assess_run",
    "dry_run_metrics",
    "due_metrics",
    "failure_inconclusive_or_error",
    "is_terminating",
    "measurement_limits",
    "next_reconcile_at",
    "trim_measurements",
]

DEFAULT_ERROR_RETRY_SECONDS = 10.0
DEFAULT_MEASUREMENT_LIMIT = 10
_TERMINATING_PHASES = (AnalysisPhase.FAILED, AnalysisPhase.ERROR, AnalysisPhase.INCONCLUSIVE)


def _compile(pattern: str) -> Any:
    options = re2.Options()
    options.log_errors = False
    try:
        return re2.compile(pattern, options)
    except re2.error:
        raise TemplateError(f"invalid metric name pattern {pattern!r}") from None


def _match_rules(
    rules: Iterable[Mapping[str, Any]], metrics: Sequence[Metric], what: str
) -> list[tuple[Mapping[str, Any], list[str]]]:
    out = []
    for index, rule in enumerate(rules):
        regex = _compile(str(rule.get("metricName") or ""))
        names = [m.name for m in metrics if regex.search(m.name)]
        if not names:
            raise TemplateError(f"{what}[{index}]: Rule didn't match any metric name(s)")
        out.append((rule, names))
    return out


def dry_run_metrics(rules: Iterable[Mapping[str, Any]], metrics: Sequence[Metric]) -> set[str]:
    """Names of the metrics ``spec.dryRun`` selects (each rule's ``metricName`` is a regular
    expression, matched anywhere in the name; a rule matching nothing is an error)."""
    return {name for _, names in _match_rules(rules, metrics, "dryRun") for name in names}


def measurement_limits(
    rules: Iterable[Mapping[str, Any]], metrics: Sequence[Metric]
) -> dict[str, int]:
    """Per-metric measurement limits from ``spec.measurementRetention`` (later rules win)."""
    limits: dict[str, int] = {}
    for rule, names in _match_rules(rules, metrics, "measurementRetention"):
        limit = rule.get("limit")
        for name in names:
            limits[name] = limit if isinstance(limit, int) and not isinstance(limit, bool) else 0
    return limits


def is_terminating(terminate: bool, status: AnalysisRunStatus) -> bool:
    """Whether the run stops measuring: asked to, or a counted metric already went bad."""
    if terminate:
        return True
    return any(r.phase in _TERMINATING_PHASES for r in status.metric_results if not r.dry_run)


def _after(moment: datetime | None, seconds: float) -> datetime | None:
    return None if moment is None else moment + timedelta(seconds=seconds)


def due_metrics(
    metrics: Sequence[Metric],
    status: AnalysisRunStatus,
    *,
    terminating: bool,
    now: datetime,
    error_retry_seconds: float = DEFAULT_ERROR_RETRY_SECONDS,
) -> list[Metric]:
    """The metrics to measure now."""
    if terminating:
        return []
    due: list[Metric] = []
    for metric in metrics:
        result = status.result(metric.name)
        if result is not None and result.phase.completed:
            continue
        last = result.last if result is not None else None
        if last is None or result is None:
            if metric.initial_delay is not None:
                start = _after(status.started_at, metric.initial_delay)
                if start is None or start > now:
                    continue
            due.append(metric)
            continue
        if last.finished_at is None:
            due.append(metric)  # interrupted measurement: measure again
            continue
        limit = metric.effective_count()
        if limit is not None and result.count >= limit:
            continue
        wait = error_retry_seconds
        if last.phase is not AnalysisPhase.ERROR and metric.interval is not None:
            wait = metric.interval
        if now > last.finished_at + timedelta(seconds=wait):
            due.append(metric)
    return due


def failure_inconclusive_or_error(
    metric: Metric, result: MetricResult
) -> tuple[AnalysisPhase | None, str]:
    """The bad phase the metric's limits call for, with the reason (None when none)."""
    phase: AnalysisPhase | None = None
    message = ""
    if metric.failure_limit >= 0 and result.failed > metric.failure_limit:
        phase = AnalysisPhase.FAILED
        message = f"failed ({result.failed}) > failureLimit ({metric.failure_limit})"
    if result.inconclusive > metric.inconclusive_limit:
        phase = AnalysisPhase.INCONCLUSIVE
        message = (
            f"inconclusive ({result.inconclusive}) > "
            f"inconclusiveLimit ({metric.inconclusive_limit})"
        )
    if result.consecutive_error > metric.consecutive_error_limit:
        phase = AnalysisPhase.ERROR
        message = (
            f"consecutiveErrors ({result.consecutive_error}) > "
            f"consecutiveErrorLimit ({metric.consecutive_error_limit})"
        )
    return phase, message


def assess_metric(metric: Metric, result: MetricResult, terminating: bool) -> AnalysisPhase:
    """The phase of one metric given its measurements so far."""
    if result.phase.completed:
        return result.phase
    last = result.last
    if last is None:
        return AnalysisPhase.SUCCESSFUL if terminating else AnalysisPhase.PENDING
    if not last.phase.completed:
        return AnalysisPhase.RUNNING
    bad, _ = failure_inconclusive_or_error(metric, result)
    if bad is not None:
        return bad
    success_limit = metric.consecutive_success_limit
    if success_limit > 0 and result.consecutive_success >= success_limit:
        return AnalysisPhase.SUCCESSFUL
    limit = metric.effective_count()
    if limit is not None and result.count >= limit:
        if success_limit > 0:
            return AnalysisPhase.INCONCLUSIVE if metric.failure_limit >= 0 else AnalysisPhase.FAILED
        return AnalysisPhase.SUCCESSFUL
    return AnalysisPhase.SUCCESSFUL if terminating else AnalysisPhase.RUNNING


def assess_run(
    metrics: Sequence[Metric],
    status: AnalysisRunStatus,
    *,
    terminate: bool,
    dry_run: set[str],
    now: datetime,
) -> tuple[AnalysisPhase, str]:
    """The run's phase and message; updates each metric result's phase/message, the
    summaries and ``startedAt`` in ``status``."""
    terminating = is_terminating(terminate, status)
    if status.started_at is None:
        status.started_at = now
    worst_phase: AnalysisPhase | None = None
    worst_message = "Run Terminated" if terminate else ""
    everything_completed = True
    summary, dry_summary = RunSummary(), RunSummary()
    for metric in metrics:
        is_dry = metric.name in dry_run
        (dry_summary if is_dry else summary).count += 1
        result = status.result(metric.name)
        if result is None:
            everything_completed = False
            continue
        phase = assess_metric(metric, result, terminating)
        if result.phase is not phase:
            if result.last is not None:
                result.message = result.last.message
            result.phase = phase
        if not phase.completed:
            everything_completed = False
            continue
        bad, reason = failure_inconclusive_or_error(metric, result)
        if is_dry:
            if worst_phase is None:
                worst_phase = AnalysisPhase.SUCCESSFUL
            if reason:
                result.message = f"Metric assessed {phase} due to {reason}"
            dry_summary.add(bad or AnalysisPhase.SUCCESSFUL)
            continue
        if worst_phase is None or is_worse(worst_phase, phase):
            worst_phase = phase
            if reason:
                worst_message = f'Metric "{metric.name}" assessed {phase} due to {reason}'
                if result.message:
                    worst_message += f': "Error Message: {result.message}"'
        summary.add(bad or AnalysisPhase.SUCCESSFUL)
    status.run_summary = summary
    status.dry_run_summary = dry_summary
    worst_message = worst_message.strip()
    if terminating:
        return worst_phase or AnalysisPhase.SUCCESSFUL, worst_message
    if not everything_completed or worst_phase is None:
        return AnalysisPhase.RUNNING, ""
    return worst_phase, worst_message


def next_reconcile_at(
    metrics: Sequence[Metric],
    status: AnalysisRunStatus,
    *,
    now: datetime,
    error_retry_seconds: float = DEFAULT_ERROR_RETRY_SECONDS,
) -> datetime | None:
    """When the next measurement falls due (None: nothing left to measure)."""
    earliest: datetime | None = None

    def consider(moment: datetime) -> None:
        nonlocal earliest
        if earliest is None or moment < earliest:
            earliest = moment

    for metric in metrics:
        result = status.result(metric.name)
        if result is not None and result.phase.completed:
            continue
        last = result.last if result is not None else None
        if last is None or result is None:
            if metric.initial_delay is not None:
                consider((status.started_at or now) + timedelta(seconds=metric.initial_delay))
            continue
        if last.finished_at is None:
            if last.resume_at is not None:
                consider(last.resume_at)
            continue
        limit = metric.effective_count()
        if limit is not None and result.count >= limit:
            continue
        if last.phase is AnalysisPhase.ERROR:
            wait = error_retry_seconds
        elif metric.interval is not None:
            wait = metric.interval
        else:
            continue
        consider(last.finished_at + timedelta(seconds=wait))
    return earliest


def trim_measurements(status: AnalysisRunStatus, limits: Mapping[str, int]) -> None:
    """Keep the newest measurements of each metric (its limit, or 10)."""
    for result in status.metric_results:
        limit = limits.get(result.name) or DEFAULT_MEASUREMENT_LIMIT
        if len(result.measurements) > limit:
            del result.measurements[: len(result.measurements) - limit]
