"""The operator runs under the chart's own RBAC, not as administrator, on a control plane with
kube-controller-manager (namespaces are really deleted).

The chart is rendered with ``helm template``; its ServiceAccount and RBAC objects are applied,
and the operator runs with a token minted for that ServiceAccount (TokenRequest API), with the
settings the chart's Deployment gives it (leader election, project access, cluster-wide).
Then: the seed pipeline (a new Project: the operator grants itself its Secrets, with no chart
change), a Freight made by hand under another name (renamed: a delete), and Project deletions,
one with ``kargo.akuity.io/keep-namespace``. No request may be refused: no 403 in the log.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from shunter_devenv.binaries import KUBE_VERSION, binary
from shunter_devenv.controlplane import ControlPlane
from shunter_devenv.seedpipeline import SeedPipeline, seed_pipeline
from shunter_devenv.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "shunter"
VALUES = (ROOT / "tests" / "data" / "values" / "realistic-values.yaml").read_text()
SYSTEM = "shunter-system"
RBAC_KINDS = {"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"}
PROJECT = "rbac-seed"


@pytest.fixture(scope="module")
def plane() -> Iterator[ControlPlane]:
    with ControlPlane(with_controller_manager=True) as cp:
        cp.install_crds(ROOT / "crds")
        yield cp


def _chart_env(deployment: dict[str, Any]) -> dict[str, str]:
    """The Deployment's literal SHUNTER_* settings (fieldRef ones are set by the test)."""
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e["value"] for e in container["env"] if "value" in e}


@pytest.fixture(scope="module")
def operator_kubeconfig(
    plane: ControlPlane, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, dict[str, str]]:
    """The chart's RBAC applied; a kubeconfig with the ServiceAccount's token; its env."""
    rendered = subprocess.run(
        [
            str(binary("helm")), "template", "shunter", str(CHART), "--namespace", SYSTEM,
            "--kube-version", KUBE_VERSION,
            "--set", "crds.install=false", "--set", "validationPolicies.install=false",
        ],
        capture_output=True, text=True, check=True, timeout=120,
    ).stdout  # fmt: skip
    docs = [d for d in yaml.safe_load_all(rendered) if d]
    plane.kubectl("create", "namespace", SYSTEM)
    namespaces = [d for d in docs if d["kind"] == "Namespace"]  # e.g. kargo-system-resources
    plane.apply(json.dumps({"apiVersion": "v1", "kind": "List", "items": namespaces}))
    rbac = [d for d in docs if d["kind"] in RBAC_KINDS]
    plane.apply(json.dumps({"apiVersion": "v1", "kind": "List", "items": rbac}))
    (deployment,) = [d for d in docs if d["kind"] == "Deployment"]
    token = plane.kubectl(
        "create", "token", "shunter", "-n", SYSTEM, "--duration=2h"
    ).stdout.strip()
    config = yaml.safe_load(plane.kubeconfig_path.read_text())
    for user in config["users"]:
        user["user"] = {"token": token}
    path = tmp_path_factory.mktemp("sa") / "kubeconfig"
    path.write_text(yaml.safe_dump(config))
    env = {
        **_chart_env(deployment),
        "SHUNTER_OPERATOR_NAMESPACE": SYSTEM,
        "SHUNTER_LEADER_ELECTION_IDENTITY": "shunter-0",
        "SHUNTER_WORK_DIR": "",  # the test's own (OperatorProcess sets it)
        "SHUNTER_LOG_LEVEL": "DEBUG",
        "SHUNTER_ALLOW_CREDENTIALS_OVER_HTTP": "true",
        "SHUNTER_MIN_STEP_REQUEUE_SECONDS": "0.5",
    }
    # Local ports and paths are the test's own; the webhooks are not served here (registering
    # them is the chart's job, not the operator's: see test_chart for their RBAC).
    for local in (
        "SHUNTER_WORK_DIR",
        "SHUNTER_METRICS_ADDRESS",
        "SHUNTER_RECEIVERS_ADDRESS",
        "SHUNTER_ADMISSION_ADDRESS",
        "SHUNTER_ADMISSION_SECRET",
        "SHUNTER_ADMISSION_HOSTS",
        "SHUNTER_ADMISSION_CERT_DIR",
    ):
        env.pop(local, None)
    return path, env


