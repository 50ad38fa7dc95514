"""The ``helm-template`` step: render a local Helm chart with ``helm template``.

Config: ``path`` (chart folder), ``outPath`` (a ``.yaml``/``.yml`` path gets the whole stream,
hooks included; else a folder), ``outLayout`` (``helm``, the default: helm's own
``--output-dir`` tree, ``<outPath>/<chart>/templates/...``; ``flat``: one file per object named
``[group-]kind-[namespace-]name.yaml``, dots in the group as ``_``), ``releaseName``
(required), ``useReleaseName`` (helm layout: ``<outPath>/<releaseName>/<chart>/...``),
``namespace`` (default: the Project),
``valuesFiles[]`` (merged in order; ``ignoreMissingValueFiles`` skips absent ones),
``setValues[] {key, value, literal}`` (``--set`` / ``--set-literal``, applied after the
files), ``buildDependencies``, ``includeCRDs``, ``disableHooks``, ``skipTests``,
``kubeVersion``, ``apiVersions[]``. No output.

helm comes from ``SHUNTER_HELM_BINARY`` or PATH and runs with private, empty Helm homes.
Differences from Kargo: ``buildDependencies`` only builds ``file://`` dependencies inside the
work directory (a repository dependency is refused; fetching it needs the network and
credentials); a chart holding a symlink that leads outside the work directory is refused.
"""

from __future__ import annotations

import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, StringConstraints
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from shunter._internal.paths import make_dirs
from shunter._internal.programs import (
    ProgramError,
    ProgramNotFoundError,
    ProgramResult,
    find_program,
    minimal_env,
    run_program,
)
from shunter.api.v1alpha1.promotion import PromotionStepStatus
from shunter.promotion.effects import Effects
from shunter.promotion.registry import register
from shunter.promotion.step import StepConfig, StepContext, StepResult, TerminalStepError
from shunter.steps_support.render import (
    ObjectMeta,
    check_tree_inside,
    decode_output,
    is_yaml_file_path,
    object_meta,
    program_error,
    program_failure,
    split_documents,
    validate_file_name,
    write_inside,
)

__all__ = ["HelmSetValue", "HelmTemplateConfig", "HelmTemplateStep", "flat_file_name"]

#: How long one helm run may take (seconds).
RUN_TIME_LIMIT = 300.0


class HelmSetValue(StepConfig):
    """One ``--set`` (or ``--set-literal``) value."""

    key: str = Field(min_length=1, description="Dotted key, e.g. image.tag.")
    value: str = Field(description="The value (parsed by Helm unless literal).")
    literal: bool = Field(default=False, description="Pass with --set-literal (always a string).")


class HelmTemplateConfig(StepConfig):
    """Config of ``helm-template``."""

    path: str = Field(min_length=1, description="Folder of the chart.")
    out_path: str = Field(
        min_length=1, description="A .yaml/.yml file for the whole stream, else a folder."
    )
    out_layout: Literal["helm", "flat"] | None = Field(
        default=None, description="Folder layout: helm (default) or flat."
    )
    release_name: str = Field(min_length=1, description="Name of the release.")
    use_release_name: bool = Field(
        default=False, description="helm layout: name the subfolder after the release."
    )
    namespace: str | None = Field(
        default=None, description="Release namespace (default: the Project)."
    )
    values_files: list[Annotated[str, StringConstraints(min_length=1)]] = Field(
        default_factory=list, description="Values files in the work directory, merged in order."
    )
    ignore_missing_value_files: bool = Field(
        default=False, description="Skip values files that do not exist."
    )
    set_values: list[HelmSetValue] = Field(
        default_factory=list, description="Values set after the files (--set / --set-literal)."
    )
    build_dependencies: bool = Field(
        default=False, description="Run helm dependency build first (file:// dependencies only)."
    )
    include_crds: bool = Field(default=False, alias="includeCRDs", description="Render CRDs too.")
    disable_hooks: bool = Field(default=False, description="Leave hooks out (--no-hooks).")
    skip_tests: bool = Field(default=False, description="Leave test hooks out (--skip-tests).")
    kube_version: str | None = Field(
        default=None, description="Kubernetes version for Capabilities (--kube-version)."
    )
    api_versions: list[Annotated[str, StringConstraints(min_length=1)]] = Field(
        default_factory=list, description="API versions for Capabilities (--api-versions)."
    )


def flat_file_name(meta: ObjectMeta) -> str | None:
    """``[group-]kind-[namespace-]name.yaml``, lower-cased (None without kind or name)."""
    if not meta.kind or not meta.name:
        return None
    name = meta.kind
    if meta.group:
        name = meta.group.replace(".", "_") + "-" + name
    if meta.namespace:
        name += "-" + meta.namespace
    name += "-" + meta.name
    return validate_file_name(name.lower() + ".yaml")


def _chart_dependencies(chart: Path) -> list[dict[str, Any]]:
    deps: list[Any] = []
    for file_name in ("Chart.yaml", "requirements.yaml"):
        file = chart / file_name
        if not file.is_file():
            continue
        try:
            data: Any = YAML(typ="safe", pure=True).load(file.read_text(encoding="utf-8"))
        except (YAMLError, UnicodeDecodeError) as exc:
            raise TerminalStepError(f"helm-template: cannot parse {file_name}: {exc}") from None
        if isinstance(data, dict) and isinstance(data.get("dependencies"), list):
            deps.extend(data["dependencies"])
    return [d for d in deps if isinstance(d, dict)]


