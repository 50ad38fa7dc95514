"""/metrics scraped while the operator runs the seed pipeline, and the three example alerts of
docs/metrics.md evaluated by Prometheus' own ``promtool test rules`` on the scraped series.

Scrape A: preprod promoted (Succeeded), a Promotion of an extra Stage ``slow`` waiting at a
gate that never opens (Running), discovery healthy. Then a Promotion to prod of Freight that
preprod never verified (Errored) and wrong registry credentials (discovery fails). Scrape B.
For promtool the two scrapes become one timeline: A's values for the first five minutes, B's
after, one sample a minute; the running Promotion's start time keeps its distance to B.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from shunter_devenv.binaries import binary
from shunter_devenv.cluster import Cluster
from shunter_devenv.gate import Gate
from shunter_devenv.seedpipeline import SeedPipeline, seed_pipeline
from shunter_devenv.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]
VALUES = (ROOT / "tests" / "data" / "values" / "realistic-values.yaml").read_text()
PROJECT = "metrics-seed"
ALERT_SERIES = (
    "shunter_promotions_total",
    "shunter_warehouse_discovery_failing",
    "shunter_promotion_running_since_timestamp_seconds",
)
#: promtool timeline: scrape A at minutes 0-4, scrape B from minute 5 on.
B_AT = 5
MINUTES = 80

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def _samples(text: str) -> Samples:
    found: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def _value(samples: Samples, name: str, **labels: str) -> float:
    return sum(
        v for (n, lbls), v in samples.items() if n == name and labels.items() <= dict(lbls).items()
    )


@pytest.fixture(scope="module")
def gate() -> Iterator[Gate]:
    g = Gate()
    yield g
    g.close()


@pytest.fixture(scope="module")
def seed(kube: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeedPipeline]:
    with seed_pipeline(kube, tmp_path_factory.mktemp("seed"), VALUES, project=PROJECT) as pipeline:
        yield pipeline


def _stage(seed: SeedPipeline, name: str, steps: list[dict[str, Any]]) -> dict[str, Any]:
    """A Stage taking Freight straight from the Warehouse and promoting it with ``steps``."""
    return {
        "apiVersion": "kargo.akuity.io/v1alpha1",
        "kind": "Stage",
        "metadata": {"name": name, "namespace": seed.namespace},
        "spec": {
            "requestedFreight": [
                {
                    "origin": {"kind": "Warehouse", "name": "example-container"},
                    "sources": {"direct": True},
                }
            ],
            "promotionTemplate": {"spec": {"steps": steps}},
        },
    }


def _slow_stage(seed: SeedPipeline, gate: Gate) -> dict[str, Any]:
    """A Stage whose promotions run until the gate opens."""
    wait = {
        "uses": "http",
        "as": "wait",
        "config": {
            "url": gate.url,
            "successExpression": "response.status == 200",
            "pollInterval": "1s",
        },
    }
    return _stage(seed, "slow", [wait])


def _broken_stage(seed: SeedPipeline) -> dict[str, Any]:
    """A Stage whose promotions end Errored: its step edits a file that is not there."""
    update = {
        "uses": "yaml-update",
        "config": {
            "path": "missing/values.yaml",
            "updates": [{"key": "image.tag", "value": "x"}],
        },
    }
    return _stage(seed, "broken", [update])


def _promote(seed: SeedPipeline, name: str, stage: str, freight: str) -> None:
    seed.kube.apply(
        json.dumps(
            {
                "apiVersion": "kargo.akuity.io/v1alpha1",
                "kind": "Promotion",
                "metadata": {"name": name, "namespace": seed.namespace},
                "spec": {"stage": stage, "freight": freight},
            }
        ),
        server_side=False,
    )


def _present(samples: Samples, name: str, **labels: str) -> bool:
    return any(n == name and labels.items() <= dict(lbls).items() for n, lbls in samples)


def _scrape_when(seed: SeedPipeline, ready: Any, what: str) -> tuple[str, float]:
    def probe() -> tuple[str, float] | None:
        try:
            text = seed.operator.scrape()
        except OSError:
            return None
        return (text, time.time()) if ready(_samples(text)) else None

    return wait_for(probe, what=what, details=seed.diagnostics)


def _alert_rules() -> dict[str, Any]:
    doc = (ROOT / "docs" / "metrics.md").read_text()
    block = doc.split("## Example alerts", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    rules: dict[str, Any] = yaml.safe_load(block)
    return rules


def _labels(lbls: tuple[tuple[str, str], ...]) -> str:
    return "{" + ",".join(f'{k}="{v}"' for k, v in lbls) + "}"


def _timeline(a: float | None, b: float) -> str:
    first = ["_" if a is None else repr(a)] * B_AT
    return " ".join(first + [repr(b)] * (MINUTES - B_AT + 1))


def _input_series(a: Samples, b: Samples, b_time: float) -> list[dict[str, str]]:
    series = []
    for key, value in sorted(b.items()):
        name, lbls = key
        if name not in ALERT_SERIES:
            continue
        if name == "shunter_promotion_running_since_timestamp_seconds":
            # A start time, moved onto promtool's clock (B is observed at minute B_AT).
            start = value - b_time + B_AT * 60
            series.append({"series": name + _labels(lbls), "values": _timeline(start, start)})
        else:
            series.append({"series": name + _labels(lbls), "values": _timeline(a.get(key), value)})
    return series


def _expected(rule: dict[str, Any], **labels: str) -> dict[str, Any]:
    def render(text: str) -> str:
        return re.sub(r"{{ \$labels\.(\w+) }}", lambda m: labels[m.group(1)], text)

    return {
        "exp_labels": {**labels, **rule["labels"]},
        "exp_annotations": {k: render(v) for k, v in rule["annotations"].items()},
    }


def test_metrics_during_the_seed_pipeline_and_the_example_alerts(
    seed: SeedPipeline, gate: Gate, tmp_path: Path
) -> None:
    first = wait_for(
        lambda: seed.current_freight("preprod"), what="preprod promoted", details=seed.diagnostics
    )
    seed.kube.apply(json.dumps(_slow_stage(seed, gate)), server_side=False)
    seed.kube.apply(json.dumps(_broken_stage(seed)), server_side=False)
    _promote(seed, "slow.1", "slow", first)
    text_a, _ = _scrape_when(
        seed,
        lambda s: (
            _value(s, "shunter_promotion_running_since_timestamp_seconds", stage="slow")
            and _value(s, "shunter_promotions_total", stage="preprod", phase="Succeeded")
            # The counters of a new Stage start at 0, so increase() sees its first failure.
            and _present(s, "shunter_promotions_total", stage="broken", phase="Errored")
        ),
        "scrape A: preprod Succeeded and slow Running",
    )
    a = _samples(text_a)
    assert _value(a, "shunter_promotion_duration_seconds_count", stage="preprod") >= 1
    assert _value(a, "shunter_promotion_duration_seconds_sum", stage="preprod") > 0
    assert _value(a, "shunter_discovery_runs_total", warehouse="example-container") >= 1
    assert _value(a, "shunter_freight_created_total", project=PROJECT) >= 1
    assert _value(a, "shunter_registry_requests_total", host=seed.registry.host, outcome="2xx") > 0
    assert _value(a, "shunter_git_requests_total", verb="fetch", outcome="success") >= 1
    assert _value(a, "shunter_git_requests_total", verb="push", outcome="success") >= 1
    assert _value(a, "shunter_promotion_step_duration_seconds_count", kind="yaml-update") >= 1
    assert _value(a, "shunter_reconciles_total", kind="promotions") >= 1
    assert _value(a, "shunter_stage_health", project=PROJECT, stage="preprod") == 1
    assert _value(a, "shunter_warehouse_discovery_failing", project=PROJECT) == 0
    assert _value(a, "shunter_promotions_total", stage="broken", phase="Errored") == 0
    assert not [key for key in a if "freight" in dict(key[1]) or "commit" in dict(key[1])]

    # Failures: a Promotion whose step errors; wrong registry credentials.
    _promote(seed, "broken.1", "broken", first)
    seed.kube.kubectl(
        "patch", "secret", "registry", "-n", seed.namespace, "--type=merge",
        "-p", json.dumps({"stringData": {"password": "wrong"}}),
    )  # fmt: skip
    seed.refresh_warehouse()
    text_b, b_time = _scrape_when(
        seed,
        lambda s: (
            _value(s, "shunter_promotions_total", stage="broken", phase="Errored") == 1
            and _value(s, "shunter_warehouse_discovery_failing", project=PROJECT) == 1
        ),
        "scrape B: a Promotion Errored and discovery failing",
    )
    b = _samples(text_b)
    assert _value(b, "shunter_discovery_errors_total", warehouse="example-container") >= 1
    assert _value(b, "shunter_registry_requests_total", host=seed.registry.host, outcome="4xx") > 0

    rules = _alert_rules()
    by_name = {r["alert"]: r for r in rules["groups"][0]["rules"]}
    assert set(by_name) == {
        "ShunterPromotionFailed",
        "ShunterDiscoveryFailing",
        "ShunterPromotionRunningTooLong",
    }
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(rules))
    where = {"project": PROJECT}
    tests = {
        "rule_files": ["rules.yaml"],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": _input_series(a, b, b_time),
                "alert_rule_test": [
                    {"eval_time": "4m", "alertname": "ShunterPromotionFailed", "exp_alerts": []},
                    {
                        "eval_time": "10m",
                        "alertname": "ShunterPromotionFailed",
                        "exp_alerts": [
                            _expected(
                                by_name["ShunterPromotionFailed"],
                                **where,
                                stage="broken",
                                phase="Errored",
                            )
                        ],
                    },
                    {"eval_time": "10m", "alertname": "ShunterDiscoveryFailing", "exp_alerts": []},
                    {
                        "eval_time": "16m",
                        "alertname": "ShunterDiscoveryFailing",
                        "exp_alerts": [
                            _expected(
                                by_name["ShunterDiscoveryFailing"],
                                **where,
                                warehouse="example-container",
                            )
                        ],
                    },
                    {
                        "eval_time": "10m",
                        "alertname": "ShunterPromotionRunningTooLong",
                        "exp_alerts": [],
                    },
                    {
                        "eval_time": "70m",
                        "alertname": "ShunterPromotionRunningTooLong",
                        "exp_alerts": [
                            _expected(
                                by_name["ShunterPromotionRunningTooLong"], **where, stage="slow"
                            )
                        ],
                    },
                ],
            }
        ],
    }
    (tmp_path / "tests.yaml").write_text(yaml.safe_dump(tests))
    promtool = str(binary("promtool"))
    check = subprocess.run(
        [promtool, "check", "rules", "rules.yaml"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert check.returncode == 0, check.stdout + check.stderr
    result = subprocess.run(
        [promtool, "test", "rules", "tests.yaml"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
