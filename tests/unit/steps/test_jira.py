"""jira: the step against JiraDouble, a test double of Jira's REST API v2 on 127.0.0.1.

Jira is an external SaaS that cannot run here, so the step talks real HTTP to
:class:`shunter_devenv.jira.JiraDouble`. The credentials Secret comes from ``SecretStore``, a
stand-in for the Kubernetes API's Secret read (the same ``get_secret(namespace, name)`` a
``KubeClient`` offers); tests/integration/test_jira_step.py reads it from a real API server.
"""

from __future__ import annotations

import base64
import dataclasses
import logging
import socket
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from shunter.api.v1alpha1.promotion import PromotionStepStatus
from shunter.kube.client import NotFoundError
from shunter.promotion.step import StepContext, StepError, TerminalStepError
from shunter.steps.jira import JiraStep, idempotence_label
from shunter_devenv.jira import JiraDouble, JiraFault, JiraTransition, JiraWorkflow
from shunter_devenv.selfsigned import server_ssl_context, write_server_tls

USER = "release-bot@example.com"
API_TOKEN = "cloud-api-token-Zq81x"
PAT = "dc-personal-access-token-Kp20"
SECRET = "jira-credentials"
BASIC = base64.b64encode(f"{USER}:{API_TOKEN}".encode()).decode()


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


class SecretStore:
    """Stand-in for the Kubernetes API's Secret read: ``get_secret`` like KubeClient's."""

    def __init__(self) -> None:
        self.secrets: dict[tuple[str, str], dict[str, Any]] = {}

    def put(self, namespace: str, name: str, data: Mapping[str, str]) -> None:
        self.secrets[(namespace, name)] = {
            "metadata": {"name": name, "namespace": namespace},
            "data": {k: b64(v) for k, v in data.items()},
        }

    async def get_secret(self, namespace: str, name: str) -> dict[str, Any]:
        try:
            return self.secrets[(namespace, name)]
        except KeyError:
            raise NotFoundError(f"get secret {namespace}/{name}: 404", status=404) from None


@pytest.fixture
def jira() -> Iterator[JiraDouble]:
    with JiraDouble(users={USER: API_TOKEN}, tokens={PAT: "release-bot"}) as double:
        yield double


@pytest.fixture
def store(ctx: StepContext) -> SecretStore:
    secrets = SecretStore()
    secrets.put(ctx.project, SECRET, {"username": USER, "apiToken": API_TOKEN})
    return secrets


@pytest.fixture
def jctx(ctx: StepContext, store: SecretStore) -> StepContext:
    """The step context with the Secret reader under ``extras["kube"]``."""
    capabilities = dataclasses.replace(ctx.capabilities, extras={"kube": store})
    return dataclasses.replace(ctx, capabilities=capabilities)


def config(jira: JiraDouble, **extra: Any) -> dict[str, Any]:
    return {"baseURL": jira.base_url, "credentials": {"secretName": SECRET}, **extra}


RELEASE = {"projectKey": "REL", "issueType": "Task", "summary": "Release 1.2.3 to preprod"}


def assert_no_secret(text: str) -> None:
    for secret in (API_TOKEN, PAT, BASIC):
        assert secret not in text


# -- config ---------------------------------------------------------------------------------


