"""AnalysisRunner against a real HTTP endpoint on 127.0.0.1: measurements, phases, status."""

from __future__ import annotations

import json
import socket
from typing import Any

from shunter.verification.runner import AnalysisRunner
from shunter.verification.status import parse_time

SMOKE = 'result.status == "ok"'


def web(url: str, **web_fields: Any) -> dict[str, Any]:
    return {"web": {"url": url, **web_fields}}


async def test_smoke_check_succeeds_after_count_measurements(
    metrics: Any, make_run: Any, run_until_done: Any
) -> None:
    metrics.script("/health", (200, {"status": "ok", "version": "1.2.3"}))
    run = make_run(
        [
            {
                "name": "smoke",
                "count": 3,
                "interval": "0s",
                "successCondition": SMOKE,
                "provider": web(metrics.url("/health")),
            }
        ]
    )
    status = await run_until_done(AnalysisRunner(), run)
    assert status["phase"] == "Successful"
    assert metrics.hits("/health") == 3
    (result,) = status["metricResults"]
    assert result["name"] == "smoke"
    assert result["phase"] == "Successful"
    assert (result["count"], result["successful"]) == (3, 3)
    assert "failed" not in result  # zero counters are omitted, as Rollouts does
    measurement = result["measurements"][0]
    assert measurement["phase"] == "Successful"
    assert json.loads(measurement["value"]) == {"status": "ok", "version": "1.2.3"}
    assert set(measurement) == {"phase", "value", "startedAt", "finishedAt"}
    assert parse_time(measurement["finishedAt"]) is not None
    assert status["runSummary"] == {"count": 1, "successful": 1}
    assert parse_time(status["startedAt"]) is not None
    assert parse_time(status["completedAt"]) is not None
    assert "message" not in status


async def test_interval_spaces_the_measurements(
    metrics: Any, make_run: Any, run_until_done: Any
) -> None:
    metrics.script("/health", (200, {"status": "ok"}))
    run = make_run(
        [
            {
                "name": "smoke",
                "count": 2,
                "interval": "1s",
                "successCondition": SMOKE,
                "provider": web(metrics.url("/health")),
            }
        ]
    )
    runner = AnalysisRunner()
    first = await runner.step(run)
    assert first.status is not None
    assert first.status["phase"] == "Running"
    assert first.requeue_after is not None
    assert 0.5 < first.requeue_after <= 1.0
    run["status"] = first.status
    again = await runner.step(run)  # too early: nothing is measured, nothing changes
    assert again.status is None
    assert metrics.hits("/health") == 1
    status = await run_until_done(runner, run)
    assert status["phase"] == "Successful"
    first, second = status["metricResults"][0]["measurements"]
    # Timestamps have whole seconds (metav1.Time) and the interval counts from the stored
    # finishedAt, as in Rollouts: the next start is at least `interval` after that.
    finished, started = parse_time(first["finishedAt"]), parse_time(second["startedAt"])
    assert finished is not None
    assert started is not None
    assert (started - finished).total_seconds() >= 1


async def test_bad_body_fails_after_failure_limit(
    metrics: Any, make_run: Any, run_until_done: Any
) -> None:
    metrics.script("/health", (200, {"status": "degraded"}))
    run = make_run(
        [
            {
                "name": "smoke",
                "count": 5,
                "interval": "0s",
                "failureLimit": 1,
                "successCondition": SMOKE,
                "provider": web(metrics.url("/health")),
            }
        ]
    )
    status = await run_until_done(AnalysisRunner(), run)
    assert status["phase"] == "Failed"
    assert status["message"] == (
        'Metric "smoke" assessed Failed due to failed (2) > failureLimit (1)'
    )
    assert metrics.hits("/health") == 2
    result = status["metricResults"][0]
    assert (result["phase"], result["failed"], result["count"]) == ("Failed", 2, 2)
    assert status["runSummary"] == {"count": 1, "failed": 1}


async def test_failure_within_the_limit_still_succeeds(
    metrics: Any, make_run: Any, run_until_done: Any
) -> None:
    metrics.script("/health", (200, {"status": "down"}), (200, {"status": "ok"}))
    run = make_run(
        [
            {
                "name": "smoke",
                "count": 3,
                "interval": "0s",
                "failureLimit": 1,
                "successCondition": SMOKE,
                "provider": web(metrics.url("/health")),
            }
        ]
    )
    status = await run_until_done(AnalysisRunner(), run)
    assert status["phase"] == "Successful"
    phases = [m["phase"] for m in status["metricResults"][0]["measurements"]]
    assert phases == ["Failed", "Successful", "Successful"]


