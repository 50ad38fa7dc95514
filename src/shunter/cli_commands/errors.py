"""The one error type of the command line: a message that says what went wrong and what to do."""

from __future__ import annotations

__all__ = ["CliError"]


class CliError(Exception):
    """A failure the user can act on; ``main`` prints it and exits with ``exit_code``."""

    def __init__(self, message: str, *, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code
