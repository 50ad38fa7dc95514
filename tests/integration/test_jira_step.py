"""jira with its credentials Secret on a real kube-apiserver, against JiraDouble.

JiraDouble (:mod:`shunter_devenv.jira`) is a test double of Jira's REST API v2: Jira is an
external SaaS that cannot run here. Everything else is real: the Secret is read through a
``KubeClient`` from the API server, and the last tests run a Promotion through the engine
(smoke check with ``http``, then ``jira`` under ``if: ${{ success() }}``) with expressions in
the config, ``secret()`` included.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from shunter.api.v1alpha1 import PromotionPhase, to_wire
from shunter.api.v1alpha1.common import (
    FreightCollection,
    FreightOrigin,
    FreightOriginKind,
    FreightReference,
    Image,
    PromotionStep,
)
from shunter.api.v1alpha1.promotion import PromotionStatus, PromotionStepStatus
from shunter.credentials.kubernetes import KubernetesCredentialsDatabase
from shunter.kube.client import KubeClient
from shunter.operator.resources import KubeResourceFetcher
from shunter.promotion.context import PromotionContext
from shunter.promotion.engine import Engine
from shunter.promotion.registry import DEFAULT_REGISTRY
from shunter.promotion.step import Capabilities, StepContext, StepError, TerminalStepError
from shunter.steps import load_builtin_steps
from shunter.steps.jira import JiraStep, idempotence_label
from shunter_devenv.cluster import Cluster
from shunter_devenv.jira import JiraDouble
from shunter_devenv.localhttp import LocalHTTPServer, QuietHandler

USER = "release-bot@example.com"
API_TOKEN = "integration-api-token-Vb55"
PAT = "integration-pat-Hq31"


def put_secret(kube: Cluster, namespace: str, name: str, data: dict[str, str]) -> None:
    kube.apply(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": name, "namespace": namespace},
                "stringData": data,
            }
        )
    )


@pytest.fixture
def jira_secret(kube: Cluster, namespace: str) -> str:
    """The test namespace, holding Secret ``jira`` (username + apiToken)."""
    put_secret(kube, namespace, "jira", {"username": USER, "apiToken": API_TOKEN})
    return namespace


@pytest.fixture
def jira() -> Iterator[JiraDouble]:
    with JiraDouble(users={USER: API_TOKEN}, tokens={PAT: "release-bot"}) as double:
        yield double


def step_context(namespace: str, client: KubeClient, tmp_path: Path) -> StepContext:
    return StepContext(
        project=namespace,
        stage="prod",
        promotion="prod.01jtest.abc1234",
        alias="record-release",
        work_dir=tmp_path,
        capabilities=Capabilities(
            credentials=KubernetesCredentialsDatabase(client), extras={"kube": client}
        ),
        target_freight=FreightReference(),
        freight=FreightCollection(id="fc"),
    )


async def test_credentials_from_a_secret_on_the_api_server(
    kube: Cluster, jira_secret: str, client: KubeClient, jira: JiraDouble, tmp_path: Path
) -> None:
    namespace = jira_secret
    ctx = step_context(namespace, client, tmp_path)
    raw = {
        "baseURL": jira.base_url,
        "credentials": {"secretName": "jira"},
        "createIssue": {"projectKey": "REL", "issueType": "Task", "summary": "Release 1.2.3"},
        "comment": "Smoke tests passed",
        "transition": {"name": "In Progress"},
    }
    result = await JiraStep().run(ctx, JiraStep.config_model.model_validate(raw))
    assert result.status == PromotionStepStatus.SUCCEEDED
    assert result.output["issueKey"] == "REL-1"
    assert jira.status("REL-1") == "In Progress"
    assert [c["body"] for c in jira.comments("REL-1")] == ["Smoke tests passed"]
    assert (
        idempotence_label(namespace, ctx.promotion, ctx.alias)
        in jira.issue("REL-1")["fields"]["labels"]
    )
    assert {r.principal for r in jira.requests} == {USER}

    # A Data Center personal access token (Bearer) from another Secret.
    put_secret(kube, namespace, "jira-pat", {"token": PAT})
    raw = {
        "baseURL": jira.base_url,
        "credentials": {"secretName": "jira-pat"},
        "issueKey": "REL-1",
        "transition": {"name": "Done"},
    }
    result = await JiraStep().run(ctx, JiraStep.config_model.model_validate(raw))
    assert result.output["transitioned"] is True
    assert jira.requests[-1].auth_scheme == "bearer"

    # A missing Secret is retryable (it may be created); the step never reached Jira.
    before = len(jira.requests)
    raw["credentials"] = {"secretName": "absent"}
    with pytest.raises(StepError) as caught:
        await JiraStep().run(ctx, JiraStep.config_model.model_validate(raw))
    assert not isinstance(caught.value, TerminalStepError)
    assert f"Secret {namespace}/absent not found" in str(caught.value)
    assert len(jira.requests) == before


# -- through the engine ----------------------------------------------------------------------


@dataclass
class App:
    """The promoted application's health endpoint, for the smoke check."""

    healthy: bool


