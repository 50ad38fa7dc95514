"""helm-template with the real helm binary on a chart written by the test."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from shunter.api.v1alpha1.promotion import PromotionStepStatus
from shunter.promotion.step import StepContext, StepError, TerminalStepError
from shunter.steps.helm_template import HelmTemplateStep, flat_file_name
from shunter.steps_support.render import ObjectMeta
from shunter_devenv.binaries import binary

CHART_YAML = "apiVersion: v2\nname: lms\nversion: 0.1.0\n"
VALUES = "image:\n  repository: nginx\n  tag: '1.0'\nreplicas: 1\nnote: default\n"
DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}-web
  namespace: {{ .Release.Namespace }}
spec:
  replicas: {{ .Values.replicas }}
  template:
    spec:
      containers:
        - name: web
          image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"
"""
CONFIGMAP = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-cfg
data:
  note: {{ .Values.note | quote }}
  kube: {{ .Capabilities.KubeVersion.Version | quote }}
  typeOfReplicas: {{ kindOf .Values.replicas | quote }}
"""
TEST_HOOK = """\
apiVersion: v1
kind: Pod
metadata:
  name: {{ .Release.Name }}-test
  annotations: {"helm.sh/hook": test}
spec: {containers: [{name: t, image: busybox}]}
"""


@pytest.fixture
def helm_bin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty PATH and SHUNTER_HELM_BINARY set to the real helm."""
    helm = binary("helm")
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.setenv("SHUNTER_HELM_BINARY", str(helm))
    return helm


def write_chart(folder: Path) -> Path:
    (folder / "templates").mkdir(parents=True)
    (folder / "Chart.yaml").write_text(CHART_YAML)
    (folder / "values.yaml").write_text(VALUES)
    (folder / "templates" / "deployment.yaml").write_text(DEPLOYMENT)
    (folder / "templates" / "configmap.yaml").write_text(CONFIGMAP)
    (folder / "templates" / "test-pod.yaml").write_text(TEST_HOOK)
    return folder


@pytest.fixture
def chart(work_dir: Path) -> Path:
    chart = write_chart(work_dir / "charts" / "lms")
    stage = work_dir / "env" / "preprod"
    stage.mkdir(parents=True)
    (stage / "values.yaml").write_text("image:\n  tag: '2.0'\nreplicas: 3\n")
    return chart


def names_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def real(path: Path) -> str:
    return str(path.resolve())


def load_all(text: str) -> list[Any]:
    return [d for d in YAML(typ="safe", pure=True).load_all(text) if d]


def by_kind(docs: list[Any]) -> dict[str, Any]:
    return {d["kind"]: d for d in docs}


BASE = {"path": "charts/lms", "releaseName": "lms"}


# -- config ---------------------------------------------------------------------------------


def test_config_requires_release_name_and_knows_its_keys(config_error: Any) -> None:
    assert "config.releaseName: required" in config_error(
        HelmTemplateStep, {"path": "c", "outPath": "o"}
    )
    raw = {**BASE, "outPath": "o", "includeCrds": True}
    assert 'unknown key "includeCrds"' in config_error(HelmTemplateStep, raw)
    raw = {**BASE, "outPath": "o", "outLayout": "tree"}
    assert "config.outLayout" in config_error(HelmTemplateStep, raw)
    raw = {**BASE, "outPath": "o", "setValues": [{"key": "a"}]}
    assert "config.setValues[0].value: required" in config_error(HelmTemplateStep, raw)


def test_flat_file_names() -> None:
    meta = ObjectMeta("networking.k8s.io/v1", "Ingress", "demo", "Web")
    assert flat_file_name(meta) == "networking_k8s_io-ingress-demo-web.yaml"
    assert flat_file_name(ObjectMeta("v1", "ConfigMap", "", "cfg")) == "configmap-cfg.yaml"
    assert flat_file_name(ObjectMeta("v1", "", "", "cfg")) is None


# -- rendering ------------------------------------------------------------------------------


