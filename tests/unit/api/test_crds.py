"""The generated CRDs are current, structural and carry Kargo's names, columns and rules."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from shunter._internal.yamlio import load_manifests
from shunter.api.v1alpha1 import ALL_KINDS
from shunter.codegen.apidocs import render_api_reference
from shunter.codegen.crds import build_crd, render_all

ROOT = Path(__file__).resolve().parents[3]
CRD_DIR = ROOT / "crds"


def test_crds_folder_is_current() -> None:
    expected = render_all()
    on_disk = {p.name: p.read_text() for p in CRD_DIR.glob("*.yaml")}
    stale = sorted(n for n in expected if on_disk.get(n) != expected[n])
    extra = sorted(set(on_disk) - set(expected))
    assert not stale, f"crds/ is stale ({stale}): run `make crds`"
    assert not extra, f"crds/ has files the models do not generate ({extra}): run `make crds`"


def test_api_reference_is_current() -> None:
    page = (ROOT / "docs" / "reference" / "api.md").read_text()
    assert page == render_api_reference(), "docs/reference/api.md is stale: run `make crds`"


def _walk(node: dict[str, Any], path: str) -> list[str]:
    problems = []
    if "$ref" in node or "anyOf" in node or "allOf" in node or "$defs" in node:
        problems.append(f"{path}: not structural ({sorted(node)})")
    typed = "type" in node or node.get("x-kubernetes-preserve-unknown-fields")
    if not typed:
        problems.append(f"{path}: no type")
    if node.get("additionalProperties") is False:
        problems.append(f"{path}: additionalProperties false")
    for key, child in (node.get("properties") or {}).items():
        problems += _walk(child, f"{path}.{key}")
    if isinstance(node.get("items"), dict):
        problems += _walk(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        problems += _walk(node["additionalProperties"], f"{path}{{}}")
    return problems


@pytest.mark.parametrize("kind", ALL_KINDS, ids=lambda k: k.crd.kind)
def test_schema_is_structural(kind: Any) -> None:
    schema = build_crd(kind)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    assert _walk(schema, kind.crd.kind) == []


def _columns(kind_name: str) -> list[str]:
    (doc,) = load_manifests((CRD_DIR / f"kargo.akuity.io_{kind_name}.yaml").read_text())
    return [c["name"] for c in doc["spec"]["versions"][0].get("additionalPrinterColumns", [])]


def test_printer_columns_match_kargo() -> None:
    assert _columns("stages") == [
        "Shard",
        "Current Freight",
        "Health",
        "Ready",
        "Status",
        "Age",
    ]
    assert _columns("promotions") == ["Shard", "Stage", "Freight", "Phase", "Age"]
    assert _columns("freights") == ["Alias", "Origin (Kind)", "Origin (Name)", "Age"]
    assert _columns("warehouses") == ["Shard", "Age"]
    assert _columns("projects") == ["Ready", "Status", "Age"]


def test_scopes_short_names_and_subresources() -> None:
    crds = {k.crd.kind: build_crd(k) for k in ALL_KINDS}
    assert crds["Project"]["spec"]["scope"] == "Cluster"
    assert crds["ClusterPromotionTask"]["spec"]["scope"] == "Cluster"
    assert crds["Stage"]["spec"]["scope"] == "Namespaced"
    assert crds["Promotion"]["spec"]["names"]["shortNames"] == ["promo", "promos"]
    assert crds["PromotionTask"]["spec"]["names"]["shortNames"] == ["promotask", "promotasks"]
    assert "subresources" not in crds["PromotionTask"]["spec"]["versions"][0]
    assert crds["Stage"]["spec"]["versions"][0]["subresources"] == {"status": {}}


def test_step_config_stays_free_form() -> None:
    crd = build_crd(next(k for k in ALL_KINDS if k.crd.kind == "Stage"))
    steps = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"][
        "properties"
    ]["promotionTemplate"]["properties"]["spec"]["properties"]["steps"]
    config = steps["items"]["properties"]["config"]
    assert config == {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    rules = [r["rule"] for r in steps["items"]["x-kubernetes-validations"]]
    assert "has(self.uses) ? !has(self.task) : has(self.task)" in rules
