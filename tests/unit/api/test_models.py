"""Every example and fixture manifest parses into the models and serializes back unchanged."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from shunter._internal.yamlio import load_manifest_files, load_manifests
from shunter.api.v1alpha1 import (
    ALL_KINDS,
    Freight,
    Project,
    Stage,
    Warehouse,
    parse_object,
    to_wire,
)
from shunter.api.v1alpha1.warehouse import ImageSelectionStrategy

ROOT = Path(__file__).resolve().parents[3]
MANIFEST_DIRS = [
    ROOT / "examples",
    ROOT / "tests" / "data" / "manifests" / "valid",
]


def _all_manifests() -> list[tuple[str, dict[str, Any]]]:
    out = []
    for base in MANIFEST_DIRS:
        for path in sorted(base.rglob("*.yaml")):
            for i, doc in enumerate(load_manifests(path.read_text())):
                if str(doc.get("apiVersion", "")).startswith("kargo.akuity.io/"):
                    out.append((f"{path.relative_to(ROOT)}#{i}", doc))
    return out


MANIFESTS = _all_manifests()


def test_fixture_set_covers_every_kind() -> None:
    kinds = {doc["kind"] for _, doc in MANIFESTS}
    assert kinds == {k.crd.kind for k in ALL_KINDS}


@pytest.mark.parametrize(("name", "doc"), MANIFESTS, ids=[n for n, _ in MANIFESTS])
def test_round_trip_unchanged(name: str, doc: dict[str, Any]) -> None:
    model = parse_object(doc)
    assert to_wire(model, exclude_unset=True) == doc


def test_seed_manifests_parse_with_trailing_tabs() -> None:
    docs = load_manifest_files(ROOT / "examples" / "seed")
    kinds = [d["kind"] for d in docs]
    assert kinds == ["Project", "Warehouse", "PromotionTask", "Stage", "Stage"]
    task = docs[2]
    assert task["spec"]["steps"][-1]["config"]["path"] == "./src"


def test_seed_legacy_forms_are_typed() -> None:
    docs = load_manifest_files(ROOT / "examples" / "seed")
    project = Project.model_validate(docs[0])
    assert project.spec is not None
    policies = project.spec.promotion_policies or []
    assert [(p.stage, p.auto_promotion_enabled) for p in policies] == [
        ("preprod", True),
        ("prod", False),
    ]
    warehouse = Warehouse.model_validate(docs[1])
    image = warehouse.spec.subscriptions[0].image
    assert image is not None
    assert image.allow_tags == r"^\d{4}-\d{2}-\d{2}_\d{4}-\w{7}$"
    assert image.image_selection_strategy is ImageSelectionStrategy.LEXICAL


def test_defaults_match_kargo() -> None:
    warehouse = Warehouse.model_validate(
        {"kind": "Warehouse", "spec": {"subscriptions": [{"image": {"repoURL": "nginx"}}]}}
    )
    assert warehouse.spec.interval == "5m0s"
    assert warehouse.spec.freight_creation_policy.value == "Automatic"
    image = warehouse.spec.subscriptions[0].image
    assert image is not None
    assert image.image_selection_strategy is ImageSelectionStrategy.SEMVER
    assert image.strict_semvers is True
    assert image.discovery_limit == 20
    wire = to_wire(warehouse)
    assert wire["spec"]["subscriptions"][0]["image"]["repoURL"] == "nginx"
    assert wire["apiVersion"] == "kargo.akuity.io/v1alpha1"


def test_camel_case_names_that_are_not_plain_camel_case() -> None:
    doc = {
        "kind": "Warehouse",
        "spec": {
            "subscriptions": [
                {"git": {"repoURL": "https://x/y.git", "insecureSkipTLSVerify": True}}
            ]
        },
        "status": {"lastFreightID": "abc"},
    }
    wire = to_wire(Warehouse.model_validate(doc), exclude_unset=True)
    assert wire["spec"]["subscriptions"][0]["git"]["insecureSkipTLSVerify"] is True
    assert wire["status"]["lastFreightID"] == "abc"


def test_step_keywords_as_and_if() -> None:
    stage = Stage.model_validate(
        {
            "kind": "Stage",
            "spec": {
                "requestedFreight": [
                    {"origin": {"kind": "Warehouse", "name": "w"}, "sources": {"direct": True}}
                ],
                "promotionTemplate": {
                    "spec": {"steps": [{"uses": "git-clone", "as": "clone", "if": "${{ true }}"}]}
                },
            },
        }
    )
    template = stage.spec.promotion_template
    assert template is not None
    steps = template.spec.steps or []
    assert steps[0].as_ == "clone"
    assert steps[0].if_ == "${{ true }}"


def test_unknown_field_is_refused_with_its_name() -> None:
    with pytest.raises(ValidationError, match="tagRegex"):
        Warehouse.model_validate(
            {
                "kind": "Warehouse",
                "spec": {"subscriptions": [{"image": {"repoURL": "nginx", "tagRegex": "x"}}]},
            }
        )


def test_freight_timestamps_round_trip() -> None:
    doc = {
        "apiVersion": "kargo.akuity.io/v1alpha1",
        "kind": "Freight",
        "metadata": {"name": "abc"},
        "discoveredAt": "2026-01-02T03:04:05Z",
        "origin": {"kind": "Warehouse", "name": "w"},
        "images": [{"repoURL": "nginx", "tag": "1", "digest": "sha256:aa"}],
        "status": {"verifiedIn": {"test": {"verifiedAt": "2026-01-02T03:04:05Z"}}},
    }
    assert to_wire(Freight.model_validate(doc), exclude_unset=True) == doc


def test_parse_object_refuses_foreign_kinds() -> None:
    with pytest.raises(ValueError, match=r"not a kargo\.akuity\.io/v1alpha1 kind"):
        parse_object({"kind": "ConfigMap"})
