"""No secret reaches a status, an Event or the operator's log, whatever position it is in.

Issue 12, finding 5 and "keep it fixed". The operator runs as a process (DEBUG logs) against the
real API server and a real git server with Basic auth. Secrets sit in every position the issue
names, and each one is made to reach a message:

* discovery: a Warehouse ``repoURL`` with ``user:password@`` (A), one with a token as user name
  (B), a credentials Secret with a wrong password, and one with the right password (its Freight
  is promoted into every Stage below);
* promotions: a ``secret()`` value in an ``http`` step's URL path (C), in a header that a local
  echo server sends back into the step's error message, passed to ``int``/``float``/``date``/
  ``duration`` (D), embedded in a ``git-clone`` URL, and published as a step output.

Then the operator log, every Event and every status in the cluster are searched for every secret
as is, in base64 (standard and URL-safe) and percent-encoded: zero hits. Each position is also
checked to have produced its message (masked), so no position passes by staying silent.
"""

from __future__ import annotations

import base64
import json
import socket
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import pytest

from shunter_devenv.cluster import Cluster
from shunter_devenv.gitserver import GitServer
from shunter_devenv.localhttp import LocalHTTPServer, QuietHandler, discard_request_body
from shunter_devenv.operator import OperatorProcess
from shunter_devenv.waiting import wait_for

NS = "secret-leaks"
USER = "bot"
GIT_PASSWORD = "Leak-Git-pw+4b9/e2=c7"
SECRETS = {
    "git password": GIT_PASSWORD,
    "wrong password": "Leak-Wrong-pw+71c0/9a=",
    "URL password": "Leak-Url-pw+5e3d~0f",
    "URL token": "Leak-Url-token-93ad61c0f2",
    "API token": "Leak-Api+Tok3n=d41e/8b",
}
API_TOKEN = SECRETS["API token"]
KINDS = ("warehouses", "stages", "freight", "promotions", "projectconfigs")


def spellings(secret: str) -> set[str]:
    """The forms a secret is searched in: as is, base64, URL-safe base64, percent-encoded."""
    raw = secret.encode()
    return {
        secret,
        base64.b64encode(raw).decode(),
        base64.urlsafe_b64encode(raw).decode(),
        urllib.parse.quote(secret, safe=""),
        urllib.parse.quote(secret),
        urllib.parse.quote_plus(secret),
    }


def leaks(where: str, text: str) -> list[str]:
    return [
        f"{name} ({form!r}) in {where}"
        for name, secret in SECRETS.items()
        for form in spellings(secret)
        if form in text
    ]


class _EchoHandler(QuietHandler):
    """Answers every request with the request's path and Authorization header, as JSON."""

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        discard_request_body(self)
        body = json.dumps(
            {"path": self.path, "authorization": self.headers.get("Authorization", "")}
        ).encode()
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _kargo(kind: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "kargo.akuity.io/v1alpha1",
        "kind": kind,
        "metadata": {"name": name, "namespace": NS},
        "spec": spec,
    }


def _secret(name: str, data: dict[str, str], cred_type: str | None = None) -> dict[str, Any]:
    labels = {"kargo.akuity.io/cred-type": cred_type} if cred_type else {}
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": NS, "labels": labels},
        "stringData": data,
    }


def _stage(name: str, steps: list[dict[str, Any]]) -> dict[str, Any]:
    return _kargo(
        "Stage",
        name,
        {
            "requestedFreight": [
                {"origin": {"kind": "Warehouse", "name": "app"}, "sources": {"direct": True}}
            ],
            "promotionTemplate": {"spec": {"steps": steps}},
        },
    )


def _git_warehouse(name: str, url: str) -> dict[str, Any]:
    return _kargo(
        "Warehouse",
        name,
        {"interval": "5m", "subscriptions": [{"git": {"repoURL": url, "branch": "main"}}]},
    )


@dataclass
class Env:
    kube: Cluster
    operator: OperatorProcess
    echo_url: str
    #: Stage -> a phrase its Promotion's message must hold (the masked form of the leak).
    stages: dict[str, str]
    #: Warehouse -> a phrase its Ready condition must hold.
    warehouses: dict[str, str]

    def items(self, kind: str) -> list[dict[str, Any]]:
        out = self.kube.kubectl("get", kind, "-n", NS, "-o", "json").stdout
        return list(json.loads(out)["items"])


def _promotion_for(env: Env, stage: str) -> dict[str, Any] | None:
    for promotion in env.items("promotions"):
        phase = promotion.get("status", {}).get("phase")
        if promotion["spec"]["stage"] == stage and phase in ("Succeeded", "Failed", "Errored"):
            return promotion
    return None


def _ready(env: Env, warehouse: str) -> dict[str, Any] | None:
    for item in env.items("warehouses"):
        if item["metadata"]["name"] == warehouse:
            for cond in item.get("status", {}).get("conditions", []):
                if cond["type"] == "Ready" and cond["status"] == "False":
                    return dict(cond)
    return None


