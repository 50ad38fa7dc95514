"""The seed pipeline end to end, with the operator as a separate process.

Real kube-apiserver, real OCI registry (htpasswd), real git server (Basic auth). The seed's
manifests are applied as they are, URLs substituted (see examples/seed/README.md).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from shunter.cli import main
from shunter_devenv.cluster import Cluster
from shunter_devenv.seed import SEED_IMAGE_PATH
from shunter_devenv.seedpipeline import SEED_NAMESPACE as NS
from shunter_devenv.seedpipeline import SEED_REPO as REPO
from shunter_devenv.seedpipeline import SeedPipeline as Seed
from shunter_devenv.seedpipeline import seed_pipeline
from shunter_devenv.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]
VALUES = (ROOT / "tests" / "data" / "values" / "realistic-values.yaml").read_text()


@pytest.fixture(scope="module")
def seed(kube: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seed]:
    with seed_pipeline(kube, tmp_path_factory.mktemp("seed"), VALUES) as pipeline:
        yield pipeline


def test_seed_manifests_read_back_unchanged(seed: Seed) -> None:
    warehouse = seed.get("warehouse", "example-container")
    image = warehouse["spec"]["subscriptions"][0]["image"]
    assert image["allowTags"] == r"^\d{4}-\d{2}-\d{2}_\d{4}-\w{7}$"
    assert image["imageSelectionStrategy"] == "Lexical"
    project = json.loads(seed.kube.kubectl("get", "project", NS, "-o", "json").stdout)
    assert project["spec"]["promotionPolicies"][0] == {
        "stage": "preprod",
        "autoPromotionEnabled": True,
    }
    wait_for(
        lambda: (
            json.loads(seed.kube.kubectl("get", "project", NS, "-o", "json").stdout)
            .get("status", {})
            .get("conditions")
        ),
        what="the Project's conditions",
    )


def test_first_freight_is_the_only_matching_tag_and_reaches_preprod(seed: Seed) -> None:
    freight = wait_for(
        lambda: seed.freight_for_tag("2026-11-01_0900-1111111"),
        what="Freight for the matching tag",
        details=seed.diagnostics,
    )
    assert freight["metadata"]["labels"]["kargo.akuity.io/alias"] == freight["alias"]
    assert seed.freight_for_tag("latest") is None
    assert seed.freight_for_tag("v1.2.3") is None
    wait_for(
        lambda: seed.current_freight("preprod") == freight["metadata"]["name"],
        what="preprod to hold the first Freight",
        details=seed.diagnostics,
    )


def test_new_tag_is_promoted_to_preprod_only(seed: Seed) -> None:
    before_prod = seed.git.read_file(REPO, "master", "prod/values.yaml")
    before = seed.git.read_file(REPO, "master", "preprod/values.yaml")
    tag = "2026-11-26_1200-abc1234"
    seed.push(tag, datetime.now(UTC))
    seed.refresh_warehouse()
    freight = wait_for(lambda: seed.freight_for_tag(tag), what="Freight", details=seed.diagnostics)
    name = freight["metadata"]["name"]
    wait_for(
        lambda: seed.current_freight("preprod") == name,
        what="preprod promoted",
        details=seed.diagnostics,
    )
    after = seed.git.read_file(REPO, "master", "preprod/values.yaml")
    changed = [
        (a, b)
        for a, b in zip(before.decode().splitlines(), after.decode().splitlines(), strict=True)
        if a != b
    ]
    assert len(changed) == 1
    assert changed[0][1].strip() == f"lmsImageTag: {tag}"
    assert seed.git.read_file(REPO, "master", "prod/values.yaml") == before_prod
    promo = next(p for p in seed.promotions("preprod") if p["spec"]["freight"] == name)
    assert promo["metadata"]["name"].startswith("preprod.")
    assert promo["metadata"]["name"].endswith("." + name[:7])
    assert promo["status"]["phase"] == "Succeeded"
    stage = seed.get("stage", "preprod")
    conditions = {c["type"]: c["status"] for c in stage["status"]["conditions"]}
    assert conditions["Ready"] == "True"
    verified = seed.get("freight", name)["status"]["verifiedIn"]
    assert "preprod" in verified
    assert seed.current_freight("prod") is None


def _create_promotion(
    seed: Seed, name: str, stage: str, freight: str
) -> subprocess.CompletedProcess[str]:
    """``kubectl create`` a Promotion named ``name``; the admission webhook renames it
    (``<stage>.<ulid>.<freight[:7]>``) or refuses it."""
    body = {
        "apiVersion": "kargo.akuity.io/v1alpha1",
        "kind": "Promotion",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"stage": stage, "freight": freight},
    }
    return seed.kube.kubectl("create", "-o", "json", "-f", "-", stdin=json.dumps(body), check=False)


def _phase(seed: Seed, name: str) -> str | None:
    promo = seed.get("promotion", name)
    phase: str | None = promo.get("status", {}).get("phase")
    return phase if phase in ("Succeeded", "Failed", "Errored", "Aborted") else None


def _by_alias(seed: Seed, alias: str) -> dict[str, Any] | None:
    for f in seed.get("freight")["items"]:
        if f.get("alias") == alias and f["metadata"]["name"] != "hand-made-old":
            return dict(f)
    return None


def test_freight_made_by_hand_gets_its_freight_id_as_name(seed: Seed) -> None:
    seed.kube.apply(
        json.dumps(
            {
                "apiVersion": "kargo.akuity.io/v1alpha1",
                "kind": "Freight",
                "metadata": {"name": "made-by-hand", "namespace": NS},
                "discoveredAt": "2020-01-01T00:00:00Z",
                "origin": {"kind": "Warehouse", "name": "example-container"},
                "images": [
                    {
                        "repoURL": f"{seed.registry.host}/{SEED_IMAGE_PATH}",
                        "tag": "2026-09-01_0000-abcdef0",
                        "digest": "sha256:" + "cd" * 32,
                    }
                ],
            }
        ),
        server_side=False,
    )

    def renamed() -> dict[str, Any] | None:
        items = seed.get("freight")["items"]
        names = {f["metadata"]["name"] for f in items}
        for f in items:
            tags = {i.get("tag") for i in f.get("images", [])}
            if "2026-09-01_0000-abcdef0" in tags and "made-by-hand" not in names and f.get("alias"):
                return dict(f)
        return None

    freight = wait_for(renamed, what="the hand-made Freight renamed", details=seed.diagnostics)
    assert len(freight["metadata"]["name"]) == 40
    assert freight["metadata"]["labels"]["kargo.akuity.io/alias"] == freight["alias"]


def test_prod_refuses_freight_not_verified_in_preprod(seed: Seed) -> None:
    # Freight made by hand, older than what preprod holds: never auto-promoted to preprod.
    seed.add_old_freight(
        "hand-made-old", "hand-made", "2020-01-01_0000-0000001", "sha256:" + "ee" * 32
    )
    freight = wait_for(lambda: _by_alias(seed, "hand-made"), what="the renamed Freight")
    # Refused at admission, with the reason.
    refused = _create_promotion(seed, "prod-unverified", "prod", freight["metadata"]["name"])
    assert refused.returncode != 0
    message = refused.stderr
    assert "Freight is not available to Stage 'prod'" in message, message
    assert "has not been verified in any of the upstream Stages 'preprod'" in message


def test_prod_promotion_of_verified_freight_succeeds(seed: Seed) -> None:
    current = seed.current_freight("preprod")
    assert current
    before_preprod = seed.git.read_file(REPO, "master", "preprod/values.yaml")
    created = _create_promotion(seed, "prod-release", "prod", current)
    assert created.returncode == 0, created.stderr
    name = json.loads(created.stdout)["metadata"]["name"]
    assert name.startswith("prod.")
    assert name.endswith(f".{current[:7]}")
    phase = wait_for(
        lambda: _phase(seed, name), what="the prod Promotion", details=seed.diagnostics
    )
    assert phase == "Succeeded", seed.get("promotion", name)["status"]
    tag = seed.get("freight", current)["images"][0]["tag"]
    prod = seed.git.read_file(REPO, "master", "prod/values.yaml").decode()
    assert f"lmsImageTag: {tag}" in prod
    assert seed.git.read_file(REPO, "master", "preprod/values.yaml") == before_preprod
    wait_for(lambda: seed.current_freight("prod") == current, what="prod to hold the Freight")


def test_two_tags_in_quick_succession_end_on_the_newest(seed: Seed) -> None:
    now = datetime.now(UTC)
    first, second = "2026-11-27_0800-1234567", "2026-11-27_0801-89abcde"
    seed.push(first, now)
    seed.refresh_warehouse()
    wait_for(lambda: seed.freight_for_tag(first), what="first Freight", details=seed.diagnostics)
    seed.push(second, now + timedelta(minutes=1))
    seed.refresh_warehouse()
    newest = wait_for(
        lambda: seed.freight_for_tag(second), what="second Freight", details=seed.diagnostics
    )
    wait_for(
        lambda: seed.current_freight("preprod") == newest["metadata"]["name"],
        what="preprod on the newest Freight",
        details=seed.diagnostics,
    )

    def settled() -> bool:
        return all(
            p.get("status", {}).get("phase") in ("Succeeded", "Failed", "Errored", "Aborted")
            for p in seed.promotions("preprod")
        )

    wait_for(settled, what="no Pending or Running promotion", details=seed.diagnostics)
    promos = sorted(seed.promotions("preprod"), key=lambda p: p["metadata"]["name"])
    started = [p["status"].get("startedAt", "") for p in promos if p["status"].get("startedAt")]
    assert started == sorted(started), "promotions ran out of order"
    assert promos[-1]["spec"]["freight"] == newest["metadata"]["name"]
    assert (
        seed.git.read_file(REPO, "master", "preprod/values.yaml")
        .decode()
        .count(f"lmsImageTag: {second}")
        == 1
    )


# -- the release manager's command line against the running operator ------------------------


def _cli(seed: Seed, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["--kubeconfig", str(seed.kube.kubeconfig_path), *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _promote_preprods_freight_and_wait(
    seed: Seed, capsys: pytest.CaptureFixture[str], *target: str
) -> tuple[int, list[str]]:
    """``shunter promote -n NS <target> --freight <preprod's> --wait``: exit code, stdout lines."""
    current = seed.current_freight("preprod")
    assert current
    code, out, err = _cli(
        seed, capsys, "promote", "-n", NS, *target, "--freight", current,
        "--wait", "--timeout", "240",
    )  # fmt: skip
    assert code in (0, 1), f"{out}\n{err}\n{seed.diagnostics()}"
    return code, out.splitlines()