def test_config_errors(config_error: Any) -> None:
    base = {"baseURL": "https://jira.example.com", "credentials": {"secretName": "jira"}}
    assert "config.baseURL: required" in config_error(JiraStep, {"credentials": {}})
    assert "config.credentials: required" in config_error(
        JiraStep, {"baseURL": "https://x", "issueKey": "A-1", "comment": "c"}
    )
    assert 'config: unknown key "projectKey"' in config_error(
        JiraStep, {**base, "createIssue": RELEASE, "projectKey": "REL"}
    )
    assert 'config.createIssue: unknown key "projekt"' in config_error(
        JiraStep, {**base, "createIssue": {**RELEASE, "projekt": "x"}}
    )
    assert "config.createIssue.issueType: required" in config_error(
        JiraStep, {**base, "createIssue": {"projectKey": "REL", "summary": "s"}}
    )
    assert 'config.credentials: unknown key "password"' in config_error(
        JiraStep, {**base, "credentials": {"secretName": "jira", "password": "x"}, "comment": "c"}
    )
    assert "exactly one of 'createIssue' and 'issueKey'" in config_error(JiraStep, base)
    assert "exactly one of 'createIssue' and 'issueKey'" in config_error(
        JiraStep, {**base, "createIssue": RELEASE, "issueKey": "REL-1"}
    )
    assert "at least one of 'updateFields', 'comment' and 'transition'" in config_error(
        JiraStep, {**base, "issueKey": "REL-1"}
    )
    assert "config.issueKey" in config_error(JiraStep, {**base, "issueKey": "../1", "comment": "c"})
    assert "exactly one of 'name' and 'id'" in config_error(
        JiraStep, {**base, "issueKey": "REL-1", "transition": {"name": "Done", "id": "31"}}
    )
    assert "config.transition.id" in config_error(
        JiraStep, {**base, "issueKey": "REL-1", "transition": {"id": "done"}}
    )
    assert "summary must be set with the createIssue keys" in config_error(
        JiraStep, {**base, "createIssue": {**RELEASE, "fields": {"summary": "x"}}}
    )
    assert "contain no spaces" in config_error(
        JiraStep, {**base, "createIssue": {**RELEASE, "labels": ["two words"]}}
    )
    assert "config.timeout" in config_error(
        JiraStep, {**base, "issueKey": "REL-1", "comment": "c", "timeout": "5"}
    )
    plain = {**base, "baseURL": "http://jira.example.com", "issueKey": "REL-1", "comment": "c"}
    assert "config.baseURL" in config_error(JiraStep, plain)
    assert "use https" in config_error(JiraStep, plain)


def test_credentials_forms(config_error: Any) -> None:
    base = {"baseURL": "https://jira.example.com", "issueKey": "REL-1", "comment": "c"}
    message = config_error(
        JiraStep, {**base, "credentials": {"secretName": "jira", "token": API_TOKEN}}
    )
    assert "cannot be combined" in message
    assert_no_secret(message)
    message = config_error(JiraStep, {**base, "credentials": {"apiToken": API_TOKEN}})
    assert "both 'username' and 'apiToken'" in message
    assert_no_secret(message)
    assert "'token' must not be empty" in config_error(
        JiraStep, {**base, "credentials": {"token": ""}}
    )
    assert "config.credentials.secretName" in config_error(
        JiraStep, {**base, "credentials": {"secretName": "Not_A_Name"}}
    )
    accepted = JiraStep.config_model.model_validate(
        {**base, "credentials": {"username": USER, "apiToken": API_TOKEN}}
    )
    assert API_TOKEN not in repr(accepted)


# -- behaviour ------------------------------------------------------------------------------


async def test_create_comment_transition_records_the_release(
    jira: JiraDouble, jctx: StepContext, run_step: Any
) -> None:
    result = await run_step(
        JiraStep,
        jctx,
        config(
            jira,
            createIssue={
                **RELEASE,
                "description": "Freight abc123 promoted by Kargo",
                "labels": ["release", "preprod"],
                "fields": {"customfield_10010": "1.2.3"},
            },
            comment="Smoke tests passed for 1.2.3",
            transition={"name": "in progress"},
        ),
    )
    assert result.status == PromotionStepStatus.SUCCEEDED
    key = result.output["issueKey"]
    assert key == "REL-1"
    assert result.output["issueURL"] == f"{jira.base_url}/browse/REL-1"
    assert result.output["transitioned"] is True
    issue = jira.issue(key)
    fields = issue["fields"]
    assert fields["summary"] == "Release 1.2.3 to preprod"
    assert fields["description"] == "Freight abc123 promoted by Kargo"
    assert fields["customfield_10010"] == "1.2.3"
    label = idempotence_label(jctx.project, jctx.promotion, jctx.alias)
    assert fields["labels"] == ["release", "preprod", label]
    assert fields["status"]["name"] == "In Progress"
    comments = jira.comments(key)
    assert [c["body"] for c in comments] == ["Smoke tests passed for 1.2.3"]
    assert result.output["commentID"] == comments[0]["id"]
    assert {(r.principal, r.auth_scheme) for r in jira.requests} == {(USER, "basic")}
    # Order of work: search, create, transitions, transition, comment.
    assert [(r.method, r.path) for r in jira.requests] == [
        ("GET", "/rest/api/2/search/jql"),
        ("POST", "/rest/api/2/issue"),
        ("GET", "/rest/api/2/issue/REL-1/transitions"),
        ("POST", "/rest/api/2/issue/REL-1/transitions"),
        ("POST", "/rest/api/2/issue/REL-1/comment"),
    ]
    assert jira.requests[0].query["jql"] == [f'project = "REL" AND labels = "{label}"']
    assert "REL-1" in result.message


