"""Webhook receivers end to end: the operator as a process serving every receiver type Kargo
has, on the real API server.

One project holds a receiver of each type (each with its own Secret) and a Warehouse for each
provider's sample repository, plus decoys: another repository on the same host, a subscription
whose path filters or tag constraint the push does not pass. A correctly signed sample payload
(tests/data/receivers, shaped as each provider documents it) must refresh exactly the matching
Warehouse; a wrongly signed one (or, for the providers authenticated by the URL alone, a URL
made with a wrong secret) must be refused and refresh nothing. Then bad input: unknown paths,
wrong shapes, oversized bodies, floods - answered with the right 4xx while the operator keeps
working, and no secret in its log.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from shunter.receivers.paths import receiver_path
from shunter_devenv.cluster import Cluster
from shunter_devenv.operator import OperatorProcess
from shunter_devenv.processes import free_port
from shunter_devenv.waiting import wait_for
from shunter_devenv.webhooks import provider_headers, registry_receiver

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "receivers"
NS = "receivers"
OTHER_NS = "receivers-other"
SYSTEM_NS = "receivers-system"
REFRESH = "kargo.akuity.io/refresh"

#: Receiver type -> (Secret key, secret value).
SECRETS = {
    kind: (key, f"{kind}-{secrets.token_hex(12)}")
    for kind, key in (
        ("artifactory", "secret-token"),
        ("azure", "secret"),
        ("bitbucket", "secret"),
        ("dockerhub", "secret"),
        ("generic", "secret"),
        ("gitea", "secret"),
        ("github", "secret"),
        ("gitlab", "secret-token"),
        ("harbor", "auth-header"),
        ("quay", "secret"),
    )
}
FLOOD_SECRET = f"flood-{secrets.token_hex(12)}"
CLUSTER_SECRET = f"cluster-{secrets.token_hex(12)}"

#: Warehouse name -> its subscription.
WAREHOUSES: dict[str, dict[str, Any]] = {
    "github-app": {"git": {"repoURL": "https://github.example.com/acme/guestbook.git"}},
    "github-other": {"git": {"repoURL": "https://github.example.com/acme/other.git"}},
    "github-docs-only": {
        "git": {"repoURL": "https://github.example.com/acme/guestbook", "includePaths": ["docs"]}
    },
    "github-release": {
        "git": {"repoURL": "https://github.example.com/acme/guestbook", "branch": "release"}
    },
    "ghcr-app": {"image": {"repoURL": "ghcr.io/acme/guestbook"}},
    "ghcr-v2-only": {"image": {"repoURL": "ghcr.io/acme/guestbook", "constraint": "^2"}},
    "gitlab-app": {"git": {"repoURL": "https://gitlab.example.com/acme/guestbook"}},
    "gitea-app": {"git": {"repoURL": "https://gitea.example.com/acme/guestbook.git"}},
    "bitbucket-app": {"git": {"repoURL": "https://bitbucket.org/acme/guestbook.git"}},
    "dockerhub-app": {"image": {"repoURL": "docker.io/acme/guestbook"}},
    "quay-app": {"image": {"repoURL": "quay.io/acme/guestbook"}},
    "harbor-app": {"image": {"repoURL": "harbor.example.com/acme/guestbook"}},
    "artifactory-app": {"image": {"repoURL": "artifactory.example.com/docker-local/guestbook"}},
    "acr-app": {"image": {"repoURL": "acme.azurecr.io/guestbook"}},
    "devops-app": {"git": {"repoURL": "https://dev.azure.com/acme/Acme/_git/guestbook"}},
    "registry-app": {
        "image": {
            "repoURL": "registry.example.com:5000/acme/guestbook",
            "imageSelectionStrategy": "Lexical",
        }
    },
}

GENERIC_ACTIONS = [
    # The registry's notifications refresh the Warehouses of the pushed repository...
    *registry_receiver("generic", "generic-secret")["generic"]["actions"],
    # ... and a request naming a Warehouse in a header refreshes it and those labelled blue.
    {
        "action": "Refresh",
        "whenExpression": "request.header('X-Refresh') != ''",
        "targetSelectionCriteria": [
            {"kind": "Warehouse", "name": "${{ request.header('X-Refresh') }}"},
            {"kind": "Warehouse", "labelSelector": {"matchLabels": {"team": "${{ params.team }}"}}},
        ],
        "parameters": {"team": "blue"},
    },
]


@dataclass
class Env:
    kube: Cluster
    operator: OperatorProcess
    base: str
    urls: dict[str, str] = field(default_factory=dict)

    def refreshes(self, namespace: str = NS) -> dict[str, str | None]:
        out = self.kube.kubectl("get", "warehouses", "-n", namespace, "-o", "json").stdout
        return {
            item["metadata"]["name"]: (item["metadata"].get("annotations") or {}).get(REFRESH)
            for item in json.loads(out)["items"]
        }

    def project_config(self, namespace: str = NS) -> dict[str, Any]:
        out = self.kube.kubectl(
            "get", "projectconfig", namespace, "-n", namespace, "-o", "json"
        ).stdout
        return dict(json.loads(out))

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
        return httpx.post(url, content=body, headers=headers, timeout=30)


def _secret(name: str, namespace: str, data: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace},
        "stringData": data,
    }


def _project(kube: Cluster, name: str) -> None:
    kube.apply(
        json.dumps(
            {
                "apiVersion": "kargo.akuity.io/v1alpha1",
                "kind": "Project",
                "metadata": {"name": name},
            }
        ),
        server_side=False,
    )
    wait_for(
        lambda: kube.kubectl("get", "namespace", name, check=False).returncode == 0,
        what=f"namespace {name}",
    )


def _warehouse(name: str, subscription: dict[str, Any], **labels: str) -> dict[str, Any]:
    return {
        "apiVersion": "kargo.akuity.io/v1alpha1",
        "kind": "Warehouse",
        "metadata": {"name": name, "namespace": NS, "labels": labels or None},
        "spec": {"interval": "24h", "subscriptions": [subscription]},
    }


@pytest.fixture(scope="module")
def env(kube: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    tmp = tmp_path_factory.mktemp("receivers")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    operator = OperatorProcess(
        kube.kubeconfig_path,
        tmp / "work",
        tmp / "operator.log",
        env={
            "SHUNTER_RECEIVERS_ADDRESS": f"127.0.0.1:{port}",
            "SHUNTER_RECEIVERS_BASE_URL": base,
            "SHUNTER_RECEIVERS_RATE": "5",
            "SHUNTER_RECEIVERS_BURST": "10",
            "SHUNTER_SYSTEM_RESOURCES_NAMESPACE": SYSTEM_NS,
            "SHUNTER_DISCOVERY_RETRY_SECONDS": "3600",
        },
        args=("--namespace", NS, "--namespace", OTHER_NS),
    )
    with operator:
        _project(kube, NS)
        _project(kube, OTHER_NS)
        objects: list[dict[str, Any]] = [
            _secret(f"{kind}-secret", NS, {key: value}) for kind, (key, value) in SECRETS.items()
        ]
        objects.append(_secret("flood-secret", NS, {"secret": FLOOD_SECRET}))
        receivers: list[dict[str, Any]] = [
            {"name": kind, kind: {"secretRef": {"name": f"{kind}-secret"}}} for kind in SECRETS
        ]
        receivers[-1 - list(reversed(SECRETS)).index("generic")]["generic"]["actions"] = (
            GENERIC_ACTIONS
        )
        receivers.append({"name": "flood", "dockerhub": {"secretRef": {"name": "flood-secret"}}})
        objects.append(
            {
                "apiVersion": "kargo.akuity.io/v1alpha1",
                "kind": "ProjectConfig",
                "metadata": {"name": NS, "namespace": NS},
                "spec": {"webhookReceivers": receivers},
            }
        )
        objects += [_warehouse(name, sub) for name, sub in WAREHOUSES.items()]
        objects.append(
            _warehouse("labelled", {"image": {"repoURL": "example.com/labelled"}}, team="blue")
        )
        kube.apply("\n---\n".join(json.dumps(o) for o in objects), server_side=False)
        e = Env(kube, operator, base)

        def published() -> dict[str, str] | None:
            status = e.project_config().get("status", {})
            found = {r["name"]: r["url"] for r in status.get("webhookReceivers") or []}
            return found if len(found) == len(receivers) else None

        e.urls = wait_for(published, what="the receivers in the ProjectConfig's status")
        yield e


def _sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


# (receiver, sender, event, sample, the Warehouses it must refresh)
DELIVERIES = [
    ("github", "github", "push", "github-push.json", {"github-app"}),
    ("github", "github", "package", "github-package.json", {"ghcr-app"}),
    ("gitlab", "gitlab", "Push Hook", "gitlab-push.json", {"gitlab-app"}),
    ("gitea", "gitea", "push", "gitea-push.json", {"gitea-app"}),
    ("bitbucket", "bitbucket", "repo:push", "bitbucket-cloud-push.json", {"bitbucket-app"}),
    ("dockerhub", "dockerhub", "", "dockerhub-push.json", {"dockerhub-app"}),
    ("quay", "quay", "", "quay-push.json", {"quay-app"}),
    ("harbor", "harbor", "", "harbor-push.json", {"harbor-app"}),
    ("artifactory", "artifactory", "", "artifactory-pushed.json", {"artifactory-app"}),
    ("azure", "acr", "", "acr-push.json", {"acr-app"}),
    ("azure", "azure-devops", "", "azure-devops-push.json", {"devops-app"}),
    ("generic", "generic", "", "registry-notification.json", {"registry-app"}),
]
URL_AUTHENTICATED = {"dockerhub", "quay", "azure", "generic"}


def _changed(before: dict[str, str | None], after: dict[str, str | None]) -> set[str]:
    return {name for name, value in after.items() if value != before.get(name)}


Delivery = tuple[str, str, str, str, set[str]]


@pytest.mark.parametrize(
    "delivery", DELIVERIES, ids=[f"{d[1]}-{d[3].removesuffix('.json')}" for d in DELIVERIES]
)
def test_a_signed_sample_refreshes_exactly_the_matching_warehouse(
    env: Env, delivery: Delivery
) -> None:
    receiver, sender, event, sample, expected = delivery
    body = _sample(sample)
    before = env.refreshes()
    response = env.post(
        env.urls[receiver], body, provider_headers(sender, event, body, SECRETS[receiver][1])
    )
    assert response.status_code == 200, response.text
    assert _changed(before, env.refreshes()) == expected
    if receiver != "generic":
        assert response.json() == {"msg": f"refreshed {len(expected)} warehouse(s)"}


@pytest.mark.parametrize(
    ("receiver", "sender", "event", "sample"),
    [d[:4] for d in DELIVERIES],
    ids=[f"{d[1]}-{d[3].removesuffix('.json')}" for d in DELIVERIES],
)
def test_a_wrongly_signed_sample_is_refused_and_refreshes_nothing(
    env: Env, receiver: str, sender: str, event: str, sample: str
) -> None:
    body = _sample(sample)
    before = env.refreshes()
    if receiver in URL_AUTHENTICATED:
        # The URL is the credential: one made with another secret is not a receiver.
        url = env.base + receiver_path("", NS, receiver, receiver, b"not-the-secret")
        headers = provider_headers(sender, event, body, "")
        expected = 404
    else:
        url = env.urls[receiver]
        headers = provider_headers(sender, event, body, SECRETS[receiver][1], wrong=True)
        expected = 401
    response = env.post(url, body, headers)
    assert response.status_code == expected, response.text
    assert "error" in response.json()
    assert env.refreshes() == before


def test_status_publishes_kargos_paths_and_urls(env: Env) -> None:
    config = env.project_config()
    status = config["status"]
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["reason"]) == ("True", "Synced")
    for receiver in status["webhookReceivers"]:
        name = receiver["name"]
        kind = "dockerhub" if name == "flood" else name
        secret = FLOOD_SECRET if name == "flood" else SECRETS[name][1]
        assert receiver["path"] == receiver_path("/", NS, kind, name, secret.encode())
        assert re.fullmatch(rf"/{kind}/[0-9a-f]{{64}}", receiver["path"])
        assert receiver["url"] == env.base + receiver["path"]


def test_a_push_the_subscriptions_would_ignore_refreshes_nothing(env: Env) -> None:
    push = json.loads(_sample("github-push.json"))
    push["ref"] = "refs/heads/feature/x"
    body = json.dumps(push).encode()
    before = env.refreshes()
    response = env.post(
        env.urls["github"], body, provider_headers("github", "push", body, SECRETS["github"][1])
    )
    assert response.json() == {"msg": "refreshed 0 warehouse(s)"}
    assert env.refreshes() == before
    push["ref"] = "refs/heads/release"
    push["head_commit"]["modified"] = push["commits"][0]["modified"] = ["docs/guide.md"]
    body = json.dumps(push).encode()
    response = env.post(
        env.urls["github"], body, provider_headers("github", "push", body, SECRETS["github"][1])
    )
    assert response.json() == {"msg": "refreshed 1 warehouse(s)"}
    assert _changed(before, env.refreshes()) == {"github-release"}


def test_generic_actions_by_name_and_label(env: Env) -> None:
    before = env.refreshes()
    pull = json.dumps({"events": [{"action": "pull", "target": {"tag": "v1"}}]}).encode()
    response = env.post(env.urls["generic"], pull, {"X-Refresh": "quay-app"})
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["result"] for r in results] == ["NotApplicable", "Success"]
    assert results[0]["summary"] == "Request did not match whenExpression"
    second = results[1]
    assert second["matchedWhenExpression"] is True
    assert {t["name"] for t in second["selectedTargets"]} == {"quay-app", "labelled"}
    assert second["summary"] == "Refreshed 2 of 2 selected resources"
    assert _changed(before, env.refreshes()) == {"quay-app", "labelled"}
    # A body that is not what the expression expects: that action fails, the answer is 500.
    response = env.post(env.urls["generic"], b'{"events": []}', {})
    assert response.status_code == 500
    assert [r["result"] for r in response.json()["results"]] == ["Error", "NotApplicable"]


def test_a_missing_secret_is_reported_then_recovered(env: Env) -> None:
    env.kube.apply(
        json.dumps(
            {
                "apiVersion": "kargo.akuity.io/v1alpha1",
                "kind": "ProjectConfig",
                "metadata": {"name": OTHER_NS, "namespace": OTHER_NS},
                "spec": {
                    "webhookReceivers": [
                        {"name": "late", "quay": {"secretRef": {"name": "late-secret"}}}
                    ]
                },
            }
        ),
        server_side=False,
    )

    def ready(status: str) -> dict[str, Any] | None:
        conditions = env.project_config(OTHER_NS).get("status", {}).get("conditions") or []
        found = next((c for c in conditions if c["type"] == "Ready"), None)
        return found if found and found["status"] == status else None

    failed = wait_for(lambda: ready("False"), what="Ready=False for the missing Secret")
    assert failed["reason"] == "SyncWebhookReceiversFailed"
    assert "late-secret" in failed["message"]
    assert not env.project_config(OTHER_NS)["status"].get("webhookReceivers")
    env.kube.apply(json.dumps(_secret("late-secret", OTHER_NS, {"secret": "s"})))
    env.kube.kubectl(
        "annotate", "projectconfig", OTHER_NS, "-n", OTHER_NS, f"{REFRESH}=now", "--overwrite"
    )
    wait_for(lambda: ready("True"), what="Ready=True once the Secret exists")
    status = env.project_config(OTHER_NS)["status"]
    assert status["lastHandledRefresh"] == "now"
    assert [r["name"] for r in status["webhookReceivers"]] == ["late"]


def test_cluster_receivers_refresh_every_project(env: Env) -> None:
    env.kube.kubectl("create", "namespace", SYSTEM_NS, check=False)
    env.kube.apply(json.dumps(_secret("cluster-hub", SYSTEM_NS, {"secret": CLUSTER_SECRET})))
    env.kube.apply(
        json.dumps(
            {
                "apiVersion": "kargo.akuity.io/v1alpha1",
                "kind": "ClusterConfig",
                "metadata": {"name": "cluster"},
                "spec": {
                    "webhookReceivers": [
                        {"name": "hub", "dockerhub": {"secretRef": {"name": "cluster-hub"}}}
                    ]
                },
            }
        ),
        server_side=False,
    )
    try:

        def url() -> str | None:
            out = env.kube.kubectl("get", "clusterconfig", "cluster", "-o", "json").stdout
            receivers = json.loads(out).get("status", {}).get("webhookReceivers") or []
            return receivers[0]["url"] if receivers else None

        found = wait_for(url, what="the ClusterConfig's receiver")
        assert found == env.base + receiver_path(
            "", "", "dockerhub", "hub", CLUSTER_SECRET.encode()
        )
        before = env.refreshes()
        body = _sample("dockerhub-push.json")
        response = env.post(found, body, provider_headers("dockerhub", "", body, ""))
        assert response.json() == {"msg": "refreshed 1 warehouse(s)"}
        assert _changed(before, env.refreshes()) == {"dockerhub-app"}
    finally:
        env.kube.kubectl("delete", "clusterconfig", "cluster", "--ignore-not-found")


@pytest.mark.parametrize(
    "path",
    [
        "/nope",
        "/github/" + "0" * 64,
        "/unknown-type/" + "0" * 64,
        "/github/" + "0" * 63,
    ],
)
def test_unknown_receivers_are_404(env: Env, path: str) -> None:
    response = env.post(env.base + path, b"{}", {"X-GitHub-Event": "push"})
    assert response.status_code == 404
    assert response.json() == {"error": "not found"}


def test_a_payload_of_the_wrong_shape_is_a_400(env: Env) -> None:
    before = env.refreshes()
    for body in (b'{"commits": "many"}', b"not json", b"[]"):
        headers = provider_headers("github", "push", body, SECRETS["github"][1])
        response = env.post(env.urls["github"], body, headers)
        assert response.status_code == 400
        assert response.json() == {"error": "invalid request body"}
    headers = provider_headers("github", "issues", b"{}", SECRETS["github"][1])
    assert env.post(env.urls["github"], b"{}", headers).status_code == 400
    assert env.refreshes() == before


def test_a_body_over_2_mib_is_a_413(env: Env) -> None:
    before = env.refreshes()
    big = b'{"pad": "' + b"x" * (2 << 20) + b'"}'
    headers = provider_headers("quay", "", big, "")
    response = env.post(env.urls["quay"], big, headers)
    assert response.status_code == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: reading stops at the limit
        yield b'{"pad": "'
        for _ in range(40):
            yield b"x" * 65536
        yield b'"}'

    response = httpx.post(env.urls["quay"], content=chunks(), timeout=30)
    assert response.status_code == 413
    assert env.refreshes() == before


def test_a_flood_is_answered_429_and_the_operator_keeps_working(env: Env) -> None:
    body = _sample("quay-push.json")

    async def flood(urls: list[str]) -> list[httpx.Response]:
        async with httpx.AsyncClient(timeout=30) as client:
            return list(await _gather(*(client.post(u, content=body) for u in urls)))

    import asyncio  # noqa: PLC0415

    async def _gather(*calls: Any) -> list[httpx.Response]:
        return list(await asyncio.gather(*calls))

    flood_url = env.urls["flood"]
    answers = asyncio.run(flood([flood_url] * 40))
    statuses = [a.status_code for a in answers]
    assert statuses.count(429) >= 25, statuses
    limited = next(a for a in answers if a.status_code == 429)
    assert int(limited.headers["Retry-After"]) >= 1
    # Unknown paths share one bucket: a scan of random URLs ends in 429s, not lookups.
    scan = [env.base + f"/quay/{secrets.token_hex(32)}" for _ in range(30)]
    assert 429 in [a.status_code for a in asyncio.run(flood(scan))]
    # The operator still answers, and known receivers still work.
    assert httpx.get(env.base + "/healthz", timeout=10).status_code == 200
    before = env.refreshes()
    body = _sample("harbor-push.json")
    response = env.post(
        env.urls["harbor"], body, provider_headers("harbor", "", body, SECRETS["harbor"][1])
    )
    assert response.status_code == 200, response.text
    assert _changed(before, env.refreshes()) == {"harbor-app"}
    assert env.operator.running()


def test_no_secret_in_the_log(env: Env) -> None:
    log = env.operator.log()
    assert "receiver github of project receivers (github): 200" in log
    values = [value for _, value in SECRETS.values()] + [FLOOD_SECRET, CLUSTER_SECRET]
    hashes = [url.rsplit("/", 1)[1] for url in env.urls.values()]
    for leaked in values + hashes:
        assert leaked not in log