@pytest.fixture
def _no_cli_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))


@pytest.mark.usefixtures("_no_cli_settings")
def test_cli_promote_wait_follows_prod_to_success(
    seed: Seed, capsys: pytest.CaptureFixture[str]
) -> None:
    code, lines = _promote_preprods_freight_and_wait(seed, capsys, "--stage", "prod")
    assert code == 0, seed.diagnostics()
    name = lines[0].split("/", 1)[1].removesuffix(" created")
    steps = [line.split() for line in lines[1:-1]]
    assert [s[0] for s in steps] == ["1/4", "2/4", "3/4", "4/4"]
    assert [s[2] for s in steps] == ["(git-clone)", "(yaml-update)", "(git-commit)", "(git-push)"]
    assert all(s[3] == "Succeeded" for s in steps)
    assert lines[-1].startswith(f"promotion.kargo.akuity.io/{name} Succeeded after ")
    freight = seed.get("promotion", name)["spec"]["freight"]
    tag = seed.get("freight", freight)["images"][0]["tag"]
    assert f"lmsImageTag: {tag}" in seed.git.read_file(REPO, "master", "prod/values.yaml").decode()
    code, out, _ = _cli(seed, capsys, "describe", "promotion", name, "-n", NS)
    assert code == 0
    assert any(line.split() == ["Phase:", "Succeeded"] for line in out.splitlines())
    assert len(out.split("Steps:\n", 1)[1].splitlines()) == 4


