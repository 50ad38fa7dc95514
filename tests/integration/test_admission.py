"""The admission webhooks, served by the operator process and called by the real API server.

The operator (``OperatorProcess``, watching one namespace) serves the webhooks on 127.0.0.1
and registers them for that namespace only. Users ``alice`` and ``bob`` are plain users of the
local control plane; the tests give them RBAC roles.
"""

from __future__ import annotations

import json
import re
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from shunter_devenv import kubectl as kubectl_module
from shunter_devenv.cluster import Cluster
from shunter_devenv.operator import OperatorProcess
from shunter_devenv.waiting import wait_for

GROUP = "kargo.akuity.io/v1alpha1"
IMAGE = "registry.example.com/team/app"
DIGEST = "sha256:" + "ab" * 32


def _as(
    kube: Cluster, user: str, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return kubectl_module.kubectl(kube.kubeconfig_for(user), *args, stdin=stdin, check=False)


def _create(kube: Cluster, user: str, body: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    return _as(kube, user, "create", "-o", "json", "-f", "-", stdin=json.dumps(body))


def _warehouse(ns: str) -> dict[str, Any]:
    return {
        "apiVersion": GROUP,
        "kind": "Warehouse",
        "metadata": {"name": "app", "namespace": ns},
        "spec": {
            "interval": "1h",
            "freightCreationPolicy": "Manual",
            "subscriptions": [{"image": {"repoURL": IMAGE}}],
        },
    }


def _stage(
    ns: str, name: str, sources: dict[str, Any], steps: list[Any] | None = None
) -> dict[str, Any]:
    return {
        "apiVersion": GROUP,
        "kind": "Stage",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "requestedFreight": [
                {"origin": {"kind": "Warehouse", "name": "app"}, "sources": sources}
            ],
            "promotionTemplate": {
                "spec": {
                    "steps": steps
                    or [{"uses": "compose-output", "as": "out", "config": {"x": "1"}}]
                }
            },
        },
    }


def _freight(ns: str, name: str, tag: str = "v1") -> dict[str, Any]:
    return {
        "apiVersion": GROUP,
        "kind": "Freight",
        "metadata": {"name": name, "namespace": ns},
        "origin": {"kind": "Warehouse", "name": "app"},
        "images": [{"repoURL": IMAGE, "tag": tag, "digest": DIGEST}],
    }


def _promotion(ns: str, stage: str, freight: str, name: str = "by-hand") -> dict[str, Any]:
    return {
        "apiVersion": GROUP,
        "kind": "Promotion",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"stage": stage, "freight": freight},
    }


def _bind(kube: Cluster, ns: str, user: str, rules: list[dict[str, Any]]) -> None:
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": f"{user}-role", "namespace": ns},
        "rules": rules,
    }
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": f"{user}-role", "namespace": ns},
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "Role",
            "name": f"{user}-role",
        },
        "subjects": [{"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": user}],
    }
    kube.apply(json.dumps(role))
    kube.apply(json.dumps(binding))


PROMOTION_RULES = [
    {
        "apiGroups": ["kargo.akuity.io"],
        "resources": ["promotions"],
        "verbs": ["create", "get", "list"],
    },
    {
        "apiGroups": ["kargo.akuity.io"],
        "resources": ["freights", "stages"],
        "verbs": ["get", "list"],
    },
    {"apiGroups": ["kargo.akuity.io"], "resources": ["freights/status"], "verbs": ["get", "patch"]},
]


@pytest.fixture
def project(kube: Cluster, tmp_path: Path) -> Iterator[tuple[str, OperatorProcess]]:
    """A project namespace served by an operator process with its admission webhooks."""
    ns = f"adm-{secrets.token_hex(4)}"
    kube.kubectl("create", "namespace", ns)
    kube.kubectl("label", "namespace", ns, "kargo.akuity.io/project=true")
    operator = OperatorProcess(
        kube.operator_kubeconfig_path,
        tmp_path / "work",
        tmp_path / "operator.log",
        args=("--namespace", ns),
    )
    operator.start()
    try:
        # Registered and answering: a server-side dry run of a hand-named Freight is renamed.
        kube.kubectl("create", "-f", "-", stdin=json.dumps(_warehouse(ns)))

        def renamed() -> bool:
            body = json.dumps(_freight(ns, "probe"))
            out = kube.kubectl(
                "create", "--dry-run=server", "-o", "json", "-f", "-", stdin=body, check=False
            )
            return out.returncode == 0 and json.loads(out.stdout)["metadata"]["name"] != "probe"

        wait_for(renamed, timeout=60, what="the admission webhooks to answer", details=operator.log)
        yield ns, operator
    finally:
        operator.stop()
        kube.kubectl("delete", "namespace", ns, "--wait=false", "--ignore-not-found")


