"""The generated CRDs on a real API server: accepted, printed, defaulted and enforced."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from shunter._internal.yamlio import load_manifests
from shunter.api.v1alpha1 import ALL_KINDS
from shunter_devenv.cluster import Cluster
from shunter_devenv.seed import render_seed

ROOT = Path(__file__).resolve().parents[2]
INVALID_DIR = ROOT / "tests" / "data" / "manifests" / "invalid"
VALID_DIR = ROOT / "tests" / "data" / "manifests" / "valid"
LOCAL_REGISTRY = "127.0.0.1:5000"
LOCAL_GIT = "http://127.0.0.1:8080"


def _is_subset(applied: Any, stored: Any, path: str = "") -> list[str]:
    """Where ``applied`` is not contained in ``stored`` (stored may add defaults)."""
    if isinstance(applied, dict):
        if not isinstance(stored, dict):
            return [f"{path}: {stored!r} is not a map"]
        out = []
        for key, value in applied.items():
            if key not in stored:
                out.append(f"{path}.{key}: missing")
            else:
                out += _is_subset(value, stored[key], f"{path}.{key}")
        return out
    if isinstance(applied, list):
        if not isinstance(stored, list) or len(stored) != len(applied):
            return [f"{path}: {stored!r} != {applied!r}"]
        return [p for i, v in enumerate(applied) for p in _is_subset(v, stored[i], f"{path}[{i}]")]
    return [] if applied == stored else [f"{path}: {stored!r} != {applied!r}"]


def test_every_crd_is_established(kube: Cluster) -> None:
    for kind in ALL_KINDS:
        name = f"{kind.crd.plural}.kargo.akuity.io"
        out = kube.kubectl("get", "crd", name, "-o", "json").stdout
        conditions = {c["type"]: c["status"] for c in json.loads(out)["status"]["conditions"]}
        assert conditions.get("Established") == "True", name
        assert conditions.get("NamesAccepted") == "True", name


def test_seed_applies_unchanged_and_reads_back_with_defaults(kube: Cluster) -> None:
    text = render_seed(LOCAL_REGISTRY, LOCAL_GIT)
    assert "us-east1-docker.pkg.dev" not in text
    assert "github.com" not in text
    # The Project creates its namespace in production; no operator runs in this test. The
    # label lets a Project adopt it (and the admission webhooks of a later test accept it).
    kube.kubectl("create", "namespace", "sandbox-example", check=False)
    kube.kubectl("label", "namespace", "sandbox-example", "kargo.akuity.io/project=true")
    kube.apply(text, server_side=False)
    for doc in load_manifests(text):
        meta = doc["metadata"]
        args = ["get", doc["kind"].lower(), meta["name"], "-o", "json"]
        if "namespace" in meta:
            args += ["-n", meta["namespace"]]
        stored = json.loads(kube.kubectl(*args).stdout)
        assert _is_subset(doc, stored) == [], doc["kind"]
        if doc["kind"] == "Warehouse":
            assert stored["spec"]["interval"] == "5m0s"
            assert stored["spec"]["freightCreationPolicy"] == "Automatic"
            image = stored["spec"]["subscriptions"][0]["image"]
            assert (
                image["repoURL"] == f"{LOCAL_REGISTRY}/container/main-containers/example-container"
            )
            assert image["discoveryLimit"] == 20
            assert image["strictSemvers"] is True
            assert image["allowTags"] == r"^\d{4}-\d{2}-\d{2}_\d{4}-\w{7}$"
        if doc["kind"] == "PromotionTask":
            assert stored["spec"]["steps"][-1]["config"]["path"] == "./src"
            assert stored["spec"]["vars"][1]["value"] == f"{LOCAL_GIT}/test/sandbox.git"


@pytest.mark.parametrize(
    ("resource", "columns"),
    [
        ("stages", ["NAME", "SHARD", "CURRENT FREIGHT", "HEALTH", "READY", "STATUS", "AGE"]),
        ("promotions", ["NAME", "SHARD", "STAGE", "FREIGHT", "PHASE", "AGE"]),
        ("freights", ["NAME", "ALIAS", "ORIGIN (KIND)", "ORIGIN (NAME)", "AGE"]),
        ("warehouses", ["NAME", "SHARD", "AGE"]),
        ("projects", ["NAME", "READY", "STATUS", "AGE"]),
        ("projectconfigs", ["NAME", "READY", "STATUS", "AGE"]),
        ("clusterconfigs", ["NAME", "READY", "STATUS", "AGE"]),
        ("promotiontasks", ["NAME", "AGE"]),
        ("clusterpromotiontasks", ["NAME", "AGE"]),
    ],
)
def test_printer_columns(kube: Cluster, resource: str, columns: list[str]) -> None:
    if _needs_fixtures(kube):
        kube.apply(VALID_DIR, server_side=False)
    out = kube.kubectl("get", resource, "-A").stdout
    header = [c for c in re.split(r"\s{2,}", out.splitlines()[0].strip()) if c != "NAMESPACE"]
    assert header == columns


def _needs_fixtures(kube: Cluster) -> bool:
    """Create the fixture namespace once so every kind has an object to print."""
    done = kube.kubectl("get", "namespace", "kargo-demo", check=False).returncode == 0
    if not done:
        kube.kubectl("create", "namespace", "kargo-demo")
    return not done


def test_valid_fixtures_are_accepted(kube: Cluster) -> None:
    _needs_fixtures(kube)
    out = kube.apply(VALID_DIR, server_side=False).stdout
    assert out.count("kargo.akuity.io/") == len(load_manifests_dir(VALID_DIR))


def load_manifests_dir(folder: Path) -> list[dict[str, Any]]:
    return [d for p in sorted(folder.glob("*.yaml")) for d in load_manifests(p.read_text())]


def _expectations(path: Path) -> list[str]:
    return [
        line.removeprefix("# expect: ").strip()
        for line in path.read_text().splitlines()
        if line.startswith("# expect: ")
    ]


INVALID = sorted(INVALID_DIR.glob("*.yaml"))


def test_at_least_fifteen_invalid_manifests() -> None:
    assert len(INVALID) >= 15
    assert all(_expectations(p) for p in INVALID)


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.stem)
def test_invalid_manifest_is_rejected_naming_the_field(
    kube: Cluster, namespace: str, path: Path
) -> None:
    text = path.read_text().replace("NAMESPACE", namespace)
    result = kube.kubectl("apply", "-n", namespace, "-f", "-", stdin=text, check=False)
    assert result.returncode != 0, f"{path.name} was accepted"
    message = result.stderr + result.stdout
    for expected in _expectations(path):
        assert expected in message, f"{expected!r} not in {message!r}"


def test_freight_artifacts_are_immutable(kube: Cluster, namespace: str) -> None:
    kube.apply(
        f"""
