"""kill -9 of the operator between git-commit and git-push, then a restart.

The PromotionTask is the seed's, with one step added between git-commit and git-push: an
``http`` step that waits on a local gate (it answers 503 until the test opens it), so the test
knows the commit exists only in the work tree when it kills the operator. After the restart
the Promotion must end Succeeded with exactly one new commit on the server - whether the work
directory survived (resume at currentStep) or was lost (restart at step 0, state kept).
"""

from __future__ import annotations

import shutil
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
TAG = "2026-11-26_1300-0badc0d"


@pytest.fixture
def gate() -> Iterator[Gate]:
    g = Gate()
    yield g
    g.close()


@pytest.mark.parametrize("lose_work_dir", [False, True], ids=["work-dir-kept", "work-dir-lost"])
def test_kill_between_commit_and_push(
    kube: Cluster, tmp_path: Path, gate: Gate, lose_work_dir: bool
) -> None:
    project = "crash-lost" if lose_work_dir else "crash-kept"
    with GitServer(users={"kargo": "pw"}) as git, Registry(auth="none") as registry:
        image = f"{registry.host}/example"
        registry.push_image("example", TAG, datetime.now(UTC))
        git.create_repo("test/sandbox", {"preprod/values.yaml": VALUES}, branch="master")
        work = tmp_path / "work"
        operator = OperatorProcess(
            kube.operator_kubeconfig_path,
            work,
            tmp_path / "operator.log",
            env={
                "SHUNTER_ALLOW_CREDENTIALS_OVER_HTTP": "true",
                "SHUNTER_MIN_STEP_REQUEUE_SECONDS": "0.5",
            },
            args=("--namespace", project),
        )
        operator.start()
        try:
            pipeline = GatedProject(kube, project, git, gate, image)
            pipeline.apply(details=operator.log)
            wait_for(
                pipeline.at_gate, what="the Promotion waiting at the gate", details=operator.log
            )
            operator.kill()
            assert not operator.running()
            assert len(git.log("test/sandbox", "master")) == 1  # nothing pushed yet
            if lose_work_dir:
                shutil.rmtree(work)
            gate.open.set()
            operator.start()

            phase = wait_for(
                pipeline.finished, what="the Promotion to finish", details=operator.log
            )
            assert phase == "Succeeded", pipeline.promotion()
            log = git.log("test/sandbox", "master")
            assert len(log) == 2, log
            assert (
                f"lmsImageTag: {TAG}"
                in git.read_file("test/sandbox", "master", "preprod/values.yaml").decode()
            )
            assert operator.starts == 2
        finally:
            operator.stop()
