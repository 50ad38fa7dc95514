"""The ``set-freight-alias`` step: give a piece of Freight a new alias.

Config: ``name`` (the Freight, in the project namespace) and ``alias`` (a valid label value:
at most 63 characters of letters, digits, ``-``, ``_`` and ``.``, starting and ending with a
letter or digit). The Freight's ``alias`` field and its ``kargo.akuity.io/alias`` label are set
together in one merge patch. No outputs; the message names the old and new alias.

Errors (all terminal failures, as in Kargo): the Freight does not exist; another Freight of the
project already has the alias (checked through the alias label); the API server refuses the
patch.

Differences from Kargo: uniqueness is checked by the step (Kargo relies on its admission
webhook), so two Promotions setting the same alias at the same instant could both succeed.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, ClassVar

from pydantic import Field

from shunter.api.v1alpha1 import labels
from shunter.api.v1alpha1.promotion import PromotionStepStatus
from shunter.kube import KubeError, NotFoundError
from shunter.promotion.effects import Effects
from shunter.promotion.registry import register
from shunter.promotion.step import StepConfig, StepContext, StepResult, TerminalStepError
from shunter.steps_support.effects import would
from shunter.steps_support.kubeclient import kube_client

__all__ = ["ALIAS_PATTERN", "SetFreightAliasConfig", "SetFreightAliasStep"]

#: A Kubernetes label value that is not empty.
ALIAS_PATTERN = labels.ALIAS_VALUE_PATTERN


class SetFreightAliasConfig(StepConfig):
    """Config of ``set-freight-alias``."""

    name: str = Field(min_length=1, description="Name of the Freight.")
    alias: str = Field(
        min_length=1, max_length=63, pattern=ALIAS_PATTERN, description="The new alias."
    )


@register
class SetFreightAliasStep:
    """Runner of ``set-freight-alias``."""

    name: ClassVar[str] = "set-freight-alias"
    config_model: ClassVar[type[StepConfig]] = SetFreightAliasConfig
    default_timeout: ClassVar[timedelta | None] = None
    default_error_threshold: ClassVar[int] = 1
    external_effects: ClassVar[Effects] = Effects.WRITES

    async def preview(self, ctx: StepContext, config: Any) -> StepResult:
        """The alias it would give."""
        cfg = SetFreightAliasConfig.model_validate(config)
        return would(f"would set the alias of Freight {cfg.name} to {cfg.alias}")

    async def run(self, ctx: StepContext, config: Any) -> StepResult:
        """Check the alias is free, then set it on the Freight."""
        cfg = SetFreightAliasConfig.model_validate(config)
        kube = kube_client(ctx, self.name)
        what = f"Freight {cfg.name!r} in project {ctx.project!r}"
        try:
            freight = await kube.get_custom(ctx.project, "freights", cfg.name)
            holders = await kube.list_custom(
                ctx.project, "freights", label_selector=f"{labels.ALIAS}={cfg.alias}"
            )
        except NotFoundError:
            raise TerminalStepError(f"{what} not found", failed=True) from None
        except KubeError as exc:
            raise TerminalStepError(f"failed to fetch {what}: {exc}", failed=True) from None
        others = sorted(h["metadata"]["name"] for h in holders if h["metadata"]["name"] != cfg.name)
        if others:
            raise TerminalStepError(
                f"alias {cfg.alias!r} is already used by Freight {others[0]!r} "
                f"in project {ctx.project!r}",
                failed=True,
            )
        old = freight.get("alias") or ""
        patch = {"alias": cfg.alias, "metadata": {"labels": {labels.ALIAS: cfg.alias}}}
        try:
            await kube.patch_custom(ctx.project, "freights", cfg.name, patch)
        except KubeError as exc:
            raise TerminalStepError(
                f"failed to patch alias for {what}: {exc}", failed=True
            ) from None
        return StepResult(
            status=PromotionStepStatus.SUCCEEDED,
            message=f"updated alias of Freight {cfg.name!r} from {old!r} to {cfg.alias!r}",
        )
