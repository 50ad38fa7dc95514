"""Auto-rollback with the operator as a process: a verification that fails after a promotion
rolls the Stage back to the Freight verified before, as a Promotion marked as a rollback; the
failed Freight is held from auto-promotion; a rollback whose own verification fails does not
roll back again; a Stage with nothing verified before says so.

The seed pipeline (real git server, registry, API server) with preprod verified by an Argo
Rollouts AnalysisTemplate whose ``web`` metric asks a local endpoint about the deployed tag;
shunter evaluates it (no Argo Rollouts here).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from shunter_devenv.cluster import Cluster
from shunter_devenv.localhttp import LocalHTTPServer, QuietHandler
from shunter_devenv.seed import SEED_IMAGE_PATH
from shunter_devenv.seedpipeline import FIRST_TAG, seed_pipeline
from shunter_devenv.seedpipeline import SeedPipeline as Seed
from shunter_devenv.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]
VALUES = (ROOT / "tests" / "data" / "values" / "realistic-values.yaml").read_text()
PROJECT = "rollback-example"
BAD_TAG = "2026-11-21_1000-badbad1"


class SmokeChecks:
    """What the deployed application answers on ``/health/<tag>``: ``{"status": "ok"}``
    unless the tag is marked bad."""

    def __init__(self) -> None:
        self.bad: set[str] = {"never"}
        self.lock = threading.Lock()

    def status(self, tag: str) -> str:
        with self.lock:
            return "bad" if tag in self.bad else "ok"


class _Handler(QuietHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        app = self.app
        assert isinstance(app, SmokeChecks)
        tag = self.path.split("?", 1)[0].rsplit("/", 1)[-1]
        body = json.dumps({"status": app.status(tag)}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def smoke() -> Iterator[tuple[SmokeChecks, str]]:
    checks = SmokeChecks()
    server = LocalHTTPServer(_Handler, checks, name="smoke-checks")
    server.start()
    yield checks, server.base_url
    server.stop()


@pytest.fixture(scope="module")
def seed(
    kube: Cluster, tmp_path_factory: pytest.TempPathFactory, smoke: tuple[SmokeChecks, str]
) -> Iterator[Seed]:
    _, base_url = smoke
    # The operator installs Argo Rollouts' analysis CRDs itself: no other test must run first.
    env = {"SHUNTER_INSTALL_ROLLOUTS_CRDS": "true"}
    with seed_pipeline(
        kube, tmp_path_factory.mktemp("rollback"), VALUES, env=env, project=PROJECT
    ) as p:
        p.kube.apply(json.dumps(_template()))
        image = f"{p.registry.host}/{SEED_IMAGE_PATH}"
        tag = f"${{{{ imageFrom('{image}').Tag }}}}"
        _verify(p, "preprod", base_url, tag)
        p.kube.apply(json.dumps(_canary()))
        _verify(p, "canary", base_url, "never")
        p.kube.apply(json.dumps(_fragile(image)))
        p.kube.apply(json.dumps(_project_config()))
        yield p


def _template() -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AnalysisTemplate",
        "metadata": {"name": "smoke", "namespace": PROJECT},
        "spec": {
            "args": [{"name": "base-url"}, {"name": "tag"}],
            "metrics": [
                {
                    "name": "smoke",
                    "count": 1,
                    "successCondition": 'result.status == "ok"',
                    "provider": {
                        "web": {"url": "{{args.base-url}}/health/{{args.tag}}", "jsonPath": "{$}"}
                    },
                }
            ],
        },
    }


def _verify(seed: Seed, stage: str, base_url: str, tag: str) -> None:
    patch = {
        "spec": {
            "verification": {
                "analysisTemplates": [{"name": "smoke"}],
                "args": [{"name": "base-url", "value": base_url}, {"name": "tag", "value": tag}],
            }
        }
    }
    seed.kube.kubectl(
        "patch", "stage", stage, "-n", PROJECT, "--type", "merge", "-p", json.dumps(patch)
    )


def _direct_stage(name: str, steps: list[dict[str, Any]]) -> dict[str, Any]:
    """A Stage taking Freight straight from the seed's Warehouse."""
    origin = {"kind": "Warehouse", "name": "example-container"}
    return {
        "apiVersion": "kargo.akuity.io/v1alpha1",
        "kind": "Stage",
        "metadata": {"name": name, "namespace": PROJECT},
        "spec": {
            "requestedFreight": [{"origin": origin, "sources": {"direct": True}}],
            "promotionTemplate": {"spec": {"steps": steps}},
        },
    }


