"""kill -9 of the operator between git-commit and git-push, then a restart.

The PromotionTask is the seed's, with one step added between git-commit and git-push: an
``http`` step that waits on a local gate (it answers 503 until the test opens it), so the test
knows the commit exists only in the work tree when it kills the operator. After the restart
the Promotion must end Succeeded with exactly one new commit on the server - whether the work
directory survived (resume at currentStep) or was lost (restart at step 0, state kept).
"""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from shunter_devenv.cluster import Cluster
from shunter_devenv.gitserver import GitServer
from shunter_devenv.operator import OperatorProcess
from shunter_devenv.registry import Registry
from shunter_devenv.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]
VALUES = (ROOT / "tests" / "data" / "values" / "realistic-values.yaml").read_text()
TAG = "2026-11-26_1300-0badc0d"


class Gate:
    """A local HTTP endpoint that answers 503 until opened."""

    def __init__(self) -> None:
        self.open = threading.Event()
        self.hits = 0
        gate = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                gate.hits += 1
                code = 200 if gate.open.is_set() else 503
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(json.dumps({"open": gate.open.is_set()}).encode())

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/ready"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _manifests(project: str, git_url: str, gate_url: str, image: str) -> list[dict[str, Any]]:
    return [
        {
            "apiVersion": "kargo.akuity.io/v1alpha1",
            "kind": "Warehouse",
            "metadata": {"name": "example-container", "namespace": project},
            "spec": {
                "subscriptions": [
                    {"image": {"repoURL": image, "imageSelectionStrategy": "Lexical"}}
                ]
            },
        },
        {
            "apiVersion": "kargo.akuity.io/v1alpha1",
            "kind": "PromotionTask",
            "metadata": {"name": "promote", "namespace": project},
            "spec": {
                "vars": [
                    {"name": "image", "value": image},
                    {"name": "repoURL", "value": git_url},
                    {"name": "branch", "value": "master"},
                    {"name": "envPath"},
                ],
                "steps": [
                    {
                        "uses": "git-clone",
                        "config": {
                            "repoURL": "${{ vars.repoURL }}",
                            "checkout": [{"branch": "${{ vars.branch }}", "path": "./src"}],
                        },
                    },
                    {
                        "uses": "yaml-update",
                        "as": "update-image",
                        "config": {
                            "path": "./src/${{ vars.envPath }}/values.yaml",
                            "updates": [
                                {
                                    "key": "general.lmsImageTag",
                                    "value": "${{ imageFrom( vars.image ).Tag }}",
                                }
                            ],
                        },
                    },
                    {
                        "uses": "git-commit",
                        "as": "commit",
                        "config": {
                            "path": "./src",
                            "message": "${{ task.outputs['update-image'].commitMessage }}",
                        },
                    },
                    {
                        "uses": "http",
                        "as": "gate",
                        "config": {
                            "url": gate_url,
                            "successExpression": "response.status == 200",
                            "pollInterval": "1s",
                        },
                    },
                    {"uses": "git-push", "config": {"path": "./src"}},
                ],
            },
        },
        {
            "apiVersion": "kargo.akuity.io/v1alpha1",
            "kind": "Stage",
            "metadata": {"name": "preprod", "namespace": project},
            "spec": {
                "requestedFreight": [
                    {
                        "origin": {"kind": "Warehouse", "name": "example-container"},
                        "sources": {"direct": True},
                    }
                ],
                "promotionTemplate": {
                    "spec": {
                        "steps": [
                            {
                                "task": {"name": "promote"},
                                "vars": [{"name": "envPath", "value": "preprod"}],
                            }
                        ]
                    }
                },
            },
        },
    ]


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
            kube.apply(
                json.dumps(
                    {
                        "apiVersion": "kargo.akuity.io/v1alpha1",
                        "kind": "Project",
                        "metadata": {"name": project},
                        "spec": {
                            "promotionPolicies": [
                                {"stage": "preprod", "autoPromotionEnabled": True}
                            ]
                        },
                    }
                ),
                server_side=False,
            )
            wait_for(
                lambda: kube.kubectl("get", "namespace", project, check=False).returncode == 0,
                what="the project namespace",
                details=operator.log,
            )
            kube.apply(
                json.dumps(
                    {
                        "apiVersion": "v1",
                        "kind": "Secret",
                        "metadata": {
                            "name": "git",
                            "namespace": project,
                            "labels": {"kargo.akuity.io/cred-type": "git"},
                        },
                        "stringData": {
                            "repoURL": git.url("test/sandbox"),
                            "username": "kargo",
                            "password": "pw",
                        },
                    }
                )
            )
            for doc in _manifests(project, git.url("test/sandbox"), gate.url, image):
                kube.apply(json.dumps(doc), server_side=False)

            def promotion() -> dict[str, Any] | None:
                items = json.loads(
                    kube.kubectl("get", "promotions", "-n", project, "-o", "json").stdout
                )["items"]
                return items[0] if items else None

            def at_gate() -> bool:
                promo = promotion()
                meta = (promo or {}).get("status", {}).get("stepExecutionMetadata") or []
                done = {m["alias"]: m.get("status") for m in meta}
                return done.get("task-1::commit") == "Succeeded" and gate.hits > 0

            wait_for(at_gate, what="the Promotion waiting at the gate", details=operator.log)
            operator.kill()
            assert not operator.running()
            assert len(git.log("test/sandbox", "master")) == 1  # nothing pushed yet
            if lose_work_dir:
                shutil.rmtree(work)
            gate.open.set()
            operator.start()

            def finished() -> str | None:
                promo = promotion()
                phase = (promo or {}).get("status", {}).get("phase")
                return phase if phase in ("Succeeded", "Failed", "Errored", "Aborted") else None

            phase = wait_for(finished, what="the Promotion to finish", details=operator.log)
            assert phase == "Succeeded", promotion()
            log = git.log("test/sandbox", "master")
            assert len(log) == 2, log
            assert (
                f"lmsImageTag: {TAG}"
                in git.read_file("test/sandbox", "master", "preprod/values.yaml").decode()
            )
            assert operator.starts == 2
        finally:
            operator.stop()
