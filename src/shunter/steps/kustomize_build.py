"""The ``kustomize-build`` step: render a kustomization into one file or one file per object.

Config: ``path`` (the kustomization's folder), ``outPath`` (a ``.yaml``/``.yml`` path gets the
whole stream; anything else is a folder receiving one file per object), ``outputFormat``
(``kargo``, the default: ``[namespace-]kind-name.yaml``; ``kustomize``: the names of
``kustomize build -o dir/``, ``[namespace_]group_version_kind_name.yaml``, the namespace
prefix only when the objects span several namespaces), ``plugin.helm.{apiVersions,
kubeVersion}`` for charts inflated by ``helmCharts``. No output.

Runs a ``kustomize`` binary (``SHUNTER_KUSTOMIZE_BINARY`` or PATH) if there is one, else
``kubectl kustomize`` (``SHUNTER_KUBECTL_BINARY`` or PATH), always with
``--load-restrictor LoadRestrictionsRootOnly``. Before that, every path the kustomization tree
references is checked to stay inside the work directory (symlinks followed).

Differences from Kargo: resources must be local (remote bases are refused) and ``helmCharts``
may only inflate charts already present under ``helmGlobals.chartHome`` (a chart with a
``repo`` is refused: pulling it needs the network); helm comes from ``SHUNTER_HELM_BINARY``
or PATH. Files written per object hold kustomize's text for that object (Kargo re-serialises
it with sorted keys). For the ``kustomize`` format, objects of well-known cluster-scoped kinds
do not count as a namespace.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, StringConstraints

from shunter._internal.programs import (
    ProgramError,
    ProgramNotFoundError,
    find_program,
    minimal_env,
    run_program,
)
from shunter.api.v1alpha1.promotion import PromotionStepStatus
from shunter.promotion.effects import Effects
from shunter.promotion.registry import register
from shunter.promotion.step import StepConfig, StepContext, StepResult, TerminalStepError
from shunter.steps_support.kustomization import check_kustomization
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

__all__ = [
    "KustomizeBuildConfig",
    "KustomizeBuildStep",
    "KustomizeHelmPlugin",
    "KustomizePlugin",
    "kargo_file_name",
    "kustomize_file_name",
]

#: How long one kustomize run may take (seconds).
RUN_TIME_LIMIT = 300.0

_CLUSTER_SCOPED_KINDS = frozenset(
    {
        "APIService",
        "CSIDriver",
        "CSINode",
        "CertificateSigningRequest",
        "ClusterRole",
        "ClusterRoleBinding",
        "ComponentStatus",
        "CustomResourceDefinition",
        "FlowSchema",
        "IngressClass",
        "MutatingWebhookConfiguration",
        "Namespace",
        "Node",
        "PersistentVolume",
        "PodSecurityPolicy",
        "PriorityClass",
        "PriorityLevelConfiguration",
        "RuntimeClass",
        "StorageClass",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
        "ValidatingWebhookConfiguration",
        "VolumeAttachment",
    }
)


class KustomizeHelmPlugin(StepConfig):
    """Settings for charts inflated through ``helmCharts``."""

    api_versions: list[Annotated[str, StringConstraints(min_length=1)]] = Field(
        default_factory=list, description="API versions Helm's Capabilities report."
    )
    kube_version: str | None = Field(
        default=None, description="Kubernetes version Helm's Capabilities report."
    )


class KustomizePlugin(StepConfig):
    """Settings of kustomize's built-in plugins."""

    helm: KustomizeHelmPlugin | None = None


class KustomizeBuildConfig(StepConfig):
    """Config of ``kustomize-build``."""

    path: str = Field(min_length=1, description="Folder holding the kustomization.")
    out_path: str = Field(
        min_length=1,
        description="A .yaml/.yml file for the whole stream, else a folder, one file per object.",
    )
    output_format: Literal["kargo", "kustomize"] | None = Field(
        default=None, description="File naming in a folder: kargo (default) or kustomize."
    )
    plugin: KustomizePlugin | None = None


def kargo_file_name(meta: ObjectMeta) -> str:
    """``[namespace-]kind-name.yaml``, lower-cased."""
    parts = [meta.namespace, meta.kind, meta.name] if meta.namespace else [meta.kind, meta.name]
    return validate_file_name("-".join(parts).lower() + ".yaml")


