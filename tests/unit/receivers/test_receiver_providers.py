"""Each provider's handler: authentication as the provider signs, payloads as it documents
them, and the outcome Kargo's receiver would act on (repositories, refs, tags, changed files,
pull requests)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from multidict import CIMultiDict, MultiDict

from shunter.api.v1alpha1.project import WebhookReceiverConfig
from shunter.receivers.events import (
    Inbound,
    Outcome,
    RefreshPromotions,
    RefreshWarehouses,
    Rejected,
    Reply,
    RunActions,
)
from shunter.receivers.providers import HANDLERS
from shunter_devenv.webhooks import provider_headers

SAMPLES = Path(__file__).resolve().parents[2] / "data" / "receivers"
SECRET = "a-shared-secret"


def _config(kind: str, **settings: Any) -> WebhookReceiverConfig:
    return WebhookReceiverConfig.model_validate(
        {"name": "r", kind: {"secretRef": {"name": "s"}, **settings}}
    )


def _handle(
    kind: str,
    sender: str,
    event: str,
    body: bytes,
    *,
    wrong: bool = False,
    headers: dict[str, str] | None = None,
    **settings: Any,
) -> Outcome:
    sent = provider_headers(sender, event, body, SECRET, wrong=wrong) | (headers or {})
    request = Inbound(CIMultiDict(sent), MultiDict(), body)
    return HANDLERS[kind](request, SECRET.encode(), _config(kind, **settings))


def _sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


GIT_REPO = "https://github.example.com/acme/guestbook"

CASES: list[tuple[str, str, str, str, Outcome]] = [
    (
        "github",
        "github",
        "push",
        "github-push.json",
        RefreshWarehouses(
            (GIT_REPO, "ssh://git@github.example.com/acme/guestbook"),
            ("refs/heads/main",),
            ("src/index.html",),
        ),
    ),
    (
        "github",
        "github",
        "package",
        "github-package.json",
        RefreshWarehouses(("ghcr.io/acme/guestbook",), ("v1.4.0",)),
    ),
    (
        "github",
        "github",
        "pull_request",
        "github-pull-request.json",
        RefreshPromotions("https://github.example.com/acme/gitops/pull/42"),
    ),
    (
        "github",
        "github",
        "ping",
        "github-ping.json",
        Reply(200, {"msg": "ping event received, webhook is configured correctly"}),
    ),
    (
        "gitlab",
        "gitlab",
        "Push Hook",
        "gitlab-push.json",
        RefreshWarehouses(
            (
                "https://gitlab.example.com/acme/guestbook",
                "ssh://git@gitlab.example.com/acme/guestbook",
            ),
            ("refs/heads/main",),
            ("docs/header.md", "src/header.js"),
        ),
    ),
    (
        "gitlab",
        "gitlab",
        "Tag Push Hook",
        "gitlab-tag-push.json",
        RefreshWarehouses(
            (
                "https://gitlab.example.com/acme/guestbook",
                "ssh://git@gitlab.example.com/acme/guestbook",
            ),
            ("refs/tags/v1.4.0",),
        ),
    ),
    (
        "gitlab",
        "gitlab",
        "Merge Request Hook",
        "gitlab-merge-request.json",
        RefreshPromotions("https://gitlab.example.com/acme/gitops/-/merge_requests/7"),
    ),
    (
        "gitea",
        "gitea",
        "push",
        "gitea-push.json",
        RefreshWarehouses(
            ("https://gitea.example.com/acme/guestbook",),
            ("refs/heads/main",),
            ("charts/guestbook/values.yaml",),
        ),
    ),
    (
        "gitea",
        "gitea",
        "pull_request",
        "gitea-pull-request.json",
        RefreshPromotions("https://gitea.example.com/acme/gitops/pulls/3"),
    ),
    (
        "bitbucket",
        "bitbucket",
        "repo:push",
        "bitbucket-cloud-push.json",
        RefreshWarehouses(("https://bitbucket.org/acme/guestbook",), ("refs/heads/main",)),
    ),
    (
        "bitbucket",
        "bitbucket",
        "repo:refs_changed",
        "bitbucket-server-refs-changed.json",
        RefreshWarehouses(
            (
                "ssh://git@bitbucket.example.com:7999/acme/guestbook",
                "https://bitbucket.example.com/scm/acme/guestbook",
            ),
            ("refs/tags/v1.4.0",),
        ),
    ),
    (
        "bitbucket",
        "bitbucket",
        "pullrequest:fulfilled",
        "bitbucket-cloud-pr-fulfilled.json",
        RefreshPromotions("https://bitbucket.org/acme/gitops/pull-requests/12"),
    ),
    (
        "bitbucket",
        "bitbucket",
        "pr:merged",
        "bitbucket-server-pr-merged.json",
        RefreshPromotions(
            "https://bitbucket.example.com/projects/ACME/repos/gitops/pull-requests/9"
        ),
    ),
    (
        "dockerhub",
        "dockerhub",
        "",
        "dockerhub-push.json",
        RefreshWarehouses(("acme/guestbook",), ("v1.4.0",)),
    ),
    (
        "quay",
        "quay",
        "",
        "quay-push.json",
        RefreshWarehouses(("quay.io/acme/guestbook",), ("v1.4.0", "latest")),
    ),
    (
        "harbor",
        "harbor",
        "",
        "harbor-push.json",
        RefreshWarehouses(("harbor.example.com/acme/guestbook",), ("v1.4.0",)),
    ),
    (
        "artifactory",
        "artifactory",
        "",
        "artifactory-pushed.json",
        RefreshWarehouses(("artifactory.example.com/docker-local/guestbook",), ("v1.4.0",)),
    ),
    (
        "azure",
        "acr",
        "",
        "acr-push.json",
        RefreshWarehouses(("acme.azurecr.io/guestbook",), ("v1.4.0",)),
    ),
    (
        "azure",
        "azure-devops",
        "",
        "azure-devops-push.json",
        RefreshWarehouses(
            ("https://dev.azure.com/acme/acme/_git/guestbook",), ("refs/heads/main",)
        ),
    ),
    (
        "azure",
        "azure-devops",
        "",
        "azure-devops-pr-merged.json",
        RefreshPromotions("https://dev.azure.com/acme/Acme/_git/gitops/pullrequest/1"),
    ),
]


@pytest.mark.parametrize(
    ("kind", "sender", "event", "sample", "expected"),
    CASES,
    ids=[f"{c[1]}-{c[3].removesuffix('.json')}" for c in CASES],
)
def test_a_documented_payload_gives_kargos_outcome(
    kind: str, sender: str, event: str, sample: str, expected: Outcome
) -> None:
    assert _handle(kind, sender, event, _sample(sample)) == expected


SIGNED = [
    c for c in CASES if c[0] in ("github", "gitlab", "gitea", "bitbucket", "harbor", "artifactory")
]


@pytest.mark.parametrize(
    ("kind", "sender", "event", "sample"),
    [c[:4] for c in SIGNED],
    ids=[f"{c[1]}-{c[3].removesuffix('.json')}" for c in SIGNED],
)
def test_a_wrong_signature_or_token_is_a_401(
    kind: str, sender: str, event: str, sample: str
) -> None:
    with pytest.raises(Rejected) as refused:
        _handle(kind, sender, event, _sample(sample), wrong=True)
    assert refused.value.status == 401
    assert SECRET not in refused.value.message


@pytest.mark.parametrize(
    ("kind", "header", "event"),
    [
        ("github", "X-Hub-Signature-256", "push"),
        ("gitea", "X-Hub-Signature-256", "push"),
        ("bitbucket", "X-Hub-Signature", "repo:push"),
        ("harbor", "Authorization", ""),
        ("artifactory", "X-Jfrog-Event-Auth", ""),
        ("gitlab", "X-Gitlab-Token", "Push Hook"),
    ],
)
def test_a_missing_signature_is_a_401(kind: str, header: str, event: str) -> None:
    body = b"{}"
    sent = {k: v for k, v in provider_headers(kind, event, body, SECRET).items() if k != header}
    if kind == "gitea":
        sent.pop("X-Gitea-Signature")
    with pytest.raises(Rejected) as refused:
        HANDLERS[kind](
            Inbound(CIMultiDict(sent), MultiDict(), body), SECRET.encode(), _config(kind)
        )
    assert refused.value.status == 401


def test_a_tampered_body_fails_the_signature() -> None:
    body = _sample("github-push.json")
    headers = provider_headers("github", "push", body, SECRET)
    request = Inbound(CIMultiDict(headers), MultiDict(), body.replace(b"main", b"prod"))
    with pytest.raises(Rejected) as refused:
        HANDLERS["github"](request, SECRET.encode(), _config("github"))
    assert refused.value.status == 401


def test_gitea_signature_alone_in_x_gitea_signature_is_accepted() -> None:
    body = _sample("gitea-push.json")
    headers = provider_headers("gitea", "push", body, SECRET)
    del headers["X-Hub-Signature-256"]
    request = Inbound(CIMultiDict(headers), MultiDict(), body)
    assert isinstance(
        HANDLERS["gitea"](request, SECRET.encode(), _config("gitea")), RefreshWarehouses
    )


@pytest.mark.parametrize(
    ("kind", "sender", "event", "status"),
    [
        ("github", "github", "issues", 400),
        ("gitlab", "gitlab", "Issue Hook", 400),
        ("gitea", "gitea", "issues", 501),
        ("bitbucket", "bitbucket", "issue:created", 400),
    ],
)
def test_unsupported_events(kind: str, sender: str, event: str, status: int) -> None:
    with pytest.raises(Rejected) as refused:
        _handle(kind, sender, event, b"{}")
    assert refused.value.status == status


@pytest.mark.parametrize(
    ("kind", "sender", "event", "body"),
    [
        ("github", "github", "push", b"not json"),
        ("github", "github", "push", b"[1, 2]"),
        ("github", "github", "push", b'{"commits": "many"}'),
        ("github", "github", "push", b'{"ref": 7}'),
        ("gitlab", "gitlab", "Push Hook", b'{"repository": []}'),
        ("gitea", "gitea", "push", b'{"total_commits": "x"}'),
        ("bitbucket", "bitbucket", "repo:push", b'{"push": {"changes": {}}}'),
        ("dockerhub", "dockerhub", "", b'{"push_data": "v1"}'),
        ("quay", "quay", "", b'{"updated_tags": "v1"}'),
        ("harbor", "harbor", "", b'{"type": 1}'),
        ("artifactory", "artifactory", "", b"\xff\xfe"),
        ("azure", "acr", "", b'{"target": []}'),
        ("quay", "quay", "", b"[" * 100_000 + b"]" * 100_000),
        ("generic", "generic", "", b"[" * 100_000 + b"]" * 100_000),
    ],
)
def test_a_payload_of_the_wrong_shape_is_a_400(
    kind: str, sender: str, event: str, body: bytes
) -> None:
    with pytest.raises(Rejected) as refused:
        _handle(kind, sender, event, body)
    assert refused.value.status == 400


def test_github_ignores_what_kargo_ignores() -> None:
    opened = json.dumps({"action": "opened", "pull_request": {"html_url": "u"}}).encode()
    assert _handle("github", "github", "pull_request", opened) == Reply()
    package = json.loads(_sample("github-package.json"))
    package["action"] = "deleted"
    assert _handle("github", "github", "package", json.dumps(package).encode()) == Reply()
    package["action"] = "published"
    package["package"]["package_type"] = "npm"
    assert _handle("github", "github", "package", json.dumps(package).encode()) == Reply()
    package["package"]["package_version"] = None
    with pytest.raises(Rejected):
        _handle("github", "github", "package", json.dumps(package).encode())


def test_github_registry_package_and_its_trailing_colon() -> None:
    package = json.loads(_sample("github-package.json"))
    event = {"action": "updated", "registry_package": package["package"]}
    event["registry_package"]["package_version"]["package_url"] = "ghcr.io/acme/guestbook:"
    outcome = _handle("github", "github", "registry_package", json.dumps(event).encode())
    assert outcome == RefreshWarehouses(("ghcr.io/acme/guestbook",), ("v1.4.0",))


def test_a_helm_chart_pushed_to_ghcr_is_normalised_as_a_chart() -> None:
    package = json.loads(_sample("github-package.json"))
    config = package["package"]["package_version"]["container_metadata"]["manifest"]["config"]
    config["media_type"] = "application/vnd.cncf.helm.config.v1+json"
    outcome = _handle("github", "github", "package", json.dumps(package).encode())
    assert outcome == RefreshWarehouses(("ghcr.io/acme/guestbook",), ("v1.4.0",))


def test_truncated_commit_lists_disable_path_filtering() -> None:
    push = json.loads(_sample("gitlab-push.json"))
    push["total_commits_count"] = 40
    outcome = _handle("gitlab", "gitlab", "Push Hook", json.dumps(push).encode())
    assert isinstance(outcome, RefreshWarehouses)
    assert outcome.changed_files == ()
    gitea = json.loads(_sample("gitea-push.json"))
    gitea["total_commits"] = 30
    outcome = _handle("gitea", "gitea", "push", json.dumps(gitea).encode())
    assert isinstance(outcome, RefreshWarehouses)
    assert outcome.changed_files == ()


def test_gitlab_merge_requests_only_when_closed_or_merged() -> None:
    mr = json.loads(_sample("gitlab-merge-request.json"))
    mr["object_attributes"]["action"] = "update"
    assert _handle("gitlab", "gitlab", "Merge Request Hook", json.dumps(mr).encode()) == Reply()
    mr["object_attributes"]["action"] = "close"
    assert isinstance(
        _handle("gitlab", "gitlab", "Merge Request Hook", json.dumps(mr).encode()),
        RefreshPromotions,
    )


def test_harbor_wants_push_events() -> None:
    event = json.loads(_sample("harbor-push.json"))
    event["type"] = "DELETE_ARTIFACT"
    with pytest.raises(Rejected) as refused:
        _handle("harbor", "harbor", "", json.dumps(event).encode())
    assert refused.value.status == 400


def test_artifactory_virtual_repository_and_charts() -> None:
    body = _sample("artifactory-pushed.json")
    outcome = _handle("artifactory", "artifactory", "", body, virtualRepoName="docker")
    assert outcome == RefreshWarehouses(("artifactory.example.com/docker/guestbook",), ("v1.4.0",))
    event = json.loads(body)
    event["data"]["image_type"] = "oci"
    event["data"]["path"] = "charts/guestbook/1.4.0/manifest.json"
    event["data"]["tag"] = "1.4.0"
    outcome = _handle("artifactory", "artifactory", "", json.dumps(event).encode())
    assert outcome == RefreshWarehouses(
        ("artifactory.example.com/docker-local/charts/guestbook",), ("1.4.0",)
    )
    event["domain"] = "artifact"
    with pytest.raises(Rejected) as refused:
        _handle("artifactory", "artifactory", "", json.dumps(event).encode())
    assert refused.value.status == 501


def test_azure_senders_are_told_apart_by_user_agent() -> None:
    ping = json.dumps({"action": "ping"}).encode()
    assert _handle("azure", "acr", "", ping).status == 200  # type: ignore[union-attr]
    with pytest.raises(Rejected) as refused:
        _handle("azure", "azure", "", _sample("acr-push.json"), headers={"User-Agent": "curl/8"})
    assert refused.value.status == 400
    abandoned = json.loads(_sample("azure-devops-pr-merged.json"))
    abandoned["eventType"] = "git.pullrequest.updated"
    assert _handle("azure", "azure-devops", "", json.dumps(abandoned).encode()) == Reply()
    abandoned["resource"]["status"] = "abandoned"
    assert isinstance(
        _handle("azure", "azure-devops", "", json.dumps(abandoned).encode()), RefreshPromotions
    )


def test_the_generic_receiver_passes_the_request_on() -> None:
    body = _sample("registry-notification.json")
    request = Inbound(
        CIMultiDict([("X-Event", "a"), ("x-event", "b")]), MultiDict([("env", "prod")]), body
    )
    outcome = HANDLERS["generic"](request, b"", _config("generic"))
    assert isinstance(outcome, RunActions)
    assert outcome.body == json.loads(body)
    assert outcome.headers["x-event"] == ("a", "b")
    assert outcome.query == {"env": ("prod",)}
    empty = HANDLERS["generic"](Inbound(CIMultiDict(), MultiDict(), b""), b"", _config("generic"))
    assert isinstance(empty, RunActions)
    assert empty.body is None
    with pytest.raises(Rejected) as refused:
        HANDLERS["generic"](Inbound(CIMultiDict(), MultiDict(), b"{"), b"", _config("generic"))
    assert refused.value.status == 400
