"""The ``fail`` step: fail the Promotion on purpose (usually behind an ``if``).

Config: ``message`` (optional, non-empty). Always raises a terminal error marked *failed*, so
the step ends ``Failed`` with ``failed: <message>`` (or just ``failed``), as Kargo's does.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, ClassVar

from pydantic import Field

from shunter.promotion.effects import Effects
from shunter.promotion.registry import register
from shunter.promotion.step import StepConfig, StepContext, StepResult, TerminalStepError

__all__ = ["FailConfig", "FailStep"]


class FailConfig(StepConfig):
    """Config of ``fail``."""

    message: str | None = Field(default=None, min_length=1, description="Why the step fails.")


@register
class FailStep:
    """Runner of ``fail``."""

    name: ClassVar[str] = "fail"
    config_model: ClassVar[type[StepConfig]] = FailConfig
    default_timeout: ClassVar[timedelta | None] = None
    default_error_threshold: ClassVar[int] = 1
    external_effects: ClassVar[Effects] = Effects.NONE

    async def run(self, ctx: StepContext, config: Any) -> StepResult:
        """Raise the failure."""
        cfg = FailConfig.model_validate(config if config is not None else {})
        message = f"failed: {cfg.message}" if cfg.message else "failed"
        raise TerminalStepError(message, failed=True)