async def test_existing_issue_update_with_bearer_token(
    jira: JiraDouble, jctx: StepContext, store: SecretStore, run_step: Any
) -> None:
    key = jira.seed_issue("REL", "Release train 42", status="In Progress")
    store.put(jctx.project, "jira-pat", {"token": PAT})
    result = await run_step(
        JiraStep,
        jctx,
        {
            "baseURL": jira.base_url + "/",
            "credentials": {"secretName": "jira-pat"},
            "issueKey": key,
            "updateFields": {"fixVersions": [{"name": "1.2.3"}], "labels": ["released"]},
            "transition": {"id": "31"},
        },
    )
    assert result.output == {
        "issueKey": key,
        "issueURL": f"{jira.base_url}/browse/{key}",
        "commentID": None,
        "transitioned": True,
    }
    fields = jira.issue(key)["fields"]
    assert fields["fixVersions"] == [{"name": "1.2.3"}]
    assert fields["labels"] == ["released"]
    assert fields["status"]["name"] == "Done"
    assert jira.comments(key) == []
    assert {(r.principal, r.auth_scheme) for r in jira.requests} == {("release-bot", "bearer")}
    assert not jira.requests_to("POST", "/rest/api/2/issue")


async def test_inline_credentials_from_expressions(
    jira: JiraDouble, ctx: StepContext, run_step: Any
) -> None:
    """Values such as ``${{ secret('jira').apiToken }}`` arrive evaluated; no kube needed."""
    key = jira.seed_issue("REL", "Release train 43")
    result = await run_step(
        JiraStep,
        ctx,
        {
            "baseURL": jira.base_url,
            "credentials": {"username": USER, "apiToken": API_TOKEN},
            "issueKey": key,
            "comment": "deployed",
        },
    )
    assert result.output["commentID"] == jira.comments(key)[0]["id"]


async def test_unknown_transition_fails_listing_the_available_ones(
    jira: JiraDouble, jctx: StepContext, run_step: Any
) -> None:
    key = jira.seed_issue("REL", "Release train 44")
    with pytest.raises(TerminalStepError) as caught:
        await run_step(JiraStep, jctx, config(jira, issueKey=key, transition={"name": "Shipped"}))
    assert caught.value.failed
    message = str(caught.value)
    assert f"issue {key} has no transition 'Shipped'" in message
    assert "'In Progress' (id 21)" in message
    assert jira.status(key) == "To Do"

    with pytest.raises(TerminalStepError) as caught:
        await run_step(JiraStep, jctx, config(jira, issueKey=key, transition={"id": "31"}))
    assert "no transition id 31; available: 'In Progress' (id 21)" in str(caught.value)


async def test_transition_to_the_current_status_is_skipped(
    jira: JiraDouble, jctx: StepContext, run_step: Any
) -> None:
    key = jira.seed_issue("REL", "Release train 45", status="Done")
    result = await run_step(
        JiraStep, jctx, config(jira, issueKey=key, transition={"name": "DONE"}, comment="again")
    )
    assert result.output["transitioned"] is False
    assert jira.status(key) == "Done"
    assert not jira.requests_to("POST", r"/rest/api/2/issue/.*/transitions")


async def test_custom_workflow(jctx: StepContext, run_step: Any) -> None:
    workflow = JiraWorkflow(
        initial="Open",
        transitions=(JiraTransition("5", "Deploy to Production", "Released"),),
    )
    with JiraDouble(users={USER: API_TOKEN}, workflow=workflow) as double:
        key = double.seed_issue("REL", "Release")
        result = await run_step(
            JiraStep,
            jctx,
            config(double, issueKey=key, transition={"name": "deploy to production"}),
        )
        assert result.output["transitioned"] is True
        assert double.status(key) == "Released"


