"""The ``set-metadata`` step: write key/value pairs into ``status.metadata`` of Stages and Freight.

Config: ``updates[]`` (at least one) of ``{kind: Stage|Freight, name, values}``; ``values`` is an
object of at least one key whose values may be any JSON. Each key of ``values`` replaces the key
of the same name in the object's ``status.metadata`` (other keys are kept). The objects live in
the Promotion's project namespace; updates are applied in order, each with one JSON merge patch
on the ``status`` subresource that carries the object's ``resourceVersion`` (a concurrent change
makes it re-read and try again, up to 5 times). No outputs.

Errors: a Stage or Freight that does not exist is a retryable error naming it (as in Kargo);
an API failure is retryable. Updates before the failing one stay applied.

Differences from Kargo: a ``null`` value (anywhere in ``values``) removes that key, because a
merge patch cannot store ``null``; Kargo stores a JSON ``null``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any, ClassVar, Literal

from pydantic import Field

from shunter.api.v1alpha1.promotion import PromotionStepStatus
from shunter.kube import ConflictError, KubeClient, KubeError, NotFoundError
from shunter.promotion.effects import Effects
from shunter.promotion.registry import register
from shunter.promotion.step import StepConfig, StepContext, StepError, StepResult
from shunter.steps_support.effects import would
from shunter.steps_support.kubeclient import kube_client

__all__ = ["MetadataUpdate", "SetMetadataConfig", "SetMetadataStep", "merge_patch_for"]

_PLURALS = {"Stage": "stages", "Freight": "freights"}
_ATTEMPTS = 5


class MetadataUpdate(StepConfig):
    """Metadata for one object."""

    kind: Literal["Stage", "Freight"] = Field(description="Kind of the object.")
    name: str = Field(min_length=1, description="Name of the object in the project.")
    values: dict[str, Any] = Field(min_length=1, description="Keys to set and their values.")


class SetMetadataConfig(StepConfig):
    """Config of ``set-metadata``."""

    updates: list[MetadataUpdate] = Field(min_length=1)


def merge_patch_for(old: Any, new: Any) -> Any:
    """The JSON merge patch (RFC 7386) that turns ``old`` into ``new``.

    Objects are diffed key by key (keys absent from ``new`` become ``null``); anything else is
    replaced whole.
    """
    if not isinstance(new, Mapping) or not isinstance(old, Mapping):
        return new
    patch: dict[str, Any] = {key: None for key in old if key not in new}
    for key, value in new.items():
        if key not in old:
            patch[key] = value
        elif old[key] != value:
            patch[key] = merge_patch_for(old[key], value)
    return patch


async def _apply(kube: KubeClient, project: str, update: MetadataUpdate) -> None:
    plural = _PLURALS[update.kind]
    what = f"{update.kind} {update.name!r} in project {project!r}"
    for _ in range(_ATTEMPTS):
        try:
            current = await kube.get_custom(project, plural, update.name)
        except NotFoundError:
            raise StepError(f"{what} not found") from None
        except KubeError as exc:
            raise StepError(f"error getting {what}: {exc}") from None
        status = current.get("status")
        metadata = status.get("metadata") if isinstance(status, Mapping) else None
        old = metadata if isinstance(metadata, Mapping) else {}
        changes = {
            key: merge_patch_for(old[key], value) if key in old else value
            for key, value in update.values.items()
            if key not in old or old[key] != value
        }
        if not changes:
            return
        patch = {
            "metadata": {"resourceVersion": current["metadata"]["resourceVersion"]},
            "status": {"metadata": changes},
        }
        try:
            await kube.patch_custom(project, plural, update.name, patch, status=True)
        except ConflictError:
            continue
        except NotFoundError:
            raise StepError(f"{what} not found") from None
        except KubeError as exc:
            raise StepError(f"error patching status of {what}: {exc}") from None
        return
    raise StepError(f"{what} kept changing; its metadata was not updated")


@register
class SetMetadataStep:
    """Runner of ``set-metadata``."""

    name: ClassVar[str] = "set-metadata"
    config_model: ClassVar[type[StepConfig]] = SetMetadataConfig
    default_timeout: ClassVar[timedelta | None] = None
    default_error_threshold: ClassVar[int] = 1
    external_effects: ClassVar[Effects] = Effects.WRITES

    async def preview(self, ctx: StepContext, config: Any) -> StepResult:
        """The metadata it would set."""
        cfg = SetMetadataConfig.model_validate(config)
        targets = ", ".join(
            f"{u.kind} {u.name} ({', '.join(sorted(u.values))})" for u in cfg.updates
        )
        return would(f"would set metadata of {targets}")

    async def run(self, ctx: StepContext, config: Any) -> StepResult:
        """Apply every update in order."""
        cfg = SetMetadataConfig.model_validate(config)
        kube = kube_client(ctx, self.name)
        for update in cfg.updates:
            await _apply(kube, ctx.project, update)
        return StepResult(status=PromotionStepStatus.SUCCEEDED)
