"""The ``yaml-merge`` step: merge several YAML files into one, later files winning.

Config: ``inFiles[]`` (at least one work-directory path), ``outFile`` (created or replaced,
with missing parent directories), ``ignoreMissingFiles`` (default false: a missing input is an
error). Files are merged in order: mappings merge key by key and recursively, any other value
(scalars and **lists**, which are replaced whole, as Helm treats values files) from a later file
replaces the earlier one, and a ``null`` value in a later file removes the key. Empty files are
skipped; the first non-empty file is the base, so its comments and key order survive. The
output is written atomically; it is empty when no input had content.

Output ``commitMessage`` (absent when every input was missing): ``Wrote <in> to <out>`` for
one input, else ``Merged <n> YAML files to <out>`` and one ``- <in>`` line per input, as Kargo
writes it.

Differences from Kargo (which merges with kustomize's kyaml ``merge2``): lists of mappings are
always replaced whole (kyaml merges lists whose items carry a key such as ``name`` item by
item); a file holding several documents, a top level that is not a mapping, and inputs over
16 MiB are refused; the output is laid out by ruamel.yaml (2-space indent, list dashes at the
parent's column, as kyaml writes), not byte for byte like any input.
"""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any, ClassVar

from pydantic import Field
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import YAMLError

from shunter._internal.threads import run_in_thread
from shunter.api.v1alpha1.promotion import PromotionStepStatus
from shunter.promotion.effects import Effects
from shunter.promotion.registry import register
from shunter.promotion.step import (
    StepConfig,
    StepContext,
    StepError,
    StepResult,
    TerminalStepError,
)
from shunter.steps_support.atomicwrite import atomic_file

__all__ = ["MAX_INPUT_BYTES", "YAMLMergeConfig", "YAMLMergeStep", "merge_yaml_texts"]

#: Larger input files are refused (every document is held in memory).
MAX_INPUT_BYTES = 16 << 20


class YAMLMergeConfig(StepConfig):
    """Config of ``yaml-merge``."""

    in_files: list[str] = Field(
        min_length=1, description="YAML files to merge, in order; later files win."
    )
    out_file: str = Field(min_length=1, description="Path of the merged file (created/replaced).")
    ignore_missing_files: bool = Field(
        default=False, description="Skip inputs that do not exist instead of failing."
    )


def _yaml() -> YAML:
    yaml = YAML(typ="rt", pure=True)
    yaml.preserve_quotes = True
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=2, offset=0)
    return yaml


def _merge(base: CommentedMap, patch: CommentedMap) -> None:
    for key, value in patch.items():
        if value is None:
            base.pop(key, None)
        elif isinstance(value, CommentedMap) and isinstance(base.get(key), CommentedMap):
            _merge(base[key], value)
        else:
            base[key] = value
            # The replaced value's end-of-line comment goes with it; the patch's comes along.
            base.ca.items.pop(key, None)
            if key in patch.ca.items:
                base.ca.items[key] = patch.ca.items[key]


def _load(yaml: YAML, text: str, shown: str) -> CommentedMap | None:
    try:
        documents = list(yaml.load_all(text))
    except YAMLError as exc:
        raise TerminalStepError(f"could not parse YAML file {shown!r}: {exc}") from None
    documents = [d for d in documents if d is not None]
    if not documents:
        return None
    if len(documents) > 1:
        raise TerminalStepError(f"YAML file {shown!r} holds several documents; cannot merge it")
    document = documents[0]
    if not isinstance(document, CommentedMap):
        raise TerminalStepError(
            f"the top level of YAML file {shown!r} must be a mapping "
            f"(got {type(document).__name__})"
        )
    return document


def merge_yaml_texts(texts: list[tuple[str, str]]) -> str:
    """Merge ``(name, text)`` YAML documents in order; ``""`` when all are empty."""
    yaml = _yaml()
    merged: CommentedMap | None = None
    for shown, text in texts:
        document = _load(yaml, text, shown)
        if document is None:
            continue
        if merged is None:
            merged = document
        else:
            _merge(merged, document)
    if merged is None:
        return ""
    out = io.StringIO()
    yaml.dump(merged, out)
    return out.getvalue()


def _read(ctx: StepContext, shown: str, *, ignore_missing: bool) -> str | None:
    path = ctx.path(shown)
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_INPUT_BYTES + 1)
    except FileNotFoundError:
        if ignore_missing:
            return None
        raise StepError(f"input file {shown!r} not found") from None
    except IsADirectoryError:
        raise TerminalStepError(f"input {shown!r} is a directory, not a file") from None
    except OSError as exc:
        raise StepError(f"cannot read {shown!r}: {exc.strerror}") from None
    if len(data) > MAX_INPUT_BYTES:
        raise TerminalStepError(f"input file {shown!r} is larger than {MAX_INPUT_BYTES} bytes")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise TerminalStepError(f"input file {shown!r} is not UTF-8 text") from None


def _run(ctx: StepContext, cfg: YAMLMergeConfig) -> list[str]:
    texts: list[tuple[str, str]] = []
    for shown in cfg.in_files:
        text = _read(ctx, shown, ignore_missing=cfg.ignore_missing_files)
        if text is not None:
            texts.append((shown, text))
    target = ctx.path(cfg.out_file)
    merged = merge_yaml_texts(texts)
    if target.is_dir():
        raise TerminalStepError(f"outFile {cfg.out_file!r} is a directory")
    try:
        with atomic_file(ctx.work_dir, target) as handle:
            handle.write(merged.encode("utf-8"))
    except OSError as exc:
        raise StepError(f"cannot write {cfg.out_file!r}: {exc.strerror}") from None
    return [shown for shown, _ in texts]


def _commit_message(inputs: list[str], out_file: str) -> str:
    if len(inputs) == 1:
        return f"Wrote {inputs[0]} to {out_file}"
    lines = [f"Merged {len(inputs)} YAML files to {out_file}"]
    lines += [f"- {shown}" for shown in inputs]
    return "\n".join(lines)


@register
class YAMLMergeStep:
    """Runner of ``yaml-merge``."""

    name: ClassVar[str] = "yaml-merge"
    config_model: ClassVar[type[StepConfig]] = YAMLMergeConfig
    default_timeout: ClassVar[timedelta | None] = None
    default_error_threshold: ClassVar[int] = 1
    external_effects: ClassVar[Effects] = Effects.NONE

    async def run(self, ctx: StepContext, config: Any) -> StepResult:
        """Merge the inputs into ``outFile`` and describe it in ``commitMessage``."""
        cfg = YAMLMergeConfig.model_validate(config)
        inputs = await run_in_thread(_run, ctx, cfg)
        output = {"commitMessage": _commit_message(inputs, cfg.out_file)} if inputs else {}
        return StepResult(status=PromotionStepStatus.SUCCEEDED, output=output)
