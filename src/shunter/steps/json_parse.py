"""The ``json-parse`` step: read a JSON file and compute named outputs from it.

Config: ``path`` (a file in the work directory) and ``outputs[]`` of ``{name,
fromExpression}``. Each ``fromExpression`` is a raw expr-lang expression (not wrapped in
``${{ }}``) whose variables are the top-level keys of the document; output ``<name>`` is its
result.

Differences from Kargo: besides the document's keys, the expression sees the step's usual
variables (``ctx``, ``vars``, ``outputs``...) and functions, the document's keys taking
precedence; integers stay integers (Go reads every JSON number as a float); a document whose
top level is not an object is an error; files over 16 MiB are refused; a syntax error in an
expression is terminal.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any, ClassVar

from shunter._internal.threads import run_in_thread
from shunter.api.v1alpha1.promotion import PromotionStepStatus
from shunter.promotion.effects import Effects
from shunter.promotion.registry import register
from shunter.promotion.step import StepConfig, StepContext, StepResult, TerminalStepError
from shunter.steps_support.parsefile import ParseConfig, extract_outputs, read_document_bytes

__all__ = ["JSONParseConfig", "JSONParseStep"]


class JSONParseConfig(ParseConfig):
    """Config of ``json-parse``."""


def _load(ctx: StepContext, path: str) -> Any:
    data = read_document_bytes(ctx, path)
    try:
        return json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise TerminalStepError(f"file {path!r} is not UTF-8 text") from None
    except ValueError as exc:
        raise TerminalStepError(f"could not parse JSON file {path!r}: {exc}") from None


@register
class JSONParseStep:
    """Runner of ``json-parse``."""

    name: ClassVar[str] = "json-parse"
    config_model: ClassVar[type[StepConfig]] = JSONParseConfig
    default_timeout: ClassVar[timedelta | None] = None
    default_error_threshold: ClassVar[int] = 1
    external_effects: ClassVar[Effects] = Effects.NONE

    async def run(self, ctx: StepContext, config: Any) -> StepResult:
        """Parse the file and evaluate the outputs."""
        cfg = JSONParseConfig.model_validate(config)
        document = await run_in_thread(_load, ctx, cfg.path)
        output = await extract_outputs(ctx, document, cfg.outputs, cfg.path)
        return StepResult(status=PromotionStepStatus.SUCCEEDED, output=output)
