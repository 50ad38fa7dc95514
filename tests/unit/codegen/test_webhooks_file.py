"""The chart's webhook list is generated from the admission catalogue and must be current."""

from __future__ import annotations

from pathlib import Path

import yaml

from shunter.admission.webhooks import WEBHOOKS
from shunter.codegen.webhooks import DEFAULT_OUTPUT, render

ROOT = Path(__file__).resolve().parents[3]


def test_the_chart_copy_is_current() -> None:
    assert (ROOT / DEFAULT_OUTPUT).read_text(encoding="utf-8") == render(), (
        "run `make crds` to regenerate charts/shunter/files/webhooks.yaml"
    )


def test_every_webhook_is_listed_once_with_kargos_path() -> None:
    lists = yaml.safe_load(render())
    listed = [(h["name"], h["path"]) for h in lists["mutating"] + lists["validating"]]
    assert len(listed) == len(set(listed)) == len(WEBHOOKS)
    assert ("promotion.kargo.akuity.io", "/mutate-kargo-akuity-io-v1alpha1-promotion") in listed
    assert ("freight.kargo.akuity.io", "/validate-kargo-akuity-io-v1alpha1-freight") in listed
    freight = next(h for h in lists["validating"] if h["name"] == "freight.kargo.akuity.io")
    assert freight["rules"][0]["resources"] == ["freights", "freights/status"]
    assert freight["rules"][0]["operations"] == ["CREATE", "UPDATE", "DELETE"]
