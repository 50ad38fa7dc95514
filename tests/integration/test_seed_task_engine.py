"""The seed's PromotionTask, run by the engine with the real steps against a real git server.

Credentials come from a ``kargo.akuity.io/cred-type: git`` Secret on the real API server; the
test then searches logs, the Promotion status and every exception for the password.
"""

from __future__ import annotations

import base64
import difflib
import json
import logging
from pathlib import Path
from typing import Any

import pytest

from shunter._internal.yamlio import load_manifests
from shunter.api.v1alpha1 import Freight, Promotion, PromotionPhase, Stage, to_wire
from shunter.api.v1alpha1.common import FreightOrigin, PromotionTaskReference
from shunter.api.v1alpha1.promotion import PromotionSpec, PromotionStatus
from shunter.api.v1alpha1.promotion_task import PromotionTask, PromotionTaskSpec
from shunter.controllers.collections import freight_reference, with_freight
from shunter.credentials.kubernetes import KubernetesCredentialsDatabase
from shunter.git import MirrorStore
from shunter.kube.client import KubeClient
from shunter.promotion.context import PromotionContext
from shunter.promotion.engine import Engine
from shunter.promotion.registry import DEFAULT_REGISTRY
from shunter.promotion.step import Capabilities, GitAuthor
from shunter.promotion.tasks import inflate_stage_template
from shunter.steps import load_builtin_steps
from shunter_devenv.cluster import Cluster
from shunter_devenv.gitserver import GitServer
from shunter_devenv.seed import render_seed
from shunter_devenv.waiting import wait_for_async

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "s3cr3t-Pa55word-for-the-seed"
USER = "kargo-bot"
TAG = "2026-11-26_1200-abc1234"
REGISTRY = "127.0.0.1:5000"


@pytest.fixture
def git_server(tmp_path: Path) -> Any:
    with GitServer(users={USER: PASSWORD}, workdir=tmp_path / "git") as server:
        values = (ROOT / "tests" / "data" / "values" / "realistic-values.yaml").read_text()
        server.create_repo(
            "test/sandbox",
            {"preprod/values.yaml": values, "prod/values.yaml": values, "README.md": "# sandbox\n"},
            branch="master",
        )
        yield server


def _seed(git: GitServer) -> dict[str, dict[str, Any]]:
    docs = load_manifests(render_seed(REGISTRY, git.base_url))
    return {f"{d['kind']}/{d['metadata']['name']}": d for d in docs}


async def test_seed_promotion_task_updates_only_the_image_tag(
    kube: Cluster, namespace: str, git_server: GitServer, tmp_path: Path, caplog: Any
) -> None:
    caplog.set_level(logging.DEBUG)
    load_builtin_steps()
    repo_url = git_server.url("test/sandbox")
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": "sandbox-git",
            "namespace": namespace,
            "labels": {"kargo.akuity.io/cred-type": "git"},
        },
        "data": {
            "repoURL": base64.b64encode(repo_url.encode()).decode(),
            "username": base64.b64encode(USER.encode()).decode(),
            "password": base64.b64encode(PASSWORD.encode()).decode(),
        },
    }
    kube.apply(json.dumps(secret))

    seed = _seed(git_server)
    task = PromotionTask.model_validate(seed["PromotionTask/promote"])
    stage_doc = seed["Stage/preprod"]
    stage_doc["metadata"]["namespace"] = namespace
    stage = Stage.model_validate(stage_doc)

    async def lookup(project: str, ref: PromotionTaskReference) -> PromotionTaskSpec | None:
        return task.spec if ref.name == "promote" else None

    inflated = await inflate_stage_template(stage, lookup)
    assert [s.as_ for s in inflated.steps] == [
        "task-1::step-1",
        "task-1::update-image",
        "task-1::commit",
        "task-1::step-4",
    ]

    image_repo = f"{REGISTRY}/container/main-containers/example-container"
    freight = Freight.model_validate(
        {
            "kind": "Freight",
            "metadata": {"name": "f" * 40, "namespace": namespace},
            "origin": {"kind": "Warehouse", "name": "example-container"},
            "images": [{"repoURL": image_repo, "tag": TAG, "digest": "sha256:" + "ab" * 32}],
        }
    )
    promotion = Promotion(
        metadata={"name": "preprod.test.fffffff", "namespace": namespace, "uid": "uid-1"},
        spec=PromotionSpec(
            stage="preprod", freight=freight.metadata.name, steps=inflated.steps, vars=inflated.vars
        ),
    )
    target = freight_reference(freight)
    pctx = PromotionContext.from_promotion(
        promotion,
        stage=stage,
        target_freight=target,
        freight=with_freight(None, target, ["Warehouse/example-container"]),
    )
    kube_client = KubeClient.from_kubeconfig(kube.kubeconfig_path)
    saved: list[dict[str, Any]] = []

    async def save(status: PromotionStatus) -> None:
        saved.append(to_wire(status))

    mirrors = MirrorStore(tmp_path / "mirrors")
    engine = Engine(
        capabilities=Capabilities(
            credentials=KubernetesCredentialsDatabase(
                kube_client, allow_credentials_over_http=True
            ),
            git_author=GitAuthor(name="Shunter Test", email="shunter@example.com"),
            git_mirrors=mirrors,
        ),
        work_root=tmp_path / "work",
        registry=DEFAULT_REGISTRY,
    )
    before = git_server.read_file("test/sandbox", "master", "preprod/values.yaml")
    result = await engine.run(pctx, PromotionStatus(), save=save)
    await kube_client.aclose()
    # The work directory went with the finished Promotion, and its working tree with it.
    assert not engine.work_dir("uid-1").exists()
    records = mirrors.mirror(repo_url).path / "worktrees"
    await wait_for_async(lambda: not records.exists(), within=30, what="the worktree prune")

    assert result.status.phase == PromotionPhase.SUCCEEDED, result.status.message
    after = git_server.read_file("test/sandbox", "master", "preprod/values.yaml")
    diff = [
        line
        for line in difflib.unified_diff(
            before.decode().splitlines(), after.decode().splitlines(), lineterm="", n=0
        )
        if line.startswith(("+", "-")) and not line.startswith(("+++", "---"))
    ]
    assert len(diff) == 2, diff
    assert diff[0].startswith("-")
    assert "lmsImageTag" in diff[0]
    assert diff[1].strip() in (f"+  lmsImageTag: {TAG}", f'+  lmsImageTag: "{TAG}"'), diff
    assert git_server.read_file("test/sandbox", "master", "prod/values.yaml") == before

    state = result.status.state or {}
    message = state["task-1::update-image"]["commitMessage"]
    log = git_server.log("test/sandbox", "master")
    assert len(log) == 2
    assert log[0][1] == message.splitlines()[0]
    assert state["task-1::commit"]["commit"] == log[0][0]
    assert len(saved) >= 4

    # The password never shows: not in logs, status, saved states or step messages.
    haystacks = [caplog.text, json.dumps(saved), json.dumps(to_wire(result.status))]
    for text in haystacks:
        assert PASSWORD not in text
        assert base64.b64encode(PASSWORD.encode()).decode() not in text


