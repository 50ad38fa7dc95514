"""Phase arithmetic and scheduling: limits, counts, termination, dry runs, next measurement."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shunter.verification.assessment import (
    assess_metric,
    assess_run,
    dry_run_metrics,
    due_metrics,
    failure_inconclusive_or_error,
    is_terminating,
    measurement_limits,
    next_reconcile_at,
    trim_measurements,
)
from shunter.verification.phases import AnalysisPhase
from shunter.verification.status import AnalysisRunStatus, Measurement, MetricResult
from shunter.verification.templates import Metric, TemplateError, parse_metric

T0 = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
S, F, E, INC = (
    AnalysisPhase.SUCCESSFUL,
    AnalysisPhase.FAILED,
    AnalysisPhase.ERROR,
    AnalysisPhase.INCONCLUSIVE,
)


def metric(name: str = "m", **fields: Any) -> Metric:
    return parse_metric({"name": name, "provider": {"web": {"url": "u"}}, **fields})


def result_of(*phases: AnalysisPhase, name: str = "m", at: datetime = T0) -> MetricResult:
    result = MetricResult(name=name)
    for i, phase in enumerate(phases):
        moment = at + timedelta(seconds=i)
        measurement = Measurement(phase=phase, started_at=moment, finished_at=moment)
        result.record(measurement)
        result.measurements.append(measurement)
    return result


def test_counters() -> None:
    result = result_of(S, F, E, E, INC, S)
    assert (result.count, result.successful, result.failed, result.inconclusive) == (4, 2, 1, 1)
    assert (result.error, result.consecutive_error, result.consecutive_success) == (2, 0, 1)
    assert result_of(S, E, E).consecutive_error == 2


@pytest.mark.parametrize(
    ("fields", "phases", "expected"),
    [
        ({}, (S,), S),  # default count 1
        ({}, (F,), F),  # failureLimit 0: one failure fails
        ({"failureLimit": 1, "count": 3, "interval": "1s"}, (F,), AnalysisPhase.RUNNING),
        ({"failureLimit": 1, "count": 3, "interval": "1s"}, (F, F), F),
        ({"failureLimit": 1, "count": 3, "interval": "1s"}, (F, S, S), S),
        ({"count": 3, "interval": "1s"}, (S, S), AnalysisPhase.RUNNING),
        ({"count": 3, "interval": "1s"}, (S, S, S), S),
        ({"inconclusiveLimit": 1, "count": 3, "interval": "1s"}, (INC, INC), INC),
        ({"count": 3, "interval": "1s"}, (E, E, E, E), AnalysisPhase.RUNNING),  # 4 <= limit 4
        ({"count": 3, "interval": "1s"}, (E, E, E, E, E), E),
        ({"consecutiveErrorLimit": 0}, (E,), E),
        ({"count": 3, "interval": "1s"}, (E, E, S, E, E, E, E), AnalysisPhase.RUNNING),
        ({"interval": "1s"}, (S, S, S, S), AnalysisPhase.RUNNING),  # no count: runs on
        (
            {"consecutiveSuccessLimit": 2, "failureLimit": -1, "count": 5, "interval": "1s"},
            (F, S, S),
            S,
        ),
        (
            {"consecutiveSuccessLimit": 2, "failureLimit": 3, "count": 3, "interval": "1s"},
            (S, F, S),
            INC,  # count reached, streak not: inconclusive when failureLimit applies
        ),
        (
            {"consecutiveSuccessLimit": 2, "failureLimit": -1, "count": 3, "interval": "1s"},
            (S, F, S),
            F,  # ... and failed when it does not
        ),
    ],
)
def test_assess_metric(
    fields: dict[str, Any], phases: tuple[AnalysisPhase, ...], expected: AnalysisPhase
) -> None:
    assert assess_metric(metric(**fields), result_of(*phases), terminating=False) is expected


def test_assess_metric_when_terminating() -> None:
    indefinite = metric(interval="1s")
    assert assess_metric(indefinite, result_of(S, S), terminating=True) is S
    assert assess_metric(indefinite, result_of(F, name="m"), terminating=True) is F
    assert assess_metric(indefinite, MetricResult(name="m"), terminating=True) is S
    assert assess_metric(indefinite, MetricResult(name="m"), terminating=False) is (
        AnalysisPhase.PENDING
    )


def test_failure_messages() -> None:
    m = metric(failureLimit=1, count=3, interval="1s", inconclusiveLimit=1)
    assert failure_inconclusive_or_error(m, result_of(F, F)) == (
        F,
        "failed (2) > failureLimit (1)",
    )
    assert failure_inconclusive_or_error(m, result_of(INC, INC)) == (
        INC,
        "inconclusive (2) > inconclusiveLimit (1)",
    )
    assert failure_inconclusive_or_error(m, result_of(E, E, E, E, E)) == (
        E,
        "consecutiveErrors (5) > consecutiveErrorLimit (4)",
    )
    assert failure_inconclusive_or_error(m, result_of(S, F)) == (None, "")


def test_assess_run_worst_wins_and_explains() -> None:
    a = metric("a", count=2, interval="1s")
    b = metric("b", failureLimit=1, count=3, interval="1s")
    status = AnalysisRunStatus(
        metric_results=[result_of(S, S, name="a"), result_of(F, F, name="b")]
    )
    status.metric_results[1].measurements[-1].message = ""
    phase, message = assess_run([a, b], status, terminate=False, dry_run=set(), now=T0)
    assert phase is F
    assert message == 'Metric "b" assessed Failed due to failed (2) > failureLimit (1)'
    assert [r.phase for r in status.metric_results] == [S, F]
    assert status.run_summary.to_json() == {"count": 2, "successful": 1, "failed": 1}
    assert status.started_at == T0


def test_assess_run_error_message_quotes_the_measurement() -> None:
    m = metric(consecutiveErrorLimit=0)
    result = result_of(E)
    result.measurements[-1].message = "received non 2xx response code: 500"
    status = AnalysisRunStatus(metric_results=[result])
    phase, message = assess_run([m], status, terminate=False, dry_run=set(), now=T0)
    assert phase is E
    assert message == (
        'Metric "m" assessed Error due to consecutiveErrors (1) > consecutiveErrorLimit (0): '
        '"Error Message: received non 2xx response code: 500"'
    )


def test_assess_run_is_running_until_every_metric_completes() -> None:
    a, b = metric("a"), metric("b", initialDelay="1m")
    status = AnalysisRunStatus(metric_results=[result_of(S, name="a")])
    assert assess_run([a, b], status, terminate=False, dry_run=set(), now=T0) == (
        AnalysisPhase.RUNNING,
        "",
    )


def test_terminated_run_ends_successful() -> None:
    m = metric(interval="1s")
    status = AnalysisRunStatus(metric_results=[result_of(S, S)])
    assert assess_run([m], status, terminate=True, dry_run=set(), now=T0) == (
        S,
        "Run Terminated",
    )
    untouched = AnalysisRunStatus()
    assert assess_run([m], untouched, terminate=True, dry_run=set(), now=T0) == (
        S,
        "Run Terminated",
    )


def test_a_failed_metric_stops_the_others() -> None:
    a = metric("a", interval="1s")  # would run forever
    b = metric("b")
    status = AnalysisRunStatus(metric_results=[result_of(S, name="a"), result_of(F, name="b")])
    # this assessment fails `b`; the next one sees a terminating run and stops `a`
    phase, _ = assess_run([a, b], status, terminate=False, dry_run=set(), now=T0)
    assert (phase, status.metric_results[1].phase) == (AnalysisPhase.RUNNING, F)
    assert is_terminating(False, status)
    phase, message = assess_run([a, b], status, terminate=False, dry_run=set(), now=T0)
    assert phase is F
    assert message == 'Metric "b" assessed Failed due to failed (1) > failureLimit (0)'
    assert status.metric_results[0].phase is S  # stopped as Successful


def test_dry_run_metrics_do_not_count() -> None:
    a, b = metric("a"), metric("b-dry")
    assert dry_run_metrics([{"metricName": "dry"}], [a, b]) == {"b-dry"}
    with pytest.raises(TemplateError, match=r"dryRun\[0\]: Rule didn't match"):
        dry_run_metrics([{"metricName": "nothing"}], [a, b])
    status = AnalysisRunStatus(metric_results=[result_of(S, name="a"), result_of(F, name="b-dry")])
    phase, _ = assess_run([a, b], status, terminate=False, dry_run={"b-dry"}, now=T0)
    assert phase is S
    assert status.dry_run_summary is not None
    assert status.dry_run_summary.to_json() == {"count": 1, "failed": 1}
    assert status.metric_results[1].message == (
        "Metric assessed Failed due to failed (1) > failureLimit (0)"
    )


def test_due_metrics_and_next_reconcile() -> None:
    m = metric(count=3, interval="30s")
    delayed = metric("d", initialDelay="1m")
    status = AnalysisRunStatus(started_at=T0, metric_results=[result_of(S)])
    # first measurement of `m` finished at T0; `d` waits for its initial delay
    assert due_metrics([m, delayed], status, terminating=False, now=T0) == []
    later = T0 + timedelta(seconds=31)
    assert [x.name for x in due_metrics([m, delayed], status, terminating=False, now=later)] == [
        "m"
    ]
    assert next_reconcile_at([m, delayed], status, now=T0) == T0 + timedelta(seconds=30)
    after_delay = T0 + timedelta(seconds=61)
    assert [
        x.name for x in due_metrics([m, delayed], status, terminating=False, now=after_delay)
    ] == [
        "m",
        "d",
    ]
    assert due_metrics([m, delayed], status, terminating=True, now=after_delay) == []


def test_errors_are_retried_after_ten_seconds() -> None:
    m = metric(count=3, interval="1h")
    status = AnalysisRunStatus(started_at=T0, metric_results=[result_of(E)])
    assert next_reconcile_at([m], status, now=T0) == T0 + timedelta(seconds=10)
    assert next_reconcile_at([m], status, now=T0, error_retry_seconds=2) == T0 + timedelta(
        seconds=2
    )


def test_count_reached_means_nothing_due() -> None:
    m = metric(count=2, interval="1s")
    status = AnalysisRunStatus(started_at=T0, metric_results=[result_of(S, S)])
    assert due_metrics([m], status, terminating=False, now=T0 + timedelta(hours=1)) == []
    assert next_reconcile_at([m], status, now=T0) is None


def test_measurement_retention() -> None:
    status = AnalysisRunStatus(
        metric_results=[result_of(*([S] * 12), name="a"), result_of(*([S] * 12), name="b")]
    )
    limits = measurement_limits([{"metricName": "^a$", "limit": 3}], [metric("a"), metric("b")])
    assert limits == {"a": 3}
    trim_measurements(status, limits)
    assert [len(r.measurements) for r in status.metric_results] == [3, 10]
    assert status.metric_results[0].measurements[0].started_at == T0 + timedelta(seconds=9)
    assert status.metric_results[0].count == 12  # counters keep the whole history
