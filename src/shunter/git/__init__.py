"""An async wrapper around the git command-line program; it knows nothing about Kargo.

:mod:`shunter.git.runner` starts every git process of the operator (promotions and discovery).
:class:`BareRepo` clones a repository (bare, in a private home folder) and adds working trees;
:class:`WorkTree` stages, commits, rebases and pushes. Credentials (:class:`RepoCredentials`)
reach git only through the child process's environment, never through argv or URLs, and every
error message and log line is scrubbed of them (:func:`scrub`).
"""

from shunter.git.credentials import RepoCredentials, scrub
from shunter.git.errors import (
    GitAuthenticationError,
    GitCommandError,
    GitError,
    GitRepositoryNotFoundError,
    GitTimeoutError,
    GitUnreachableError,
    InvalidRefError,
    MergeConflictError,
    NonFastForwardError,
    NotAWorkTreeError,
    RemoteRefNotFoundError,
)
from shunter.git.refs import check_commit_id, check_ref_name
from shunter.git.repo import BareRepo, GitIdentity, Timeouts, WorkTree
from shunter.git.urls import (
    check_repo_url,
    normalize_git_url,
    redact_url,
    repo_url_problem,
)

__all__ = [
    "BareRepo",
    "GitAuthenticationError",
    "GitCommandError",
    "GitError",
    "GitIdentity",
    "GitRepositoryNotFoundError",
    "GitTimeoutError",
    "GitUnreachableError",
    "InvalidRefError",
    "MergeConflictError",
    "NonFastForwardError",
    "NotAWorkTreeError",
    "RemoteRefNotFoundError",
    "RepoCredentials",
    "Timeouts",
    "WorkTree",
    "check_commit_id",
    "check_ref_name",
    "check_repo_url",
    "normalize_git_url",
    "redact_url",
    "repo_url_problem",
    "scrub",
]
