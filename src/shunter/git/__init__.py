"""An async wrapper around the git command-line program; it knows nothing about Kargo.

:mod:`shunter.git.runner` starts every git process of the operator (promotions and discovery).
:class:`MirrorStore` keeps one bare :class:`Mirror` per repository URL on the operator's disk,
fetched incrementally and shared by discovery and promotions; :func:`check_out` checks a
promotion's branches, tags or commits out of it as linked working trees (:class:`WorkTree`),
which stage, commit, tag, rebase and push. Credentials (:class:`RepoCredentials`) reach git only
through the child process's environment, never through argv or URLs, and every error message
and log line is scrubbed of them (:func:`scrub`).
"""

from shunter.git.checkout import Checkout, check_out
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
from shunter.git.mirror import Mirror
from shunter.git.mirrors import MirrorStore, default_mirror_store, mirror_key
from shunter.git.refs import check_commit_id, check_ref_name
from shunter.git.repo import GitIdentity, Timeouts
from shunter.git.urls import (
    check_repo_url,
    normalize_git_url,
    redact_url,
    repo_url_problem,
)
from shunter.git.worktree import WorkTree

__all__ = [
    "Checkout",
    "GitAuthenticationError",
    "GitCommandError",
    "GitError",
    "GitIdentity",
    "GitRepositoryNotFoundError",
    "GitTimeoutError",
    "GitUnreachableError",
    "InvalidRefError",
    "MergeConflictError",
    "Mirror",
    "MirrorStore",
    "NonFastForwardError",
    "NotAWorkTreeError",
    "RemoteRefNotFoundError",
    "RepoCredentials",
    "Timeouts",
    "WorkTree",
    "check_commit_id",
    "check_out",
    "check_ref_name",
    "check_repo_url",
    "default_mirror_store",
    "mirror_key",
    "normalize_git_url",
    "redact_url",
    "repo_url_problem",
    "scrub",
]
