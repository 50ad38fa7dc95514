"""Verification end to end on a real API server: shunter's analysis CRDs, a realistic
AnalysisTemplate, the AnalysisRun Kargo would create, and shunter evaluating it against a real
HTTP endpoint until it completes."""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import socket
import time
from typing import Any

import pytest

from shunter.api.v1alpha1.common import VerificationPhase
from shunter.api.v1alpha1.stage import Stage
from shunter.kube import KubeClient, NotFoundError
from shunter.verification import (
    ANALYSIS_RUNS,
    ROLLOUTS_GROUP,
    ROLLOUTS_VERSION,
    AnalysisRunReconciler,
    RolloutsCRDs,
    abort_analysis_run,
    analysis_run_phase,
    analysis_run_status,
    ensure_rollouts_crds,
    find_analysis_run,
    rollouts_crds,
    start_verification,
)
from shunter.verification.crds import crd_name, is_shunter_crd
from shunter_devenv.cluster import Cluster
from shunter_devenv.waiting import wait_for_async

COLLECTION = "5a1e1c7d0c6b1f0e8d7a5b3c2e1f0a9b8c7d6e5f"
FREIGHT = "47b33c0c92b54439e5eb7fb80ecc83f8626fe390"

SMOKE_TEMPLATE = """
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata:
  name: smoke
  namespace: NAMESPACE
spec:
  args:
  - name: base-url
  - name: stage
    value: unset
  - name: token
    valueFrom:
      secretKeyRef:
        name: smoke-creds
        key: token
  - name: expected
    value: ok
  metrics:
  - name: smoke
    interval: 1s
    count: 3
    failureLimit: FAILURE_LIMIT
    consecutiveErrorLimit: ERROR_LIMIT
    successCondition: result.status == "{{args.expected}}"
    provider:
      web:
        url: "{{args.base-url}}/health?stage={{ args.stage }}"
        timeoutSeconds: 5
        headers:
        - key: Authorization
          value: "Bearer {{args.token}}"
        jsonPath: "{$}"
"""


def smoke_template(namespace: str, *, failure_limit: int = 0, error_limit: int = 4) -> str:
    """A realistic Rollouts AnalysisTemplate: 3 smoke checks a second apart."""
    return (
        SMOKE_TEMPLATE.replace("NAMESPACE", namespace)
        .replace("FAILURE_LIMIT", str(failure_limit))
        .replace("ERROR_LIMIT", str(error_limit))
    )


def stage_model(namespace: str, templates: list[dict[str, str]], **verification: Any) -> Stage:
    return Stage.model_validate(
        {
            "apiVersion": "kargo.akuity.io/v1alpha1",
            "kind": "Stage",
            "metadata": {"name": "test", "namespace": namespace},
            "spec": {
                "requestedFreight": [
                    {"origin": {"kind": "Warehouse", "name": "app"}, "sources": {"direct": True}}
                ],
                "verification": {"analysisTemplates": templates, **verification},
            },
        },
        by_alias=True,
    )


def apply_freight(kube: Cluster, namespace: str) -> None:
    freight = {
        "apiVersion": "kargo.akuity.io/v1alpha1",
        "kind": "Freight",
        "metadata": {"name": FREIGHT, "namespace": namespace},
        "origin": {"kind": "Warehouse", "name": "app"},
        "images": [{"repoURL": "ghcr.io/example/app", "tag": "1.0.0"}],
    }
    kube.apply(json.dumps(freight))


def apply_secret(kube: Cluster, namespace: str, token: str) -> None:
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "smoke-creds", "namespace": namespace},
        "data": {"token": base64.b64encode(token.encode()).decode()},
    }
    kube.apply(json.dumps(secret))