def _check_local_dependencies(work_dir: Path, chart: Path) -> None:
    root = work_dir.resolve()
    for dep in _chart_dependencies(chart):
        repo = dep.get("repository") or ""
        name = dep.get("name")
        if not isinstance(repo, str) or not repo.startswith("file://"):
            raise TerminalStepError(
                f"helm-template: buildDependencies supports only file:// dependencies; "
                f"{name!r} comes from {repo!r}, which needs the network"
            )
        target = (chart / repo.removeprefix("file://")).resolve()
        if target != root and not target.is_relative_to(root):
            raise TerminalStepError(
                f"helm-template: dependency {name!r} ({repo}) leads outside the work directory"
            )
        check_tree_inside(work_dir, target, f"dependency {name!r}")


def _template_args(ctx: StepContext, cfg: HelmTemplateConfig, chart: Path, out: Path) -> list[str]:
    args = ["template", cfg.release_name, str(chart)]
    args += ["--namespace", cfg.namespace or ctx.project]
    for rel in cfg.values_files:
        values = ctx.path(rel)
        if not values.exists():
            if cfg.ignore_missing_value_files:
                continue
            raise TerminalStepError(f"helm-template: values file {rel!r} does not exist")
        if not values.is_file():
            raise TerminalStepError(f"helm-template: values file {rel!r} is not a file")
        args += ["--values", str(values)]
    for item in cfg.set_values:
        flag = "--set-literal" if item.literal else "--set"
        args += [flag, f"{item.key}={item.value}"]
    if cfg.include_crds:
        args.append("--include-crds")
    if cfg.disable_hooks:
        args.append("--no-hooks")
    if cfg.skip_tests:
        args.append("--skip-tests")
    if cfg.kube_version:
        args += ["--kube-version", cfg.kube_version]
    for version in cfg.api_versions:
        args += ["--api-versions", version]
    if not is_yaml_file_path(cfg.out_path) and cfg.out_layout != "flat":
        args += ["--output-dir", str(out)]
        if cfg.use_release_name:
            args.append("--release-name")
    return args


def _write_flat(ctx: StepContext, out: Path, stream: str) -> None:
    make_dirs(ctx.work_dir, out)
    for index, doc in enumerate(split_documents(stream)):
        name = flat_file_name(object_meta(doc)) or f"resource-{index}.yaml"
        write_inside(ctx.work_dir, out / name, doc)


@register
class HelmTemplateStep:
    """Runner of ``helm-template``."""

    name: ClassVar[str] = "helm-template"
    config_model: ClassVar[type[StepConfig]] = HelmTemplateConfig
    default_timeout: ClassVar[timedelta | None] = None
    default_error_threshold: ClassVar[int] = 1
    external_effects: ClassVar[Effects] = Effects.NONE

    async def run(self, ctx: StepContext, config: Any) -> StepResult:
        """Render the chart and write the manifests to ``outPath``."""
        cfg = HelmTemplateConfig.model_validate(config)
        chart = ctx.path(cfg.path, allow_root=True)
        out = ctx.path(cfg.out_path)
        if not (chart / "Chart.yaml").is_file():
            raise TerminalStepError(f"helm-template: {cfg.path!r} holds no Chart.yaml")
        check_tree_inside(ctx.work_dir, chart, "path")
        check_tree_inside(ctx.work_dir, out, "outPath")
        try:
            helm = find_program("helm")
        except ProgramNotFoundError as exc:
            raise TerminalStepError(f"helm-template: {exc}") from None
        if cfg.build_dependencies:
            _check_local_dependencies(ctx.work_dir, chart)
        if not is_yaml_file_path(cfg.out_path) and cfg.out_layout != "flat":
            # helm writes this tree itself: hand it where the path leads now.
            out = ctx.real_path(cfg.out_path, create_parents=True)
        template = _template_args(ctx, cfg, chart, out)
        with tempfile.TemporaryDirectory(prefix="shunter-helm-") as home:
            env = minimal_env(
                {
                    "HOME": home,
                    "HELM_CACHE_HOME": f"{home}/cache",
                    "HELM_CONFIG_HOME": f"{home}/config",
                    "HELM_DATA_HOME": f"{home}/data",
                    "KUBECONFIG": f"{home}/kubeconfig",
                }
            )
            if cfg.build_dependencies:
                await self._helm(
                    ctx, helm, ["dependency", "build", str(chart), "--skip-refresh"], env
                )
            result = await self._helm(ctx, helm, template, env)
        stream = decode_output("helm-template", result.stdout)
        if is_yaml_file_path(cfg.out_path):
            write_inside(ctx.work_dir, out, stream)
        elif cfg.out_layout == "flat":
            _write_flat(ctx, out, stream)
        else:
            check_tree_inside(ctx.work_dir, out, "outPath")
        return StepResult(status=PromotionStepStatus.SUCCEEDED)

    @staticmethod
    async def _helm(
        ctx: StepContext, helm: Path, args: list[str], env: dict[str, str]
    ) -> ProgramResult:
        try:
            result = await run_program(
                [helm, *args], cwd=ctx.work_dir, env=env, time_limit=RUN_TIME_LIMIT
            )
        except ProgramError as exc:
            raise program_error("helm-template", exc) from None
        if not result.ok:
            raise program_failure("helm-template", f"helm {args[0]}", result, ctx.work_dir)
        return result
