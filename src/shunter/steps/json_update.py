"""The ``json-update`` step: set values in a JSON file, keeping the rest of it byte for byte.

Config: ``path`` (a file in the work directory) and ``updates[]`` of ``{key, value}``; ``key``
is a dotted path (``\\.`` escapes a dot, numbers index arrays, ``-1`` appends), ``value`` a
string, number, boolean or null. Output ``commitMessage``: ``Updated <path>`` followed by one
``- <key>: <value>`` line per update (strings Go-quoted), as Kargo writes it.

Editing rules are those of :mod:`shunter.edit.json`.

Differences from Kargo (which uses tidwall/sjson): new members are laid out like their
neighbours instead of being appended compactly; an index past the end of an array is an error
(sjson pads with nulls); a missing container is always created as an object (sjson makes an
array for a numeric part); only ``\\.`` and ``\\:`` escapes are accepted in keys.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, ClassVar

from pydantic import Field

from shunter._internal.threads import run_in_thread
from shunter.api.v1alpha1.promotion import PromotionStepStatus
from shunter.edit.json import JsonScalar, JsonUpdateError, set_json_values
from shunter.promotion.effects import Effects
from shunter.promotion.registry import register
from shunter.promotion.step import StepConfig, StepContext, StepResult, TerminalStepError
from shunter.steps_support.files import read_text, write_text
from shunter.steps_support.messages import update_commit_message

__all__ = ["JSONUpdate", "JSONUpdateConfig", "JSONUpdateStep"]


class JSONUpdate(StepConfig):
    """One key to set."""

    key: str = Field(min_length=1, description="Dotted key path, e.g. spec.image.tag.")
    value: JsonScalar = Field(description="The new value (string, number, boolean or null).")


class JSONUpdateConfig(StepConfig):
    """Config of ``json-update``."""

    path: str = Field(min_length=1, description="Path of the JSON file in the work directory.")
    updates: list[JSONUpdate] = Field(min_length=1)


def _update_file(ctx: StepContext, cfg: JSONUpdateConfig) -> None:
    file = read_text(ctx.work_dir, ctx.path(cfg.path), cfg.path)
    try:
        text = set_json_values(file.text, [(u.key, u.value) for u in cfg.updates])
    except JsonUpdateError as exc:
        raise TerminalStepError(f"cannot update {cfg.path!r}: {exc}") from None
    write_text(file, text, cfg.path)


@register
class JSONUpdateStep:
    """Runner of ``json-update``."""

    name: ClassVar[str] = "json-update"
    config_model: ClassVar[type[StepConfig]] = JSONUpdateConfig
    default_timeout: ClassVar[timedelta | None] = None
    default_error_threshold: ClassVar[int] = 1
    external_effects: ClassVar[Effects] = Effects.NONE

    async def run(self, ctx: StepContext, config: Any) -> StepResult:
        """Apply the updates and describe them in ``commitMessage``."""
        cfg = JSONUpdateConfig.model_validate(config)
        await run_in_thread(_update_file, ctx, cfg)
        message = update_commit_message(
            cfg.path, [(u.key, u.value) for u in cfg.updates], style="json"
        )
        return StepResult(status=PromotionStepStatus.SUCCEEDED, output={"commitMessage": message})
