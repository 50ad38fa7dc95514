"""A hostile expression in one Project does not delay another Project (issue 12).

Two Projects share one operator process. "calm" is a small pipeline: a new image tag becomes
Freight (through ``freightCreationCriteria``) and is promoted to its Stage with git-clone,
yaml-update, git-commit and git-push; its expressions need a worker process (they use
``split``/``map``, which the inline fast path does not take). "hostile" keeps evaluating
expressions that burn their whole budget (Promotion steps with ``continueOnError``, one after
the other) and a Warehouse whose ``freightCreationCriteria`` does the same on every discovery,
plus the reproducers of issue 12.

The same calm flow (new tag -> promoted) is timed without and then with the hostile load, in
the same test. With the load it must still finish within the usual time plus the evaluation
deadline plus a generous margin: the hostile Project may hold one worker, never the event
loop nor every worker. The hostile Project's failures are reported where Kargo reports them.

Real: kube-apiserver, OCI registry (htpasswd), git server (Basic auth), the operator process.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from shunter_devenv.cluster import Cluster
from shunter_devenv.gitserver import GitServer
from shunter_devenv.operator import OperatorProcess
from shunter_devenv.registry import Registry
from shunter_devenv.waiting import wait_for

CALM, HOSTILE = "iso-calm", "iso-hostile"
REPO = "iso/gitops"
CALM_IMAGE, HOSTILE_IMAGE = "iso/calm", "iso/hostile"
GIT_USER, GIT_PASSWORD = "kargo", "git-Pass-8f2c"
REG_USER, REG_PASSWORD = "ci", "reg-Pass-61d4"
DEADLINE = 3.0
TERMINAL = ("Succeeded", "Failed", "Errored", "Aborted")
#: Hostile Stages, each running one Promotion at a time: their work arrives concurrently.
BURNING_STAGES = ("burn-a", "burn-b", "burn-c")

#: Burns its whole step budget in a worker (about a second of CPU), then fails.
BURN = "len(filter(1..100000, # in [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]))"
REPRODUCERS = [
    "reduce(1..40, [#acc, #acc], 0)",
    "let L = 1..90000; len(filter(L, # in L))",
    "let L = 1..100000; len(map(1..3000, L[1:]))",
    "date(repeat('1', 60) + 'x', repeat('2', 40))",
    "[1][1e400]",
    "reduce(1..5000, [#acc], [])",
]


def _kargo(kind: str, name: str, namespace: str | None, spec: dict[str, Any]) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name}
    if namespace:
        metadata["namespace"] = namespace
    return {
        "apiVersion": "kargo.akuity.io/v1alpha1",
        "kind": kind,
        "metadata": metadata,
        "spec": spec,
    }


def _secret(namespace: str, kind: str, url: str, user: str, password: str) -> dict[str, Any]:
    name = kind
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {"kargo.akuity.io/cred-type": kind},
        },
        "stringData": {"repoURL": url, "username": user, "password": password},
    }


def _warehouse(namespace: str, name: str, image: str, criteria: str) -> dict[str, Any]:
    return _kargo(
        "Warehouse",
        name,
        namespace,
        {
            "interval": "2s",
            "subscriptions": [
                {"image": {"repoURL": image, "imageSelectionStrategy": "Lexical",
                           "allowTags": r"^v\d+$"}}
            ],
            "freightCreationCriteria": {"expression": criteria},
        },
    )  # fmt: skip


def calm_manifests(image: str, repo_url: str) -> list[dict[str, Any]]:
    tag = f"imageFrom('{image}').Tag"
    value = f"join(map(split({tag}, ''), #), '')"
    return [
        _warehouse(CALM, "app", image, f"all(split({tag}, ''), # != ' ')"),
        _kargo(
            "Stage",
            "dev",
            CALM,
            {
                "requestedFreight": [
                    {"origin": {"kind": "Warehouse", "name": "app"}, "sources": {"direct": True}}
                ],
                "promotionTemplate": {
                    "spec": {
                        "steps": [
                            {
                                "uses": "git-clone",
                                "config": {
                                    "repoURL": repo_url,
                                    "checkout": [{"branch": "main", "path": "./src"}],
                                },
                            },
                            {
                                "uses": "yaml-update",
                                "as": "update",
                                "config": {
                                    "path": "./src/dev/values.yaml",
                                    "updates": [
                                        {
                                            "key": "image.tag",
                                            "value": "${{ " + value + " }}",
                                        }
                                    ],
                                },
                            },
                            {
                                "uses": "git-commit",
                                "config": {
                                    "path": "./src",
                                    "message": "${{ outputs.update.commitMessage }}",
                                },
                            },
                            {"uses": "git-push", "config": {"path": "./src"}},
                        ]
                    }
                },
            },
        ),
    ]


def hostile_manifests(image: str) -> list[dict[str, Any]]:
    steps = [
        {"uses": "compose-output", "as": f"burn-{i}", "continueOnError": True,
         "config": {"value": f"${{{{ {BURN} }}}}"}}
        for i in range(6)
    ] + [
        {"uses": "compose-output", "as": f"reproducer-{i}", "continueOnError": True,
         "config": {"value": f"${{{{ {expression} }}}}"}}
        for i, expression in enumerate(REPRODUCERS)
    ]  # fmt: skip
    return [
        # Freight for the hostile Stage comes from a plain Warehouse...
        _warehouse(HOSTILE, "source", image, "true"),
        # ...while this one burns a worker's budget on every discovery.
        _warehouse(HOSTILE, "burner", image, f"{BURN} > 0"),
        *(
            _kargo(
                "Stage",
                stage,
                HOSTILE,
                {
                    "requestedFreight": [
                        {
                            "origin": {"kind": "Warehouse", "name": "source"},
                            "sources": {"direct": True},
                        }
                    ],
                    "promotionTemplate": {"spec": {"steps": steps}},
                },
            )
            for stage in BURNING_STAGES
        ),
        # Verification arguments that cannot be evaluated: the verification ends in Error.
        _kargo(
            "Stage",
            "verify",
            HOSTILE,
            {
                "requestedFreight": [
                    {"origin": {"kind": "Warehouse", "name": "source"}, "sources": {"direct": True}}
                ],
                "promotionTemplate": {
                    "spec": {"steps": [{"uses": "compose-output", "config": {"ok": True}}]}
                },
                "verification": {
                    "analysisTemplates": [{"name": "smoke"}],
                    "args": [{"name": "n", "value": "${{ string([1][1e400]) }}"}],
                },
            },
        ),
    ]


@dataclass
class Env:
    kube: Cluster
    git: GitServer
    registry: Registry
    operator: OperatorProcess
    hostile_image: str = ""

    def get(self, namespace: str, kind: str, name: str | None = None) -> Any:
        args = ["get", kind, "-n", namespace, "-o", "json"]
        if name:
            args.insert(2, name)
        return json.loads(self.kube.kubectl(*args).stdout)

    def apply(self, doc: dict[str, Any]) -> None:
        self.kube.apply(json.dumps(doc), server_side=False)

    def freight_for_tag(self, namespace: str, tag: str) -> str | None:
        for freight in self.get(namespace, "freight")["items"]:
            if any(i.get("tag") == tag for i in freight.get("images", [])):
                return str(freight["metadata"]["name"])
        return None

    def current_freight(self, namespace: str, stage: str) -> str | None:
        summary = self.get(namespace, "stage", stage).get("status", {}).get("freightSummary")
        return str(summary) if summary else None

    def refresh(self, namespace: str, warehouse: str) -> None:
        self.kube.kubectl(
            "annotate", "warehouse", warehouse, "-n", namespace,
            f"kargo.akuity.io/refresh={time.monotonic_ns()}", "--overwrite",
        )  # fmt: skip

    def promote_calm(self, tag: str) -> float:
        """Push `tag` to the calm image; seconds until the calm Stage holds its Freight."""
        started = time.monotonic()
        self.registry.push_image(CALM_IMAGE, tag, datetime.now(UTC))
        self.refresh(CALM, "app")
        freight = wait_for(
            lambda: self.freight_for_tag(CALM, tag),
            timeout=180,
            what=f"Freight for {tag}",
            details=self.diagnostics,
        )
        wait_for(
            lambda: self.current_freight(CALM, "dev") == freight,
            timeout=180,
            what=f"{tag} promoted to dev",
            details=self.diagnostics,
        )
        return time.monotonic() - started

    def diagnostics(self) -> str:
        out = self.kube.kubectl(
            "get", "warehouse,freight,stages,promotions", "-n", CALM, "-n", HOSTILE, check=False
        )
        hostile = self.kube.kubectl(
            "get", "warehouse,freight,stages,promotions", "-n", HOSTILE, check=False
        )
        return (
            f"{out.stdout}\n{hostile.stdout}\n--- operator log ---\n{self.operator.log()[-4000:]}"
        )


@pytest.fixture(scope="module")
def env(kube: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    tmp: Path = tmp_path_factory.mktemp("isolation")
    with (
        GitServer(users={GIT_USER: GIT_PASSWORD}) as git,
        Registry(users={REG_USER: REG_PASSWORD}) as registry,
    ):
        git.create_repo(REPO, {"dev/values.yaml": "image:\n  tag: none\n"}, branch="main")
        old = datetime.now(UTC) - timedelta(days=1)
        registry.push_image(CALM_IMAGE, "v1", old)
        registry.push_image(HOSTILE_IMAGE, "v1", old)
        operator = OperatorProcess(
            kube.operator_kubeconfig_path,
            tmp / "work",
            tmp / "operator.log",
            env={
                "SHUNTER_ALLOW_CREDENTIALS_OVER_HTTP": "true",
                "SHUNTER_MIN_STEP_REQUEUE_SECONDS": "0.5",
                "SHUNTER_EXPRESSION_DEADLINE_SECONDS": str(DEADLINE),
                "SHUNTER_EXPRESSION_WORKERS": "2",
                "SHUNTER_INSTALL_ROLLOUTS_CRDS": "true",
            },
            args=("--namespace", CALM, "--namespace", HOSTILE),
        )
        with operator:
            env = Env(kube, git, registry, operator)
            for project in (CALM, HOSTILE):
                policies = (
                    [{"stage": "dev", "autoPromotionEnabled": True}] if project == CALM else []
                )
                env.apply(_kargo("Project", project, None, {"promotionPolicies": policies}))
            for project in (CALM, HOSTILE):
                wait_for(
                    lambda p=project: (
                        kube.kubectl("get", "namespace", p, check=False).returncode == 0
                    ),
                    what=f"namespace {project}",
                )
            repo_url = git.url(REPO)
            calm_image = f"{registry.host}/{CALM_IMAGE}"
            hostile_image = f"{registry.host}/{HOSTILE_IMAGE}"
            for project, image in ((CALM, calm_image), (HOSTILE, hostile_image)):
                env.apply(_secret(project, "git", repo_url, GIT_USER, GIT_PASSWORD))
                env.apply(_secret(project, "image", image, REG_USER, REG_PASSWORD))
            for doc in calm_manifests(calm_image, repo_url):
                env.apply(doc)
            env.hostile_image = hostile_image
            yield env


def test_a_hostile_project_does_not_delay_another_one(env: Env) -> None:
    # The usual time, nothing hostile around (v1 first, so the flow is warm).
    env.promote_calm("v2")
    usual = env.promote_calm("v3")

    # The hostile Project: a Stage whose Promotions burn budgets step after step, and a
    # Warehouse whose criteria burn one on every discovery.
    for doc in hostile_manifests(env.hostile_image):
        env.apply(doc)
    source = wait_for(
        lambda: env.freight_for_tag(HOSTILE, "v1"), timeout=120, what="hostile Freight",
        details=env.diagnostics,
    )  # fmt: skip
    promotions: dict[str, str] = {}  # Stage -> Promotion (the admission webhook names it)
    for stage in (*BURNING_STAGES, "verify"):
        body = {
            "apiVersion": "kargo.akuity.io/v1alpha1",
            "kind": "Promotion",
            "metadata": {"name": stage, "namespace": HOSTILE},
            "spec": {"stage": stage, "freight": source},
        }
        created = env.kube.kubectl("create", "-o", "json", "-f", "-", stdin=json.dumps(body))
        promotions[stage] = json.loads(created.stdout)["metadata"]["name"]
    burn_a = promotions["burn-a"]
    wait_for(
        lambda: env.get(HOSTILE, "promotion", burn_a).get("status", {}).get("phase") == "Running",
        timeout=120,
        what="the first hostile Promotion running",
        details=env.diagnostics,
    )

    loaded = env.promote_calm("v4")
    bound = usual + DEADLINE + max(usual, 15.0)
    assert loaded <= bound, f"calm flow took {loaded:.1f}s under load (usual {usual:.1f}s)"
    print(f"calm flow: usual {usual:.1f}s, with the hostile Project {loaded:.1f}s")
    still_burning = [
        p["metadata"]["name"]
        for p in env.get(HOSTILE, "promotions")["items"]
        if p.get("status", {}).get("phase") not in TERMINAL
    ]
    assert still_burning, "the hostile load ended before the calm flow: the test proves nothing"

    # The hostile Project's failures are reported, not raised: criteria in the Warehouse's
    # conditions, expressions in the Promotion's steps.
    def criteria_failed() -> dict[str, Any] | None:
        conditions = {
            c["type"]: c
            for c in env.get(HOSTILE, "warehouse", "burner").get("status", {}).get("conditions", [])
        }
        ready = conditions.get("Ready")
        return ready if ready and ready.get("reason") == "CriteriaEvaluationFailed" else None

    ready = wait_for(criteria_failed, timeout=60, what="burner Warehouse not Ready",
                     details=env.diagnostics)  # fmt: skip
    assert ready["status"] == "False"
    assert "exceeded" in ready["message"]
    assert env.freight_for_tag(HOSTILE, "v1") == source  # only the plain Warehouse made Freight

    done = wait_for(
        lambda: (
            (p := env.get(HOSTILE, "promotion", burn_a)).get("status", {}).get("phase") in TERMINAL
            and p
        ),
        timeout=240,
        what="the first hostile Promotion finished",
        details=env.diagnostics,
    )
    steps = {m["alias"]: m for m in done["status"]["stepExecutionMetadata"]}
    assert all(steps[f"burn-{i}"]["status"] == "Errored" for i in range(6)), steps
    for i in range(len(REPRODUCERS)):
        step = steps[f"reproducer-{i}"]
        assert step["status"] == "Errored", step
        assert "failed to get step config" in step["message"], step

    def verification_failed() -> dict[str, Any] | None:
        conditions = env.get(HOSTILE, "stage", "verify").get("status", {}).get("conditions", [])
        verified = next((c for c in conditions if c["type"] == "Verified"), None)
        return verified if verified and verified["status"] == "False" else None

    verified = wait_for(verification_failed, timeout=120, what="verify Stage not Verified",
                        details=env.diagnostics)  # fmt: skip
    assert verified["reason"] == "VerificationError", verified
    assert "verification args" in verified["message"]
    assert "index out of range" in verified["message"]
    assert "Traceback" not in env.operator.log()
    assert env.operator.running
