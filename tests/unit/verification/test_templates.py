"""Analysis specs: parsing metrics and arguments, merging templates, {{args.x}} substitution."""

from __future__ import annotations

from typing import Any

import pytest

from shunter.verification.templates import (
    Argument,
    Metric,
    SecretKeyRef,
    TemplateError,
    WebHeader,
    merge_args,
    merge_template_specs,
    parse_arguments,
    parse_metric,
    substitute_args,
    validate_metrics,
)


def web_metric(name: str = "smoke", **fields: Any) -> dict[str, Any]:
    return {"name": name, "provider": {"web": {"url": "http://x/health"}}, **fields}


# -- parsing ------------------------------------------------------------------------------


def test_parse_metric_applies_rollouts_defaults() -> None:
    metric = parse_metric(web_metric())
    assert metric == Metric(
        name="smoke",
        provider="web",
        providers=("web",),
        web=metric.web,
    )
    assert metric.failure_limit == 0
    assert metric.inconclusive_limit == 0
    assert metric.consecutive_error_limit == 4
    assert metric.effective_count() == 1  # neither count nor interval: one measurement
    assert metric.web is not None
    assert metric.web.method == "GET"
    assert metric.web.timeout_seconds == 10
    assert metric.web.json_path == "{$}"


def test_parse_metric_reads_every_supported_field() -> None:
    metric = parse_metric(
        {
            "name": "m",
            "interval": "1m30s",
            "initialDelay": "500ms",
            "count": "3",  # IntOrString, e.g. after {{args.count}} substitution
            "successCondition": 'result.status == "ok"',
            "failureCondition": "result.errors > 5",
            "failureLimit": 2,
            "inconclusiveLimit": 1,
            "consecutiveErrorLimit": 0,
            "consecutiveSuccessLimit": 2,
            "provider": {
                "web": {
                    "url": "https://svc/metrics",
                    "method": "POST",
                    "headers": [{"key": "Authorization", "value": "Bearer t"}],
                    "jsonBody": {"q": [1, 2]},
                    "timeoutSeconds": 20,
                    "jsonPath": "{$.data}",
                    "insecure": True,
                }
            },
        }
    )
    assert metric.interval == 90.0
    assert metric.initial_delay == 0.5
    assert metric.count == 3
    assert (metric.failure_limit, metric.inconclusive_limit) == (2, 1)
    assert (metric.consecutive_error_limit, metric.consecutive_success_limit) == (0, 2)
    web = metric.web
    assert web is not None
    assert web.method == "POST"
    assert web.headers == (WebHeader("Authorization", "Bearer t"),)
    assert web.json_body == {"q": [1, 2]}
    assert (web.timeout_seconds, web.json_path, web.insecure) == (20, "{$.data}", True)


