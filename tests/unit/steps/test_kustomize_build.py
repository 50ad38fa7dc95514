"""kustomize-build with the real kubectl (kustomize v5 inside): outputs, names, confinement."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from shunter.api.v1alpha1.promotion import PromotionStepStatus
from shunter.promotion.step import StepContext, StepError, TerminalStepError
from shunter.steps.kustomize_build import (
    KustomizeBuildStep,
    kargo_file_name,
    kustomize_file_name,
)
from shunter.steps_support.render import ObjectMeta
from shunter_devenv.binaries import binary

DEPLOY = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  template:
    spec:
      containers: [{name: web, image: nginx:1.0}]
"""
SERVICE = """\
apiVersion: v1
kind: Service
metadata: {name: web}
spec: {ports: [{port: 80}]}
"""


@pytest.fixture
def kubectl_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty PATH (no kustomize, no helm) and SHUNTER_KUBECTL_BINARY set to real kubectl."""
    kubectl = binary("kubectl")
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.delenv("SHUNTER_KUSTOMIZE_BINARY", raising=False)
    monkeypatch.delenv("SHUNTER_HELM_BINARY", raising=False)
    monkeypatch.setenv("SHUNTER_KUBECTL_BINARY", str(kubectl))
    return kubectl


@pytest.fixture
def app(work_dir: Path) -> Path:
    """``app/base`` (Deployment + Service) and ``app/overlay`` (namespace, Namespace, image)."""
    base = work_dir / "app" / "base"
    overlay = work_dir / "app" / "overlay"
    base.mkdir(parents=True)
    overlay.mkdir()
    (base / "kustomization.yaml").write_text("resources: [deploy.yaml, svc.yaml]\n")
    (base / "deploy.yaml").write_text(DEPLOY)
    (base / "svc.yaml").write_text(SERVICE)
    (overlay / "kustomization.yaml").write_text(
        "namespace: preprod\n"
        "resources: [../base, ns.yaml]\n"
        'images: [{name: nginx, newTag: "1.2.3"}]\n'
    )
    (overlay / "ns.yaml").write_text("apiVersion: v1\nkind: Namespace\nmetadata: {name: preprod}\n")
    return overlay


def names_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def real(path: Path) -> str:
    return str(path.resolve())


def load_all(path: Path) -> list[Any]:
    return [d for d in YAML(typ="safe", pure=True).load_all(path.read_text()) if d]


def image_of(deployment: Any) -> str:
    return str(deployment["spec"]["template"]["spec"]["containers"][0]["image"])


# -- config ---------------------------------------------------------------------------------


def test_config_requires_path_and_out_path(config_error: Any) -> None:
    assert "config.outPath: required" in config_error(KustomizeBuildStep, {"path": "a"})
    assert "config.path: required" in config_error(KustomizeBuildStep, {"outPath": "a"})


def test_config_refuses_unknown_keys_and_formats(config_error: Any) -> None:
    raw = {"path": "a", "outPath": "b", "plugin": {"helm": {"kubeVer": "1"}}}
    assert 'unknown key "kubeVer"' in config_error(KustomizeBuildStep, raw)
    raw = {"path": "a", "outPath": "b", "outputFormat": "json"}
    assert "config.outputFormat" in config_error(KustomizeBuildStep, raw)


def test_file_names() -> None:
    deploy = ObjectMeta("apps/v1", "Deployment", "preprod", "Web")
    assert kargo_file_name(deploy) == "preprod-deployment-web.yaml"
    assert kargo_file_name(ObjectMeta("v1", "Namespace", "", "x")) == "namespace-x.yaml"
    assert kustomize_file_name(deploy, multiple_namespaces=False) == "apps_v1_deployment_web.yaml"
    assert (
        kustomize_file_name(deploy, multiple_namespaces=True)
        == "preprod_apps_v1_deployment_web.yaml"
    )
    with pytest.raises(TerminalStepError, match="file name"):
        kargo_file_name(ObjectMeta("v1", "ConfigMap", "", "../../evil"))


# -- building -------------------------------------------------------------------------------


@pytest.mark.usefixtures("kubectl_only")
async def test_overlay_to_single_file(
    work_dir: Path, app: Path, ctx: StepContext, run_step: Any
) -> None:
    result = await run_step(
        KustomizeBuildStep, ctx, {"path": "./app/overlay", "outPath": "out/preprod/all.yaml"}
    )
    assert result.status == PromotionStepStatus.SUCCEEDED
    docs = load_all(work_dir / "out" / "preprod" / "all.yaml")
    assert sorted(d["kind"] for d in docs) == ["Deployment", "Namespace", "Service"]
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    assert image_of(deployment) == "nginx:1.2.3"
    assert deployment["metadata"]["namespace"] == "preprod"


@pytest.mark.usefixtures("kubectl_only")
async def test_overlay_to_folder_kargo_names(
    work_dir: Path, app: Path, ctx: StepContext, run_step: Any
) -> None:
    await run_step(KustomizeBuildStep, ctx, {"path": "app/overlay", "outPath": "out"})
    out = work_dir / "out"
    assert sorted(p.name for p in out.iterdir()) == [
        "namespace-preprod.yaml",
        "preprod-deployment-web.yaml",
        "preprod-service-web.yaml",
    ]
    (deployment,) = load_all(out / "preprod-deployment-web.yaml")
    assert image_of(deployment) == "nginx:1.2.3"


@pytest.mark.usefixtures("kubectl_only")
async def test_overlay_to_folder_kustomize_names(
    work_dir: Path, app: Path, ctx: StepContext, run_step: Any
) -> None:
    raw = {"path": "app/overlay", "outPath": "out", "outputFormat": "kustomize"}
    await run_step(KustomizeBuildStep, ctx, raw)
    assert sorted(p.name for p in (work_dir / "out").iterdir()) == [
        "apps_v1_deployment_web.yaml",
        "v1_namespace_preprod.yaml",
        "v1_service_web.yaml",
    ]


@pytest.mark.usefixtures("kubectl_only")
async def test_kustomize_names_carry_namespace_when_several(
    work_dir: Path, app: Path, ctx: StepContext, run_step: Any
) -> None:
    (app / "other.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg, namespace: other}\n"
    )
    (app / "kustomization.yaml").write_text("resources: [../base, other.yaml]\n")
    raw = {"path": "app/overlay", "outPath": "out", "outputFormat": "kustomize"}
    await run_step(KustomizeBuildStep, ctx, raw)
    assert sorted(p.name for p in (work_dir / "out").iterdir()) == [
        "apps_v1_deployment_web.yaml",
        "other_v1_configmap_cfg.yaml",
        "v1_service_web.yaml",
    ]


@pytest.mark.usefixtures("kubectl_only")
async def test_kustomize_error_is_a_step_error_without_absolute_paths(
    work_dir: Path, app: Path, ctx: StepContext, run_step: Any
) -> None:
    (app / "kustomization.yaml").write_text("resources: [../base]\npatches: [{path: nope.yaml}]\n")
    with pytest.raises(StepError, match=r"kubectl|kustomize") as info:
        await run_step(KustomizeBuildStep, ctx, {"path": "app/overlay", "outPath": "o.yaml"})
    assert real(work_dir) not in str(info.value)
    assert not (work_dir / "o.yaml").exists()


# -- confinement ----------------------------------------------------------------------------


@pytest.mark.usefixtures("kubectl_only")
@pytest.mark.parametrize(
    "paths",
    [("../outside", "o.yaml"), ("app/overlay", "../outside/o.yaml"), ("/etc", "o.yaml")],
)
@pytest.mark.usefixtures("app")
async def test_config_paths_outside_are_refused(
    outside: Path, ctx: StepContext, run_step: Any, paths: tuple[str, str]
) -> None:
    raw = {"path": paths[0], "outPath": paths[1]}
    with pytest.raises(TerminalStepError, match=r"outside|relative"):
        await run_step(KustomizeBuildStep, ctx, raw)
    assert names_in(outside) == ["secret.txt"]


@pytest.mark.usefixtures("kubectl_only")
async def test_kustomization_reaching_outside_is_refused(
    app: Path, outside: Path, ctx: StepContext, run_step: Any
) -> None:
    (outside / "kustomization.yaml").write_text("resources: []\n")
    (app / "kustomization.yaml").write_text("resources: [../base, ../../../outside]\n")
    with pytest.raises(TerminalStepError, match="outside the work directory"):
        await run_step(KustomizeBuildStep, ctx, {"path": "app/overlay", "outPath": "o.yaml"})


@pytest.mark.usefixtures("kubectl_only")
async def test_symlinked_file_leading_outside_is_refused(
    app: Path, outside: Path, ctx: StepContext, run_step: Any
) -> None:
    (app / "secret.yaml").symlink_to(outside / "secret.txt")
    (app / "kustomization.yaml").write_text("resources: [../base, secret.yaml]\n")
    with pytest.raises(TerminalStepError, match="outside the work directory"):
        await run_step(KustomizeBuildStep, ctx, {"path": "app/overlay", "outPath": "o.yaml"})


@pytest.mark.usefixtures("kubectl_only")
async def test_remote_resources_and_chart_pulls_are_refused(
    app: Path, ctx: StepContext, run_step: Any
) -> None:
    (app / "kustomization.yaml").write_text(
        "resources: [https://github.com/example/repo//deploy?ref=v1]\n"
    )
    with pytest.raises(TerminalStepError, match="remote resources are not supported"):
        await run_step(KustomizeBuildStep, ctx, {"path": "app/overlay", "outPath": "o.yaml"})
    (app / "kustomization.yaml").write_text(
        "helmCharts: [{name: podinfo, repo: https://stefanprodan.github.io/podinfo}]\n"
    )
    with pytest.raises(TerminalStepError, match="pulling charts is not supported"):
        await run_step(KustomizeBuildStep, ctx, {"path": "app/overlay", "outPath": "o.yaml"})


# -- binaries -------------------------------------------------------------------------------


async def test_missing_binaries_are_named(
    app: Path, ctx: StepContext, run_step: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    for var in ("SHUNTER_KUSTOMIZE_BINARY", "SHUNTER_KUBECTL_BINARY"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(TerminalStepError, match="neither kustomize nor kubectl") as info:
        await run_step(KustomizeBuildStep, ctx, {"path": "app/overlay", "outPath": "o.yaml"})
    assert "SHUNTER_KUBECTL_BINARY" in str(info.value)


# -- helm charts ----------------------------------------------------------------------------


@pytest.mark.usefixtures("kubectl_only")
async def test_local_helm_chart_is_inflated_with_plugin_settings(
    work_dir: Path, app: Path, ctx: StepContext, run_step: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    chart = app / "charts" / "lms"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: lms\nversion: 0.1.0\n")
    (chart / "values.yaml").write_text("note: a\n")
    (chart / "templates" / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: lms}\n"
        "data:\n  note: {{ .Values.note | quote }}\n"
        "  kube: {{ .Capabilities.KubeVersion.Version | quote }}\n"
    )
    (app / "kustomization.yaml").write_text(
        "namespace: preprod\nhelmCharts:\n- name: lms\n  releaseName: lms\n"
        "  valuesInline: {note: b}\n"
    )
    raw = {"path": "app/overlay", "outPath": "out", "plugin": {"helm": {"kubeVersion": "1.30.0"}}}
    with pytest.raises(TerminalStepError, match=r"inflates Helm charts.*'helm' not found"):
        await run_step(KustomizeBuildStep, ctx, raw)
    monkeypatch.setenv("SHUNTER_HELM_BINARY", str(binary("helm")))
    await run_step(KustomizeBuildStep, ctx, raw)
    (config_map,) = load_all(work_dir / "out" / "preprod-configmap-lms.yaml")
    assert config_map["data"] == {"note": "b", "kube": "v1.30.0"}
