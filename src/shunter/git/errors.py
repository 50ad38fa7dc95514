"""Exceptions raised by the git CLI wrapper.

Every message is built from text that already went through
:func:`shunter.git.credentials.scrub`, so an exception can be logged or shown to a user as is:
it never carries a password, a token or the ``user:password@`` part of a URL.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "GitAuthenticationError",
    "GitCommandError",
    "GitError",
    "GitRepositoryNotFoundError",
    "GitTimeoutError",
    "GitUnreachableError",
    "InvalidRefError",
    "MergeConflictError",
    "NonFastForwardError",
    "NotAWorkTreeError",
    "RemoteRefNotFoundError",
]

#: ``GitCommandError.reason`` is cut to this many characters.
_MAX_REASON = 300


class GitError(Exception):
    """Something went wrong while driving git."""


class GitCommandError(GitError):
    """A git command exited with an unexpected status.

    ``argv`` (without the ``git`` program) and ``stderr`` are scrubbed copies.
    """

    def __init__(
        self,
        message: str,
        *,
        argv: Sequence[str] = (),
        returncode: int | None = None,
        stderr: str = "",
    ) -> None:
        super().__init__(message)
        self.argv = tuple(argv)
        self.returncode = returncode
        self.stderr = stderr

    @property
    def reason(self) -> str:
        """The line of ``stderr`` that says what failed (the last ``fatal:``/``error:`` one)."""
        lines = [line.strip() for line in self.stderr.splitlines() if line.strip()]
        text = lines[-1] if lines else ""
        for line in reversed(lines):
            if line.lower().startswith(("fatal:", "error:")):
                text = line
                break
        return text[:_MAX_REASON]


class GitTimeoutError(GitCommandError):
    """A git command ran longer than its timeout and was killed."""


class GitAuthenticationError(GitCommandError):
    """The remote refused the credentials (or asked for some and none were given)."""


class GitRepositoryNotFoundError(GitCommandError):
    """The remote has no such repository (or its server says 404)."""


class GitUnreachableError(GitCommandError):
    """The remote could not be reached: DNS, connection, TLS, or a 502/503/504 answer."""


class NonFastForwardError(GitCommandError):
    """A push was rejected because the remote branch has commits the local one lacks."""


class MergeConflictError(GitError):
    """Integrating remote changes stopped on a conflict (the rebase was aborted)."""


class NotAWorkTreeError(GitError):
    """A path is not the top of a working tree checked out by :func:`shunter.git.check_out`."""


class RemoteRefNotFoundError(GitError):
    """A branch, tag or commit does not exist in the remote repository."""


class InvalidRefError(GitError, ValueError):
    """A branch or tag name, or a commit id, is not acceptable to git (or is unsafe in argv)."""
