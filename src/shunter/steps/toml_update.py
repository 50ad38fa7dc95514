"""The ``toml-update`` step: set values in a TOML file, keeping the rest of it byte for byte.

Config: ``path`` (a file in the work directory) and ``updates[]`` of ``{key, value}``; ``key``
is a dotted path (``\\.`` escapes a dot, numbers index arrays and arrays of tables), ``value``
a string, number or boolean. Output ``commitMessage``: ``Updated <path>`` followed by one
``- <key>: <value>`` line per update, the value written as TOML (``'1.2.3'``, ``true``, ``42``),
as Kargo writes it.

Editing rules (existing scalar keys only, comments and layout kept, every edit checked) are
those of :mod:`shunter.edit.toml`.

Differences from Kargo (which splices the new value's go-toml encoding at the old value's byte
offsets): a literal string (``'...'``) stays literal and any other string becomes a basic one
(``"..."``), where Kargo writes every string the way go-toml chooses; a null value is refused
when the config is validated; only ``\\.`` and ``\\:`` escapes are accepted in keys.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, ClassVar

from pydantic import Field, StrictBool, StrictFloat, StrictInt, StrictStr

from shunter._internal.threads import run_in_thread
from shunter.api.v1alpha1.promotion import PromotionStepStatus
from shunter.edit.toml import TomlUpdateError, set_toml_values, toml_value_text
from shunter.promotion.effects import Effects
from shunter.promotion.registry import register
from shunter.promotion.step import StepConfig, StepContext, StepResult, TerminalStepError
from shunter.steps_support.files import read_text, write_text

__all__ = ["TOMLUpdate", "TOMLUpdateConfig", "TOMLUpdateStep", "toml_commit_message"]


class TOMLUpdate(StepConfig):
    """One key to set."""

    key: str = Field(min_length=1, description="Dotted key path, e.g. package.version.")
    value: StrictBool | StrictInt | StrictFloat | StrictStr = Field(
        description="The new value (string, number or boolean)."
    )


class TOMLUpdateConfig(StepConfig):
    """Config of ``toml-update``."""

    path: str = Field(min_length=1, description="Path of the TOML file in the work directory.")
    updates: list[TOMLUpdate] = Field(min_length=1)


def toml_commit_message(path: str, updates: list[TOMLUpdate]) -> str:
    """``Updated <path>`` + a blank line + ``- key: <TOML value>`` per update."""
    lines = [f"Updated {path}", ""]
    lines += [f"- {u.key}: {toml_value_text(u.value)}" for u in updates]
    return "\n".join(lines)


def _update_file(ctx: StepContext, cfg: TOMLUpdateConfig) -> None:
    file = read_text(ctx.work_dir, ctx.path(cfg.path), cfg.path)
    try:
        text = set_toml_values(file.text, [(u.key, u.value) for u in cfg.updates])
    except TomlUpdateError as exc:
        raise TerminalStepError(f"cannot update {cfg.path!r}: {exc}") from None
    write_text(file, text, cfg.path)


@register
class TOMLUpdateStep:
    """Runner of ``toml-update``."""

    name: ClassVar[str] = "toml-update"
    config_model: ClassVar[type[StepConfig]] = TOMLUpdateConfig
    default_timeout: ClassVar[timedelta | None] = None
    default_error_threshold: ClassVar[int] = 1
    external_effects: ClassVar[Effects] = Effects.NONE

    async def run(self, ctx: StepContext, config: Any) -> StepResult:
        """Apply the updates and describe them in ``commitMessage``."""
        cfg = TOMLUpdateConfig.model_validate(config)
        await run_in_thread(_update_file, ctx, cfg)
        message = toml_commit_message(cfg.path, cfg.updates)
        return StepResult(status=PromotionStepStatus.SUCCEEDED, output={"commitMessage": message})