async def test_http_500_is_an_error_until_the_consecutive_error_limit(
    metrics: Any, make_run: Any, run_until_done: Any
) -> None:
    metrics.script("/health", (500, "boom"))
    run = make_run(
        [
            {
                "name": "smoke",
                "count": 3,
                "interval": "0s",
                "consecutiveErrorLimit": 1,
                "successCondition": SMOKE,
                "provider": web(metrics.url("/health")),
            }
        ]
    )
    runner = AnalysisRunner(error_retry_seconds=0)
    status = await run_until_done(runner, run)
    assert status["phase"] == "Error"
    assert status["message"] == (
        'Metric "smoke" assessed Error due to consecutiveErrors (2) > consecutiveErrorLimit (1): '
        '"Error Message: received non 2xx response code: 500"'
    )
    result = status["metricResults"][0]
    assert (result["error"], result["consecutiveError"]) == (2, 2)
    assert "count" not in result  # errors are not counted measurements
    assert result["measurements"][0] == {
        "phase": "Error",
        "message": "received non 2xx response code: 500",
        "startedAt": result["measurements"][0]["startedAt"],
        "finishedAt": result["measurements"][0]["finishedAt"],
    }


async def test_an_error_is_retried_after_the_error_interval(metrics: Any, make_run: Any) -> None:
    metrics.script("/health", (503, "busy"), (200, {"status": "ok"}))
    run = make_run(
        [{"name": "smoke", "successCondition": SMOKE, "provider": web(metrics.url("/health"))}]
    )
    outcome = await AnalysisRunner().step(run)
    assert outcome.status is not None
    assert outcome.status["phase"] == "Running"
    assert outcome.requeue_after is not None
    assert 9 < outcome.requeue_after <= 10  # Rollouts' 10 s error retry


async def test_plain_text_body(metrics: Any, make_run: Any, run_until_done: Any) -> None:
    metrics.script("/text", (200, "I am OK"))
    run = make_run(
        [
            {
                "name": "text",
                "successCondition": 'result == "I am OK"',
                "provider": web(metrics.url("/text")),
            }
        ]
    )
    status = await run_until_done(AnalysisRunner(), run)
    assert status["phase"] == "Successful"
    assert status["metricResults"][0]["measurements"][0]["value"] == "I am OK"


async def test_json_path_post_body_headers_and_args(
    metrics: Any, make_run: Any, run_until_done: Any
) -> None:
    metrics.script("/query", (200, {"data": {"ok": True, "successPercent": 0.95}}))
    run = make_run(
        [
            {
                "name": "query",
                "successCondition": "result.ok && result.successPercent >= {{args.threshold}}",
                "provider": web(
                    metrics.url("/query") + "?service={{ args.service-name }}",
                    method="POST",
                    headers=[
                        {"key": "Authorization", "value": "Bearer {{args.token}}"},
                        {"key": "Content-Type", "value": "text/plain"},
                    ],
                    jsonBody={"service": "{{args.service-name}}", "window": [5, "m"]},
                    jsonPath="{$.data}",
                ),
            }
        ],
        args=[
            {"name": "service-name", "value": "api"},
            {"name": "threshold", "value": "0.9"},
            {"name": "token", "value": "t0k3n"},
        ],
    )
    status = await run_until_done(AnalysisRunner(), run)
    assert status["phase"] == "Successful"
    assert status["metricResults"][0]["measurements"][0]["value"] == (
        '{"ok":true,"successPercent":0.95}'
    )
    (request,) = metrics.requests
    assert request["method"] == "POST"
    assert request["target"] == "/query?service=api"
    assert request["headers"]["authorization"] == "Bearer t0k3n"
    assert request["headers"]["content-type"] == "application/json"  # jsonBody wins
    assert json.loads(request["body"]) == {"service": "api", "window": [5, "m"]}


async def test_missing_json_path_is_an_error(
    metrics: Any, make_run: Any, run_until_done: Any
) -> None:
    metrics.script("/health", (200, {"status": "ok"}))
    run = make_run(
        [
            {
                "name": "m",
                "consecutiveErrorLimit": 0,
                "provider": web(metrics.url("/health"), jsonPath="{$.data.ok}"),
            }
        ]
    )
    status = await run_until_done(AnalysisRunner(), run)
    assert status["phase"] == "Error"
    message = status["metricResults"][0]["measurements"][0]["message"]
    assert message == "Could not find JSONPath in body: data is not found"


async def test_body_with_get_is_an_error(metrics: Any, make_run: Any, run_until_done: Any) -> None:
    run = make_run(
        [
            {
                "name": "m",
                "consecutiveErrorLimit": 0,
                "provider": web(metrics.url("/x"), body="payload"),
            }
        ]
    )
    status = await run_until_done(AnalysisRunner(), run)
    assert status["phase"] == "Error"
    assert status["metricResults"][0]["message"] == (
        "Body/JSONBody can only be used with POST or PUT WebMetric Method types"
    )
    assert metrics.requests == []


async def test_connection_refused_is_an_error(make_run: Any, run_until_done: Any) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/health"
    run = make_run([{"name": "m", "consecutiveErrorLimit": 0, "provider": web(url)}])
    status = await run_until_done(AnalysisRunner(), run)
    assert status["phase"] == "Error"
    assert status["metricResults"][0]["message"].startswith(f'Get "{url}": ')