def test_effective_count() -> None:
    assert parse_metric(web_metric(interval="1s")).effective_count() is None  # until stopped
    assert parse_metric(web_metric(interval="1s", count=0)).effective_count() is None
    assert parse_metric(web_metric(interval="1s", count=3)).effective_count() == 3
    assert parse_metric(web_metric(count=1)).effective_count() == 1


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"interval": "soon"}, "metric[smoke].interval: time: invalid duration"),
        ({"count": "three"}, "metric[smoke].count must be an integer, not 'three'"),
        ({"failureLimit": True}, "metric[smoke].failureLimit must be an integer"),
        ({"provider": []}, "metric[smoke].provider must be an object"),
        ({"successCondition": 3}, "metric[smoke].successCondition must be a string"),
    ],
)
def test_parse_metric_errors(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(TemplateError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_metric(web_metric(**fields))


def test_other_providers_are_recognised_by_key() -> None:
    prom = parse_metric({"name": "p", "provider": {"prometheus": {"query": "up"}}})
    assert (prom.provider, prom.web) == ("prometheus", None)
    plugin = parse_metric({"name": "p", "provider": {"plugin": {"argoproj-labs/x": {}}}})
    assert plugin.provider == "plugin/argoproj-labs/x"
    both = parse_metric({"name": "p", "provider": {"web": {"url": "u"}, "job": {}}})
    assert (both.provider, both.providers) == ("", ("web", "job"))


def test_parse_arguments() -> None:
    args = parse_arguments(
        [
            {"name": "a", "value": "1"},
            {"name": "token", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "t"}}},
            {"name": "ns", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
            {"name": "open"},
        ]
    )
    assert args == [
        Argument("a", "1"),
        Argument("token", secret_key_ref=SecretKeyRef("creds", "t")),
        Argument("ns", field_path="metadata.namespace"),
        Argument("open"),
    ]
    with pytest.raises(TemplateError, match=r"args\[0\]\.name is required"):
        parse_arguments([{"value": "x"}])


# -- validation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"count": 3}, "interval must be specified when count > 1"),
        ({"failureLimit": -2}, "failureLimit must be >= 0, or -1 to be disabled"),
        ({"failureLimit": -1}, "failureLimit and consecutiveSuccessLimit cannot both be disabled"),
        ({"inconclusiveLimit": -1}, "inconclusiveLimit must be >= 0"),
        ({"consecutiveErrorLimit": -1}, "consecutiveErrorLimit must be >= 0"),
        ({"consecutiveSuccessLimit": -1}, "consecutiveSuccessLimit must be >= 0"),
        (
            {"count": 2, "interval": "1s", "failureLimit": 3},
            r"count \(2\) must be >= failureLimit \+ consecutiveSuccessLimit \(3 \+ 0\)",
        ),
        ({"count": 1, "inconclusiveLimit": 2}, "count must be >= inconclusiveLimit"),
        ({"provider": {}}, "no provider specified"),
        ({"provider": {"web": {"url": "u"}, "job": {}}}, "multiple providers specified"),
    ],
)
def test_validation_rules(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(TemplateError, match=message):
        validate_metrics([parse_metric(web_metric(**fields))])


def test_validation_of_the_metric_list() -> None:
    with pytest.raises(TemplateError, match="no metrics specified"):
        validate_metrics([])
    with pytest.raises(TemplateError, match=r"metrics\[1\]: duplicate name 'a'"):
        validate_metrics([parse_metric(web_metric("a")), parse_metric(web_metric("a"))])
    validate_metrics([parse_metric(web_metric("a", count=3, interval="1s", failureLimit=1))])


# -- merging ------------------------------------------------------------------------------


def test_merge_concatenates_metrics_in_template_order() -> None:
    merged = merge_template_specs(
        [
            {"metrics": [web_metric("a")], "args": [{"name": "svc"}]},
            {
                "metrics": [web_metric("b", extra={"kept": True})],
                "args": [{"name": "svc", "value": "api"}, {"name": "env", "value": "prod"}],
                "dryRun": [{"metricName": "b"}],
                "measurementRetention": [{"metricName": "a", "limit": 3}],
            },
        ]
    )
    assert [m["name"] for m in merged["metrics"]] == ["a", "b"]
    assert merged["metrics"][1]["extra"] == {"kept": True}  # unknown fields survive
    assert merged["args"] == [{"name": "svc", "value": "api"}, {"name": "env", "value": "prod"}]
    assert merged["dryRun"] == [{"metricName": "b"}]
    assert merged["measurementRetention"] == [{"metricName": "a", "limit": 3}]


def test_merge_errors() -> None:
    with pytest.raises(TemplateError, match="duplicate metric name: 'a'"):
        merge_template_specs([{"metrics": [web_metric("a")]}, {"metrics": [web_metric("a")]}])
    with pytest.raises(TemplateError, match="conflicting values for argument 'svc'"):
        merge_template_specs(
            [{"args": [{"name": "svc", "value": "a"}]}, {"args": [{"name": "svc", "value": "b"}]}]
        )
    with pytest.raises(TemplateError, match="duplicate dry-run metric name: 'a'"):
        merge_template_specs([{"dryRun": [{"metricName": "a"}]}, {"dryRun": [{"metricName": "a"}]}])


def test_stage_args_override_template_args() -> None:
    template_args: list[dict[str, Any]] = [
        {"name": "svc"},
        {"name": "env", "value": "dev"},
        {"name": "token", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}},
    ]
    merged = merge_args({"svc": "api", "env": "prod", "unknown": "ignored"}, template_args)
    assert merged == [
        {"name": "svc", "value": "api"},
        {"name": "env", "value": "prod"},
        {"name": "token", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}},
    ]
    assert template_args[0] == {"name": "svc"}  # inputs are not modified
    with pytest.raises(TemplateError, match="unresolved argument 'svc'"):
        merge_args({}, template_args)


# -- substitution -------------------------------------------------------------------------


def test_substitute_args_everywhere_in_the_metric() -> None:
    metric = web_metric(
        count="{{args.count}}",
        interval="{{ args.every }}",
        successCondition='result.version == "{{args.version}}"',
    )
    metric["provider"]["web"]["url"] = "http://{{args.host}}/v1?svc={{ args.service-name }}"
    metric["provider"]["web"]["jsonBody"] = {"note": "{{args.note}}"}
    values = {
        "count": "3",
        "every": "2s",
        "version": "1.2.3",
        "host": "svc.ns:8080",
        "service-name": "api",
        "note": 'say "hi"\nbye',
    }
    resolved = substitute_args(metric, values)
    assert resolved["count"] == "3"
    assert resolved["successCondition"] == 'result.version == "1.2.3"'
    assert resolved["provider"]["web"]["url"] == "http://svc.ns:8080/v1?svc=api"
    assert resolved["provider"]["web"]["jsonBody"] == {"note": 'say "hi"\nbye'}
    parsed = parse_metric(resolved)
    assert (parsed.count, parsed.interval) == (3, 2.0)


def test_substitute_args_errors() -> None:
    with pytest.raises(TemplateError, match=r"failed to resolve \{\{args.missing\}\}"):
        substitute_args(web_metric(successCondition="{{args.missing}}"), {})
    with pytest.raises(TemplateError, match=r"failed to resolve \{\{ other \}\}"):
        substitute_args(web_metric(successCondition="{{ other }}"), {"other": "x"})
    with pytest.raises(TemplateError, match="cannot find the end of the tag"):
        substitute_args(web_metric(successCondition="{{args.x"), {"x": "1"})
