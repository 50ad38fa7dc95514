"""What ``yaml-parse`` and ``json-parse`` share: the config model and output extraction.

Owns :class:`ParseOutput`, :class:`ParseConfig`, :func:`read_document_bytes` and
:func:`extract_outputs`: each ``fromExpression`` is a raw expr-lang expression evaluated with
``ctx.evaluate``, the parsed document's top-level keys being extra variables.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field

from shunter.expressions import ExpressionError, ExpressionSyntaxError, FunctionError, to_plain
from shunter.promotion.step import StepConfig, StepContext, StepError, TerminalStepError

__all__ = [
    "MAX_DOCUMENT_BYTES",
    "ParseConfig",
    "ParseOutput",
    "extract_outputs",
    "read_document_bytes",
]

#: Larger files are refused (the whole document is held in memory).
MAX_DOCUMENT_BYTES = 16 << 20


class ParseOutput(StepConfig):
    """One output: its name and the expression computing it."""

    name: str = Field(min_length=1, description="Name of the output.")
    from_expression: str = Field(
        min_length=1, description="Raw expr-lang expression over the document's top-level keys."
    )


class ParseConfig(StepConfig):
    """Config of ``yaml-parse`` and ``json-parse``."""

    path: str = Field(min_length=1, description="Path of the file in the work directory.")
    outputs: list[ParseOutput] = Field(min_length=1)


def read_document_bytes(ctx: StepContext, path: str) -> bytes:
    """The bytes of the work-directory file ``path`` (non-empty, at most the size cap)."""
    target = ctx.path(path)
    try:
        with target.open("rb") as handle:
            data = handle.read(MAX_DOCUMENT_BYTES + 1)
    except FileNotFoundError:
        raise StepError(f"file {path!r} does not exist") from None
    except IsADirectoryError:
        raise TerminalStepError(f"{path!r} is a directory, not a file") from None
    except OSError as exc:
        raise StepError(f"cannot read {path!r}: {exc.strerror}") from None
    if len(data) > MAX_DOCUMENT_BYTES:
        raise TerminalStepError(f"file {path!r} is larger than {MAX_DOCUMENT_BYTES} bytes")
    if not data.strip():
        raise TerminalStepError(f"file {path!r} is empty")
    return data


async def extract_outputs(
    ctx: StepContext, document: Any, outputs: list[ParseOutput], path: str
) -> dict[str, Any]:
    """Evaluate every output expression with the document's top-level keys as variables."""
    if ctx.evaluate is None:
        raise TerminalStepError("this step needs an expression evaluator")
    if not isinstance(document, Mapping):
        raise TerminalStepError(
            f"the top level of {path!r} must be an object (got {type(document).__name__})"
        )
    variables = {str(key): value for key, value in document.items()}
    results: dict[str, Any] = {}
    for output in outputs:
        expression = output.from_expression
        try:
            results[output.name] = to_plain(await ctx.evaluate(expression, variables))
        except ExpressionSyntaxError as exc:
            raise TerminalStepError(
                f"error compiling expression {expression!r} of output {output.name!r}: {exc}"
            ) from None
        except (ExpressionError, FunctionError) as exc:
            raise StepError(
                f"error evaluating expression {expression!r} of output {output.name!r}: {exc}"
            ) from None
    return results