@pytest.fixture(scope="module")
def seed(
    plane: ControlPlane,
    operator_kubeconfig: tuple[Path, dict[str, str]],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[SeedPipeline]:
    kubeconfig, env = operator_kubeconfig
    with seed_pipeline(
        plane,
        tmp_path_factory.mktemp("seed"),
        VALUES,
        env=env,
        project=PROJECT,
        operator_kubeconfig=kubeconfig,
        operator_args=(),  # cluster-wide, as the chart runs it
        admission=False,
    ) as pipeline:
        yield pipeline


def _forbidden(log: str) -> list[str]:
    return [line for line in log.splitlines() if " 403" in line or "Forbidden" in line]


def test_the_seed_pipeline_runs_under_the_charts_rbac(seed: SeedPipeline) -> None:
    wait_for(
        lambda: seed.current_freight("preprod"),
        what="preprod promoted with the new Project's credentials",
        details=seed.diagnostics,
    )
    promotions = seed.promotions("preprod")
    assert [p["status"]["phase"] for p in promotions] == ["Succeeded"]
    binding = json.loads(
        seed.kube.kubectl(
            "get", "rolebinding", "shunter-project-resources", "-n", PROJECT, "-o", "json"
        ).stdout
    )
    assert binding["roleRef"]["name"] == "shunter-project-resources"
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "shunter", "namespace": SYSTEM}
    ]
    assert _forbidden(seed.operator.log()) == []


def test_a_hand_made_freight_is_renamed_under_the_charts_rbac(seed: SeedPipeline) -> None:
    seed.add_old_freight(
        "made-by-hand", "hand-made", "2026-09-01_0000-abcdef0", "sha256:" + "ab" * 32
    )
    wait_for(
        lambda: (
            seed.kube.kubectl(
                "get", "freight", "made-by-hand", "-n", PROJECT, check=False
            ).returncode
            != 0
        ),
        what="the hand-named Freight to be replaced",
        details=seed.diagnostics,
    )
    aliases = {f.get("alias") for f in seed.get("freight")["items"]}
    assert "hand-made" in aliases
    assert _forbidden(seed.operator.log()) == []


def test_deleting_a_project_deletes_its_namespace_unless_kept(seed: SeedPipeline) -> None:
    kube = seed.kube
    for name, keep in (("doomed", False), ("kept", True)):
        meta: dict[str, Any] = {"name": name}
        if keep:
            meta["annotations"] = {"kargo.akuity.io/keep-namespace": "true"}
        kube.apply(
            json.dumps(
                {"apiVersion": "kargo.akuity.io/v1alpha1", "kind": "Project", "metadata": meta}
            ),
            server_side=False,
        )
        wait_for(
            lambda name=name: _ready(kube, name),
            what=f"Project {name} Ready",
            details=seed.operator.log,
        )
        kube.kubectl("delete", "project", name, "--wait=false")
    for name in ("doomed", "kept"):
        wait_for(
            lambda name=name: kube.kubectl("get", "project", name, check=False).returncode != 0,
            what=f"Project {name} gone",
            details=seed.operator.log,
        )
    wait_for(
        lambda: kube.kubectl("get", "namespace", "doomed", check=False).returncode != 0,
        what="namespace doomed deleted (kube-controller-manager empties it)",
        timeout=90,
        details=seed.operator.log,
    )
    namespace = json.loads(kube.kubectl("get", "namespace", "kept", "-o", "json").stdout)
    assert namespace["status"]["phase"] == "Active"
    # Not a Project's any more: the operator gave up its access there.
    gone = kube.kubectl(
        "get", "rolebinding", "shunter-project-resources", "-n", "kept", check=False
    )
    assert gone.returncode != 0
    assert _forbidden(seed.operator.log()) == []


def _ready(kube: ControlPlane, name: str) -> bool:
    result = kube.kubectl("get", "project", name, "-o", "json", check=False)
    if result.returncode != 0:
        return False
    conditions = json.loads(result.stdout).get("status", {}).get("conditions") or []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)