@pytest.fixture(scope="module")
def env(kube: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    tmp = tmp_path_factory.mktemp("secret-leaks")
    echo = LocalHTTPServer(_EchoHandler, None, name="echo")
    echo.start()
    with GitServer(users={USER: GIT_PASSWORD}, workdir=tmp / "git") as git:
        app = git.create_repo("team/app", {"values.yaml": "tag: 1\n"})
        wrong = git.create_repo("team/wrong", {"values.yaml": "tag: 1\n"})
        token = git.create_repo("team/token", {"values.yaml": "tag: 1\n"})
        with_password = app.replace("http://", f"http://{USER}:{SECRETS['URL password']}@")
        with_token = token.replace("http://", f"http://{SECRETS['URL token']}@")
        operator = OperatorProcess(
            kube.operator_kubeconfig_path,
            tmp / "work",
            tmp / "operator.log",
            env={
                "SHUNTER_DISCOVERY_RETRY_SECONDS": "2",
                "SHUNTER_MIN_STEP_REQUEUE_SECONDS": "1",
                "SHUNTER_ALLOW_CREDENTIALS_OVER_HTTP": "true",
            },
            args=("--namespace", NS),
        )
        with operator:
            kube.create_project(NS, details=operator.log)
            closed = _closed_port()
            stages = {
                "http-path": (
                    [{"uses": "http", "config": {
                        "url": f"http://127.0.0.1:{closed}/hooks/${{{{ secret('api').token }}}}/x"
                    }}],
                    "/hooks/***/x",
                ),
                "http-header": (
                    [{"uses": "http", "config": {
                        "url": f"{echo.base_url}/echo",
                        "headers": [{"name": "Authorization",
                                     "value": "Bearer ${{ secret('api').token }}"}],
                        "failureExpression": "true",
                        "errorExpression": "response.body.authorization",
                    }}],
                    "Bearer ***",
                ),
                "git-url": (
                    [{"uses": "git-clone", "config": {
                        "repoURL": app.replace(
                            "http://", f"http://{USER}:${{{{ secret('git-app').password }}}}@"
                        ),
                        "checkout": [{"path": "src"}],
                    }}],
                    "config.repoURL",
                ),
                "output": (
                    [
                        {"uses": "git-clone",
                         "config": {"repoURL": app, "checkout": [{"path": "src"}]}},
                        {"uses": "compose-output", "as": "out",
                         "config": {"token": "${{ secret('api').token }}"}},
                    ],
                    "",
                ),
            }  # fmt: skip
            for fn in ("int", "float", "date", "duration"):
                stages[f"convert-{fn}"] = (
                    [{"uses": "compose-output",
                      "config": {"v": f"${{{{ {fn}(secret('api').token) }}}}"}}],
                    f"{fn}(***)" if fn in ("int", "float") else "***",
                )  # fmt: skip
            docs = [
                _secret("git-app", {"repoURL": app, "username": USER, "password": GIT_PASSWORD},
                        "git"),
                _secret("git-wrong", {"repoURL": wrong, "username": USER,
                                      "password": SECRETS["wrong password"]}, "git"),
                _secret("api", {"token": API_TOKEN}),
                _kargo("ProjectConfig", NS, {"promotionPolicies": [
                    {"stageSelector": {"name": "glob:*"}, "autoPromotionEnabled": True}
                ]}),
                _git_warehouse("app", app),
                _git_warehouse("wrong", wrong),
                _git_warehouse("url-password", with_password),
                _git_warehouse("url-token", with_token),
                *(_stage(name, steps) for name, (steps, _) in stages.items()),
            ]  # fmt: skip
            for doc in docs:
                kube.apply(json.dumps(doc))
            yield Env(
                kube,
                operator,
                echo.base_url,
                {name: phrase for name, (_, phrase) in stages.items()},
                {
                    "wrong": f"refused the credentials of user {USER!r}",
                    "url-password": "embeds a password",
                    "url-token": f"{token} refused anonymous access",
                },
            )
    echo.stop()


def _progress(env: Env) -> str:
    lines = [f"promotion for {s}: {_promotion_for(env, s) is not None}" for s in env.stages]
    lines += [f"warehouse {w} not ready: {_ready(env, w)}" for w in env.warehouses]
    lines += [
        f"{p['metadata']['name']}: {p.get('status', {}).get('phase')} "
        f"{p.get('status', {}).get('message')}"
        for p in env.items("promotions")
    ]
    lines += [f"freight: {[f['metadata']['name'] for f in env.items('freight')]}"]
    return "\n".join(lines) + "\n" + env.operator.log()[-3000:]


def test_no_secret_in_statuses_events_or_logs(env: Env) -> None:
    def finished() -> bool:
        return all(_promotion_for(env, s) for s in env.stages) and all(
            _ready(env, w) for w in env.warehouses
        )

    wait_for(
        finished,
        what="every Stage's Promotion finished and every broken Warehouse reported",
        timeout=120,
        details=lambda: _progress(env),
    )
    # Each position produced its message, masked.
    for stage, phrase in env.stages.items():
        promotion = _promotion_for(env, stage)
        assert promotion is not None
        status = promotion["status"]
        if stage == "output":
            assert status["phase"] == "Succeeded", status.get("message")
            assert status["state"]["out"]["token"] == "***"
            continue
        assert status["phase"] in ("Failed", "Errored"), (stage, status)
        assert phrase in status.get("message", ""), (stage, status.get("message"))
    for warehouse, phrase in env.warehouses.items():
        ready = _ready(env, warehouse)
        assert ready is not None
        assert phrase in ready["message"], (warehouse, ready["message"])

    found: list[str] = []
    events = env.kube.kubectl("get", "events", "-A", "-o", "json").stdout
    assert "PromotionErrored" in events or "PromotionFailed" in events
    found += leaks("Events", events)
    for kind in KINDS:
        for item in env.items(kind):
            where = f"{kind}/{item['metadata']['name']} status"
            found += leaks(where, json.dumps(item.get("status", {})))
    projects = json.loads(env.kube.kubectl("get", "projects", "-o", "json").stdout)["items"]
    found += leaks("Project statuses", json.dumps([p.get("status") for p in projects]))
    log = env.operator.log()
    assert f"{NS}/app" in log  # the log is the operator's, with its DEBUG lines
    found += leaks("the operator log", log)
    assert found == []