@pytest.mark.usefixtures("helm_bin", "chart")
async def test_values_files_and_set_values_to_single_file(
    work_dir: Path, ctx: StepContext, run_step: Any
) -> None:
    raw = {
        **BASE,
        "outPath": "out/preprod.yaml",
        "namespace": "lms-preprod",
        "valuesFiles": ["env/preprod/values.yaml"],
        "setValues": [
            {"key": "image.tag", "value": "2026-11-26_1200"},
            {"key": "note", "value": "1.10", "literal": True},
        ],
        "kubeVersion": "v1.31.0",
        "skipTests": True,
    }
    result = await run_step(HelmTemplateStep, ctx, raw)
    assert result.status == PromotionStepStatus.SUCCEEDED
    docs = by_kind(load_all((work_dir / "out" / "preprod.yaml").read_text()))
    assert sorted(docs) == ["ConfigMap", "Deployment"]
    deployment = docs["Deployment"]
    assert deployment["metadata"] == {"name": "lms-web", "namespace": "lms-preprod"}
    assert deployment["spec"]["replicas"] == 3
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "nginx:2026-11-26_1200"
    assert docs["ConfigMap"]["data"] == {
        "note": "1.10",
        "kube": "v1.31.0",
        "typeOfReplicas": "float64",
    }


@pytest.mark.usefixtures("helm_bin", "chart")
async def test_namespace_defaults_to_project_and_hooks_are_kept(
    work_dir: Path, ctx: StepContext, run_step: Any
) -> None:
    await run_step(HelmTemplateStep, ctx, {**BASE, "outPath": "all.yml"})
    docs = by_kind(load_all((work_dir / "all.yml").read_text()))
    assert docs["Deployment"]["metadata"]["namespace"] == ctx.project
    assert "Pod" in docs
    await run_step(HelmTemplateStep, ctx, {**BASE, "outPath": "all.yml", "disableHooks": True})
    assert "Pod" not in by_kind(load_all((work_dir / "all.yml").read_text()))


@pytest.mark.usefixtures("helm_bin", "chart")
async def test_helm_layout_writes_chart_tree(
    work_dir: Path, ctx: StepContext, run_step: Any
) -> None:
    await run_step(HelmTemplateStep, ctx, {**BASE, "outPath": "out"})
    templates = work_dir / "out" / "lms" / "templates"
    assert sorted(p.name for p in templates.iterdir()) == [
        "configmap.yaml",
        "deployment.yaml",
        "test-pod.yaml",
    ]
    raw = {**BASE, "releaseName": "lms-pre", "outPath": "out2", "useReleaseName": True}
    await run_step(HelmTemplateStep, ctx, raw)
    assert (work_dir / "out2" / "lms-pre" / "lms" / "templates" / "deployment.yaml").is_file()


@pytest.mark.usefixtures("helm_bin", "chart")
async def test_flat_layout_one_file_per_object(
    work_dir: Path, ctx: StepContext, run_step: Any
) -> None:
    raw = {**BASE, "outPath": "flat", "outLayout": "flat", "namespace": "demo", "skipTests": True}
    await run_step(HelmTemplateStep, ctx, raw)
    out = work_dir / "flat"
    assert sorted(p.name for p in out.iterdir()) == [
        "apps-deployment-demo-lms-web.yaml",
        "configmap-lms-cfg.yaml",
    ]
    (deployment,) = load_all((out / "apps-deployment-demo-lms-web.yaml").read_text())
    assert deployment["kind"] == "Deployment"


@pytest.mark.usefixtures("helm_bin", "chart")
async def test_missing_values_file(work_dir: Path, ctx: StepContext, run_step: Any) -> None:
    raw = {**BASE, "outPath": "o.yaml", "valuesFiles": ["env/prod/values.yaml"]}
    with pytest.raises(TerminalStepError, match="does not exist"):
        await run_step(HelmTemplateStep, ctx, raw)
    await run_step(HelmTemplateStep, ctx, {**raw, "ignoreMissingValueFiles": True})
    assert (work_dir / "o.yaml").is_file()


@pytest.mark.usefixtures("helm_bin", "chart")
async def test_template_error_is_a_step_error_without_absolute_paths(
    work_dir: Path, chart: Path, ctx: StepContext, run_step: Any
) -> None:
    (chart / "templates" / "bad.yaml").write_text("{{ .Values.missing.deeper }}\n")
    with pytest.raises(StepError, match="helm template failed") as info:
        await run_step(HelmTemplateStep, ctx, {**BASE, "outPath": "o.yaml"})
    assert not isinstance(info.value, TerminalStepError)
    assert real(work_dir) not in str(info.value)


