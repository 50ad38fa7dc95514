"""Sharding as Kargo does it: two sharded operators and a default one, three Projects.

The Warehouses and Stages of ``east`` and ``west`` say ``spec.shard`` and carry no label (no
admission webhook here): the default operator, which sees unlabelled objects, labels them, and
they move to their shard. Each operator then discovers and promotes only its own Project's
(read from each one's /metrics), the Promotions inherit the shard label, and a sharded
operator's log never names another Project.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from shunter_devenv.cluster import Cluster
from shunter_devenv.gate import Gate, GatedProject
from shunter_devenv.gitserver import GitServer
from shunter_devenv.operator import OperatorProcess
from shunter_devenv.registry import Registry
from shunter_devenv.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]
VALUES = (ROOT / "tests" / "data" / "values" / "realistic-values.yaml").read_text()
TAG = "2026-11-26_1500-5a5a5a5"
SHARDS = ("east", "west", "")


@pytest.fixture
def gate() -> Iterator[Gate]:
    g = Gate()
    g.open.set()
    yield g
    g.close()


def _series(text: str, name: str, project: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") and f'project="{project}"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_each_operator_reconciles_only_its_shard(kube: Cluster, tmp_path: Path, gate: Gate) -> None:
    suffix = secrets.token_hex(3)
    projects = {shard: f"shard-{shard or 'default'}-{suffix}" for shard in SHARDS}
    watched = [arg for name in projects.values() for arg in ("--namespace", name)]
    with GitServer(users={"kargo": "pw"}) as git, Registry(auth="none") as registry:
        image = f"{registry.host}/example"
        registry.push_image("example", TAG, datetime.now(UTC))
        operators = {}
        for shard in SHARDS:
            git.create_repo(
                f"test/{shard or 'default'}", {"preprod/values.yaml": VALUES}, branch="master"
            )
            operators[shard] = OperatorProcess(
                kube.kubeconfig_path,
                tmp_path / (shard or "default") / "work",
                tmp_path / f"{shard or 'default'}.log",
                env={
                    "SHUNTER_ALLOW_CREDENTIALS_OVER_HTTP": "true",
                    "SHUNTER_MIN_STEP_REQUEUE_SECONDS": "0.5",
                    "SHUNTER_SHARD_NAME": shard,
                },
                args=(*watched, "--log-format", "json"),
            )
        try:
            for operator in operators.values():
                operator.start()
            pipelines = {
                shard: GatedProject(
                    kube, projects[shard], git, gate, image, repo=f"test/{shard or 'default'}"
                )
                for shard in SHARDS
            }
            for shard, pipeline in pipelines.items():
                pipeline.apply(shard=shard, details=operators[""].log)
            for shard, pipeline in pipelines.items():
                phase = wait_for(
                    pipeline.finished,
                    what=f"the Promotion of {pipeline.name}",
                    details=operators[shard].log,
                )
                assert phase == "Succeeded", pipeline.promotion()
                promotion = pipeline.promotion() or {}
                labels = promotion["metadata"].get("labels") or {}
                assert labels.get("kargo.akuity.io/shard", "") == shard
                for kind in ("warehouse/example-container", "stage/preprod"):
                    obj = json.loads(
                        kube.kubectl("get", kind, "-n", pipeline.name, "-o", "json").stdout
                    )
                    assert (obj["metadata"].get("labels") or {}).get(
                        "kargo.akuity.io/shard", ""
                    ) == shard, kind
            scrapes = {shard: operator.scrape() for shard, operator in operators.items()}
        finally:
            for operator in operators.values():
                operator.stop()

    for shard, text in scrapes.items():
        for other, project in projects.items():
            runs = _series(text, "shunter_discovery_runs_total", project)
            promotions = _series(text, "shunter_promotions_total", project)
            if other == shard:
                assert runs >= 1, (shard, project)
                assert promotions == 1, (shard, project)
            else:
                assert runs == 0, (shard, project)
                assert promotions == 0, (shard, project)
    for shard in ("east", "west"):
        named = {
            record["namespace"]
            for line in operators[shard].log().splitlines()
            if line.startswith("{") and "namespace" in (record := json.loads(line))
        }
        assert named == {projects[shard]}, shard
        assert not re.search(r"started leading", operators[shard].log())  # no election asked