async def drive(
    reconciler: AnalysisRunReconciler,
    client: KubeClient,
    namespace: str,
    name: str,
    *,
    within: float = 60.0,
) -> VerificationPhase:
    """Reconcile the run until its phase is terminal, waiting between steps as long as the
    reconciler asks (the operator's contract), within a deadline."""
    deadline = time.monotonic() + within
    terminal = {
        VerificationPhase.SUCCESSFUL,
        VerificationPhase.FAILED,
        VerificationPhase.ERROR,
        VerificationPhase.INCONCLUSIVE,
    }
    while True:
        requeue = await reconciler.reconcile(namespace, name)
        phase, _ = await analysis_run_phase(client, namespace, name)
        if phase in terminal:
            return phase
        if time.monotonic() > deadline:
            raise AssertionError(f"AnalysisRun {name} still {phase} after {within}s")
        wait = requeue if requeue is not None else 0.25
        await asyncio.sleep(min(wait, max(0.0, deadline - time.monotonic())))


async def get_run(client: KubeClient, namespace: str, name: str) -> dict[str, Any]:
    return await client.get_custom(
        namespace, ANALYSIS_RUNS, name, group=ROLLOUTS_GROUP, version=ROLLOUTS_VERSION
    )


async def test_ensure_rollouts_crds_creates_only_what_is_missing(
    kube: Cluster, client: KubeClient, rollouts: RolloutsCRDs
) -> None:
    assert rollouts.shunter_evaluates
    again = await ensure_rollouts_crds(client)
    assert again == RolloutsCRDs(created=(), shunter_evaluates=True)
    for crd in rollouts_crds():
        stored = await client.get_crd(crd["metadata"]["name"])
        assert is_shunter_crd(stored)
    out = kube.kubectl("api-resources", "--api-group=argoproj.io", "-o", "name").stdout
    assert set(out.split()) >= {
        "analysisruns.argoproj.io",
        "analysistemplates.argoproj.io",
        "clusteranalysistemplates.argoproj.io",
    }


async def test_a_foreign_analysisrun_crd_is_kept_and_disables_evaluation(
    kube: Cluster, client: KubeClient, rollouts: RolloutsCRDs
) -> None:
    """Stand in for a real Argo Rollouts installation: its AnalysisRun CRD lacks our label."""
    name = crd_name(ANALYSIS_RUNS)
    current = await client.get_crd(name)
    if not is_shunter_crd(current):
        pytest.skip("this cluster has Argo Rollouts' own CRDs")
    ours = next(c for c in rollouts_crds() if c["metadata"]["name"] == name)
    foreign = json.loads(json.dumps(ours))
    foreign["metadata"]["labels"] = {"app.kubernetes.io/part-of": "argo-rollouts"}

    async def replace_with(body: dict[str, Any]) -> None:
        kube.kubectl("delete", "crd", name, "--wait=true", "--timeout=60s")

        async def deleted() -> bool:
            try:
                await client.get_crd(name)
            except NotFoundError:
                return True
            return False

        await wait_for_async(deleted, within=60, interval=0.2, what="CRD deletion")
        kube.apply(json.dumps(body))
        kube.kubectl("wait", "--for=condition=Established", f"crd/{name}", "--timeout=60s")

    await replace_with(foreign)
    try:
        found = await ensure_rollouts_crds(client)
        assert found == RolloutsCRDs(created=(), shunter_evaluates=False)
        assert not is_shunter_crd(await client.get_crd(name))  # left untouched
        reconciler = AnalysisRunReconciler(client, enabled=found.shunter_evaluates)
        assert await reconciler.reconcile("anywhere", "anything") is None
    finally:
        kube.kubectl("delete", "crd", name, "--wait=true", "--timeout=60s")
        restored = await ensure_rollouts_crds(client)
        assert restored == RolloutsCRDs(created=(name,), shunter_evaluates=True)