apiVersion: kargo.akuity.io/v1alpha1
kind: Freight
metadata: {{name: f1, namespace: {namespace}}}
origin: {{kind: Warehouse, name: w}}
images: [{{repoURL: nginx, tag: "1.0", digest: "sha256:aa"}}]
""",
        server_side=False,
    )
    result = kube.kubectl(
        "patch",
        "freight",
        "f1",
        "-n",
        namespace,
        "--type=merge",
        "-p",
        '{"images":[{"repoURL":"nginx","tag":"2.0","digest":"sha256:bb"}]}',
        check=False,
    )
    assert result.returncode != 0
    assert "images is immutable" in result.stderr
    ok = kube.kubectl(
        "patch", "freight", "f1", "-n", namespace, "--type=merge", "-p", '{"alias":"new-alias"}'
    )
    assert ok.returncode == 0


def test_promotion_stage_immutable_but_steps_fill_once(kube: Cluster, namespace: str) -> None:
    kube.apply(
        f"""
apiVersion: kargo.akuity.io/v1alpha1
kind: Promotion
metadata: {{name: p1, namespace: {namespace}}}
spec: {{stage: prod, freight: abc}}
""",
        server_side=False,
    )
    steps = '{"spec":{"steps":[{"uses":"git-clone","config":{"repoURL":"x"}}]}}'
    kube.kubectl("patch", "promotion", "p1", "-n", namespace, "--type=merge", "-p", steps)
    again = '{"spec":{"steps":[{"uses":"git-push"}]}}'
    result = kube.kubectl(
        "patch", "promotion", "p1", "-n", namespace, "--type=merge", "-p", again, check=False
    )
    assert "steps are immutable once set" in result.stderr
    result = kube.kubectl(
        "patch",
        "promotion",
        "p1",
        "-n",
        namespace,
        "--type=merge",
        "-p",
        '{"spec":{"stage":"other"}}',
        check=False,
    )
    assert "stage is immutable" in result.stderr
