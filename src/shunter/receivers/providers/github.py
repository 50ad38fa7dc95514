"""GitHub: ``push``, ``pull_request``, ``package``, ``registry_package`` and ``ping`` events.

Authentication: ``X-Hub-Signature-256``, the HMAC-SHA256 of the body keyed by the Secret's
``secret``. The event is named by ``X-GitHub-Event``; other events are a 400 (checked before the
signature, as Kargo does).

* ``push``: the Warehouses subscribed to the repository (its ``clone_url`` or ``ssh_url``)
  whose subscription considers the pushed ``ref``; the paths changed by the listed commits and
  the head commit feed the include/exclude filters (unless GitHub listed 2048 commits or more,
  its cap: then nothing is filtered out).
* ``package`` / ``registry_package`` (GHCR; the second when the hook belongs to a GitHub App),
  actions ``published`` and ``updated``, container packages only: the Warehouses subscribed to
  the package's repository that would consider the pushed tag.
* ``pull_request`` with action ``closed``: the running Promotions waiting on that PR.
* ``ping``: answered 200.
"""

from __future__ import annotations

from typing import Any

from shunter.api.v1alpha1.project import WebhookReceiverConfig
from shunter.freight.urls import normalize_git_url
from shunter.receivers.events import (
    INVALID_BODY,
    Inbound,
    Outcome,
    PayloadModel,
    RefreshWarehouses,
    Rejected,
    Reply,
    Text,
    parse_payload,
)
from shunter.receivers.media_types import normalized_repo_urls
from shunter.receivers.providers.common import (
    CommitFiles,
    changed_paths,
    closed_pull_request,
    require_signature,
)

__all__ = ["handle"]

EVENT_HEADER = "X-GitHub-Event"
SIGNATURE_HEADER = "X-Hub-Signature-256"
_EVENTS = frozenset({"package", "ping", "pull_request", "push", "registry_package"})
_PUBLISHING = frozenset({"published", "updated"})
_CONTAINER_TYPES = frozenset({"CONTAINER", "docker"})
#: GitHub lists at most this many commits in a push event.
_COMMIT_CAP = 2048
PING_REPLY = Reply(200, {"msg": "ping event received, webhook is configured correctly"})


class _Repository(PayloadModel):
    clone_url: Text = ""
    ssh_url: Text = ""


class _Push(PayloadModel):
    ref: Text = ""
    repository: _Repository | None = None
    commits: list[CommitFiles] | None = None
    head_commit: CommitFiles | None = None


class _Tag(PayloadModel):
    name: Text = ""


class _ContainerMetadata(PayloadModel):
    tag: _Tag | None = None
    manifest: dict[str, Any] | None = None


class _PackageVersion(PayloadModel):
    package_url: Text = ""
    container_metadata: _ContainerMetadata | None = None


class _Package(PayloadModel):
    package_type: Text = ""
    package_version: _PackageVersion | None = None


class _PackageEvent(PayloadModel):
    action: Text = ""
    package: _Package | None = None
    registry_package: _Package | None = None


def handle(request: Inbound, secret: bytes, config: WebhookReceiverConfig) -> Outcome:
    """Authenticate and read one GitHub event."""
    event = request.header(EVENT_HEADER)
    if event not in _EVENTS:
        raise Rejected(400, f"event type {event} is not supported")
    require_signature(request, SIGNATURE_HEADER, secret)
    if event == "ping":
        parse_payload(request.body, PayloadModel)
        return PING_REPLY
    if event == "push":
        return _push(parse_payload(request.body, _Push))
    if event == "pull_request":
        return closed_pull_request(request.body)
    package_event = parse_payload(request.body, _PackageEvent)
    package = package_event.package if event == "package" else package_event.registry_package
    return _package(package_event.action, package)


def _push(push: _Push) -> Outcome:
    repo = push.repository or _Repository()
    commits = list(push.commits or [])
    changed: tuple[str, ...] = ()
    if len(commits) < _COMMIT_CAP:
        if push.head_commit is not None:
            commits.append(push.head_commit)
        changed = changed_paths(commits)
    return RefreshWarehouses(
        (normalize_git_url(repo.clone_url), normalize_git_url(repo.ssh_url)),
        (push.ref,),
        changed,
    )


def _package(action: str, package: _Package | None) -> Outcome:
    if action not in _PUBLISHING:
        return Reply()
    if package is None or package.package_version is None:
        raise Rejected(400, INVALID_BODY)
    if package.package_type not in _CONTAINER_TYPES:
        return Reply()
    version = package.package_version
    metadata = version.container_metadata or _ContainerMetadata()
    config = (metadata.manifest or {}).get("config")
    media_type = config.get("media_type") if isinstance(config, dict) else None
    # GitHub sometimes sends "ghcr.io/owner/image:" (a colon and no tag).
    repo_url = version.package_url.removesuffix(":")
    tag = metadata.tag.name if metadata.tag else ""
    return RefreshWarehouses(
        normalized_repo_urls(repo_url, media_type if isinstance(media_type, str) else ""), (tag,)
    )