async def test_real_rollouts_manifests_apply_unchanged(
    kube: Cluster, client: KubeClient, namespace: str, rollouts: RolloutsCRDs
) -> None:
    template = smoke_template(namespace)
    kube.apply(template)
    stored = await client.get_custom(
        namespace, "analysistemplates", "smoke", group=ROLLOUTS_GROUP, version=ROLLOUTS_VERSION
    )
    metric = stored["spec"]["metrics"][0]
    assert metric["provider"]["web"]["headers"] == [
        {"key": "Authorization", "value": "Bearer {{args.token}}"}
    ]
    assert metric["count"] == 3
    assert stored["spec"]["args"][0] == {"name": "base-url"}
    out = kube.kubectl("get", "at", "-n", namespace).stdout  # Rollouts' short name works
    assert "smoke" in out


async def test_smoke_verification_succeeds(
    kube: Cluster,
    client: KubeClient,
    namespace: str,
    rollouts: RolloutsCRDs,
    endpoint: Any,
) -> None:
    token = f"tok-{secrets.token_hex(6)}"
    apply_secret(kube, namespace, token)
    apply_freight(kube, namespace)
    kube.apply(smoke_template(namespace))
    cluster_template = f"http-ok-{secrets.token_hex(3)}"
    kube.apply(
        json.dumps(
            {
                "apiVersion": "argoproj.io/v1alpha1",
                "kind": "ClusterAnalysisTemplate",
                "metadata": {"name": cluster_template},
                "spec": {
                    "args": [{"name": "base-url"}],
                    "metrics": [
                        {
                            "name": "version",
                            "successCondition": 'result == "1.0.0"',
                            "provider": {
                                "web": {
                                    "url": "{{args.base-url}}/version",
                                    "jsonPath": "{$.app.version}",
                                }
                            },
                        }
                    ],
                },
            }
        )
    )
    endpoint.script("/health", (200, {"status": "ok"}))
    endpoint.script("/version", (200, {"app": {"version": "1.0.0"}}))
    stage = stage_model(
        namespace,
        [{"name": "smoke"}, {"name": cluster_template, "kind": "ClusterAnalysisTemplate"}],
        analysisRunMetadata={"labels": {"team": "web"}, "annotations": {"owner": "qa"}},
    )
    try:
        name, error = await start_verification(
            client,
            stage,
            COLLECTION,
            [FREIGHT],
            "test.01j0000000000000000000000.47b33c0",
            {"base-url": endpoint.url(""), "stage": "test"},
        )
        assert error is None
        assert name is not None
        assert name.startswith("test.")
        assert name.endswith("." + COLLECTION)
        run = await get_run(client, namespace, name)
        meta = run["metadata"]
        assert meta["labels"] == {
            "team": "web",
            "kargo.akuity.io/stage": "test",
            "kargo.akuity.io/freight-collection": COLLECTION,
        }
        assert meta["annotations"] == {
            "owner": "qa",
            "kargo.akuity.io/promotion": "test.01j0000000000000000000000.47b33c0",
        }
        (owner,) = meta["ownerReferences"]
        assert (owner["kind"], owner["name"]) == ("Freight", FREIGHT)
        assert owner["uid"]
        assert [m["name"] for m in run["spec"]["metrics"]] == ["smoke", "version"]
        assert {a["name"]: a.get("value") for a in run["spec"]["args"]} == {
            "base-url": endpoint.url(""),
            "stage": "test",
            "token": None,  # stays a secretKeyRef; read when measuring
            "expected": "ok",
        }
        assert (await analysis_run_phase(client, namespace, name)) == (
            VerificationPhase.PENDING,
            "",
        )
        found = await find_analysis_run(client, namespace, "test", COLLECTION)
        assert found is not None
        assert found["metadata"]["name"] == name

        reconciler = AnalysisRunReconciler(client, enabled=rollouts.shunter_evaluates)
        assert await drive(reconciler, client, namespace, name) is VerificationPhase.SUCCESSFUL
    finally:
        kube.kubectl("delete", "clusteranalysistemplate", cluster_template, "--wait=false")

    assert endpoint.hits("/health") == 3
    assert endpoint.hits("/version") == 1
    health = [r for r in endpoint.requests if r["path"] == "/health"]
    assert health[0]["headers"]["authorization"] == f"Bearer {token}"
    state = await analysis_run_status(client, namespace, name)
    assert state.phase is VerificationPhase.SUCCESSFUL
    assert state.completed_at
    status = (await get_run(client, namespace, name))["status"]
    assert [(r["name"], r["phase"], r.get("count")) for r in status["metricResults"]] == [
        ("smoke", "Successful", 3),
        ("version", "Successful", 1),
    ]
    assert status["runSummary"] == {"count": 2, "successful": 2}
    table = kube.kubectl("get", "analysisrun", name, "-n", namespace).stdout
    assert "Successful" in table.splitlines()[1]
    assert await reconciler.reconcile(namespace, name) is None  # completed: nothing to do


