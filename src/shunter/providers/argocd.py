"""What ``argocd-update`` and ``argocd-wait`` share: app selection config and the Argo CD client.

Both steps name Applications the same way: ``apps[]`` entries with exactly one of ``name`` or
``selector {matchLabels, matchExpressions[] {key, operator, values}}``, and an optional
``namespace`` (default: the operator's Argo CD namespace, ``ctx.capabilities.argocd_namespace``).
The Kubernetes client comes from ``ctx.capabilities.extras["kube"]``; without it the Argo CD
integration is off and the steps error.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, field_validator, model_validator

from shunter.argocd import ArgoCDClient, LabelRequirement, SelectorError, label_selector
from shunter.kube.client import KubeClient
from shunter.promotion.step import StepConfig, StepContext, StepError, TerminalStepError
from shunter.steps_support.git_common import empty_to_none

__all__ = [
    "KUBE_EXTRA",
    "AppSelectorConfig",
    "AppTargetConfig",
    "MatchExpressionConfig",
    "apps_output",
    "argocd_client",
]

#: The ``Capabilities.extras`` key holding the operator's :class:`KubeClient`.
KUBE_EXTRA = "kube"

NonEmpty = Annotated[str, StringConstraints(min_length=1)]


class MatchExpressionConfig(StepConfig):
    """One ``selector.matchExpressions`` entry."""

    key: NonEmpty
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"]
    values: list[str] | None = None


class AppSelectorConfig(StepConfig):
    """``selector``: Applications by labels (at least one criterion)."""

    match_labels: dict[str, str] | None = None
    match_expressions: list[MatchExpressionConfig] | None = None

    @model_validator(mode="after")
    def _some_criterion(self) -> AppSelectorConfig:
        if not self.match_labels and not self.match_expressions:
            raise ValueError("selector must have at least one of matchLabels or matchExpressions")
        try:
            self.to_selector()
        except SelectorError as exc:
            raise ValueError(str(exc)) from None
        return self

    def to_selector(self) -> str:
        """The label selector string (raises :class:`SelectorError`)."""
        return label_selector(
            self.match_labels,
            [
                LabelRequirement(e.key, e.operator, tuple(e.values or ()))
                for e in self.match_expressions or []
            ],
        )


class AppTargetConfig(StepConfig):
    """The part of an ``apps[]`` entry that names Applications."""

    name: NonEmpty | None = Field(default=None, description="Application name (or selector).")
    namespace: NonEmpty | None = Field(
        default=None, description="Namespace of the Application(s); default: Argo CD's."
    )
    selector: AppSelectorConfig | None = Field(
        default=None, description="Applications by labels (or name)."
    )

    _empty = field_validator("name", mode="before")(empty_to_none)

    @model_validator(mode="after")
    def _name_or_selector(self) -> AppTargetConfig:
        if (self.name is None) == (self.selector is None):
            raise ValueError("exactly one of name and selector is required")
        return self


def argocd_client(ctx: StepContext, step: str) -> ArgoCDClient:
    """The Argo CD client built on the operator's Kubernetes client."""
    kube: Any = ctx.capabilities.extras.get(KUBE_EXTRA)
    if kube is None:
        raise StepError(
            f"{step}: Argo CD integration is disabled on this controller (no Kubernetes "
            "client); cannot reach Argo CD Applications"
        )
    if not isinstance(kube, KubeClient):
        raise TerminalStepError(f"{step}: capabilities.extras[{KUBE_EXTRA!r}] is not a KubeClient")
    return ArgoCDClient(kube, default_namespace=ctx.capabilities.argocd_namespace)


def apps_output(apps: list[tuple[str, str]]) -> list[dict[str, str]]:
    """The ``apps`` output: ``[{name, namespace}]``."""
    return [{"name": name, "namespace": namespace} for namespace, name in apps]