class AppHandler(QuietHandler):
    def do_GET(self) -> None:  # noqa: N802
        app = self.app
        assert isinstance(app, App)
        body = json.dumps({"status": "ok" if app.healthy else "down"}).encode()
        self.send_response(200 if app.healthy else 503)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def promotion_steps(app_url: str, jira_url: str) -> list[PromotionStep]:
    steps: list[dict[str, Any]] = [
        {
            "uses": "http",
            "as": "smoke",
            "config": {
                "url": app_url + "/healthz",
                "outputs": [{"name": "health", "fromExpression": "response.body.status"}],
            },
        },
        {
            "uses": "jira",
            "as": "record-release",
            "if": "${{ success() }}",
            "config": {
                "baseURL": jira_url,
                "credentials": {
                    "username": "${{ secret('jira').username }}",
                    "apiToken": "${{ secret('jira').apiToken }}",
                },
                "createIssue": {
                    "projectKey": "REL",
                    "issueType": "Task",
                    "summary": "Release ${{ ctx.targetFreight.name }} to ${{ ctx.stage }}",
                    "labels": ["${{ ctx.stage }}"],
                },
                "comment": "Smoke check: ${{ outputs.smoke.health }}",
                "transition": {"name": "In Progress"},
            },
        },
    ]
    return [PromotionStep.model_validate(s) for s in steps]


def promotion(namespace: str, name: str, steps: list[PromotionStep]) -> PromotionContext:
    target = FreightReference(
        name="a" * 40,
        origin=FreightOrigin(kind=FreightOriginKind.WAREHOUSE, name="app"),
        images=[Image.model_validate({"repoURL": "registry.example.com/app", "tag": "1.2.3"})],
    )
    return PromotionContext(
        project=namespace,
        stage="prod",
        promotion=name,
        uid=f"uid-{name}",
        steps=steps,
        target_freight=target,
        freight=FreightCollection(id="fc", items={"Warehouse/app": target}),
    )


async def test_promotion_records_the_release_after_smoke_checks(
    jira_secret: str, client: KubeClient, jira: JiraDouble, tmp_path: Path, caplog: Any
) -> None:
    caplog.set_level(logging.DEBUG)
    load_builtin_steps()
    namespace = jira_secret
    app = App(healthy=True)
    server = LocalHTTPServer(AppHandler, app, name="smoke-app")
    server.start()
    try:
        engine = Engine(
            capabilities=Capabilities(
                credentials=KubernetesCredentialsDatabase(client), extras={"kube": client}
            ),
            work_root=tmp_path / "work",
            registry=DEFAULT_REGISTRY,
            data=KubeResourceFetcher(client),
        )
        steps = promotion_steps(server.base_url, jira.base_url)
        saved: list[dict[str, Any]] = []

        async def save(status: PromotionStatus) -> None:
            saved.append(to_wire(status))

        good = await engine.run(promotion(namespace, "prod.1", steps), None, save=save)
        assert good.status.phase == PromotionPhase.SUCCEEDED, good.status.message
        state = good.status.state or {}
        assert state["record-release"]["issueKey"] == "REL-1"
        assert state["record-release"]["issueURL"] == f"{jira.base_url}/browse/REL-1"
        issue = jira.issue("REL-1")
        assert issue["fields"]["summary"] == f"Release {'a' * 40} to prod"
        assert issue["fields"]["labels"][0] == "prod"
        assert issue["fields"]["status"]["name"] == "In Progress"
        assert [c["body"] for c in jira.comments("REL-1")] == ["Smoke check: ok"]

        # A failed smoke check: the jira step is skipped, nothing reaches Jira.
        app.healthy = False
        requests_before = len(jira.requests)
        bad = await engine.run(promotion(namespace, "prod.2", steps), None, save=save)
        assert bad.status.phase == PromotionPhase.FAILED, bad.status.message
        statuses = {m.alias: m.status for m in bad.status.step_execution_metadata or []}
        assert statuses.get("record-release") == PromotionStepStatus.SKIPPED, statuses
        assert len(jira.requests) == requests_before
        assert len(jira.issues()) == 1
    finally:
        server.stop()

    basic = base64.b64encode(f"{USER}:{API_TOKEN}".encode()).decode()
    for text in (caplog.text, json.dumps(saved)):
        assert API_TOKEN not in text
        assert basic not in text
