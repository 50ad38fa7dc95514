"""The operator process itself: probes, metrics, JSON logs naming their object, graceful
shutdown on SIGTERM, one clear line for an unreachable cluster or a bad setting."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx

from shunter_devenv.cluster import Cluster
from shunter_devenv.operator import OperatorProcess
from shunter_devenv.processes import free_port
from shunter_devenv.waiting import wait_for


def _status(url: str) -> int | None:
    try:
        return httpx.get(url, timeout=1).status_code
    except httpx.TransportError:
        return None


def test_probes_json_logs_and_graceful_stop(kube: Cluster, tmp_path: Path) -> None:
    port = free_port()
    operator = OperatorProcess(
        kube.operator_kubeconfig_path,
        tmp_path / "work",
        tmp_path / "operator.log",
        env={"SHUNTER_LOG_LEVEL": "INFO"},
        args=("--namespace", "probe-test", "--probes", f"127.0.0.1:{port}", "--log-format", "json"),
    )
    operator.start()
    try:
        wait_for(
            lambda: _status(f"http://127.0.0.1:{port}/readyz") == 200,
            what="/readyz to answer 200",
            details=operator.log,
        )
        assert _status(f"http://127.0.0.1:{port}/healthz") == 200
        assert _status(f"http://127.0.0.1:{port}/nope") == 404
    finally:
        operator.stop(timeout=20)
    assert not operator.running()
    assert operator.exit_code() == 0, "SIGTERM must stop the operator cleanly"
    lines = [line for line in operator.log().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]
    assert all({"time", "level", "logger", "message"} <= set(r) for r in records)
    assert any("starting" in r["message"] for r in records)


def test_metrics_endpoint_and_object_fields_in_json_logs(kube: Cluster, tmp_path: Path) -> None:
    """Every replica serves /metrics; reconcile log lines name the object they are about."""
    project = "metrics-logs"
    operator = OperatorProcess(
        kube.kubeconfig_path,
        tmp_path / "work",
        tmp_path / "operator.log",
        args=("--namespace", project, "--log-format", "json"),
    )
    operator.start()
    try:
        kube.apply(
            json.dumps(
                {
                    "apiVersion": "kargo.akuity.io/v1alpha1",
                    "kind": "Project",
                    "metadata": {"name": project},
                }
            ),
            server_side=False,
        )
        text = wait_for(
            lambda: _scrape(operator, 'shunter_reconciles_total{kind="projects"} 0.0', absent=True),
            what="a Project reconcile counted in /metrics",
            details=operator.log,
        )
        assert "shunter_workqueue_depth" in text
        assert 'shunter_leader{lease="shunter-controller"} 1.0' in text
    finally:
        operator.stop(timeout=20)
        kube.kubectl("delete", "project", project, "--wait=false", check=False)
    records = [json.loads(line) for line in operator.log().splitlines() if line.strip()]
    about = [r for r in records if r.get("kind") == "Project"]
    assert about, "no log line names the Project it is about"
    assert all(r["name"] == project for r in about)


def _scrape(operator: OperatorProcess, needle: str, *, absent: bool = False) -> str | None:
    try:
        text = operator.scrape()
    except OSError:
        return None
    return text if (needle in text) != absent else None


def test_unreachable_cluster_is_one_line_and_a_failure(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        "clusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\n"
        "contexts: [{name: c, context: {cluster: c, user: u}}]\n"
        "users: [{name: u, user: {token: t}}]\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "shunter", "run"],
        env={**os.environ, "KUBECONFIG": str(kubeconfig), "SHUNTER_METRICS_ADDRESS": ""},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("shunter:")]
    assert len(errors) == 1, result.stderr
    assert "cannot reach the Kubernetes API server" in errors[0]
    assert "Traceback" not in result.stderr


def test_a_bad_setting_names_its_variable(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "shunter", "run"],
        env={**os.environ, "SHUNTER_WORKERS": "many", "KUBECONFIG": str(tmp_path / "none")},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "shunter: SHUNTER_WORKERS='many' is not valid: expected a whole number"
    ]
