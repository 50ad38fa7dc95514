"""The operator process itself: probes, JSON logs, graceful shutdown on SIGTERM."""

from __future__ import annotations

import json
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
