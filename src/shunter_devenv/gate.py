"""A promotion that waits at a gate, for tests that stop or kill operators mid-promotion.

:class:`Gate` is a local HTTP endpoint answering 503 until opened. :func:`gated_pipeline` is a
Warehouse, a PromotionTask and a Stage (``preprod``, auto-promoted when the Project says so)
whose promotion clones the GitOps repository, updates ``<envPath>/values.yaml``, commits, then
polls the gate with an ``http`` step before it pushes: a test knows the commit exists only in
the work tree while the Promotion waits there. :class:`GatedProject` applies it as a Project
with its git credentials and reads its Promotion.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from shunter_devenv.cluster import Cluster
from shunter_devenv.gitserver import GitServer
from shunter_devenv.waiting import wait_for

__all__ = ["Gate", "GatedProject", "gated_pipeline"]


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


def gated_pipeline(
    project: str, git_url: str, gate_url: str, image: str, *, shard: str = ""
) -> list[dict[str, Any]]:
    """The Warehouse, PromotionTask and Stage (``shard``: their ``spec.shard``)."""
    return [
        {
            "apiVersion": "kargo.akuity.io/v1alpha1",
            "kind": "Warehouse",
            "metadata": {"name": "example-container", "namespace": project},
            "spec": {
                **({"shard": shard} if shard else {}),
                "subscriptions": [
                    {"image": {"repoURL": image, "imageSelectionStrategy": "Lexical"}}
                ],
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
                **({"shard": shard} if shard else {}),
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


@dataclass
class GatedProject:
    """A Project running :func:`gated_pipeline`, its git credentials included."""

    kube: Cluster
    name: str
    git: GitServer
    gate: Gate
    image: str
    repo: str = "test/sandbox"
    login: tuple[str, str] = ("kargo", "pw")

    def apply(self, *, shard: str = "", details: Callable[[], str] | None = None) -> None:
        """The Project (auto-promoting preprod), once its namespace exists the git Secret, then
        the pipeline."""
        project = {
            "apiVersion": "kargo.akuity.io/v1alpha1",
            "kind": "Project",
            "metadata": {"name": self.name},
            "spec": {"promotionPolicies": [{"stage": "preprod", "autoPromotionEnabled": True}]},
        }
        self.kube.apply(json.dumps(project), server_side=False)
        wait_for(
            lambda: self.kube.kubectl("get", "namespace", self.name, check=False).returncode == 0,
            what=f"the namespace of Project {self.name}",
            details=details,
        )
        user, password = self.login
        secret = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": "git",
                "namespace": self.name,
                "labels": {"kargo.akuity.io/cred-type": "git"},
            },
            "stringData": {
                "repoURL": self.git.url(self.repo),
                "username": user,
                "password": password,
            },
        }
        self.kube.apply(json.dumps(secret))
        for doc in gated_pipeline(
            self.name, self.git.url(self.repo), self.gate.url, self.image, shard=shard
        ):
            self.kube.apply(json.dumps(doc), server_side=False)

    def promotion(self) -> dict[str, Any] | None:
        """The Project's (first) Promotion."""
        items = json.loads(
            self.kube.kubectl("get", "promotions", "-n", self.name, "-o", "json").stdout
        )["items"]
        return dict(items[0]) if items else None

    def at_gate(self) -> bool:
        """The Promotion committed and is polling the gate."""
        meta = ((self.promotion() or {}).get("status") or {}).get("stepExecutionMetadata") or []
        done = {m["alias"]: m.get("status") for m in meta}
        return done.get("task-1::commit") == "Succeeded" and self.gate.hits > 0

    def finished(self) -> str | None:
        """The Promotion's terminal phase, if it has one."""
        phase = ((self.promotion() or {}).get("status") or {}).get("phase")
        return phase if phase in ("Succeeded", "Failed", "Errored", "Aborted") else None
