"""Pieces several providers share: signature headers, changed-path lists, branch/tag refs."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from shunter.receivers.events import (
    Inbound,
    Outcome,
    PayloadModel,
    RefreshPromotions,
    Rejected,
    Reply,
    Text,
    parse_payload,
)
from shunter.receivers.signatures import hub_signature_valid

__all__ = [
    "CommitFiles",
    "Link",
    "changed_paths",
    "closed_pull_request",
    "qualified_ref",
    "require_signature",
]


class CommitFiles(PayloadModel):
    """The files one commit of a push event touched (GitHub, GitLab and Gitea agree)."""

    added: list[str] | None = None
    modified: list[str] | None = None
    removed: list[str] | None = None


class Link(PayloadModel):
    """``{"href": ...}``, as Bitbucket and Azure DevOps link things."""

    href: Text = ""


def require_signature(
    request: Inbound,
    header: str,
    secret: bytes,
    check: Callable[[str, bytes, bytes], bool] = hub_signature_valid,
) -> None:
    """Refuse (401) a request whose ``header`` is missing or not the body's HMAC (as ``check``
    reads it: ``sha256=<hex>`` by default)."""
    signature = request.header(header)
    if not signature:
        raise Rejected(401, "missing signature")
    if not check(signature, request.body, secret):
        raise Rejected(401, "unauthorized")


def changed_paths(commits: Iterable[CommitFiles]) -> tuple[str, ...]:
    """Every path the commits of a push added, modified or removed: sorted, unique."""
    return tuple(
        sorted(
            {
                path
                for commit in commits
                for paths in (commit.added, commit.modified, commit.removed)
                for path in paths or ()
            }
        )
    )


def qualified_ref(kind: str, name: str) -> str:
    """``refs/tags/<name>`` for a tag, ``refs/heads/<name>`` for anything else."""
    return f"refs/tags/{name}" if kind == "tag" else f"refs/heads/{name}"


class _PullRequest(PayloadModel):
    html_url: Text = ""


class _PullRequestEvent(PayloadModel):
    action: Text = ""
    pull_request: _PullRequest | None = None


def closed_pull_request(body: bytes) -> Outcome:
    """A ``pull_request`` event as GitHub and Gitea send it: when ``closed``, refresh the
    Promotions waiting on the PR at ``pull_request.html_url``; otherwise nothing to do."""
    event = parse_payload(body, _PullRequestEvent)
    if event.action != "closed":
        return Reply()
    return RefreshPromotions(event.pull_request.html_url if event.pull_request else "")