# -- dependencies ---------------------------------------------------------------------------


@pytest.mark.usefixtures("helm_bin")
async def test_build_local_dependencies(
    work_dir: Path, chart: Path, ctx: StepContext, run_step: Any
) -> None:
    sub = work_dir / "charts" / "common"
    (sub / "templates").mkdir(parents=True)
    (sub / "Chart.yaml").write_text("apiVersion: v2\nname: common\nversion: 1.0.0\n")
    (sub / "templates" / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: common}\n"
    )
    (chart / "Chart.yaml").write_text(
        CHART_YAML
        + "dependencies:\n  - name: common\n    version: 1.0.0\n"
        + "    repository: file://../common\n"
    )
    raw = {**BASE, "outPath": "o.yaml", "skipTests": True}
    with pytest.raises(StepError, match="missing in charts"):
        await run_step(HelmTemplateStep, ctx, raw)
    await run_step(HelmTemplateStep, ctx, {**raw, "buildDependencies": True})
    names = {d["metadata"]["name"] for d in load_all((work_dir / "o.yaml").read_text())}
    assert names == {"common", "lms-cfg", "lms-web"}


@pytest.mark.usefixtures("helm_bin")
async def test_network_dependencies_are_refused(
    chart: Path, ctx: StepContext, run_step: Any
) -> None:
    (chart / "Chart.yaml").write_text(
        CHART_YAML + "dependencies:\n  - name: redis\n    version: 1.0.0\n"
        "    repository: https://charts.example.com\n"
    )
    raw = {**BASE, "outPath": "o.yaml", "buildDependencies": True}
    with pytest.raises(TerminalStepError, match="only file:// dependencies"):
        await run_step(HelmTemplateStep, ctx, raw)


# -- confinement ----------------------------------------------------------------------------


@pytest.mark.usefixtures("helm_bin", "chart")
@pytest.mark.parametrize(
    "override",
    [
        {"path": "../outside"},
        {"outPath": "../outside/o.yaml"},
        {"valuesFiles": ["../outside/secret.txt"]},
        {"valuesFiles": ["/etc/hostname"]},
    ],
)
async def test_paths_outside_are_refused(
    outside: Path, ctx: StepContext, run_step: Any, override: dict[str, Any]
) -> None:
    with pytest.raises(TerminalStepError, match=r"outside|relative"):
        await run_step(HelmTemplateStep, ctx, {**BASE, "outPath": "o.yaml", **override})
    assert names_in(outside) == ["secret.txt"]


@pytest.mark.usefixtures("helm_bin")
async def test_chart_symlink_leading_outside_is_refused(
    chart: Path, outside: Path, ctx: StepContext, run_step: Any
) -> None:
    (chart / "templates" / "secret.yaml").symlink_to(outside / "secret.txt")
    with pytest.raises(TerminalStepError, match="symlink leading outside"):
        await run_step(HelmTemplateStep, ctx, {**BASE, "outPath": "o.yaml"})


@pytest.mark.usefixtures("helm_bin", "chart")
async def test_symlinked_output_folder_is_refused(
    work_dir: Path, outside: Path, ctx: StepContext, run_step: Any
) -> None:
    (work_dir / "out").mkdir()
    (work_dir / "out" / "lms").symlink_to(outside)
    with pytest.raises(TerminalStepError, match="symlink leading outside"):
        await run_step(HelmTemplateStep, ctx, {**BASE, "outPath": "out"})
    assert names_in(outside) == ["secret.txt"]


# -- binary ---------------------------------------------------------------------------------


@pytest.mark.usefixtures("chart")
async def test_missing_helm_is_named(
    ctx: StepContext, run_step: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.delenv("SHUNTER_HELM_BINARY", raising=False)
    with pytest.raises(TerminalStepError, match=r"'helm' not found.*SHUNTER_HELM_BINARY"):
        await run_step(HelmTemplateStep, ctx, {**BASE, "outPath": "o.yaml"})