async def test_wrong_password_fails_without_leaking_it(
    kube: Cluster, namespace: str, git_server: GitServer, tmp_path: Path, caplog: Any
) -> None:
    caplog.set_level(logging.DEBUG)
    load_builtin_steps()
    wrong = "not-the-" + PASSWORD
    repo_url = git_server.url("test/sandbox")
    kube.apply(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {
                    "name": "sandbox-git",
                    "namespace": namespace,
                    "labels": {"kargo.akuity.io/cred-type": "git"},
                },
                "stringData": {"repoURL": repo_url, "username": USER, "password": wrong},
            }
        )
    )
    seed = _seed(git_server)
    task = PromotionTask.model_validate(seed["PromotionTask/promote"])
    stage_doc = seed["Stage/preprod"]
    stage_doc["metadata"]["namespace"] = namespace
    stage = Stage.model_validate(stage_doc)

    async def lookup(project: str, ref: PromotionTaskReference) -> PromotionTaskSpec | None:
        return task.spec

    inflated = await inflate_stage_template(stage, lookup)
    promotion = Promotion(
        metadata={"name": "p", "namespace": namespace, "uid": "uid-2"},
        spec=PromotionSpec(stage="preprod", freight="f", steps=inflated.steps, vars=inflated.vars),
    )
    target = freight_reference(
        Freight(
            metadata={"name": "f", "namespace": namespace},
            origin=FreightOrigin.model_validate({"kind": "Warehouse", "name": "example-container"}),
            images=[
                {
                    "repoURL": f"{REGISTRY}/container/main-containers/example-container",
                    "tag": TAG,
                    "digest": "sha256:aa",
                }
            ],
        )
    )
    pctx = PromotionContext.from_promotion(
        promotion,
        stage=stage,
        target_freight=target,
        freight=with_freight(None, target, ["Warehouse/example-container"]),
    )
    kube_client = KubeClient.from_kubeconfig(kube.kubeconfig_path)
    engine = Engine(
        capabilities=Capabilities(
            credentials=KubernetesCredentialsDatabase(kube_client, allow_credentials_over_http=True)
        ),
        work_root=tmp_path / "work",
    )
    result = await engine.run(pctx, PromotionStatus())
    await kube_client.aclose()
    assert result.status.phase in (PromotionPhase.ERRORED, PromotionPhase.FAILED)
    assert "authentication" in (result.status.message or "").lower() or "401" in (
        result.status.message or ""
    ), result.status.message
    text = caplog.text + json.dumps(to_wire(result.status))
    assert wrong not in text
    assert PASSWORD not in text
