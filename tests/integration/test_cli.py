"""The ``shunter`` user commands against a real API server: get (filters, -A, -o), describe,
promote (--downstream-from, --wait --timeout), approve, update freight, refresh, abort, verify,
config, the project defaults, shell completion and a closed stdout.

Objects are created with kubectl as the administrator; ``main([...])`` runs in-process and its
output is captured (completion and pipes run ``python -m shunter`` as a process). One test
starts the real operator to answer ``refresh --wait``; ``promote --wait`` against the operator
is in test_seed_pipeline.py.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

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
        try:
            code = main(["--kubeconfig", str(self.kube.kubeconfig_path), *args])
        except SystemExit as exc:  # argparse's usage errors
            code = int(exc.code or 0)
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


@pytest.fixture(autouse=True)
def _own_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No default project or kubeconfig from the machine running the tests."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("KUBECONFIG", raising=False)


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
    assert lines[0].split() == [
        "NAME",
        "CURRENT",
        "FREIGHT",
        "HEALTH",
        "READY",
        "WINDOW",
        "STATUS",
        "AGE",
    ]
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


def test_get_several_names_and_flags_after_them(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = project.run(capsys, "get", "stages", "prod", "-n", project.name, "preprod")
    assert code == 0, err
    assert [line.split()[0] for line in out.splitlines()[1:]] == ["preprod", "prod"]
    code, out, _ = project.run(
        capsys, "get", "freight", "brave-bantha", F1, "-n", project.name, "-o", "name"
    )
    assert out.splitlines() == [f"freight.kargo.akuity.io/{F2}", f"freight.kargo.akuity.io/{F1}"]


def test_get_filters_by_stage_and_warehouse(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    def names(*args: str) -> list[str]:
        code, out, err = project.run(capsys, "get", *args, "-n", project.name, "-o", "name")
        assert code == 0, err
        return [line.rsplit("/", 1)[1] for line in out.splitlines()]

    # prod takes Freight verified in preprod: F1 is, F2 is not (nor approved for prod yet).
    assert names("freight", "--stage", "prod") == [F1]
    assert names("freight", "--stage", "preprod") == [F2, F1]
    assert names("freight", "--stage", "elsewhere") == []
    assert names("freight", "--warehouse", "images") == [F2, F1]
    assert names("freight", "--warehouse", "other") == []
    on_preprod = _new_promotion(project, "preprod", F1)
    assert on_preprod in names("promotions", "--stage", "preprod")
    assert on_preprod not in names("promotions", "--stage", "prod")
    code, _, err = project.run(capsys, "get", "stages", "--stage", "prod", "-n", project.name)
    assert code == 2
    assert "--stage filters freight and promotions only" in err
    code, _, err = project.run(capsys, "get", "freight", "--stage", "qa", "-n", project.name)
    assert code == 1
    assert "Stage 'qa' not found" in err


def test_get_all_projects(project: Project, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = project.run(capsys, "get", "stages", "-A")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split()[:2] == ["PROJECT", "NAME"]
    mine = [line.split()[1] for line in lines[1:] if line.split()[0] == project.name]
    assert mine == ["elsewhere", "preprod", "prod"]
    code, _, err = project.run(capsys, "get", "stages", "prod", "-A")
    assert code == 2
    assert "drop -A or the names" in err


def test_yaml_and_json_leave_out_managed_fields(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = project.kube.kubectl(
        "get", "stage", "prod", "-n", project.name, "-o", "json", "--show-managed-fields"
    ).stdout
    assert json.loads(raw)["metadata"]["managedFields"]  # the server keeps them
    code, out, _ = project.run(capsys, "get", "stage", "prod", "-n", project.name, "-o", "json")
    assert code == 0
    stage = json.loads(out)
    assert stage["metadata"]["name"] == "prod"
    assert "managedFields" not in stage["metadata"]
    code, out, _ = project.run(capsys, "get", "stages", "-n", project.name, "-o", "yaml")
    items = yaml.safe_load(out)["items"]
    assert [i["metadata"]["name"] for i in items] == ["elsewhere", "preprod", "prod"]
    assert all("managedFields" not in i["metadata"] for i in items)


def test_the_project_comes_from_the_context_then_the_config(
    project: Project, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = yaml.safe_load(project.kube.kubeconfig_path.read_text())
    plain = config["contexts"][0]
    config["contexts"].append(
        {"name": "in-project", "context": {**plain["context"], "namespace": project.name}}
    )
    config["contexts"].append(
        {"name": "in-default", "context": {**plain["context"], "namespace": "default"}}
    )
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(config))

    def stages(*args: str) -> tuple[int, str, str]:
        code = main(["--kubeconfig", str(path), *args])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    code, out, err = stages("--context", "in-project", "get", "stages")
    assert code == 0, err
    assert "preprod" in out
    code, _, err = stages("--context", "in-default", "get", "stages")
    assert code == 1
    assert "project 'default' not found" in err
    assert "(the project is the namespace of kubeconfig" in err
    assert "context 'in-default'; -n PROJECT picks another)" in err
    code, _, err = stages("get", "stages")  # current-context: no namespace, no default yet
    assert code == 2
    assert "shunter config set-project NAME" in err
    assert main(["config", "set-project", project.name]) == 0
    assert f"default project set to {project.name}" in capsys.readouterr().out
    assert main(["config", "get-project"]) == 0
    assert capsys.readouterr().out == f"{project.name}\n"
    code, out, err = stages("get", "stages")
    assert code == 0, err
    assert "preprod" in out
    code, _, err = stages("get", "stages", "-n", "no-such-project")  # -n wins
    assert "project 'no-such-project' not found" in err
    assert main(["config", "set-project", "Not_A_Name"]) == 2
    assert "is not a project name" in capsys.readouterr().err
    assert main(["config", "unset-project"]) == 0
    assert main(["config", "get-project"]) == 1


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
        kube.operator_kubeconfig_path,
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


# -- promote --downstream-from, --wait -------------------------------------------------------


def test_promote_downstream_from_skips_stages_that_cannot_take_it(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    both = _stage(project.name, "after-both", {"stages": ["preprod", "prod"]})
    both["spec"]["requestedFreight"][0]["sources"]["availabilityStrategy"] = "All"
    gate = _stage(project.name, "gate", {"stages": ["preprod"]})
    del gate["spec"]["promotionTemplate"]  # a control-flow Stage: no steps
    project.kube.apply("\n---\n".join(json.dumps(d) for d in (both, gate)))
    try:
        code, out, err = project.run(
            capsys, "promote", "-n", project.name, "--downstream-from", "preprod",
            "--freight", "frozen-tauntaun",
        )  # fmt: skip
        assert code == 0, err
        created = [line.split("/", 1)[1].removesuffix(" created") for line in out.splitlines()[:-1]]
        assert len(created) == 1
        assert project.get("promotion", created[0])["spec"] == {"stage": "prod", "freight": F1}
        assert "skipped Stage 'after-both': Freight has not been verified in every one" in err
        assert "skipped Stage 'gate': it has no promotion steps" in err
        assert (
            out.splitlines()[-1]
            == f"Follow it with: shunter get promotion {created[0]} -n {project.name} -w"
        )
    finally:
        project.kube.kubectl("delete", "stage", "after-both", "gate", "-n", project.name)
    code, _, err = project.run(
        capsys, "promote", "-n", project.name, "--downstream-from", "prod", "--freight", F1
    )
    assert code == 1
    assert "no Stage is directly downstream of 'prod'" in err


def test_promote_wait_gives_up_at_the_timeout_and_the_promotion_stays(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = project.run(
        capsys, "promote", "-n", project.name, "--stage", "preprod", "--freight", F1,
        "--wait", "--timeout", "0.5",
    )  # fmt: skip
    assert code == 1
    name = out.splitlines()[0].split("/", 1)[1].removesuffix(" created")
    assert f"not finished within 0.5s: {name}" in err
    assert project.get("promotion", name)["spec"]["stage"] == "preprod"
    code, _, err = project.run(
        capsys, "promote", "-n", project.name, "--stage", "preprod", "--freight", F1,
        "--timeout", "3",
    )  # fmt: skip
    assert code == 2
    assert "--timeout goes with --wait" in err


def test_promote_wait_prints_each_step_as_it_finishes(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    # The operator's part is played by status patches here; test_seed_pipeline.py runs it.
    result: list[int] = []
    args = ["--kubeconfig", str(project.kube.kubeconfig_path), "promote", "-n", project.name]
    waiter = threading.Thread(
        target=lambda: result.append(
            main([*args, "--stage", "preprod", "--freight", F1, "--wait"])
        ),
        daemon=True,
    )
    waiter.start()
    first = wait_for(lambda: capsys.readouterr().out, what="the created line", timeout=30)
    name = first.splitlines()[0].split("/", 1)[1].removesuffix(" created")
    project.kube.kubectl(
        "patch", "promotion", name, "-n", project.name, "--type=merge", "-p",
        json.dumps({"spec": {"steps": [{"uses": "git-clone"}, {"uses": "fail", "as": "stop"}]}}),
    )  # fmt: skip
    running = {"phase": "Running", "startedAt": "2026-01-01T10:00:00Z"}
    first_done = {
        "alias": "step-1", "status": "Succeeded",
        "startedAt": "2026-01-01T10:00:00Z", "finishedAt": "2026-01-01T10:00:03Z",
    }  # fmt: skip
    project.patch_status("promotion", name, {**running, "stepExecutionMetadata": [first_done]})
    line = wait_for(lambda: capsys.readouterr().out, what="the first step's line", timeout=30)
    assert line.split() == ["1/2", "step-1", "(git-clone)", "Succeeded", "3s"]
    failed = {
        "alias": "stop", "status": "Failed", "message": "the release is frozen\nuntil Monday",
        "startedAt": "2026-01-01T10:00:03Z", "finishedAt": "2026-01-01T10:00:04Z",
    }  # fmt: skip
    project.patch_status(
        "promotion", name,
        {"phase": "Failed", "message": "step stop failed", "finishedAt": "2026-01-01T10:00:04Z",
         "stepExecutionMetadata": [first_done, failed]},
    )  # fmt: skip
    waiter.join(timeout=30)
    assert result == [1]
    rest = capsys.readouterr().out.splitlines()
    assert rest[0].split() == ["2/2", "stop", "(fail)", "Failed", "1s"]
    assert rest[1].strip() == "the release is frozen"
    assert rest[2].strip() == "until Monday"
    assert rest[3] == f"promotion.kargo.akuity.io/{name} Failed after 4s: step stop failed"


# -- update freight, verify, describe --------------------------------------------------------


def test_update_freight_changes_the_alias_and_its_label(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    f3 = "3333333333333333333333333333333333333333"
    project.kube.apply(
        json.dumps(_freight(project.name, f3, "sleepy-sloth", "3.0.0", "2026-11-03T10:00:00Z"))
    )
    code, out, err = project.run(
        capsys, "update", "freight", "-n", project.name, "--old-alias", "sleepy-sloth",
        "--alias", "release-3",
    )  # fmt: skip
    assert code == 0, err
    assert out == f"freight.kargo.akuity.io/{f3} alias set to release-3 (was sleepy-sloth)\n"
    freight = project.get("freight", f3)
    assert freight["alias"] == "release-3"
    assert freight["metadata"]["labels"]["kargo.akuity.io/alias"] == "release-3"
    code, _, err = project.run(
        capsys, "update", "freight", "-n", project.name, "--name", f3, "--new-alias",
        "frozen-tauntaun",
    )  # fmt: skip
    assert code == 1
    assert f"alias 'frozen-tauntaun' is already used by Freight '{F1}'" in err
    code, _, err = project.run(
        capsys, "update", "freight", "-n", project.name, "--name", f3, "--alias=-bad-"
    )
    assert code == 2
    assert "is not a valid alias" in err
    code, _, err = project.run(capsys, "update", "freight", "-n", project.name, "--alias", "x")
    assert code == 2
    assert "one of the arguments --name --old-alias is required" in err
    assert project.get("freight", f3)["alias"] == "release-3"


def _verification(phase: str) -> dict[str, Any]:
    return {
        "freightHistory": [
            {
                "id": "fc-1",
                "items": {
                    "Warehouse/images": {
                        "name": F1,
                        "origin": {"kind": "Warehouse", "name": "images"},
                    }
                },
                "verificationHistory": [{"id": "v-42", "phase": phase}],
            }
        ]
    }


def test_verify_stage_asks_for_a_new_verification_or_aborts_the_running_one(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    stage = _stage(project.name, "verified", {"direct": True})
    project.kube.apply(json.dumps(stage))
    try:
        code, _, err = project.run(capsys, "verify", "stage", "verified", "-n", project.name)
        assert code == 1
        assert "Stage 'verified' has no current Freight" in err
        project.patch_status("stage", "verified", _verification("Failed"))
        code, out, err = project.run(capsys, "verify", "stage", "verified", "-n", project.name)
        assert code == 0, err
        assert out == f"stage.kargo.akuity.io/verified verification of {F1} requested\n"
        annotations = project.get("stage", "verified")["metadata"]["annotations"]
        assert json.loads(annotations["kargo.akuity.io/reverify"]) == {
            "id": "v-42",
            "actor": "kubernetes:admin",
        }
        code, out, _ = project.run(
            capsys, "verify", "stage", "verified", "-n", project.name, "--abort"
        )
        assert code == 0
        assert "already finished (Failed); nothing to abort" in out
        project.patch_status("stage", "verified", _verification("Running"))
        code, out, _ = project.run(
            capsys, "verify", "stage", "verified", "-n", project.name, "--abort"
        )
        assert code == 0
        assert (
            out == f"stage.kargo.akuity.io/verified abort of the verification of {F1} requested\n"
        )
        annotations = project.get("stage", "verified")["metadata"]["annotations"]
        assert json.loads(annotations["kargo.akuity.io/abort"])["id"] == "v-42"
    finally:
        project.kube.kubectl("delete", "stage", "verified", "-n", project.name)


def test_describe_promotion_shows_each_step(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    name = _new_promotion(project, "preprod", F1)
    code, out, _ = project.run(capsys, "describe", "promotion", name, "-n", project.name)
    assert code == 0
    assert "Phase:" in out
    assert "(not filled in yet" in out
    project.kube.kubectl(
        "patch", "promotion", name, "-n", project.name, "--type=merge", "-p",
        json.dumps({"spec": {"steps": [
            {"uses": "git-clone"}, {"uses": "yaml-update", "as": "bump"}, {"uses": "git-push"},
        ]}}),
    )  # fmt: skip
    project.patch_status(
        "promotion", name,
        {"phase": "Errored", "message": "step bump errored",
         "startedAt": "2026-01-01T10:00:00Z", "finishedAt": "2026-01-01T10:01:05Z",
         "stepExecutionMetadata": [
             {"alias": "step-1", "status": "Succeeded", "startedAt": "2026-01-01T10:00:00Z",
              "finishedAt": "2026-01-01T10:00:05Z"},
             {"alias": "bump", "status": "Errored", "message": "values.yaml: no such key",
              "startedAt": "2026-01-01T10:00:05Z", "finishedAt": "2026-01-01T10:01:05Z"},
         ]},
    )  # fmt: skip
    code, out, _ = project.run(capsys, "describe", "promotion", name, "-n", project.name)
    assert code == 0
    fields = dict(
        line.split(":", 1) for line in out.splitlines() if line and line[0] != " " and ":" in line
    )
    assert fields["Stage"].strip() == "preprod"
    assert fields["Freight"].strip() == f"{F1} (frozen-tauntaun)"
    assert fields["Phase"].strip() == "Errored"
    assert fields["Message"].strip() == "step bump errored"
    assert fields["Duration"].strip() == "65s"
    steps = out.split("Steps:\n", 1)[1].splitlines()
    assert steps[0].split() == ["1/3", "step-1", "(git-clone)", "Succeeded", "5s"]
    assert steps[1].split() == ["2/3", "bump", "(yaml-update)", "Errored", "60s"]
    assert steps[2].strip() == "values.yaml: no such key"
    assert steps[3].split() == ["3/3", "step-3", "(git-push)", "-"]


# -- completion and pipes (as processes) -----------------------------------------------------


def _shunter(
    project: Project, *args: str, env: dict[str, str] | None = None, **kwargs: Any
) -> subprocess.CompletedProcess[bytes]:
    full_env = {**os.environ, "KUBECONFIG": str(project.kube.kubeconfig_path), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "shunter", *args], env=full_env, check=False, timeout=60, **kwargs
    )


def _complete(project: Project, tmp_path: Path, line: str) -> list[str]:
    answer = tmp_path / "completions"
    env = {
        "_ARGCOMPLETE": "1",
        "_ARGCOMPLETE_STDOUT_FILENAME": str(answer),
        "COMP_LINE": line,
        "COMP_POINT": str(len(line)),
    }
    result = _shunter(project, env=env, capture_output=True)
    assert result.returncode == 0, result.stderr
    return [word.rstrip() for word in answer.read_text().split("\v")]


def test_completion_offers_stage_names_from_the_cluster(project: Project, tmp_path: Path) -> None:
    assert _complete(project, tmp_path, f"shunter get stage -n {project.name} pr") == [
        "preprod",
        "prod",
    ]
    line = f"shunter promote -n {project.name} --stage p"
    assert _complete(project, tmp_path, line) == ["preprod", "prod"]
    line = f"shunter promote -n {project.name} --stage prod --freight frozen"
    assert _complete(project, tmp_path, line) == ["frozen-tauntaun"]
    assert _complete(project, tmp_path, "shunter get stag") == ["stages"]
    assert _complete(project, tmp_path, f"shunter get stages -n {project.name[:6]}")[0].startswith(
        "cli-"
    )
    # Without a project there is nothing to offer, and no error either.
    assert _complete(project, tmp_path, "shunter get stage pr") == [""]


def test_completion_scripts_load_in_their_shell(project: Project) -> None:
    scripts = {}
    for shell in ("bash", "zsh", "fish"):
        result = _shunter(project, "completion", shell, capture_output=True)
        assert result.returncode == 0
        scripts[shell] = result.stdout.decode()
    assert "compdef" in scripts["zsh"]
    assert "complete --command shunter" in scripts["fish"]
    loaded = subprocess.run(
        ["bash", "-c", f"{scripts['bash']}\ncomplete -p shunter"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert loaded.returncode == 0, loaded.stderr
    assert "shunter" in loaded.stdout


def test_a_closed_stdout_ends_quietly_after_the_work_is_done(project: Project) -> None:
    before = project.kube.kubectl("get", "promotions", "-n", project.name, "-o", "name").stdout
    read, write = os.pipe()
    os.close(read)  # the reader went away, as `| head -1` does after one line
    try:
        result = _shunter(
            project, "promote", "-n", project.name, "--stage", "preprod", "--freight", F1,
            stdout=write, stderr=subprocess.PIPE,
        )  # fmt: skip
        listing = _shunter(
            project, "get", "stages", "-n", project.name, stdout=write, stderr=subprocess.PIPE
        )
    finally:
        os.close(write)
    assert (result.returncode, result.stderr) == (141, b"")
    assert (listing.returncode, listing.stderr) == (141, b"")
    after = project.kube.kubectl("get", "promotions", "-n", project.name, "-o", "name").stdout
    assert len(after.splitlines()) == len(before.splitlines()) + 1
