"""Which subscribed Warehouses a push concerns, and what a generic receiver's expressions see."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from shunter.api.v1alpha1 import Warehouse
from shunter.expressions.bounded import is_bounded
from shunter.expressions.jobs import Job, run_job
from shunter.receivers.matching import push_concerns

SAMPLES = Path(__file__).resolve().parents[2] / "data" / "receivers"


def _warehouse(*subscriptions: dict[str, Any]) -> Warehouse:
    return Warehouse.model_validate(
        {
            "metadata": {"name": "w", "namespace": "p"},
            "spec": {"subscriptions": list(subscriptions)},
        }
    )


GIT = "https://github.example.com/acme/guestbook"


@pytest.mark.parametrize(
    ("subscription", "url", "qualifiers", "changed", "expected"),
    [
        ({"git": {"repoURL": GIT + ".git"}}, GIT, ["refs/heads/main"], [], True),
        ({"git": {"repoURL": GIT, "branch": "dev"}}, GIT, ["refs/heads/main"], [], False),
        (
            {"git": {"repoURL": GIT, "includePaths": ["charts"]}},
            GIT,
            ["refs/heads/main"],
            ["src/a.py"],
            False,
        ),
        (
            {"git": {"repoURL": GIT, "includePaths": ["charts"]}},
            GIT,
            ["refs/heads/main"],
            [],  # no changed files listed: no path filtering
            True,
        ),
        (
            {"git": {"repoURL": GIT}},
            "https://github.example.com/acme/other",
            ["refs/heads/main"],
            [],
            False,
        ),
        (
            {"image": {"repoURL": "ghcr.io/acme/app"}},
            "ghcr.io/acme/app",
            ["latest", "v1.0.0"],
            [],
            True,
        ),
        ({"image": {"repoURL": "ghcr.io/acme/app"}}, "ghcr.io/acme/app", ["latest"], [], False),
        (
            {"chart": {"repoURL": "oci://ghcr.io/acme/charts/app"}},
            "ghcr.io/acme/charts/app",
            ["1.0.0"],
            [],
            True,
        ),
        # A subscription too broken to judge does not block the refresh.
        (
            {"image": {"repoURL": "ghcr.io/acme/app", "constraint": ">>1"}},
            "ghcr.io/acme/app",
            ["v1"],
            [],
            True,
        ),
    ],
)
def test_push_concerns(
    subscription: dict[str, Any],
    url: str,
    qualifiers: list[str],
    changed: list[str],
    expected: bool,
) -> None:
    assert push_concerns(_warehouse(subscription), url, qualifiers, changed) is expected


def test_any_subscription_to_the_repository_will_do() -> None:
    warehouse = _warehouse(
        {"image": {"repoURL": "ghcr.io/acme/app", "constraint": "^2"}},
        {"image": {"repoURL": "ghcr.io/acme/app", "imageSelectionStrategy": "Lexical"}},
    )
    assert push_concerns(warehouse, "ghcr.io/acme/app", ["nightly"], [])


REQUEST = {
    "body": json.loads((SAMPLES / "registry-notification.json").read_text()),
    "headers": {"x-event-type": ["push", "again"], "content-type": ["application/json"]},
    "query": {"env": ["prod"]},
}


def _run(kind: Any, source: str) -> Any:
    job = Job(
        kind, source, {"request": REQUEST, "params": {"stage": "preprod"}}, functions="receiver"
    )
    outcome = run_job(job)
    assert outcome.status == "ok", outcome.error
    return outcome.value


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("request.header('X-Event-Type') == 'push'", True),
        ("request.header('x-missing')", ""),
        ("request.headers('X-EVENT-TYPE')", ["push", "again"]),
        ("request.headers('nope')", []),
        ("request.params('env')", "prod"),
        ("request.params('nope')", ""),
        ("request.body.events[0].target.tag", "v1.4.0"),
        ("params.stage", "preprod"),
        (
            "normalizeImage(request.body.events[0].request.host + '/' + "
            "request.body.events[0].target.repository)",
            "registry.example.com:5000/acme/guestbook",
        ),
        ("normalizeGit('https://GitHub.com/Acme/App.git')", "https://github.com/acme/app"),
        ("normalizeChart('oci://ghcr.io/acme/c')", "ghcr.io/acme/c"),
    ],
)
def test_generic_expressions(expression: str, expected: Any) -> None:
    assert _run("evaluate", expression) == expected


def test_generic_templates() -> None:
    text = "${{ request.body.events[0].target.repository }}-${{ request.params('env') }}"
    assert _run("template_string", text) == "acme/guestbook-prod"


def test_the_docker_registry_receiver_stays_inline() -> None:
    when = "request.body.events[0].action == 'push' && request.body.events[0].target.tag != ''"
    assert is_bounded(Job("evaluate", when, functions="receiver"))
    value = (
        "${{ normalizeImage(request.body.events[0].request.host + '/' + "
        "request.body.events[0].target.repository) }}"
    )
    assert is_bounded(Job("template_string", value, functions="receiver"))
    assert not is_bounded(Job("evaluate", "map(1..100000, # * 2)", functions="receiver"))