async def test_401_is_terminal_and_never_shows_the_token(
    jira: JiraDouble, jctx: StepContext, store: SecretStore, run_step: Any, caplog: Any
) -> None:
    caplog.set_level(logging.DEBUG)
    store.put(jctx.project, SECRET, {"username": USER, "apiToken": "wrong-" + API_TOKEN})
    with pytest.raises(TerminalStepError) as caught:
        await run_step(JiraStep, jctx, config(jira, createIssue=RELEASE))
    message = str(caught.value)
    assert "Jira answered 401 Unauthorized to GET /rest/api/2/search/jql" in message
    assert "You are not authenticated" in message
    assert f"check the credentials in Secret {jctx.project}/{SECRET}" in message
    assert not caught.value.failed
    for text in (message, repr(caught.value), caplog.text):
        assert "wrong-" not in text
        assert_no_secret(text)
    assert jira.issues() == []


async def test_jira_validation_errors_are_terminal_and_quoted(
    jira: JiraDouble, jctx: StepContext, run_step: Any
) -> None:
    with pytest.raises(TerminalStepError) as caught:
        await run_step(JiraStep, jctx, config(jira, createIssue={**RELEASE, "issueType": "Epic"}))
    assert "Jira answered 400 Bad Request to POST /rest/api/2/issue" in str(caught.value)
    assert "issuetype: valid issue type is required" in str(caught.value)

    key = jira.seed_issue("REL", "Release")
    with pytest.raises(TerminalStepError) as caught:
        await run_step(JiraStep, jctx, config(jira, issueKey=key, updateFields={"status": "x"}))
    assert "status: Field 'status' cannot be set" in str(caught.value)

    with pytest.raises(TerminalStepError) as caught:
        await run_step(JiraStep, jctx, config(jira, issueKey="REL-99", comment="c"))
    assert "404" in str(caught.value)
    assert "Issue does not exist" in str(caught.value)


async def test_retry_after_create_does_not_duplicate(
    jira: JiraDouble, jctx: StepContext, run_step: Any
) -> None:
    step = config(jira, createIssue=RELEASE, comment="Released", transition={"name": "In Progress"})
    # The comment fails after the issue exists and was transitioned: retryable.
    jira.inject_fault(JiraFault("POST", r"/rest/api/2/issue/[^/]+/comment", 503))
    with pytest.raises(StepError) as caught:
        await run_step(JiraStep, jctx, step)
    assert not isinstance(caught.value, TerminalStepError)
    assert "503" in str(caught.value)
    assert len(jira.issues()) == 1

    result = await run_step(JiraStep, jctx, step)
    assert result.output["issueKey"] == "REL-1"
    assert result.output["transitioned"] is False
    assert "reused REL-1" in result.message
    assert len(jira.issues()) == 1
    assert [c["body"] for c in jira.comments("REL-1")] == ["Released"]
    assert jira.status("REL-1") == "In Progress"
    assert len(jira.requests_to("POST", "/rest/api/2/issue")) == 1


async def test_lost_create_response_is_retried_without_a_duplicate(
    jira: JiraDouble, jctx: StepContext, run_step: Any
) -> None:
    jira.inject_fault(JiraFault("POST", "/rest/api/2/issue", 502, apply=True))
    with pytest.raises(StepError) as caught:
        await run_step(JiraStep, jctx, config(jira, createIssue=RELEASE))
    assert not isinstance(caught.value, TerminalStepError)
    assert len(jira.issues()) == 1
    result = await run_step(JiraStep, jctx, config(jira, createIssue=RELEASE))
    assert result.output["issueKey"] == "REL-1"
    assert len(jira.issues()) == 1

    # Another step alias (or Promotion) creates its own issue.
    other = dataclasses.replace(jctx, alias="record-prod")
    result = await run_step(JiraStep, other, config(jira, createIssue=RELEASE))
    assert result.output["issueKey"] == "REL-2"


async def test_data_center_search_fallback(jctx: StepContext, run_step: Any) -> None:
    with JiraDouble(users={USER: API_TOKEN}, flavour="datacenter") as double:
        first = await run_step(JiraStep, jctx, config(double, createIssue=RELEASE))
        again = await run_step(JiraStep, jctx, config(double, createIssue=RELEASE))
        assert first.output["issueKey"] == again.output["issueKey"] == "REL-1"
        assert len(double.issues()) == 1
        assert [r.status for r in double.requests_to("GET", "/rest/api/2/search/jql")] == [
            404,
            404,
        ]
        assert [r.status for r in double.requests_to("GET", "/rest/api/2/search")] == [200, 200]


