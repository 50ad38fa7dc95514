"""The ``shunter`` user commands (get, promote, approve, refresh, abort) against a real API server.

Objects are created with kubectl as the administrator; ``main([...])`` runs in-process and its
output is captured. One test starts the real operator to answer ``refresh --wait``.
"""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from shunter.cli import main
from shunter_devenv.cluster import Cluster
from shunter_devenv.operator import OperatorProcess
from shunter_devenv.waiting import wait_for

F1 = "1111111111111111111111111111111111111111"
F2 = "2222222222222222222222222222222222222222"
STEPS = [{"uses": "fail", "config": {"message": "test double of a real step list"}}]


@dataclass
class Project:
    kube: Cluster
    name: str

    def run(self, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
        code = main(["--kubeconfig", str(self.kube.kubeconfig_path), *args])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    def get(self, kind: str, name: str) -> dict[str, Any]:
        out = self.kube.kubectl("get", kind, name, "-n", self.name, "-o", "json").stdout
        result: dict[str, Any] = json.loads(out)
        return result

    def patch_status(self, kind: str, name: str, status: dict[str, Any]) -> None:
        self.kube.kubectl(
            "patch", kind, name, "-n", self.name, "--subresource=status", "--type=merge",
            "-p", json.dumps({"status": status}),
        )  # fmt: skip


def _doc(kind: str, name: str, namespace: str | None, **body: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    meta.update(body.pop("metadata", {}))
    return {"apiVersion": "kargo.akuity.io/v1alpha1", "kind": kind, "metadata": meta, **body}


def _stage(namespace: str, name: str, sources: dict[str, Any], warehouse: str = "images") -> Any:
    return _doc(
        "Stage",
        name,
        namespace,
        spec={
            "requestedFreight": [
                {"origin": {"kind": "Warehouse", "name": warehouse}, "sources": sources}
            ],
            "promotionTemplate": {"spec": {"steps": STEPS}},
        },
    )


def _freight(namespace: str, name: str, alias: str, tag: str, discovered: str) -> Any:
    return _doc(
        "Freight",
        name,
        namespace,
        metadata={"labels": {"kargo.akuity.io/alias": alias}},
        alias=alias,
        discoveredAt=discovered,
        origin={"kind": "Warehouse", "name": "images"},
        images=[{"repoURL": "registry.example/app", "tag": tag, "digest": f"sha256:{tag}"}],
    )


def _create_project(kube: Cluster, name: str) -> None:
    kube.apply(json.dumps(_doc("Project", name, None)))
    kube.apply(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": name, "labels": {"kargo.akuity.io/project": "true"}},
            }
        )
    )


@pytest.fixture(scope="module")
def project(kube: Cluster) -> Iterator[Project]:
    name = f"cli-{secrets.token_hex(4)}"
    _create_project(kube, name)
    docs = [
        _doc(
            "Warehouse",
            "images",
            name,
            spec={"subscriptions": [{"image": {"repoURL": "registry.example/app"}}]},
        ),
        _stage(name, "preprod", {"direct": True}),
        _stage(name, "prod", {"stages": ["preprod"]}),
        _stage(name, "elsewhere", {"direct": True}, warehouse="other"),
        _freight(name, F1, "frozen-tauntaun", "1.0.0", "2026-11-01T10:00:00Z"),
        _freight(name, F2, "brave-bantha", "2.0.0", "2026-11-02T10:00:00Z"),
    ]
    kube.apply("\n---\n".join(json.dumps(d) for d in docs))
    proj = Project(kube, name)
    proj.patch_status("freight", F1, {"verifiedIn": {"preprod": {}}})
    yield proj
    kube.kubectl("delete", "project", name, "--wait=false", "--ignore-not-found")
    kube.kubectl("delete", "namespace", name, "--wait=false", "--ignore-not-found")


# -- get -------------------------------------------------------------------------------------


