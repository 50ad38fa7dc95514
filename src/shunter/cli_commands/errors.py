"""The error types of the command line: a message that says what went wrong and what to do."""

from __future__ import annotations

__all__ = ["CliError", "ProjectNotFoundError"]


class CliError(Exception):
    """A failure the user can act on; ``main`` prints it and exits with ``exit_code``."""

    def __init__(self, message: str, *, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class ProjectNotFoundError(CliError):
    """The project a command works in does not exist (the message lists those that do)."""

    def __init__(self, message: str, *, project: str) -> None:
        super().__init__(message)
        self.project = project
