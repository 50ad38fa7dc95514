"""The ``yaml-update`` step: set values in a YAML file, keeping the rest of it byte for byte.

Config: ``path`` (a file in the work directory) and ``updates[]`` of ``{key, value}``; ``key``
is a dotted path (``\\.`` escapes a dot, numbers index lists), ``value`` a string, number,
boolean or null. Output ``commitMessage``: ``Updated <path>`` followed by one
``- <key>: <value>`` line per update, as Kargo writes it.

Editing rules (first document only, in-place edits, created keys, checks) are those of
:mod:`shunter.edit.yaml`.

Differences from Kargo (whose yaml-update rewrites the value's line from the value's column
on): a comment after the value and the value's quote style survive here, and a missing key is
created (Kargo fails with "key path not found"); a string is quoted when a YAML 1.1 reader such
as Helm's would take it for a bool, number, null or date (Kargo quotes only what Go's
``strconv`` parses as a number or bool, or what is valid JSON).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, ClassVar

from pydantic import Field

from shunter._internal.threads import run_in_thread
from shunter.api.v1alpha1.promotion import PromotionStepStatus
from shunter.edit.yaml import YamlUpdateError, set_yaml_values
from shunter.edit.yaml_scalar import ScalarValue
from shunter.promotion.effects import Effects
from shunter.promotion.registry import register
from shunter.promotion.step import StepConfig, StepContext, StepResult, TerminalStepError
from shunter.steps_support.files import read_text, write_text
from shunter.steps_support.messages import update_commit_message

__all__ = ["YAMLUpdate", "YAMLUpdateConfig", "YAMLUpdateStep"]


class YAMLUpdate(StepConfig):
    """One key to set."""

    key: str = Field(min_length=1, description="Dotted key path, e.g. general.lmsImageTag.")
    value: ScalarValue = Field(description="The new value (string, number, boolean or null).")


class YAMLUpdateConfig(StepConfig):
    """Config of ``yaml-update``."""

    path: str = Field(min_length=1, description="Path of the YAML file in the work directory.")
    updates: list[YAMLUpdate] = Field(min_length=1)


def _update_file(ctx: StepContext, cfg: YAMLUpdateConfig) -> None:
    file = read_text(ctx.work_dir, ctx.path(cfg.path), cfg.path)
    try:
        text = set_yaml_values(file.text, [(u.key, u.value) for u in cfg.updates])
    except YamlUpdateError as exc:
        raise TerminalStepError(f"cannot update {cfg.path!r}: {exc}") from None
    write_text(file, text, cfg.path)


@register
class YAMLUpdateStep:
    """Runner of ``yaml-update``."""

    name: ClassVar[str] = "yaml-update"
    config_model: ClassVar[type[StepConfig]] = YAMLUpdateConfig
    default_timeout: ClassVar[timedelta | None] = None
    default_error_threshold: ClassVar[int] = 1
    external_effects: ClassVar[Effects] = Effects.NONE

    async def run(self, ctx: StepContext, config: Any) -> StepResult:
        """Apply the updates and describe them in ``commitMessage``."""
        cfg = YAMLUpdateConfig.model_validate(config)
        await run_in_thread(_update_file, ctx, cfg)
        message = update_commit_message(
            cfg.path, [(u.key, u.value) for u in cfg.updates], style="yaml"
        )
        return StepResult(status=PromotionStepStatus.SUCCEEDED, output={"commitMessage": message})
