"""The ``compose-output`` step: publish its (evaluated) config as its output.

Config: a free-form map with at least one key; each key becomes an output key, values may be
any JSON the expressions produced. It is the one step whose output is also propagated to the
enclosing task's alias (``outputs.<task alias>.<key>``); the engine reads
:attr:`ComposeOutputStep.propagates_task_output` to know that.
"""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any, ClassVar

from pydantic import ConfigDict, model_validator

from shunter.api.v1alpha1.promotion import PromotionStepStatus
from shunter.promotion.effects import Effects
from shunter.promotion.registry import register
from shunter.promotion.step import StepConfig, StepContext, StepResult

__all__ = ["ComposeOutputConfig", "ComposeOutputStep"]


class ComposeOutputConfig(StepConfig):
    """Config of ``compose-output``: any keys, at least one."""

    model_config = ConfigDict(extra="allow")

    @model_validator(mode="after")
    def _not_empty(self) -> ComposeOutputConfig:
        if not self.model_extra:
            raise ValueError("config must define at least one output key")
        return self

    def outputs(self) -> dict[str, Any]:
        """The configured keys and values (a deep copy)."""
        return copy.deepcopy(dict(self.model_extra or {}))


@register
class ComposeOutputStep:
    """Runner of ``compose-output``."""

    name: ClassVar[str] = "compose-output"
    config_model: ClassVar[type[StepConfig]] = ComposeOutputConfig
    default_timeout: ClassVar[timedelta | None] = None
    default_error_threshold: ClassVar[int] = 1
    external_effects: ClassVar[Effects] = Effects.NONE
    #: The engine also merges this step's output into the task alias's state.
    propagates_task_output: ClassVar[bool] = True

    async def run(self, ctx: StepContext, config: Any) -> StepResult:
        """Return the config as output."""
        cfg = ComposeOutputConfig.model_validate(config)
        return StepResult(status=PromotionStepStatus.SUCCEEDED, output=cfg.outputs())
