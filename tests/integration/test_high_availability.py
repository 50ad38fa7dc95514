"""Two operator replicas with leader election: kill -9 of the leader in the middle of a
Promotion, the standby takes over within the lease duration, the Promotion ends Succeeded with
exactly one commit, and the two logs show that only one replica reconciled at any time.

The replicas are processes with their own work directories (as pods are), leader election on a
Lease with short test timings (4 s lease, 2 s renew deadline, 1 s retry: the client library's
floor). The Promotion waits at a gate between git-commit and git-push when the leader dies.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from shunter_devenv.cluster import Cluster
from shunter_devenv.gate import Gate, GatedProject
from shunter_devenv.gitserver import GitServer
from shunter_devenv.operator import OperatorProcess
from shunter_devenv.registry import Registry
from shunter_devenv.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]
VALUES = (ROOT / "tests" / "data" / "values" / "realistic-values.yaml").read_text()
TAG = "2026-11-26_1400-0ha0ha0"
LEASE_SECONDS = 4.0
RETRY_SECONDS = 1.0


@pytest.fixture
def gate() -> Iterator[Gate]:
    g = Gate()
    yield g
    g.close()


def _records(operator: OperatorProcess) -> list[dict[str, Any]]:
    records = []
    for line in operator.log().splitlines():
        if line.startswith("{"):
            record = json.loads(line)
            record["at"] = datetime.fromisoformat(record["time"]).timestamp()
            records.append(record)
    return records


def _led_at(operator: OperatorProcess) -> float | None:
    return next(
        (r["at"] for r in _records(operator) if r["message"].startswith("started leading")), None
    )


def _reconciling(operator: OperatorProcess) -> list[float]:
    """When the replica logged from inside a reconcile (a line naming its object)."""
    return [r["at"] for r in _records(operator) if r.get("kind")]


def test_the_standby_takes_over_a_promotion_when_the_leader_is_killed(
    kube: Cluster, tmp_path: Path, gate: Gate
) -> None:
    suffix = secrets.token_hex(3)
    project, system = f"ha-{suffix}", f"ha-system-{suffix}"
    kube.kubectl("create", "namespace", system)
    with GitServer(users={"kargo": "pw"}) as git, Registry(auth="none") as registry:
        image = f"{registry.host}/example"
        registry.push_image("example", TAG, datetime.now(UTC))
        git.create_repo("test/sandbox", {"preprod/values.yaml": VALUES}, branch="master")
        replicas = {
            name: OperatorProcess(
                kube.kubeconfig_path,
                tmp_path / name / "work",
                tmp_path / f"{name}.log",
                env={
                    "SHUNTER_ALLOW_CREDENTIALS_OVER_HTTP": "true",
                    "SHUNTER_MIN_STEP_REQUEUE_SECONDS": "0.5",
                    "SHUNTER_LEADER_ELECTION": "true",
                    "SHUNTER_OPERATOR_NAMESPACE": system,
                    "SHUNTER_LEADER_ELECTION_IDENTITY": name,
                    "SHUNTER_LEASE_DURATION": str(LEASE_SECONDS),
                    "SHUNTER_LEASE_RENEW_DEADLINE": "2",
                    "SHUNTER_LEASE_RETRY_PERIOD": str(RETRY_SECONDS),
                },
                args=("--namespace", project, "--log-format", "json"),
            )
            for name in ("a", "b")
        }
        for name in ("a", "b"):
            (tmp_path / name).mkdir()
        replicas["a"].start()
        try:
            wait_for(
                lambda: _led_at(replicas["a"]), what="replica a to lead", details=replicas["a"].log
            )
            replicas["b"].start()
            wait_for(
                lambda: "waiting to lead" in replicas["b"].log(),
                what="replica b to stand by",
                details=replicas["b"].log,
            )
            pipeline = GatedProject(kube, project, git, gate, image)
            pipeline.apply(details=replicas["a"].log)
            wait_for(pipeline.at_gate, what="the Promotion at the gate", details=replicas["a"].log)
            assert _reconciling(replicas["b"]) == [], "the standby reconciled"

            killed_at = time.time()
            replicas["a"].kill()
            gate.open.set()
            took_over = wait_for(
                lambda: _led_at(replicas["b"]),
                what="replica b to take over",
                details=replicas["b"].log,
            )
            # The standby acquires once the Lease has not been renewed for its duration.
            assert took_over - killed_at <= LEASE_SECONDS + RETRY_SECONDS + 2.0
            phase = wait_for(
                pipeline.finished, what="the Promotion to finish", details=replicas["b"].log
            )
            assert phase == "Succeeded", pipeline.promotion()
            assert len(git.log("test/sandbox", "master")) == 2  # the seed commit and one more
            lease = json.loads(
                kube.kubectl(
                    "get", "lease", "shunter-controller", "-n", system, "-o", "json"
                ).stdout
            )
            assert lease["spec"]["holderIdentity"] == "b"
        finally:
            for replica in replicas.values():
                replica.stop()
        assert replicas["b"].exit_code() == 0

    a_led, a_work = _led_at(replicas["a"]), _reconciling(replicas["a"])
    b_led, b_work = _led_at(replicas["b"]), _reconciling(replicas["b"])
    assert a_led is not None
    assert b_led is not None
    assert a_work, "the leader never reconciled"
    assert b_work, "the new leader never reconciled"
    assert min(a_work) >= a_led
    assert max(a_work) <= killed_at
    assert min(b_work) >= b_led > killed_at
    # The Lease was released on b's clean stop.
    lease = json.loads(
        kube.kubectl("get", "lease", "shunter-controller", "-n", system, "-o", "json").stdout
    )
    assert not lease["spec"].get("holderIdentity")