def _canary() -> dict[str, Any]:
    """A Stage whose checks never pass (it promotes with the seed's task)."""
    task = {"task": {"name": "promote"}, "vars": [{"name": "envPath", "value": "prod"}]}
    return _direct_stage("canary", [task])


def _fragile(image: str) -> dict[str, Any]:
    """A Stage whose promotion of the bad tag fails (no git: a ``fail`` step behind an
    ``if``)."""
    tag = f"${{{{ imageFrom('{image}').Tag }}}}"
    return _direct_stage(
        "fragile",
        [
            {"uses": "compose-output", "as": "deployed", "config": {"tag": tag}},
            {
                "uses": "fail",
                "if": f"${{{{ outputs.deployed.tag == '{BAD_TAG}' }}}}",
                "config": {"message": "the deployment broke"},
            },
        ],
    )


def _project_config() -> dict[str, Any]:
    return {
        "apiVersion": "kargo.akuity.io/v1alpha1",
        "kind": "ProjectConfig",
        "metadata": {"name": PROJECT, "namespace": PROJECT},
        "spec": {
            "promotionPolicies": [
                {
                    "stageSelector": {"name": "regex:^(preprod|canary)$"},
                    "autoPromotionEnabled": True,
                    "autoRollback": {"onVerification": ["Failed"]},
                },
                {
                    "stageSelector": {"name": "fragile"},
                    "autoPromotionEnabled": True,
                    "autoRollback": {"onPromotion": ["Failed", "Errored"]},
                },
            ]
        },
    }


def _stage(seed: Seed, name: str) -> dict[str, Any]:
    stage: dict[str, Any] = seed.get("stage", name)
    return stage


def _latest_verification(seed: Seed, stage: str) -> tuple[str, str] | None:
    """(Freight name, phase) of the current Freight's latest finished verification."""
    history = _stage(seed, stage).get("status", {}).get("freightHistory") or []
    if not history or not history[0].get("verificationHistory"):
        return None
    phase = history[0]["verificationHistory"][0].get("phase")
    if phase not in ("Successful", "Failed", "Error"):
        return None
    (item,) = history[0]["items"].values()
    return item["name"], phase


def _condition(seed: Seed, stage: str, kind: str) -> dict[str, Any] | None:
    for condition in _stage(seed, stage).get("status", {}).get("conditions") or []:
        if condition["type"] == kind:
            return dict(condition)
    return None


def _events(seed: Seed, reason: str) -> list[dict[str, Any]]:
    out = seed.kube.kubectl("get", "events", "-n", PROJECT, "-o", "json").stdout
    return [e for e in json.loads(out)["items"] if e.get("reason") == reason]


def _rollbacks(seed: Seed, stage: str) -> list[dict[str, Any]]:
    return [
        p
        for p in seed.promotions(stage)
        if p["metadata"].get("annotations", {}).get("kargo.akuity.io/rollback") == "true"
    ]