async def test_other_providers_end_the_run_in_error(make_run: Any) -> None:
    run = make_run(
        [
            {
                "name": "error-rate",
                "successCondition": "result[0] < 0.05",
                "provider": {"prometheus": {"address": "http://prom", "query": "x"}},
            }
        ]
    )
    outcome = await AnalysisRunner().step(run)
    assert outcome.status is not None
    assert outcome.status["phase"] == "Error"
    assert outcome.status["message"].startswith(
        'metric "error-rate" uses the prometheus provider, which shunter does not evaluate'
    )
    assert outcome.requeue_after is None


async def test_invalid_spec_and_unresolvable_args(make_run: Any) -> None:
    runner = AnalysisRunner()
    invalid = await runner.step(
        make_run([{"name": "m", "count": 3, "provider": web("http://127.0.0.1:1/")}])
    )
    assert invalid.status is not None
    assert invalid.status["message"] == (
        "Analysis spec invalid: metrics[0]: interval must be specified when count > 1"
    )
    field_ref = await runner.step(
        make_run(
            [{"name": "m", "provider": web("http://127.0.0.1:1/{{args.ns}}")}],
            args=[{"name": "ns", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}}],
        )
    )
    assert field_ref.status is not None
    assert field_ref.status["phase"] == "Error"
    assert field_ref.status["message"].startswith(
        'Unable to resolve metric arguments: argument "ns" was not supplied'
    )
    unknown = await runner.step(
        make_run([{"name": "m", "provider": web("http://127.0.0.1:1/{{args.nope}}")}])
    )
    assert unknown.status is not None
    assert unknown.status["message"] == (
        "Unable to resolve metric arguments: failed to resolve {{args.nope}}"
    )
    no_metrics = await runner.step(make_run([]))
    assert no_metrics.status is not None
    assert no_metrics.status["message"] == "Analysis spec invalid: no metrics specified"


async def test_terminate_ends_a_running_run_successful(
    metrics: Any, make_run: Any, run_until_done: Any
) -> None:
    metrics.script("/health", (200, {"status": "ok"}))
    run = make_run(
        [
            {
                "name": "forever",
                "interval": "1h",  # no count: measures until stopped
                "successCondition": SMOKE,
                "provider": web(metrics.url("/health")),
            }
        ]
    )
    runner = AnalysisRunner()
    first = await runner.step(run)
    assert first.status is not None
    assert first.status["phase"] == "Running"
    run["status"] = first.status
    run["spec"]["terminate"] = True
    status = await run_until_done(runner, run)
    assert (status["phase"], status["message"]) == ("Successful", "Run Terminated")
    assert metrics.hits("/health") == 1


async def test_completed_runs_are_left_alone(make_run: Any) -> None:
    run = make_run([], status={"phase": "Failed", "message": "done"})
    outcome = await AnalysisRunner().step(run)
    assert (outcome.status, outcome.requeue_after) == (None, None)
    assert outcome.phase is not None
    assert outcome.phase.value == "Failed"


async def test_two_metrics_the_worst_wins(metrics: Any, make_run: Any, run_until_done: Any) -> None:
    metrics.script("/a", (200, {"status": "ok"}))
    metrics.script("/b", (200, {"latency": 900.0}))
    run = make_run(
        [
            {"name": "a", "successCondition": SMOKE, "provider": web(metrics.url("/a"))},
            {
                "name": "b",
                "successCondition": "result.latency < 500",
                "failureCondition": "result.latency > 1000",
                "provider": web(metrics.url("/b")),
            },
        ]
    )
    status = await run_until_done(AnalysisRunner(), run)
    assert status["phase"] == "Inconclusive"
    assert status["message"] == (
        'Metric "b" assessed Inconclusive due to inconclusive (1) > inconclusiveLimit (0)'
    )
    assert [r["phase"] for r in status["metricResults"]] == ["Successful", "Inconclusive"]


async def test_status_fields_written_by_others_are_kept(
    metrics: Any, make_run: Any, run_until_done: Any
) -> None:
    metrics.script("/health", (200, {"status": "ok"}))
    run = make_run(
        [{"name": "m", "successCondition": SMOKE, "provider": web(metrics.url("/health"))}],
        status={"kopf": {"progress": {}}},
    )
    status = await run_until_done(AnalysisRunner(), run)
    assert status["phase"] == "Successful"
    assert status["kopf"] == {"progress": {}}


async def test_timeout_is_an_error(metrics: Any, make_run: Any) -> None:
    metrics.script("/slow", (200, {"status": "ok"}))
    metrics.app.hold.add("/slow")
    url = metrics.url("/slow")
    run = make_run([{"name": "m", "provider": web(url, timeoutSeconds=1)}])
    outcome = await AnalysisRunner().step(run)
    assert outcome.status is not None
    (measurement,) = outcome.status["metricResults"][0]["measurements"]
    assert measurement["phase"] == "Error"
    assert measurement["message"] == f'Get "{url}": timed out after 1s'