def test_promotions_need_the_promote_verb_and_get_kargo_names(
    kube: Cluster, project: tuple[str, OperatorProcess]
) -> None:
    ns, _ = project
    kube.kubectl("create", "-f", "-", stdin=json.dumps(_stage(ns, "prod", {"direct": True})))
    kube.kubectl("create", "-f", "-", stdin=json.dumps(_stage(ns, "uat", {"stages": ["prod"]})))
    freight = json.loads(
        kube.kubectl(
            "create", "-o", "json", "-f", "-", stdin=json.dumps(_freight(ns, "mine"))
        ).stdout
    )
    fname = freight["metadata"]["name"]
    _bind(kube, ns, "bob", PROMOTION_RULES)
    _bind(
        kube,
        ns,
        "alice",
        [
            *PROMOTION_RULES,
            {"apiGroups": ["kargo.akuity.io"], "resources": ["stages"], "verbs": ["promote"]},
        ],
    )

    # Nothing has been verified in prod yet: uat cannot take the Freight.
    unavailable = _create(kube, "alice", _promotion(ns, "uat", fname))
    assert unavailable.returncode != 0
    assert "spec.freight" in unavailable.stderr
    assert "has not been verified" in unavailable.stderr, unavailable.stderr
    assert "'prod'" in unavailable.stderr

    refused = _create(kube, "bob", _promotion(ns, "prod", fname))
    assert refused.returncode != 0
    assert '"promote" verb' in refused.stderr, refused.stderr
    assert "stages/prod" in refused.stderr

    created = _create(kube, "alice", _promotion(ns, "prod", fname))
    assert created.returncode == 0, created.stderr
    promotion = json.loads(created.stdout)
    assert re.fullmatch(rf"prod\.[0-9a-z]{{26}}\.{fname[:7]}", promotion["metadata"]["name"])
    assert (
        promotion["metadata"]["annotations"]["kargo.akuity.io/create-actor"] == "kubernetes:alice"
    )
    assert promotion["spec"]["steps"][0]["as"] == "out"
    assert promotion["metadata"]["ownerReferences"][0]["name"] == "prod"

    generated = _promotion(ns, "prod", fname)
    generated["metadata"] = {"generateName": "promo-", "namespace": ns}
    created = _create(kube, "alice", generated)
    assert created.returncode == 0, created.stderr
    assert json.loads(created.stdout)["metadata"]["name"].startswith("prod.")

    # Approving Freight for a Stage is promoting it: bob may not, alice may.
    approve = json.dumps({"status": {"approvedFor": {"uat": {}}}})
    patch = ("patch", "freight", fname, "-n", ns, "--subresource=status", "--type=merge", "-p")
    refused = _as(kube, "bob", *patch, approve)
    assert refused.returncode != 0
    assert '"promote" verb' in refused.stderr, refused.stderr
    assert "stages/uat" in refused.stderr
    assert _as(kube, "alice", *patch, approve).returncode == 0
    assert _create(kube, "alice", _promotion(ns, "uat", fname)).returncode == 0


def _watch_events(stream: str) -> list[tuple[str, str]]:
    decoder, events, pos = json.JSONDecoder(), [], 0
    while True:
        while pos < len(stream) and stream[pos].isspace():
            pos += 1
        if pos >= len(stream):
            return events
        event, pos = decoder.raw_decode(stream, pos)
        events.append((event["type"], event["object"]["metadata"]["name"]))