async def test_bad_body_fails_after_failure_limit(
    kube: Cluster,
    client: KubeClient,
    namespace: str,
    rollouts: RolloutsCRDs,
    endpoint: Any,
) -> None:
    apply_secret(kube, namespace, "t")
    kube.apply(smoke_template(namespace, failure_limit=1))
    endpoint.script("/health", (200, {"status": "degraded"}))
    name, error = await start_verification(
        client,
        stage_model(namespace, [{"name": "smoke"}]),
        COLLECTION,
        [],
        None,
        {"base-url": endpoint.url("")},
    )
    assert error is None
    assert name is not None
    reconciler = AnalysisRunReconciler(client, enabled=True)
    assert await drive(reconciler, client, namespace, name) is VerificationPhase.FAILED
    _, message = await analysis_run_phase(client, namespace, name)
    assert message == 'Metric "smoke" assessed Failed due to failed (2) > failureLimit (1)'
    assert endpoint.hits("/health") == 2
    run = await get_run(client, namespace, name)
    assert "kargo.akuity.io/promotion" not in (run["metadata"].get("annotations") or {})


async def test_http_500_errors_after_consecutive_error_limit(
    kube: Cluster,
    client: KubeClient,
    namespace: str,
    rollouts: RolloutsCRDs,
    endpoint: Any,
) -> None:
    apply_secret(kube, namespace, "s3cret-value")
    kube.apply(smoke_template(namespace, error_limit=0))
    endpoint.script("/health", (500, "internal error"))
    name, error = await start_verification(
        client,
        stage_model(namespace, [{"name": "smoke"}]),
        COLLECTION,
        [],
        None,
        {"base-url": endpoint.url("")},
    )
    assert error is None
    assert name is not None
    reconciler = AnalysisRunReconciler(client, enabled=True)
    assert await drive(reconciler, client, namespace, name) is VerificationPhase.ERROR
    _, message = await analysis_run_phase(client, namespace, name)
    assert message == (
        'Metric "smoke" assessed Error due to consecutiveErrors (1) > consecutiveErrorLimit (0): '
        '"Error Message: received non 2xx response code: 500"'
    )


async def test_abort_terminates_the_run(
    kube: Cluster,
    client: KubeClient,
    namespace: str,
    rollouts: RolloutsCRDs,
    endpoint: Any,
) -> None:
    kube.apply(
        json.dumps(
            {
                "apiVersion": "argoproj.io/v1alpha1",
                "kind": "AnalysisTemplate",
                "metadata": {"name": "watch", "namespace": namespace},
                "spec": {
                    "metrics": [
                        {
                            "name": "watch",
                            "interval": "1h",
                            "successCondition": "result.up",
                            "provider": {"web": {"url": endpoint.url("/up")}},
                        }
                    ]
                },
            }
        )
    )
    endpoint.script("/up", (200, {"up": True}))
    name, error = await start_verification(
        client, stage_model(namespace, [{"name": "watch"}]), COLLECTION, [], None, {}
    )
    assert error is None
    assert name is not None
    reconciler = AnalysisRunReconciler(client, enabled=True)
    requeue = await reconciler.reconcile(namespace, name)
    assert requeue is not None
    assert requeue > 3000  # next measurement in an hour
    assert (await analysis_run_phase(client, namespace, name))[0] is VerificationPhase.RUNNING
    await abort_analysis_run(client, namespace, name)
    assert await drive(reconciler, client, namespace, name) is VerificationPhase.SUCCESSFUL
    assert await analysis_run_phase(client, namespace, name) == (
        VerificationPhase.SUCCESSFUL,
        "Run Terminated",
    )
    assert endpoint.hits("/up") == 1