@pytest.mark.parametrize("status", [429, 500, 503])
async def test_throttling_and_server_errors_are_retryable(
    jira: JiraDouble, jctx: StepContext, run_step: Any, status: int
) -> None:
    key = jira.seed_issue("REL", "Release")
    jira.inject_fault(JiraFault("GET", r"/rest/api/2/issue/[^/]+/transitions", status))
    with pytest.raises(StepError) as caught:
        await run_step(JiraStep, jctx, config(jira, issueKey=key, transition={"name": "Done"}))
    assert not isinstance(caught.value, TerminalStepError)
    assert f"Jira answered {status}" in str(caught.value)


async def test_connection_refused_is_retryable(jctx: StepContext, run_step: Any) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    step = {
        "baseURL": f"http://127.0.0.1:{port}",
        "credentials": {"secretName": SECRET},
        "issueKey": "REL-1",
        "comment": "c",
    }
    with pytest.raises(StepError) as caught:
        await run_step(JiraStep, jctx, step)
    assert not isinstance(caught.value, TerminalStepError)
    assert "error sending GET /rest/api/2/issue/REL-1" not in str(caught.value)
    assert "POST /rest/api/2/issue/REL-1/comment" in str(caught.value)
    assert_no_secret(str(caught.value))


async def test_secret_problems(
    jira: JiraDouble, jctx: StepContext, ctx: StepContext, store: SecretStore, run_step: Any
) -> None:
    step = config(jira, issueKey="REL-1", comment="c", credentials={"secretName": "missing"})
    with pytest.raises(StepError) as caught:
        await run_step(JiraStep, jctx, step)
    assert not isinstance(caught.value, TerminalStepError)
    assert f"Secret {jctx.project}/missing not found" in str(caught.value)

    store.put(jctx.project, "incomplete", {"username": USER})
    step = config(jira, issueKey="REL-1", comment="c", credentials={"secretName": "incomplete"})
    with pytest.raises(TerminalStepError, match="must hold 'username' and 'apiToken'"):
        await run_step(JiraStep, jctx, step)

    store.put(jctx.project, "both", {"username": USER, "apiToken": API_TOKEN, "token": PAT})
    step = config(jira, issueKey="REL-1", comment="c", credentials={"secretName": "both"})
    with pytest.raises(TerminalStepError, match="keep only one form") as caught:
        await run_step(JiraStep, jctx, step)
    assert_no_secret(str(caught.value))

    with pytest.raises(TerminalStepError, match="needs a Kubernetes client"):
        await run_step(JiraStep, ctx, config(jira, issueKey="REL-1", comment="c"))
    assert jira.requests == []


async def test_https_with_insecure_skip_tls_verify(
    jctx: StepContext, run_step: Any, tmp_path: Path
) -> None:
    files = write_server_tls(tmp_path / "tls", "jira-double")
    with JiraDouble(users={USER: API_TOKEN}, ssl_context=server_ssl_context(files)) as double:
        assert double.base_url.startswith("https://")
        key = double.seed_issue("REL", "Release")
        step = config(double, issueKey=key, comment="over TLS")
        with pytest.raises(StepError) as caught:
            await run_step(JiraStep, jctx, step)
        assert not isinstance(caught.value, TerminalStepError)
        assert double.comments(key) == []
        result = await run_step(JiraStep, jctx, {**step, "insecureSkipTLSVerify": True})
        assert result.output["commentID"] == double.comments(key)[0]["id"]


def test_idempotence_label() -> None:
    label = idempotence_label("demo", "preprod.01j.abc", "record-release")
    assert label.startswith("kargo-promotion-")
    assert len(label) == len("kargo-promotion-") + 16
    assert label == idempotence_label("demo", "preprod.01j.abc", "record-release")
    assert label != idempotence_label("demo", "preprod.01j.abd", "record-release")
    assert label != idempotence_label("demo", "preprod.01j.abc", "step-2")
