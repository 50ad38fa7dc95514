"""Warehouse discovery failures on a real registry, with the operator as a process: a wrong
password, an unknown repository, and the registry going down. Each is reported in the
Warehouse's conditions with a clear message, existing Freight stays, and discovery recovers by
itself once the cause is gone."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shunter_devenv.cluster import Cluster
from shunter_devenv.operator import OperatorProcess
from shunter_devenv.registry import Registry
from shunter_devenv.waiting import wait_for

NS = "warehouse-errors"
PASSWORD = "the-registry-password"


@dataclass
class Env:
    kube: Cluster
    registry: Registry
    operator: OperatorProcess

    def warehouse(self, name: str) -> dict[str, Any]:
        out = self.kube.kubectl("get", "warehouse", name, "-n", NS, "-o", "json").stdout
        return dict(json.loads(out))

    def ready(self, name: str) -> dict[str, Any] | None:
        for cond in self.warehouse(name).get("status", {}).get("conditions", []):
            if cond["type"] == "Ready":
                return dict(cond)
        return None

    def freight_names(self) -> set[str]:
        items = json.loads(self.kube.kubectl("get", "freight", "-n", NS, "-o", "json").stdout)
        return {f["metadata"]["name"] for f in items["items"]}

    def secret(self, password: str) -> None:
        self.kube.apply(
            json.dumps(
                {
                    "apiVersion": "v1",
                    "kind": "Secret",
                    "metadata": {
                        "name": "registry",
                        "namespace": NS,
                        "labels": {"kargo.akuity.io/cred-type": "image"},
                    },
                    "stringData": {
                        "repoURL": f"{self.registry.host}/app",
                        "username": "ci",
                        "password": password,
                    },
                }
            )
        )

    def refresh(self, name: str) -> None:
        self.kube.kubectl(
            "annotate", "warehouse", name, "-n", NS,
            f"kargo.akuity.io/refresh={time.monotonic_ns()}", "--overwrite",
        )  # fmt: skip

    def wait_ready(self, name: str, status: str, reason: str | None = None) -> dict[str, Any]:
        def probe() -> dict[str, Any] | None:
            cond = self.ready(name)
            if cond and cond["status"] == status and (reason is None or cond["reason"] == reason):
                return cond
            return None

        return wait_for(
            probe,
            what=f"Warehouse {name} Ready={status} {reason or ''}",
            details=lambda: (
                json.dumps(self.warehouse(name).get("status"))
                + "\n".join(
                    line
                    for line in self.operator.log().splitlines()
                    if f"/{name}" in line and "httpcore" not in line
                )[-6000:]
            ),
        )


@pytest.fixture(scope="module")
def env(kube: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    tmp = tmp_path_factory.mktemp("warehouse-errors")
    with Registry(users={"ci": PASSWORD}) as registry:
        base = datetime.now(UTC) - timedelta(days=1)
        registry.push_image("app", "1.0.0", base)
        registry.push_image("app", "1.1.0", base + timedelta(hours=1))
        operator = OperatorProcess(
            kube.operator_kubeconfig_path,
            tmp / "work",
            tmp / "operator.log",
            env={"SHUNTER_DISCOVERY_RETRY_SECONDS": "1"},
            args=("--namespace", NS),
        )
        with operator:
            kube.create_project(NS)
            e = Env(kube, registry, operator)
            e.secret(PASSWORD)
            # Any other repository of this registry: a regex match (the exact one above wins).
            kube.apply(
                json.dumps(
                    {
                        "apiVersion": "v1",
                        "kind": "Secret",
                        "metadata": {
                            "name": "registry-any",
                            "namespace": NS,
                            "labels": {"kargo.akuity.io/cred-type": "image"},
                        },
                        "stringData": {
                            "repoURL": "^" + registry.host.replace(".", "\\.") + "/.*",
                            "repoURLIsRegex": "true",
                            "username": "ci",
                            "password": PASSWORD,
                        },
                    }
                )
            )
            for name, repo in (("app", "app"), ("missing", "does/not-exist")):
                kube.apply(
                    json.dumps(
                        {
                            "apiVersion": "kargo.akuity.io/v1alpha1",
                            "kind": "Warehouse",
                            "metadata": {"name": name, "namespace": NS},
                            "spec": {
                                "subscriptions": [{"image": {"repoURL": f"{registry.host}/{repo}"}}]
                            },
                        }
                    ),
                    server_side=False,
                )
            yield e


def test_healthy_discovery_creates_freight(env: Env) -> None:
    cond = env.wait_ready("app", "True", "ArtifactsDiscovered")
    assert cond["message"] == "Successfully discovered artifacts from 1 subscriptions"
    wait_for(env.freight_names, what="Freight")
    refs = env.warehouse("app")["status"]["discoveredArtifacts"]["images"][0]["references"]
    assert [r["tag"] for r in refs] == ["1.1.0", "1.0.0"]


def test_unknown_repository_is_reported(env: Env) -> None:
    cond = env.wait_ready("missing", "False", "DiscoveryFailure")
    assert "not found" in cond["message"].lower()
    assert "does/not-exist" in cond["message"]


def test_wrong_password_then_recovery(env: Env) -> None:
    before = wait_for(env.freight_names, what="Freight")
    env.secret("wrong-" + PASSWORD)
    env.refresh("app")
    cond = env.wait_ready("app", "False", "DiscoveryFailure")
    message = cond["message"]
    assert "401" in message or "authenticat" in message.lower()
    assert PASSWORD not in message
    assert env.freight_names() == before
    env.secret(PASSWORD)
    env.wait_ready("app", "True", "ArtifactsDiscovered")  # no refresh needed
    assert PASSWORD not in env.operator.log()


def test_registry_down_then_back(env: Env) -> None:
    before = wait_for(env.freight_names, what="Freight")
    env.registry.outage()
    try:
        env.refresh("app")
        cond = env.wait_ready("app", "False", "DiscoveryFailure")
        assert "unreachable" in cond["message"].lower() or "502" in cond["message"]
        assert env.freight_names() == before
    finally:
        env.registry.restore()
    env.wait_ready("app", "True", "ArtifactsDiscovered")
    env.registry.push_image("app", "1.2.0", datetime.now(UTC))
    env.refresh("app")
    wait_for(lambda: len(env.freight_names()) > len(before), what="Freight for the new tag")
