"""Exceptions raised by the expression language.

Owns the error tree of `shunter.expressions`::

    ExpressionError                  any problem with an expression or a template
    ├── ExpressionSyntaxError        the text does not parse (or is too long / too deep)
    ├── ExpressionEvaluationError    evaluation failed (type errors, unknown function, ...)
    │   └── ExpressionLimitError     a work or size budget was exceeded
    └── TemplateError                a `${{ }}` template is malformed (e.g. unclosed)

    FunctionError                    raised by function implementations; the interpreter turns it
                                     into an ExpressionEvaluationError carrying the position
    ExpressionInterrupt              control flow that must cross the interpreter untouched
                                     (see `shunter.expressions.functions.data.ResourceNotLoaded`)

Every `ExpressionError` carries the expression text and, when known, the 0-based character
offset of the problem; `line` and `column` are 1-based. Inside a template, `template` and
`template_offset` locate the expression within the whole string.
"""

from __future__ import annotations

__all__ = [
    "ExpressionError",
    "ExpressionEvaluationError",
    "ExpressionInterrupt",
    "ExpressionLimitError",
    "ExpressionSyntaxError",
    "FunctionError",
    "TemplateError",
]

_MAX_SHOWN = 120
#: Longest message kept: messages quote values, and may end up in a status condition.
MAX_MESSAGE = 2000


def _shorten(text: str) -> str:
    if len(text) <= _MAX_SHOWN:
        return text
    return text[: _MAX_SHOWN - 3] + "..."


class ExpressionError(Exception):
    """Base class: a problem with an expression, located in its source text."""

    def __init__(
        self,
        message: str,
        *,
        expression: str | None = None,
        offset: int | None = None,
        template: str | None = None,
        template_offset: int | None = None,
    ) -> None:
        if len(message) > MAX_MESSAGE:
            message = message[: MAX_MESSAGE - 3] + "..."
        self.message = message
        self.expression = expression
        self.offset = offset
        self.template = template
        self.template_offset = template_offset
        super().__init__(self._render())

    @property
    def line(self) -> int | None:
        """1-based line of the problem within the expression, if known."""
        if self.expression is None or self.offset is None:
            return None
        return self.expression.count("\n", 0, self.offset) + 1

    @property
    def column(self) -> int | None:
        """1-based column of the problem within its line of the expression, if known."""
        if self.expression is None or self.offset is None:
            return None
        start = self.expression.rfind("\n", 0, self.offset) + 1
        return self.offset - start + 1

    def _render(self) -> str:
        parts = [self.message]
        if self.expression is not None:
            where = ""
            if self.offset is not None:
                where = f" at {self.line}:{self.column}"
            parts.append(f"{where} in expression {_shorten(self.expression)!r}")
        if self.template is not None and self.template_offset is not None:
            parts.append(f" (template offset {self.template_offset})")
        return "".join(parts)

    def __str__(self) -> str:
        return self._render()

    def snippet(self) -> str:
        """The expression with a caret under the problem, like expr-lang prints it."""
        if self.expression is None:
            return self.message
        lines = self.expression.split("\n")
        line = self.line or 1
        column = self.column or 1
        shown = lines[line - 1]
        return f"{self.message} ({line}:{column})\n | {shown}\n | {'.' * (column - 1)}^"

    def in_template(self, template: str, template_offset: int) -> ExpressionError:
        """A copy of this error located inside `template`, same class."""
        return type(self)(
            self.message,
            expression=self.expression,
            offset=self.offset,
            template=template,
            template_offset=template_offset,
        )


class ExpressionSyntaxError(ExpressionError):
    """The expression text is malformed, too long or nested too deeply."""


class ExpressionEvaluationError(ExpressionError):
    """Evaluation failed: wrong types, unknown or failing function, bad index, ..."""


class ExpressionLimitError(ExpressionEvaluationError):
    """Evaluation exceeded a budget (steps, string or list size, recursion)."""


class TemplateError(ExpressionError):
    """A `${{ }}` / `${% %}` template string is malformed."""


class FunctionError(Exception):
    """Raised by a registered function; becomes an ExpressionEvaluationError with position."""


class ExpressionInterrupt(Exception):  # noqa: N818 - control flow, not an error to report
    """Control-flow signal raised by a function that must propagate out of `evaluate` as-is."""
