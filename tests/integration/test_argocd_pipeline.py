"""The seed story's whole workflow, end to end, with the operator as a separate process.

"Sync with ArgoCD specific stage, do post deployment smoke tests, if smoke tests pass, update
issue tracking": the seed's ``promote`` PromotionTask (git-clone, yaml-update, git-commit,
git-push) followed by ``argocd-update`` of the Stage's Application to exactly the pushed
commit, an ``http`` smoke check, and ``jira`` (under ``if: ${{ success() }}``) recording the
release. preprod auto-promotes (ProjectConfig) and is verified by an AnalysisTemplate whose
``web`` metric the operator evaluates itself; prod takes Freight verified in preprod.

Real: kube-apiserver, OCI registry (htpasswd), git server (Basic auth), Argo CD's
``Application`` CRD, the operator process (``--namespace lms-argocd``), the smoke endpoint.
TEST DOUBLES, for what cannot run here: :class:`~shunter_devenv.argocd.ArgoCDControllerDouble`
(Argo CD's application controller; resolves revisions on the real git server) and
:class:`~shunter_devenv.jira.JiraDouble` (Jira's REST API).

The tests share one environment and run in order; each builds on the state the previous one
left (Freight, Stage history, git history).
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from shunter.cli import main as shunter_cli
from shunter_devenv.argocd import ArgoCDControllerDouble, SyncOutcome, install_argocd_crds
from shunter_devenv.cluster import Cluster
from shunter_devenv.gitserver import GitServer
from shunter_devenv.jira import JiraDouble, JiraTransition, JiraWorkflow
from shunter_devenv.localhttp import LocalHTTPServer, QuietHandler
from shunter_devenv.operator import OperatorProcess
from shunter_devenv.registry import Registry
from shunter_devenv.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]
VALUES = (ROOT / "tests" / "data" / "values" / "realistic-values.yaml").read_text()

PROJECT = "lms-argocd"
ARGOCD_NS = "argocd"
REPO = "lms/gitops"
IMAGE_PATH = "lms/app"
WAREHOUSE = "lms-image"
ALLOW_TAGS = r"^\d{4}-\d{2}-\d{2}_\d{4}-\w{7}$"
GIT_USER, GIT_PASSWORD = "kargo", "git-Pass-7d1e"
ARGOCD_GIT_USER, ARGOCD_GIT_PASSWORD = "argocd-repo-reader", "argocd-Pass-2c9a"
REG_USER, REG_PASSWORD = "ci", "reg-Pass-51b0"
JIRA_USER, JIRA_TOKEN = "release-bot@example.com", "jira-api-token-Qw84"
AUTHORIZED = "kargo.akuity.io/authorized-stage"
TERMINAL = ("Succeeded", "Failed", "Errored", "Aborted")

TAG_RELEASE = "2026-12-01_0900-a1b2c3d"
TAG_DEGRADED = "2026-12-02_0900-d4e5f6a"
TAG_SMOKE_DOWN = "2026-12-03_0900-b7c8d9e"

#: Every transition is on offer from every other status (Jira's "simplified" workflow).
JIRA_WORKFLOW = JiraWorkflow(
    initial="To Do",
    transitions=(
        JiraTransition("11", "To Do", "To Do"),
        JiraTransition("21", "In Progress", "In Progress"),
        JiraTransition("31", "Done", "Done"),
    ),
)


# -- the promoted application's smoke endpoint ---------------------------------------------------


@dataclass
class SmokeApp:
    """What the deployed application answers on ``/healthz`` (promotion's smoke check) and
    ``/smoke`` (the verification's metric): ``code`` and ``{"status": word}``."""

    code: int = 200
    word: str = "ok"
    requests: list[tuple[str, dict[str, list[str]]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    base_url: str = ""

    def set(self, code: int, word: str) -> None:
        with self.lock:
            self.code, self.word = code, word

    def hits(self, path: str, stage: str) -> int:
        with self.lock:
            return sum(1 for p, q in self.requests if p == path and q.get("stage") == [stage])


class _SmokeHandler(QuietHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        app = self.app
        assert isinstance(app, SmokeApp)
        parts = urlsplit(self.path)
        with app.lock:
            app.requests.append((parts.path, parse_qs(parts.query)))
            code, word = app.code, app.word
        if parts.path not in ("/healthz", "/smoke"):
            code, word = 404, "not found"
        body = json.dumps({"status": word}).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


# -- manifests -----------------------------------------------------------------------------------


def _kargo(kind: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "kargo.akuity.io/v1alpha1",
        "kind": kind,
        "metadata": {"name": name, "namespace": PROJECT},
        "spec": spec,
    }


def application(name: str, path: str, repo_url: str, authorized: str | None) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "namespace": ARGOCD_NS}
    if authorized is not None:
        metadata["annotations"] = {AUTHORIZED: authorized}
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": metadata,
        "spec": {
            "project": "default",
            "source": {"repoURL": repo_url, "path": path, "targetRevision": "master"},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": name},
        },
    }


def promotion_task(image: str, repo_url: str, smoke_url: str, jira_url: str) -> dict[str, Any]:
    """The seed's ``promote`` task, then Argo CD sync, smoke check and the issue tracker."""
    tag = "${{ imageFrom(vars.image).Tag }}"
    return _kargo(
        "PromotionTask",
        "promote",
        {
            "vars": [
                {"name": "image", "value": image},
                {"name": "repoURL", "value": repo_url},
                {"name": "branch", "value": "master"},
                {"name": "envPath"},
            ],
            "steps": [
                {
                    "uses": "git-clone",
                    "config": {
                        "repoURL": "${{ vars.repoURL }}",
                        "checkout": [{"branch": "${{ vars.branch }}", "path": "./src"}],
                    },
                },
                {
                    "uses": "yaml-update",
                    "as": "update-image",
                    "config": {
                        "path": "./src/${{ vars.envPath }}/values.yaml",
                        "updates": [{"key": "general.lmsImageTag", "value": tag}],
                    },
                },
                {
                    "uses": "git-commit",
                    "as": "commit",
                    "config": {
                        "path": "./src",
                        "message": "${{ task.outputs['update-image'].commitMessage }}",
                    },
                },
                {"uses": "git-push", "as": "push", "config": {"path": "./src"}},
                {
                    "uses": "argocd-update",
                    "as": "sync",
                    "config": {
                        "apps": [
                            {
                                "name": "lms-${{ vars.envPath }}",
                                "sources": [
                                    {
                                        "repoURL": "${{ vars.repoURL }}",
                                        "desiredRevision": "${{ task.outputs.push.commit }}",
                                    }
                                ],
                            }
                        ]
                    },
                },
                {
                    "uses": "http",
                    "as": "smoke",
                    "config": {
                        "url": smoke_url + "/healthz",
                        "queryParams": [{"name": "stage", "value": "${{ ctx.stage }}"}],
                        "successExpression": "response.status == 200",
                        "pollInterval": "1s",
                        "timeout": "5s",
                        "outputs": [{"name": "status", "fromExpression": "response.status"}],
                    },
                },
                {
                    "uses": "jira",
                    "as": "record-release",
                    "if": "${{ success() }}",
                    "config": {
                        "baseURL": jira_url,
                        "credentials": {"secretName": "jira"},
                        "createIssue": {
                            "projectKey": "REL",
                            "issueType": "Task",
                            "summary": f"Release lms {tag} to ${{{{ ctx.stage }}}}"
                            " (Freight ${{ ctx.targetFreight.name }})",
                            "labels": ["lms", "${{ ctx.stage }}"],
                        },
                        "comment": f"Deployed {tag} to ${{{{ ctx.stage }}}}: Argo CD synced"
                        " commit ${{ task.outputs.push.commit }}; smoke check answered"
                        " HTTP ${{ task.outputs.smoke.status }}",
                        "transition": {"name": "Done"},
                    },
                },
            ],
        },
    )


def stage(
    name: str, sources: dict[str, Any], env_path: str, *, verified_image: str = ""
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "requestedFreight": [
            {"origin": {"kind": "Warehouse", "name": WAREHOUSE}, "sources": sources}
        ],
        "promotionTemplate": {
            "spec": {
                "steps": [
                    {"task": {"name": "promote"}, "vars": [{"name": "envPath", "value": env_path}]}
                ]
            }
        },
    }
    if verified_image:
        # imageFrom() without an origin looks the Warehouses up, as Kargo's docs write it.
        spec["verification"] = {
            "analysisTemplates": [{"name": "smoke"}],
            "args": [
                {"name": "stage", "value": "${{ ctx.stage }}"},
                {"name": "tag", "value": f"${{{{ imageFrom('{verified_image}').Tag }}}}"},
            ],
        }
    return _kargo("Stage", name, spec)


def smoke_template(smoke_url: str) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AnalysisTemplate",
        "metadata": {"name": "smoke", "namespace": PROJECT},
        "spec": {
            "args": [{"name": "stage"}, {"name": "tag"}],
            "metrics": [
                {
                    "name": "smoke",
                    "interval": "1s",
                    "count": 2,
                    "successCondition": 'result.status == "ok"',
                    "provider": {
                        "web": {
                            "url": smoke_url + "/smoke?stage={{args.stage}}&tag={{args.tag}}",
                            "timeoutSeconds": 5,
                            "jsonPath": "{$}",
                        }
                    },
                }
            ],
        },
    }


def credential_secret(name: str, labels: dict[str, str], data: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": PROJECT, "labels": labels},
        "stringData": data,
    }


# -- the environment -----------------------------------------------------------------------------


@dataclass
class Pipeline:
    kube: Cluster
    git: GitServer
    registry: Registry
    operator: OperatorProcess
    argocd: ArgoCDControllerDouble
    jira: JiraDouble
    smoke: SmokeApp
    #: Facts one test hands to the next.
    facts: dict[str, Any] = field(default_factory=dict)

    def get(self, kind: str, name: str | None = None, namespace: str = PROJECT) -> Any:
        args = ["get", kind, "-n", namespace, "-o", "json"]
        if name:
            args.insert(2, name)
        return json.loads(self.kube.kubectl(*args).stdout)

    def app(self, name: str) -> dict[str, Any]:
        app: dict[str, Any] = self.get("applications.argoproj.io", name, ARGOCD_NS)
        return app

    def stage(self, name: str) -> dict[str, Any]:
        stage: dict[str, Any] = self.get("stage", name)
        return stage

    def freight_for_tag(self, tag: str) -> dict[str, Any] | None:
        for f in self.get("freight")["items"]:
            if any(i.get("tag") == tag for i in f.get("images", [])):
                return dict(f)
        return None

    def verified_in(self, freight: str) -> dict[str, Any]:
        status = self.get("freight", freight).get("status") or {}
        verified: dict[str, Any] = status.get("verifiedIn") or {}
        return verified

    def promotions(self, stage: str, freight: str) -> list[dict[str, Any]]:
        return [
            p
            for p in self.get("promotions")["items"]
            if p["spec"]["stage"] == stage and p["spec"].get("freight") == freight
        ]

    def analysis_runs(self, stage: str) -> list[dict[str, Any]]:
        runs: list[dict[str, Any]] = self.get("analysisruns.argoproj.io", None, PROJECT)["items"]
        return [
            r for r in runs if r["metadata"].get("labels", {}).get("kargo.akuity.io/stage") == stage
        ]

    def push_tag(self, tag: str, created: datetime) -> dict[str, Any]:
        """Push an image tag, refresh the Warehouse, and return the new Freight."""
        self.registry.push_image(IMAGE_PATH, tag, created)
        self.kube.kubectl(
            "annotate", "warehouse", WAREHOUSE, "-n", PROJECT,
            f"kargo.akuity.io/refresh={time.monotonic_ns()}", "--overwrite",
        )  # fmt: skip
        return wait_for(
            lambda: self.freight_for_tag(tag),
            what=f"Freight for tag {tag}",
            details=self.diagnostics,
        )

    def finished_promotion(self, stage: str, freight: str, timeout: float = 90.0) -> dict[str, Any]:
        """The (only) Promotion of ``freight`` to ``stage``, once it is terminal."""

        def done() -> dict[str, Any] | None:
            found = self.promotions(stage, freight)
            if found and (found[0].get("status") or {}).get("phase") in TERMINAL:
                return found[0]
            return None

        promo = wait_for(
            done,
            timeout=timeout,
            what=f"the Promotion of {freight[:7]} to {stage} to finish",
            details=self.diagnostics,
        )
        assert len(self.promotions(stage, freight)) == 1
        return promo

    def create_promotion(
        self, name: str, stage: str, freight: str
    ) -> subprocess.CompletedProcess[str]:
        """``kubectl create`` a Promotion (the admission webhook renames it; it may refuse)."""
        body = {
            "apiVersion": "kargo.akuity.io/v1alpha1",
            "kind": "Promotion",
            "metadata": {"name": name, "namespace": PROJECT},
            "spec": {"stage": stage, "freight": freight},
        }
        return self.kube.kubectl("create", "-f", "-", stdin=json.dumps(body), check=False)

    def refresh_stage(self, name: str) -> None:
        """Ask for one more full pass over the Stage and wait until it has been made."""
        token = str(time.monotonic_ns())
        self.kube.kubectl(
            "annotate", "stage", name, "-n", PROJECT, f"kargo.akuity.io/refresh={token}",
            "--overwrite",
        )  # fmt: skip
        wait_for(
            lambda: self.stage(name).get("status", {}).get("lastHandledRefresh") == token,
            what=f"Stage {name} to handle the refresh",
            details=self.diagnostics,
        )

    def diagnostics(self) -> str:
        out = self.kube.kubectl(
            "get", "warehouse,freight,stages,promotions,analysisruns.argoproj.io", "-n", PROJECT,
            check=False,
        )  # fmt: skip
        apps = self.kube.kubectl(
            "get", "applications.argoproj.io", "-n", ARGOCD_NS, "-o", "yaml", check=False
        )
        return (
            f"{out.stdout}{out.stderr}\n--- Applications ---\n{apps.stdout[-6000:]}"
            f"\n--- Argo CD double errors: {self.argocd.errors}"
            f"\n--- operator log tail ---\n{self.operator.log()[-6000:]}"
        )


def _conditions(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in (obj.get("status") or {}).get("conditions") or []}


def _step_output(promo: dict[str, Any], alias: str) -> dict[str, Any]:
    """The output of the task step ``alias`` in the Promotion's ``status.state``."""
    state = promo["status"].get("state") or {}
    matches = [v for k, v in state.items() if k.rpartition("::")[2] == alias]
    assert len(matches) == 1, state
    output: dict[str, Any] = matches[0]
    return output


def _current_verification(stage: dict[str, Any]) -> dict[str, Any] | None:
    history = (stage.get("status") or {}).get("freightHistory") or []
    verifications = (history[0].get("verificationHistory") or []) if history else []
    return dict(verifications[0]) if verifications else None


def _issues_about(jira: JiraDouble, tag: str, stage: str) -> list[dict[str, Any]]:
    return [
        i
        for i in jira.issues()
        if tag in i["fields"]["summary"] and f" to {stage} " in i["fields"]["summary"]
    ]


@pytest.fixture(scope="module")
def pipeline(kube: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    tmp = tmp_path_factory.mktemp("argocd-pipeline")
    install_argocd_crds(kube)
    kube.apply(f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {ARGOCD_NS}\n")
    for name in ("lms-preprod", "lms-prod", "lms-unauthorized"):  # a reused cluster
        kube.kubectl(
            "delete", "applications.argoproj.io", name, "-n", ARGOCD_NS, "--ignore-not-found"
        )
    smoke = SmokeApp()
    smoke_http = LocalHTTPServer(_SmokeHandler, smoke, name="lms-smoke")
    smoke_http.start()
    smoke.base_url = smoke_http.base_url
    users = {GIT_USER: GIT_PASSWORD, ARGOCD_GIT_USER: ARGOCD_GIT_PASSWORD}
    try:
        with (
            GitServer(users=users, workdir=tmp / "git") as git,
            Registry(users={REG_USER: REG_PASSWORD}) as registry,
            JiraDouble(users={JIRA_USER: JIRA_TOKEN}, workflow=JIRA_WORKFLOW) as jira,
        ):
            repo_url = git.create_repo(
                REPO,
                {
                    "preprod/values.yaml": VALUES,
                    "prod/values.yaml": VALUES,
                    "unauthorized/values.yaml": VALUES,
                },
                branch="master",
            )
            image = f"{registry.host}/{IMAGE_PATH}"
            # A tag the Warehouse ignores: no Freight until the first test pushes one.
            registry.push_image(IMAGE_PATH, "latest", datetime.now(UTC) - timedelta(days=3))
            for name, path, authorized in (
                ("lms-preprod", "preprod", f"{PROJECT}:preprod"),
                ("lms-prod", "prod", f"{PROJECT}:prod"),
                ("lms-unauthorized", "unauthorized", None),
            ):
                kube.kubectl(
                    "create",
                    "-f",
                    "-",
                    stdin=json.dumps(application(name, path, repo_url, authorized)),
                )
            double = ArgoCDControllerDouble(
                kube.kubeconfig_path,
                [ARGOCD_NS],
                git_credentials={git.base_url: (ARGOCD_GIT_USER, ARGOCD_GIT_PASSWORD)},
                interval=0.2,
            )
            operator = OperatorProcess(
                kube.operator_kubeconfig_path,
                tmp / "work",
                tmp / "operator.log",
                env={
                    "SHUNTER_ALLOW_CREDENTIALS_OVER_HTTP": "true",
                    "SHUNTER_MIN_STEP_REQUEUE_SECONDS": "0.5",
                    "SHUNTER_ARGOCD_NAMESPACE": ARGOCD_NS,
                    "SHUNTER_INSTALL_ROLLOUTS_CRDS": "true",
                },
                args=("--namespace", PROJECT),
            )
            with double, operator:
                env = Pipeline(kube, git, registry, operator, double, jira, smoke)
                _install_project(env, repo_url, image)
                yield env
                assert double.errors == []
    finally:
        smoke_http.stop()


def _install_project(env: Pipeline, repo_url: str, image: str) -> None:
    kube = env.kube
    kube.apply(
        json.dumps(
            {
                "apiVersion": "kargo.akuity.io/v1alpha1",
                "kind": "Project",
                "metadata": {"name": PROJECT},
                "spec": {},
            }
        ),
        server_side=False,
    )
    wait_for(
        lambda: kube.kubectl("get", "namespace", PROJECT, check=False).returncode == 0,
        what="the project namespace",
        details=env.operator.log,
    )
    secrets = (
        credential_secret(
            "gitops-repo",
            {"kargo.akuity.io/cred-type": "git"},
            {"repoURL": repo_url, "username": GIT_USER, "password": GIT_PASSWORD},
        ),
        credential_secret(
            "registry",
            {"kargo.akuity.io/cred-type": "image"},
            {"repoURL": image, "username": REG_USER, "password": REG_PASSWORD},
        ),
        credential_secret("jira", {}, {"username": JIRA_USER, "apiToken": JIRA_TOKEN}),
    )
    for secret in secrets:
        kube.apply(json.dumps(secret))
    # The operator installs Argo Rollouts' analysis CRDs at start when the cluster lacks them.
    wait_for(
        lambda: kube.kubectl(
            "get", "crd", "analysistemplates.argoproj.io", "-o",
            "jsonpath={.status.conditions[?(@.type=='Established')].status}", check=False,
        ).stdout.strip() == "True",
        what="the AnalysisTemplate CRD",
        details=env.operator.log,
    )  # fmt: skip
    docs = [
        _kargo(
            "ProjectConfig",
            PROJECT,
            {
                "promotionPolicies": [
                    {"stageSelector": {"name": "preprod"}, "autoPromotionEnabled": True}
                ]
            },
        ),
        smoke_template(env.smoke.base_url),
        _kargo(
            "Warehouse",
            WAREHOUSE,
            {
                "subscriptions": [
                    {
                        "image": {
                            "repoURL": image,
                            "imageSelectionStrategy": "Lexical",
                            "allowTags": ALLOW_TAGS,
                        }
                    }
                ]
            },
        ),
        promotion_task(image, repo_url, env.smoke.base_url, env.jira.base_url),
        stage("preprod", {"direct": True}, "preprod", verified_image=image),
        stage("prod", {"stages": ["preprod"]}, "prod"),
    ]
    for doc in docs:
        kube.apply(json.dumps(doc), server_side=False)


# -- the tests -----------------------------------------------------------------------------------


def test_new_tag_is_synced_by_argo_cd_at_the_pushed_commit(pipeline: Pipeline) -> None:
    freight = pipeline.push_tag(TAG_RELEASE, datetime.now(UTC))
    name = freight["metadata"]["name"]
    promo = pipeline.finished_promotion("preprod", name)
    assert promo["status"]["phase"] == "Succeeded", promo["status"]
    pushed = _step_output(promo, "push")["commit"]

    # The pushed commit is the tip of master and changed exactly the preprod image tag.
    head, subject = pipeline.git.log(REPO, "master")[0]
    assert head == pushed
    assert subject == "Updated ./src/preprod/values.yaml"  # yaml-update's commitMessage
    values = pipeline.git.read_file(REPO, "master", "preprod/values.yaml").decode()
    assert f"lmsImageTag: {TAG_RELEASE}" in values
    assert TAG_RELEASE not in pipeline.git.read_file(REPO, "master", "prod/values.yaml").decode()

    # Argo CD (the double) synced lms-preprod to exactly that commit, at the Promotion's request.
    app = pipeline.app("lms-preprod")
    assert app["status"]["sync"] == {
        "status": "Synced",
        "revision": pushed,
        "comparedTo": app["status"]["sync"]["comparedTo"],
    }
    operation = app["status"]["operationState"]
    assert operation["phase"] == "Succeeded"
    assert operation["syncResult"]["revision"] == pushed
    info = {i["name"]: i["value"] for i in operation["operation"].get("info", [])}
    assert info["kargo.akuity.io/promotion"] == promo["metadata"]["name"]
    assert app["spec"]["source"]["targetRevision"] == "master"
    syncs = pipeline.argocd.syncs_of(ARGOCD_NS, "lms-preprod")
    assert [s.revisions for s in syncs] == [(pushed,)]
    assert syncs[0].info["kargo.akuity.io/promotion"] == promo["metadata"]["name"]
    assert pipeline.argocd.syncs_of(ARGOCD_NS, "lms-prod") == []

    # The smoke check ran after the sync and its answer reached the Jira step.
    assert _step_output(promo, "smoke")["status"] == 200
    assert pipeline.smoke.hits("/healthz", "preprod") >= 1
    assert "argocd-update" in [h["uses"] for h in promo["status"].get("healthChecks") or []]
    pipeline.facts.update(release=name, release_commit=pushed)


def test_preprod_is_healthy_verified_and_the_release_is_recorded(pipeline: Pipeline) -> None:
    name = pipeline.facts["release"]

    def settled() -> dict[str, Any] | None:
        stage = pipeline.stage("preprod")
        verification = _current_verification(stage)
        if verification and verification.get("phase") not in (None, "Pending", "Running"):
            return stage
        return None

    stage = wait_for(settled, what="preprod's verification to finish", details=pipeline.diagnostics)
    assert stage["status"]["freightSummary"] == name
    assert stage["status"]["health"]["status"] == "Healthy"
    statuses = stage["status"]["health"]["output"]["applicationStatuses"]
    assert [(s["Namespace"], s["Name"]) for s in statuses] == [(ARGOCD_NS, "lms-preprod")]
    assert statuses[0]["sync"]["revision"] == pipeline.facts["release_commit"]
    conditions = _conditions(stage)
    assert conditions["Healthy"]["status"] == "True"
    assert conditions["Verified"]["status"] == "True", conditions["Verified"]
    verification = _current_verification(stage)
    assert verification is not None
    assert verification["phase"] == "Successful", verification

    # The AnalysisRun: created for this Stage, evaluated by the operator (2 measurements).
    runs = pipeline.analysis_runs("preprod")
    assert [r["metadata"]["name"] for r in runs] == [verification["analysisRun"]["name"]]
    run = runs[0]
    assert run["status"]["phase"] == "Successful"
    metric = run["status"]["metricResults"][0]
    assert (metric["name"], metric["count"], metric["successful"]) == ("smoke", 2, 2)
    assert pipeline.smoke.hits("/smoke", "preprod") == 2
    tags = {q.get("tag", [""])[0] for p, q in pipeline.smoke.requests if p == "/smoke"}
    assert tags == {TAG_RELEASE}  # the verification arg read the Freight's image
    assert "preprod" in pipeline.verified_in(name)
    wait_for(
        lambda: _conditions(pipeline.stage("preprod"))["Ready"]["status"] == "True",
        what="preprod Ready",
        details=pipeline.diagnostics,
    )

    # Jira: one issue naming the tag and the Freight, commented, then moved to Done.
    issues = _issues_about(pipeline.jira, TAG_RELEASE, "preprod")
    assert len(issues) == 1, pipeline.jira.issues()
    issue = issues[0]
    assert name in issue["fields"]["summary"]
    assert {"lms", "preprod"} <= set(issue["fields"]["labels"])
    comments = [c["body"] for c in issue["comments"]]
    assert comments == [
        f"Deployed {TAG_RELEASE} to preprod: Argo CD synced commit "
        f"{pipeline.facts['release_commit']}; smoke check answered HTTP 200"
    ]
    assert issue["fields"]["status"]["name"] == "Done"
    key = issue["key"]
    transitions = pipeline.jira.requests_to("POST", f"/rest/api/2/issue/{key}/transitions")
    assert [(r.body, r.status) for r in transitions] == [({"transition": {"id": "31"}}, 204)]
    created = pipeline.jira.requests_to("POST", "/rest/api/2/issue")
    assert [r.status for r in created] == [201]
    assert {r.principal for r in pipeline.jira.requests} == {JIRA_USER}


def test_prod_promotion_with_the_cli_syncs_prod(
    pipeline: Pipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    name = pipeline.facts["release"]
    alias = pipeline.get("freight", name)["alias"]
    code = shunter_cli(
        [
            "--kubeconfig", str(pipeline.kube.kubeconfig_path),
            "promote", "--project", PROJECT, "--stage", "prod", "--freight", alias,
        ]
    )  # fmt: skip
    out = capsys.readouterr()
    assert code == 0, out.err
    promo = pipeline.finished_promotion("prod", name)
    assert promo["status"]["phase"] == "Succeeded", promo["status"]
    assert promo["metadata"]["name"] in out.out
    pushed = _step_output(promo, "push")["commit"]
    assert pipeline.git.log(REPO, "master")[0][0] == pushed
    prod = pipeline.git.read_file(REPO, "master", "prod/values.yaml").decode()
    assert f"lmsImageTag: {TAG_RELEASE}" in prod
    app = pipeline.app("lms-prod")
    assert app["status"]["sync"]["revision"] == pushed
    assert app["status"]["operationState"]["syncResult"]["revision"] == pushed
    assert [s.revisions for s in pipeline.argocd.syncs_of(ARGOCD_NS, "lms-prod")] == [(pushed,)]
    # preprod's Application was not touched by the prod promotion.
    assert len(pipeline.argocd.syncs_of(ARGOCD_NS, "lms-preprod")) == 1
    wait_for(
        lambda: pipeline.stage("prod").get("status", {}).get("freightSummary") == name,
        what="prod to hold the Freight",
        details=pipeline.diagnostics,
    )
    issues = _issues_about(pipeline.jira, TAG_RELEASE, "prod")
    assert len(issues) == 1
    assert issues[0]["fields"]["status"]["name"] == "Done"
    assert pushed in issues[0]["comments"][0]["body"]


def test_an_application_without_the_annotation_is_refused(pipeline: Pipeline) -> None:
    name = pipeline.facts["release"]
    before = pipeline.app("lms-unauthorized")
    jira_before = len(pipeline.jira.issues())
    pipeline.kube.apply(
        json.dumps(stage("rogue", {"direct": True}, "unauthorized")), server_side=False
    )
    assert pipeline.create_promotion("rogue-release", "rogue", name).returncode == 0
    promo = pipeline.finished_promotion("rogue", name)
    assert promo["status"]["phase"] in ("Failed", "Errored"), promo["status"]
    message = promo["status"]["message"]
    assert "lms-unauthorized" in message
    assert (
        f'add the annotation kargo.akuity.io/authorized-stage: "{PROJECT}:rogue" to the Application'
    ) in message
    # The Application is untouched: no sync requested, no refresh, same spec.
    after = pipeline.app("lms-unauthorized")
    assert "operation" not in after
    assert after["spec"] == before["spec"]
    assert "argocd.argoproj.io/refresh" not in (after["metadata"].get("annotations") or {})
    assert pipeline.argocd.syncs_of(ARGOCD_NS, "lms-unauthorized") == []
    # Nothing after the failed step ran.
    assert pipeline.smoke.hits("/healthz", "rogue") == 0
    assert len(pipeline.jira.issues()) == jira_before


def test_a_degraded_application_makes_preprod_unhealthy_and_stops_verification(
    pipeline: Pipeline,
) -> None:
    runs_before = len(pipeline.analysis_runs("preprod"))
    pipeline.argocd.set_outcome(
        SyncOutcome(health="Degraded", health_message="Deployment lms: 0/2 replicas available"),
        namespace=ARGOCD_NS,
        name="lms-preprod",
    )
    try:
        freight = pipeline.push_tag(TAG_DEGRADED, datetime.now(UTC) + timedelta(minutes=1))
        name = freight["metadata"]["name"]
        promo = pipeline.finished_promotion("preprod", name)
        assert promo["status"]["phase"] == "Succeeded", promo["status"]
        pushed = _step_output(promo, "push")["commit"]
        assert pipeline.app("lms-preprod")["status"]["sync"]["revision"] == pushed

        def unhealthy() -> dict[str, Any] | None:
            stage = pipeline.stage("preprod")
            status = stage.get("status") or {}
            if status.get("freightSummary") != name:
                return None
            if (status.get("health") or {}).get("status") != "Unhealthy":
                return None
            return stage

        wait_for(unhealthy, what="preprod Unhealthy", details=pipeline.diagnostics)
        pipeline.refresh_stage("preprod")  # one more full pass: still no verification
        stage = pipeline.stage("preprod")
        assert stage["status"]["health"]["status"] == "Unhealthy"
        assert any("'Degraded'" in i for i in stage["status"]["health"]["issues"])
        healthy = _conditions(stage)["Healthy"]
        assert (healthy["status"], healthy["reason"]) == ("False", "Unhealthy")
        assert "lms-preprod" in healthy["message"]
        assert "'Degraded'" in healthy["message"]
        assert _conditions(stage)["Ready"]["status"] == "False"
        assert _current_verification(stage) is None
        assert len(pipeline.analysis_runs("preprod")) == runs_before
        assert "preprod" not in pipeline.verified_in(name)
    finally:
        pipeline.argocd.set_outcome(SyncOutcome(), namespace=ARGOCD_NS, name="lms-preprod")


def test_a_failing_smoke_verification_keeps_the_freight_from_prod(pipeline: Pipeline) -> None:
    runs_before = {r["metadata"]["name"] for r in pipeline.analysis_runs("preprod")}
    pipeline.smoke.set(200, "down")
    try:
        freight = pipeline.push_tag(TAG_SMOKE_DOWN, datetime.now(UTC) + timedelta(minutes=2))
        name = freight["metadata"]["name"]
        promo = pipeline.finished_promotion("preprod", name)
        assert promo["status"]["phase"] == "Succeeded", promo["status"]

        def verification_done() -> dict[str, Any] | None:
            stage = pipeline.stage("preprod")
            if stage.get("status", {}).get("freightSummary") != name:
                return None
            verification = _current_verification(stage)
            if verification and verification.get("phase") not in (None, "Pending", "Running"):
                return stage
            return None

        stage = wait_for(
            verification_done, what="preprod's verification", details=pipeline.diagnostics
        )
    finally:
        pipeline.smoke.set(200, "ok")
    assert stage["status"]["health"]["status"] == "Healthy"
    verification = _current_verification(stage)
    assert verification is not None
    assert verification["phase"] == "Failed", verification
    verified = _conditions(stage)["Verified"]
    assert (verified["status"], verified["reason"]) == ("False", "VerificationFailed")
    runs = [
        r for r in pipeline.analysis_runs("preprod") if r["metadata"]["name"] not in runs_before
    ]
    assert [r["metadata"]["name"] for r in runs] == [verification["analysisRun"]["name"]]
    assert runs[0]["status"]["phase"] == "Failed"
    assert runs[0]["status"]["metricResults"][0]["failed"] >= 1
    assert "preprod" not in pipeline.verified_in(name)

    # Not verified upstream: not available to prod, refused when the Promotion is created.
    refused = pipeline.create_promotion("prod-unverified", "prod", name)
    assert refused.returncode != 0
    assert "Freight is not available to Stage 'prod'" in refused.stderr, refused.stderr
    assert pipeline.promotions("prod", name) == []
    assert pipeline.stage("prod")["status"]["freightSummary"] == pipeline.facts["release"]
    assert TAG_SMOKE_DOWN not in pipeline.git.read_file(REPO, "master", "prod/values.yaml").decode()