def test_get_stages_prints_a_table(project: Project, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = project.run(capsys, "get", "stages", "-n", project.name)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["NAME", "CURRENT", "FREIGHT", "HEALTH", "READY", "STATUS", "AGE"]
    assert [line.split()[0] for line in lines[1:]] == ["elsewhere", "preprod", "prod"]


def test_get_freight_shows_aliases_and_images_newest_first(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = project.run(capsys, "get", "freight", "-n", project.name)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:4] == ["NAME", "ALIAS", "ORIGIN", "ARTIFACTS"]
    assert lines[1].split()[:4] == [
        F2,
        "brave-bantha",
        "Warehouse/images",
        "registry.example/app:2.0.0",
    ]
    assert lines[2].split()[:4] == [
        F1,
        "frozen-tauntaun",
        "Warehouse/images",
        "registry.example/app:1.0.0",
    ]
    code, out, _ = project.run(capsys, "get", "freight", "-n", project.name, "-o", "wide")
    assert "VERIFIED IN" in out.splitlines()[0]
    assert "preprod" in out.splitlines()[2]


def test_get_one_freight_by_alias_as_json_and_yaml(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = project.run(
        capsys, "get", "freight", "frozen-tauntaun", "-n", project.name, "-o", "json"
    )
    assert code == 0
    assert json.loads(out)["metadata"]["name"] == F1
    code, out, _ = project.run(capsys, "get", "stages", "-n", project.name, "-o", "yaml")
    assert code == 0
    assert out.startswith("apiVersion: v1\nkind: List\n")
    code, out, _ = project.run(capsys, "get", "stage", "prod", "-n", project.name, "-o", "name")
    assert out == "stage.kargo.akuity.io/prod\n"


def test_get_projects_includes_the_project(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = project.run(capsys, "get", "projects")
    assert code == 0
    assert project.name in [line.split()[0] for line in out.splitlines()[1:]]
    code, out, _ = project.run(capsys, "get", "project", project.name, "--no-headers")
    assert out.split()[0] == project.name


def test_get_errors_say_what_to_do(project: Project, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = project.run(capsys, "get", "stages")
    assert code == 2
    assert "add -n PROJECT" in err
    assert project.name in err
    code, _, err = project.run(capsys, "get", "stages", "-n", "no-such-project")
    assert code == 1
    assert "project 'no-such-project' not found" in err
    assert project.name in err
    code, _, err = project.run(capsys, "get", "stage", "prdo", "-n", project.name)
    assert code == 1
    assert "Stage 'prdo' not found" in err
    assert "elsewhere, preprod, prod" in err
    code, _, err = project.run(capsys, "get", "gadgets", "-n", project.name)
    assert code == 2
    assert "unknown kind 'gadgets'" in err


def test_forbidden_users_are_told_to_ask_for_rbac(
    kube: Cluster, project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    if not kube.has_test_users:
        pytest.skip("this cluster has no test users")
    code = main(
        ["--kubeconfig", str(kube.kubeconfig_for("alice")), "get", "stages", "-n", project.name]
    )
    err = capsys.readouterr().err
    assert code == 1
    assert "403" in err
    assert "ask a cluster administrator for RBAC" in err


def test_an_unreachable_cluster_is_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "kubeconfig"
    config.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": "http://127.0.0.1:9"}}],
                "users": [{"name": "u", "user": {}}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "x",
            }
        )
    )
    code = main(["--kubeconfig", str(config), "get", "projects"])
    assert code == 1
    assert "cannot reach the Kubernetes API server" in capsys.readouterr().err


# -- promote and approve ---------------------------------------------------------------------


def test_promote_by_alias_creates_a_promotion(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = project.run(
        capsys, "promote", "--project", project.name, "--stage", "preprod",
        "--freight", "frozen-tauntaun",
    )  # fmt: skip
    assert code == 0, err
    first = out.splitlines()[0]
    assert first.startswith("promotion.kargo.akuity.io/preprod.")
    assert first.endswith(f".{F1[:7]} created")
    name = first.split("/", 1)[1].removesuffix(" created")
    assert f"shunter get promotion {name} -n {project.name} -w" in out
    promotion = project.get("promotion", name)
    assert promotion["spec"] == {"stage": "preprod", "freight": F1}


def test_promote_refuses_freight_not_verified_upstream(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    before = project.kube.kubectl("get", "promotions", "-n", project.name, "-o", "name").stdout
    code, _, err = project.run(
        capsys, "promote", "-n", project.name, "--stage", "prod", "--freight", "brave-bantha"
    )
    assert code == 1
    assert f"Freight {F2} (brave-bantha) is not available to Stage 'prod'" in err
    assert "Promote it to preprod first" in err
    assert f"shunter approve --project {project.name} --stage prod --freight {F2}" in err
    after = project.kube.kubectl("get", "promotions", "-n", project.name, "-o", "name").stdout
    assert after == before


def test_promote_names_what_exists_when_a_name_is_wrong(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = project.run(
        capsys, "promote", "-n", project.name, "--stage", "qa", "--freight", F1
    )
    assert code == 1
    assert "Stage 'qa' not found" in err
    assert "preprod, prod" in err
    code, _, err = project.run(
        capsys, "promote", "-n", project.name, "--stage", "prod", "--freight", "nope"
    )
    assert code == 1
    assert "no Freight named or aliased 'nope'" in err
    assert "brave-bantha" in err


def test_approve_makes_freight_promotable(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = project.run(
        capsys, "approve", "-n", project.name, "--stage", "prod", "--freight", F2
    )
    assert code == 0, err
    assert out == f"freight.kargo.akuity.io/{F2} approved for Stage prod\n"
    assert "prod" in project.get("freight", F2)["status"]["approvedFor"]
    code, out, _ = project.run(
        capsys, "approve", "-n", project.name, "--stage", "prod", "--freight", "brave-bantha"
    )
    assert code == 0
    assert "already approved" in out
    code, out, err = project.run(
        capsys, "promote", "-n", project.name, "--stage", "prod", "--freight", "brave-bantha"
    )
    assert code == 0, err
    assert out.startswith("promotion.kargo.akuity.io/prod.")


def test_approve_refuses_a_stage_that_does_not_request_the_origin(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = project.run(
        capsys, "approve", "-n", project.name, "--stage", "elsewhere", "--freight", F1
    )
    assert code == 1
    assert "does not request Freight from Warehouse/images" in err
    assert "Warehouse/other" in err


# -- refresh, abort, watch -------------------------------------------------------------------


def test_refresh_sets_the_annotation_and_wait_times_out_without_an_operator(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = project.run(capsys, "refresh", "warehouse", "images", "-n", project.name)
    assert code == 0
    assert out == "warehouse.kargo.akuity.io/images refresh requested\n"
    annotations = project.get("warehouse", "images")["metadata"]["annotations"]
    assert annotations["kargo.akuity.io/refresh"]
    code, _, err = project.run(
        capsys, "refresh", "stage", "prod", "-n", project.name, "--wait", "--timeout", "0.5"
    )
    assert code == 1
    assert "has not handled the refresh of stage 'prod' within 0.5s" in err


def _new_promotion(project: Project, stage: str, freight: str) -> str:
    name = f"{stage}.{secrets.token_hex(6)}.{freight[:7]}"
    body = _doc("Promotion", name, project.name, spec={"stage": stage, "freight": freight})
    project.kube.apply(json.dumps(body))
    return name


def test_abort_marks_a_running_promotion_and_skips_finished_ones(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    name = _new_promotion(project, "preprod", F1)
    code, out, _ = project.run(capsys, "abort", "promotion", name, "-n", project.name)
    assert code == 0
    assert out == f"promotion.kargo.akuity.io/{name} abort requested\n"
    annotations = project.get("promotion", name)["metadata"]["annotations"]
    assert annotations["kargo.akuity.io/abort"] == "terminate"
    done = _new_promotion(project, "preprod", F1)
    project.patch_status("promotion", done, {"phase": "Succeeded"})
    code, out, _ = project.run(capsys, "abort", "promotion", done, "-n", project.name)
    assert code == 0
    assert "already finished (Succeeded); nothing to abort" in out
    assert "kargo.akuity.io/abort" not in (
        project.get("promotion", done)["metadata"].get("annotations") or {}
    )


def test_watching_one_promotion_ends_when_it_finishes(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    name = _new_promotion(project, "preprod", F1)
    result: list[int] = []
    args = ["--kubeconfig", str(project.kube.kubeconfig_path), "get", "promotion", name]
    watcher = threading.Thread(
        target=lambda: result.append(main([*args, "-n", project.name, "-w"])), daemon=True
    )
    watcher.start()
    project.patch_status("promotion", name, {"phase": "Running"})
    wait_for(lambda: "Running" in capsys.readouterr().out, what="the Running row", timeout=30)
    project.patch_status("promotion", name, {"phase": "Succeeded"})
    watcher.join(timeout=30)
    assert not watcher.is_alive()
    assert result == [0]


def test_refresh_wait_returns_once_the_operator_handled_it(
    kube: Cluster, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    name = f"cli-op-{secrets.token_hex(3)}"
    _create_project(kube, name)
    kube.apply(json.dumps(_stage(name, "preprod", {"direct": True})))
    operator = OperatorProcess(
        kube.kubeconfig_path,
        tmp_path / "work",
        tmp_path / "operator.log",
        args=("--namespace", name),
    )
    try:
        with operator:
            code = main(
                ["--kubeconfig", str(kube.kubeconfig_path), "refresh", "stage", "preprod",
                 "-n", name, "--wait", "--timeout", "60"]
            )  # fmt: skip
            captured = capsys.readouterr()
            assert code == 0, f"{captured.err}\n{operator.log()[-3000:]}"
            assert captured.out.splitlines()[-1] == "stage.kargo.akuity.io/preprod refreshed"
    finally:
        kube.kubectl("delete", "project", name, "--wait=false", "--ignore-not-found")
        kube.kubectl("delete", "namespace", name, "--wait=false", "--ignore-not-found")