def kustomize_file_name(meta: ObjectMeta, *, multiple_namespaces: bool) -> str:
    """``[namespace_]group_version_kind_name.yaml``, lower-cased, empty fields left out."""
    fields = [f for f in (meta.group, meta.version, meta.kind) if f]
    base = "_".join(fields).lower() + "_" + meta.name.lower() + ".yaml"
    if multiple_namespaces and meta.namespace:
        base = meta.namespace.lower() + "_" + base
    return validate_file_name(base)


def _spans_namespaces(metas: Sequence[ObjectMeta]) -> bool:
    return len({m.namespace for m in metas if m.kind not in _CLUSTER_SCOPED_KINDS}) > 1


def _write_output(ctx: StepContext, cfg: KustomizeBuildConfig, out: Path, stream: str) -> None:
    if is_yaml_file_path(cfg.out_path):
        write_inside(ctx.work_dir, out, stream)
        return
    check_tree_inside(ctx.work_dir, out, "outPath")
    docs = split_documents(stream)
    metas = [object_meta(doc) for doc in docs]
    multiple = _spans_namespaces(metas)
    for doc, meta in zip(docs, metas, strict=True):
        if not meta.kind or not meta.name:
            raise TerminalStepError("kustomize-build: an object has no kind or metadata.name")
        if cfg.output_format == "kustomize":
            name = kustomize_file_name(meta, multiple_namespaces=multiple)
        else:
            name = kargo_file_name(meta)
        write_inside(ctx.work_dir, out / name, doc)


def _command(source: Path, cfg: KustomizeBuildConfig, uses_helm: bool) -> list[str]:
    try:
        argv = [str(find_program("kustomize")), "build", str(source)]
    except ProgramNotFoundError:
        try:
            argv = [str(find_program("kubectl")), "kustomize", str(source)]
        except ProgramNotFoundError as exc:
            raise TerminalStepError(
                f"kustomize-build: neither kustomize nor kubectl is available ({exc})"
            ) from None
    argv += ["--load-restrictor", "LoadRestrictionsRootOnly"]
    if uses_helm:
        try:
            helm = find_program("helm")
        except ProgramNotFoundError as exc:
            raise TerminalStepError(
                f"kustomize-build: the kustomization inflates Helm charts: {exc}"
            ) from None
        argv += ["--enable-helm", "--helm-command", str(helm)]
        plugin = cfg.plugin.helm if cfg.plugin and cfg.plugin.helm else None
        if plugin is not None:
            if plugin.kube_version:
                argv += ["--helm-kube-version", plugin.kube_version]
            for version in plugin.api_versions:
                argv += ["--helm-api-versions", version]
    return argv


@register
class KustomizeBuildStep:
    """Runner of ``kustomize-build``."""

    name: ClassVar[str] = "kustomize-build"
    config_model: ClassVar[type[StepConfig]] = KustomizeBuildConfig
    default_timeout: ClassVar[timedelta | None] = None
    default_error_threshold: ClassVar[int] = 1
    external_effects: ClassVar[Effects] = Effects.NONE

    async def run(self, ctx: StepContext, config: Any) -> StepResult:
        """Build the kustomization and write the manifests to ``outPath``."""
        cfg = KustomizeBuildConfig.model_validate(config)
        source = ctx.path(cfg.path, allow_root=True)
        out = ctx.path(cfg.out_path)
        if not source.is_dir():
            raise TerminalStepError(f"kustomize-build: {cfg.path!r} is not a folder")
        info = check_kustomization(ctx.work_dir, source)
        argv = _command(source, cfg, info.uses_helm)
        with tempfile.TemporaryDirectory(prefix="shunter-kustomize-") as home:
            env = minimal_env(
                {
                    "HOME": home,
                    "XDG_CONFIG_HOME": f"{home}/config",
                    "XDG_CACHE_HOME": f"{home}/cache",
                    "XDG_DATA_HOME": f"{home}/data",
                    "HELM_CACHE_HOME": f"{home}/helm/cache",
                    "HELM_CONFIG_HOME": f"{home}/helm/config",
                    "HELM_DATA_HOME": f"{home}/helm/data",
                    "KUBECONFIG": f"{home}/kubeconfig",
                }
            )
            try:
                result = await run_program(
                    argv, cwd=ctx.work_dir, env=env, time_limit=RUN_TIME_LIMIT
                )
            except ProgramError as exc:
                raise program_error("kustomize-build", exc) from None
        if not result.ok:
            raise program_failure("kustomize-build", "kustomize", result, ctx.work_dir)
        _write_output(ctx, cfg, out, decode_output("kustomize-build", result.stdout))
        return StepResult(status=PromotionStepStatus.SUCCEEDED)
