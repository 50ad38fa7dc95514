"""The ``yaml-parse`` step: read a YAML file and compute named outputs from it.

Config: ``path`` (a file in the work directory) and ``outputs[]`` of ``{name,
fromExpression}``. Each ``fromExpression`` is a raw expr-lang expression (not wrapped in
``${{ }}``) whose variables are the top-level keys of the document; output ``<name>`` is its
result. Timestamps and other non-JSON YAML scalars become strings, as when Kargo converts YAML
to JSON first.

Differences from Kargo: besides the document's keys, the expression sees the step's usual
variables (``ctx``, ``vars``, ``outputs``...) and functions, the document's keys taking
precedence; a document whose top level is not a mapping is an error; files over 16 MiB are
refused; a syntax error in an expression is terminal.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any, ClassVar

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from shunter._internal.threads import run_in_thread
from shunter.api.v1alpha1.promotion import PromotionStepStatus
from shunter.promotion.effects import Effects
from shunter.promotion.registry import register
from shunter.promotion.step import StepConfig, StepContext, StepResult, TerminalStepError
from shunter.steps_support.parsefile import ParseConfig, extract_outputs, read_document_bytes

__all__ = ["YAMLParseConfig", "YAMLParseStep"]


class YAMLParseConfig(ParseConfig):
    """Config of ``yaml-parse``."""


def _jsonish(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonish(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonish(v) for v in value]
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


def _load(ctx: StepContext, path: str) -> Any:
    data = read_document_bytes(ctx, path)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise TerminalStepError(f"file {path!r} is not UTF-8 text") from None
    try:
        return _jsonish(YAML(typ="safe", pure=True).load(text))
    except YAMLError as exc:
        raise TerminalStepError(f"could not parse YAML file {path!r}: {exc}") from None


@register
class YAMLParseStep:
    """Runner of ``yaml-parse``."""

    name: ClassVar[str] = "yaml-parse"
    config_model: ClassVar[type[StepConfig]] = YAMLParseConfig
    default_timeout: ClassVar[timedelta | None] = None
    default_error_threshold: ClassVar[int] = 1
    external_effects: ClassVar[Effects] = Effects.NONE

    async def run(self, ctx: StepContext, config: Any) -> StepResult:
        """Parse the file and evaluate the outputs."""
        cfg = YAMLParseConfig.model_validate(config)
        document = await run_in_thread(_load, ctx, cfg.path)
        output = await extract_outputs(ctx, document, cfg.outputs, cfg.path)
        return StepResult(status=PromotionStepStatus.SUCCEEDED, output=output)