async def test_runs_without_kargo_labels_are_left_alone(
    client: KubeClient, namespace: str, rollouts: RolloutsCRDs
) -> None:
    body = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AnalysisRun",
        "metadata": {"name": "rollout-run", "namespace": namespace},
        "spec": {"metrics": [{"name": "m", "provider": {"web": {"url": "http://127.0.0.1:1"}}}]},
    }
    await client.create_custom(
        namespace, ANALYSIS_RUNS, body, group=ROLLOUTS_GROUP, version=ROLLOUTS_VERSION
    )
    reconciler = AnalysisRunReconciler(client, enabled=True)
    assert await reconciler.reconcile(namespace, "rollout-run") is None
    assert "status" not in await get_run(client, namespace, "rollout-run")
    assert await reconciler.reconcile(namespace, "absent") is None
    disabled = AnalysisRunReconciler(client, enabled=False)
    assert await disabled.reconcile(namespace, "rollout-run") is None


async def test_start_verification_reports_problems(
    kube: Cluster, client: KubeClient, namespace: str, rollouts: RolloutsCRDs
) -> None:
    name, error = await start_verification(
        client, stage_model(namespace, [{"name": "missing"}]), COLLECTION, [], None, {}
    )
    assert name is None
    assert error is not None
    assert error.startswith(
        f"error building AnalysisRun for Stage 'test' and Freight collection '{COLLECTION}' "
        f"in namespace '{namespace}': get AnalysisTemplate 'missing' in namespace '{namespace}'"
    )
    kube.apply(smoke_template(namespace))
    name, error = await start_verification(
        client, stage_model(namespace, [{"name": "smoke"}]), COLLECTION, [], None, {}
    )
    assert name is None
    assert error is not None
    assert error.endswith("unresolved argument 'base-url': neither value nor valueFrom is set")
    phase, message = await analysis_run_phase(client, namespace, "absent")
    assert phase is VerificationPhase.ERROR
    assert message.startswith("error getting AnalysisRun 'absent'")


async def test_secret_values_are_masked_in_messages(
    kube: Cluster, client: KubeClient, namespace: str, rollouts: RolloutsCRDs
) -> None:
    token = f"tok-{secrets.token_hex(6)}"
    apply_secret(kube, namespace, token)
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    kube.apply(
        json.dumps(
            {
                "apiVersion": "argoproj.io/v1alpha1",
                "kind": "AnalysisTemplate",
                "metadata": {"name": "leaky", "namespace": namespace},
                "spec": {
                    "args": [
                        {
                            "name": "token",
                            "valueFrom": {"secretKeyRef": {"name": "smoke-creds", "key": "token"}},
                        }
                    ],
                    "metrics": [
                        {
                            "name": "leaky",
                            "consecutiveErrorLimit": 0,
                            "provider": {
                                "web": {"url": f"http://127.0.0.1:{port}/?token={{{{args.token}}}}"}
                            },
                        }
                    ],
                },
            }
        )
    )
    name, error = await start_verification(
        client, stage_model(namespace, [{"name": "leaky"}]), COLLECTION, [], None, {}
    )
    assert error is None
    assert name is not None
    reconciler = AnalysisRunReconciler(client, enabled=True)
    assert await drive(reconciler, client, namespace, name) is VerificationPhase.ERROR
    _, message = await analysis_run_phase(client, namespace, name)
    assert "/?token=*****" in message
    assert token not in json.dumps(await get_run(client, namespace, name))