def test_hand_named_freight_is_created_under_its_id(
    kube: Cluster, project: tuple[str, OperatorProcess]
) -> None:
    ns, operator = project
    kube.kubectl("create", "-f", "-", stdin=json.dumps(_stage(ns, "prod", {"direct": True})))
    watch = subprocess.Popen(
        [
            str(kube.bin_dir / "kubectl"),
            f"--kubeconfig={kube.kubeconfig_path}",
            "get",
            "freights",
            "-n",
            ns,
            "--watch-only",
            "--output-watch-events",
            "-o",
            "json",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        created = json.loads(
            kube.kubectl(
                "create", "-o", "json", "-f", "-", stdin=json.dumps(_freight(ns, "my-release"))
            ).stdout
        )
        name, alias = created["metadata"]["name"], created["alias"]
        assert re.fullmatch(r"[0-9a-f]{40}", name)
        assert created["metadata"]["labels"]["kargo.akuity.io/alias"] == alias
        # The operator runs a Promotion of it, so it has seen the Freight by the end.
        _promotion_done = kube.kubectl(
            "create", "-o", "json", "-f", "-", stdin=json.dumps(_promotion(ns, "prod", name))
        )
        promo = json.loads(_promotion_done.stdout)["metadata"]["name"]

        def finished() -> bool:
            out = kube.kubectl(
                "get", "promotion", promo, "-n", ns, "-o", "jsonpath={.status.phase}"
            )
            return out.stdout in ("Succeeded", "Failed", "Errored")

        wait_for(finished, timeout=60, what="the Promotion to finish", details=operator.log)

        def in_prod() -> bool:
            out = kube.kubectl("get", "stage", "prod", "-n", ns, "-o", "json")
            return json.loads(out.stdout).get("status", {}).get("freightSummary") == name

        wait_for(in_prod, timeout=60, what="prod to hold the Freight", details=operator.log)
        in_use = kube.kubectl("delete", "freight", name, "-n", ns, check=False)
        assert in_use.returncode != 0
        assert 'freight is in-use by stages ("prod")' in in_use.stderr, in_use.stderr
        taken = _freight(ns, "another", tag="v2")
        taken["alias"] = alias
        refused = kube.kubectl("create", "-f", "-", stdin=json.dumps(taken), check=False)
        assert refused.returncode != 0
        assert "alias already used" in refused.stderr, refused.stderr
    finally:
        watch.terminate()
        output, _ = watch.communicate(timeout=10)
    assert _watch_events(output)[:1] == [("ADDED", name)]
    assert ("DELETED", name) not in _watch_events(output)
    assert not [e for e in _watch_events(output) if e[1] != name]


def test_a_stopped_webhook_server_blocks_only_kargo_kinds_in_its_namespaces(
    kube: Cluster, project: tuple[str, OperatorProcess]
) -> None:
    ns, operator = project
    operator.kill()  # kill -9: the webhook configurations stay, nothing answers them
    assert (
        kube.kubectl("get", "mutatingwebhookconfiguration", operator.webhook_name).returncode == 0
    )
    # Reads never go through admission.
    assert kube.kubectl("get", "warehouses,freights,promotions", "-n", ns).returncode == 0
    # Kargo objects in the served namespace are refused (failurePolicy: Fail) ...
    refused = kube.kubectl("create", "-f", "-", stdin=json.dumps(_freight(ns, "x")), check=False)
    assert refused.returncode != 0
    assert "failed calling webhook" in refused.stderr, refused.stderr
    # ... everything else is not: other kinds there, any kind elsewhere.
    kube.kubectl("create", "configmap", "still-works", "-n", ns)
    other = f"other-{secrets.token_hex(4)}"
    kube.kubectl("create", "namespace", other)
    try:
        kube.kubectl("create", "configmap", "fine", "-n", other)
        kube.kubectl("create", "-f", "-", stdin=json.dumps(_warehouse(other)))
    finally:
        kube.kubectl("delete", "namespace", other, "--wait=false")
    # A restart serves again (new port, new certificate, same configurations).
    operator.start()

    def admitted() -> bool:
        out = kube.kubectl(
            "create", "-o", "json", "-f", "-", stdin=json.dumps(_freight(ns, "x")), check=False
        )
        return out.returncode == 0 and json.loads(out.stdout)["metadata"]["name"] != "x"

    wait_for(admitted, timeout=60, what="the restarted webhooks to answer", details=operator.log)


def test_invalid_pipelines_are_refused_with_the_field_named(
    kube: Cluster, project: tuple[str, OperatorProcess]
) -> None:
    ns, _ = project

    def refused(body: dict[str, Any]) -> str:
        out = kube.kubectl("create", "-f", "-", stdin=json.dumps(body), check=False)
        assert out.returncode != 0, f"{body['kind']} was admitted"
        return out.stderr

    steps = [
        {"uses": "compose-output", "as": "step-1"},
        {"uses": "compose-output", "as": "a"},
        {"uses": "compose-output", "as": "a"},
    ]
    message = refused(_stage(ns, "bad", {"direct": True}, steps))
    assert 'spec.promotionTemplate.spec.steps[0].as: step alias "step-1" is reserved' in message
    assert (
        "spec.promotionTemplate.spec.steps[2].as: step alias duplicates that of steps[1]" in message
    )

    task = {
        "apiVersion": GROUP,
        "kind": "PromotionTask",
        "metadata": {"name": "t", "namespace": ns},
        "spec": {"steps": [{"uses": "compose-output", "as": "task-3"}]},
    }
    assert 'spec.steps[0].as: step alias "task-3" is reserved' in refused(task)

    twice = _stage(ns, "twice", {"direct": True})
    twice["spec"]["requestedFreight"] *= 2
    assert "requested multiple times" in refused(twice)

    warehouse = _warehouse(ns)
    warehouse["metadata"]["name"] = "dup"
    warehouse["spec"]["subscriptions"] = [
        {"image": {"repoURL": IMAGE}},
        {"image": {"repoURL": IMAGE.upper()}},
    ]
    assert "spec.subscriptions[1].image" in refused(warehouse)

    stray = _freight(ns, "stray")
    stray["images"][0]["repoURL"] = "registry.example.com/other"
    message = refused(stray)
    assert "no subscription found for image repository" in message
    assert f"no artifact found for image repository '{IMAGE}'" in message

    config = {
        "apiVersion": GROUP,
        "kind": "ProjectConfig",
        "metadata": {"name": ns, "namespace": ns},
        "spec": {
            "promotionPolicies": [
                {"stage": "a", "autoPromotionEnabled": True},
                {"stageSelector": {"name": "a"}},
            ]
        },
    }
    assert "spec.promotionPolicies[1]: Invalid value" in refused(config)
