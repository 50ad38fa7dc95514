"""The AnalysisRun Kargo creates, its name and labels; the generated Rollouts CRDs are current."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from shunter._internal.yamlio import load_manifests
from shunter.api.v1alpha1.stage import Verification
from shunter.codegen.rollouts_crds import render_all
from shunter.verification.analysisrun import (
    analysis_run_name,
    build_analysis_run,
    new_ulid,
    shorten_label_value,
)
from shunter.verification.controller import merge_patch_diff
from shunter.verification.crds import is_shunter_crd, rollouts_crds
from shunter.verification.templates import TemplateError

ROOT = Path(__file__).resolve().parents[3]
CRD_DIR = ROOT / "crds" / "rollouts"
CROCKFORD = set("0123456789ABCDEFGHJKMNPQRSTVWXYZ")


def test_ulids_sort_by_time_and_use_crockford_base32() -> None:
    ulids = [new_ulid() for _ in range(3)]
    assert all(len(u) == 26 and set(u) <= CROCKFORD for u in ulids)
    assert ulids[0][:8] <= ulids[-1][:8]  # time prefix


def test_analysis_run_name() -> None:
    assert analysis_run_name("Test", "ABC123", "01HZX") == "test.01hzx.abc123"
    name = analysis_run_name("uat", "f00d")
    assert name.startswith("uat.")
    assert name.endswith(".f00d")
    assert len(name.split(".")[1]) == 26


def test_shorten_label_value_like_kargo() -> None:
    assert shorten_label_value("short") == "short"
    long = "a" * 54 + "-" + "b" * 20
    digest = hashlib.sha256(long.encode()).hexdigest()[:8]
    assert shorten_label_value(long) == "a" * 54 + "-" + digest  # trailing dash trimmed
    assert len(shorten_label_value("x" * 100)) == 63


def verification(**fields: Any) -> Verification:
    return Verification.model_validate(
        {"analysisTemplates": [{"name": "smoke"}], **fields}, by_alias=True
    )


SPEC = {
    "args": [{"name": "url"}, {"name": "expected", "value": "ok"}],
    "metrics": [{"name": "smoke", "provider": {"web": {"url": "{{args.url}}"}}}],
}


def test_build_analysis_run() -> None:
    run = build_analysis_run(
        namespace="demo",
        stage="test",
        collection_id="c0ffee",
        verification=verification(
            analysisRunMetadata={"labels": {"team": "a"}, "annotations": {"note": "n"}}
        ),
        template_specs=[SPEC],
        args={"url": "http://svc/health", "unknown": "x"},
        promotion="test.01abc.f00d",
        owners=[{"apiVersion": "kargo.akuity.io/v1alpha1", "kind": "Freight", "name": "f"}],
        name="test.01abc.c0ffee",
        controller_instance_id="blue",
    )
    assert run == {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AnalysisRun",
        "metadata": {
            "name": "test.01abc.c0ffee",
            "namespace": "demo",
            "labels": {
                "team": "a",
                "kargo.akuity.io/stage": "test",
                "kargo.akuity.io/freight-collection": "c0ffee",
                "argo-rollouts.argoproj.io/controller-instance-id": "blue",
            },
            "annotations": {"note": "n", "kargo.akuity.io/promotion": "test.01abc.f00d"},
            "ownerReferences": [
                {"apiVersion": "kargo.akuity.io/v1alpha1", "kind": "Freight", "name": "f"}
            ],
        },
        "spec": {
            "metrics": SPEC["metrics"],
            "args": [
                {"name": "url", "value": "http://svc/health"},
                {"name": "expected", "value": "ok"},
            ],
        },
    }


def test_long_stage_names_are_shortened_in_the_label_and_kept_in_an_annotation() -> None:
    stage = "s" * 70
    run = build_analysis_run(
        namespace="demo",
        stage=stage,
        collection_id="c",
        verification=verification(),
        template_specs=[SPEC],
        args={"url": "u"},
    )
    assert run["metadata"]["labels"]["kargo.akuity.io/stage"] == shorten_label_value(stage)
    assert run["metadata"]["annotations"] == {"kargo.akuity.io/stage": stage}
    assert run["metadata"]["name"].startswith(stage + ".")


def test_build_fails_on_unresolved_args() -> None:
    with pytest.raises(TemplateError, match="unresolved argument 'url'"):
        build_analysis_run(
            namespace="demo",
            stage="s",
            collection_id="c",
            verification=verification(),
            template_specs=[SPEC],
            args={},
        )


def test_merge_patch_diff() -> None:
    old = {"phase": "Running", "message": "m", "runSummary": {"count": 1, "error": 1}}
    new = {"phase": "Successful", "runSummary": {"count": 1, "successful": 1}}
    assert merge_patch_diff(old, new) == {
        "phase": "Successful",
        "message": None,
        "runSummary": {"error": None, "successful": 1},
    }
    assert merge_patch_diff(None, new) == new


def test_rollouts_crds_folder_is_current() -> None:
    expected = render_all()
    on_disk = {p.name: p.read_text() for p in CRD_DIR.glob("*.yaml")}
    assert on_disk == expected, (
        "crds/rollouts is stale: run python -m shunter.codegen.rollouts_crds"
    )


def test_rollouts_crds_match_argo_rollouts_names() -> None:
    crds = {crd["spec"]["names"]["kind"]: crd for crd in rollouts_crds()}
    expected = {
        "AnalysisTemplate": ("analysistemplates", ["at"], "Namespaced"),
        "ClusterAnalysisTemplate": ("clusteranalysistemplates", ["cat"], "Cluster"),
        "AnalysisRun": ("analysisruns", ["ar"], "Namespaced"),
    }
    for kind, (plural, short, scope) in expected.items():
        crd = crds[kind]
        assert crd["metadata"]["name"] == f"{plural}.argoproj.io"
        assert crd["spec"]["group"] == "argoproj.io"
        assert crd["spec"]["names"]["plural"] == plural
        assert crd["spec"]["names"]["shortNames"] == short
        assert crd["spec"]["names"]["singular"] == kind.lower()
        assert crd["spec"]["scope"] == scope
        (version,) = crd["spec"]["versions"]
        assert version["name"] == "v1alpha1"
        assert version["subresources"] == {}  # like Rollouts: status is written with the object
        props = version["schema"]["openAPIV3Schema"]["properties"]
        assert props["spec"]["x-kubernetes-preserve-unknown-fields"] is True
        assert is_shunter_crd(crd)
    run_version = crds["AnalysisRun"]["spec"]["versions"][0]
    assert [c["name"] for c in run_version["additionalPrinterColumns"]] == ["Status", "Age"]
    assert run_version["schema"]["openAPIV3Schema"]["properties"]["status"][
        "x-kubernetes-preserve-unknown-fields"
    ]
    assert not is_shunter_crd({"metadata": {"name": "analysisruns.argoproj.io"}})


def test_generated_files_parse_back_to_the_definitions() -> None:
    files = render_all()
    parsed = {name: load_manifests(text)[0] for name, text in files.items()}
    assert sorted(parsed) == [
        "argoproj.io_analysisruns.yaml",
        "argoproj.io_analysistemplates.yaml",
        "argoproj.io_clusteranalysistemplates.yaml",
    ]
    assert sorted(parsed.values(), key=lambda d: d["metadata"]["name"]) == sorted(
        rollouts_crds(), key=lambda d: d["metadata"]["name"]
    )