def test_a_failed_verification_rolls_back_to_the_verified_freight(
    seed: Seed, smoke: tuple[SmokeChecks, str]
) -> None:
    checks, _ = smoke
    good = wait_for(
        lambda: (v := _latest_verification(seed, "preprod")) and v[1] == "Successful" and v[0],
        what="the first Freight verified in preprod",
        details=seed.diagnostics,
    )
    assert seed.freight_for_tag(FIRST_TAG)["metadata"]["name"] == good  # type: ignore[index]
    with checks.lock:
        # The new tag fails its checks; so will the old one, once rolled back to.
        checks.bad |= {BAD_TAG, FIRST_TAG}
    seed.push(BAD_TAG, datetime.now(UTC))
    seed.refresh_warehouse()
    bad = wait_for(
        lambda: (f := seed.freight_for_tag(BAD_TAG)) and f["metadata"]["name"],
        what="Freight for the bad tag",
        details=seed.diagnostics,
    )

    (rollback,) = wait_for(
        lambda: _rollbacks(seed, "preprod"),
        timeout=120,
        what="a rollback Promotion",
        details=seed.diagnostics,
    )
    assert rollback["spec"]["freight"] == good
    annotations = rollback["metadata"]["annotations"]
    assert annotations["kargo.akuity.io/create-actor"] == "controller:shunter-rollback"
    assert annotations["kargo.akuity.io/auto-promotion-hold"] == "Warehouse/example-container"
    (failed,) = [p for p in seed.promotions("preprod") if p["spec"]["freight"] == bad]
    assert failed["status"]["phase"] == "Succeeded"  # the promotion worked; its checks did not

    created = [
        e
        for e in _events(seed, "PromotionCreated")
        if e["involvedObject"]["name"] == rollback["metadata"]["name"]
    ]
    assert created, "a PromotionCreated Event for the rollback"
    assert created[0]["metadata"]["annotations"]["event.kargo.akuity.io/rollback"] == "true"
    assert "after verification Failed of Freight" in created[0]["message"]

    # The rollback lands; the old Freight's checks now fail too: no second rollback.
    wait_for(
        lambda: _latest_verification(seed, "preprod") == (good, "Failed"),
        timeout=120,
        what="the rolled-back Freight's verification to fail",
        details=seed.diagnostics,
    )
    assert len(_rollbacks(seed, "preprod")) == 1, "a failing rollback must not roll back again"
    status = _stage(seed, "preprod")["status"]
    assert status["autoPromotionHolds"]["Warehouse/example-container"]["freightName"] == good
    # The held Freight is not promoted again automatically.
    assert len([p for p in seed.promotions("preprod") if p["spec"]["freight"] == bad]) == 1
    finished = seed.get("promotion", rollback["metadata"]["name"])["status"]
    assert finished["phase"] == "Succeeded"


def test_nothing_verified_before_means_no_rollback_and_the_stage_says_so(seed: Seed) -> None:
    condition = wait_for(
        lambda: _condition(seed, "canary", "AutoRollback"),
        timeout=120,
        what="canary's AutoRollback condition",
        details=seed.diagnostics,
    )
    assert condition["status"] == "False"
    assert condition["reason"] == "NoVerifiedFreight"
    assert "nothing to roll back to" in condition["message"]
    assert _rollbacks(seed, "canary") == []
    skipped = [
        e for e in _events(seed, "AutoRollbackSkipped") if e["involvedObject"]["name"] == "canary"
    ]
    assert skipped
    assert skipped[0]["type"] == "Warning"


def test_a_failed_promotion_rolls_back_to_the_verified_freight(seed: Seed) -> None:
    """Runs after the first test pushed the bad tag: fragile's promotion of it fails, and the
    Stage is promoted to the Freight it had (verified) again."""
    good = seed.freight_for_tag(FIRST_TAG)["metadata"]["name"]  # type: ignore[index]
    bad = wait_for(
        lambda: (f := seed.freight_for_tag(BAD_TAG)) and f["metadata"]["name"],
        what="Freight for the bad tag",
    )
    (rollback,) = wait_for(
        lambda: _rollbacks(seed, "fragile"),
        timeout=120,
        what="a rollback Promotion in fragile",
        details=seed.diagnostics,
    )
    assert rollback["spec"]["freight"] == good
    (failed,) = [p for p in seed.promotions("fragile") if p["spec"]["freight"] == bad]
    assert failed["status"]["phase"] == "Failed"
    assert "the deployment broke" in failed["status"]["message"]

    def finished() -> str | None:
        phase: str | None = (
            seed.get("promotion", rollback["metadata"]["name"]).get("status", {}).get("phase")
        )
        return phase if phase in ("Succeeded", "Failed", "Errored") else None

    assert wait_for(finished, what="the rollback to finish") == "Succeeded"
    condition = wait_for(
        lambda: _condition(seed, "fragile", "AutoRollback"), what="fragile's condition"
    )
    assert condition["reason"] == "RolledBack"
    assert f"Promotion {failed['metadata']['name']} Failed" in condition["message"]
    assert len([p for p in seed.promotions("fragile") if p["spec"]["freight"] == bad]) == 1