@pytest.mark.usefixtures("_no_cli_settings")
def test_cli_promote_wait_exits_non_zero_when_a_promotion_fails(
    seed: Seed, capsys: pytest.CaptureFixture[str]
) -> None:
    # A second Stage downstream of preprod whose folder the GitOps repository does not have.
    qa = seed.get("stage", "prod")
    qa = {
        "apiVersion": qa["apiVersion"],
        "kind": "Stage",
        "metadata": {"name": "qa", "namespace": NS},
        "spec": qa["spec"],
    }
    qa["spec"]["promotionTemplate"]["spec"]["steps"][0]["vars"] = [
        {"name": "envPath", "value": "qa"}
    ]
    seed.kube.apply(json.dumps(qa))
    code, lines = _promote_preprods_freight_and_wait(seed, capsys, "--downstream-from", "preprod")
    assert code == 1
    created = [line.split("/", 1)[1].removesuffix(" created") for line in lines[:2]]
    assert sorted(name.split(".")[0] for name in created) == ["prod", "qa"]
    outcome = {
        line.split()[0].split("/", 1)[1].split(".")[0]: line.split()[1]
        for line in lines[2:]
        if line.startswith("promotion.kargo.akuity.io/")
    }
    assert outcome == {"prod": "Succeeded", "qa": "Errored"}
    qa_steps = [line.split() for line in lines if line.startswith("  qa:")]
    assert qa_steps[1][1:5] == ["2/4", "task-1::update-image", "(yaml-update)", "Errored"]
    assert "'./src/qa/values.yaml' does not exist" in " ".join(qa_steps[2])
    assert [s[4] for s in qa_steps[3:]] == ["Skipped", "Skipped"]
