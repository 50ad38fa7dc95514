"""``shunter promote --dry-run`` on the seed pipeline: the preview runs the prod Promotion's
steps (git-clone, yaml-update, git-commit for real, in a scratch folder) and shows the one-line
change git-push would make to ``prod/values.yaml``, listing git-push as not carried out; the git
server's refs and the cluster's objects are the same before and after, and no push was even
attempted. Then the caller's rights: a user who may not read the credential Secrets is told
exactly that.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from shunter.cli import main
from shunter_devenv.cluster import Cluster
from shunter_devenv.gitserver import GitRequestKind
from shunter_devenv.seedpipeline import FIRST_TAG, SEED_REPO, seed_pipeline
from shunter_devenv.seedpipeline import SeedPipeline as Seed
from shunter_devenv.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]
VALUES = (ROOT / "tests" / "data" / "values" / "realistic-values.yaml").read_text()
PROJECT = "preview-example"
OLD_TAG = "2026-11-20_0930-1f2e3d4"  # prod's values.yaml before any promotion


@pytest.fixture(scope="module")
def seed(kube: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seed]:
    with seed_pipeline(kube, tmp_path_factory.mktemp("preview"), VALUES, project=PROJECT) as p:
        yield p


def _verified_in_preprod(seed: Seed) -> str | None:
    freight = seed.freight_for_tag(FIRST_TAG)
    if freight is None:
        return None
    name: str = freight["metadata"]["name"]
    status = seed.get("freight", name).get("status", {})
    return name if "preprod" in status.get("verifiedIn", {}) else None


def _refs(seed: Seed) -> str:
    return seed.git.refs(SEED_REPO)


def _objects(seed: Seed) -> dict[str, Any]:
    """Every object of the project's namespace that a promotion could touch, by kind and name,
    with its resourceVersion (any write changes it)."""
    kinds = "stages,freight,promotions,warehouses,projectconfigs,secrets,configmaps,events"
    out = seed.kube.kubectl("get", kinds, "-n", PROJECT, "-o", "json").stdout
    return {
        f"{o['kind']}/{o['metadata']['name']}": o["metadata"]["resourceVersion"]
        for o in json.loads(out)["items"]
    }


def _settled(seed: Seed) -> dict[str, Any] | None:
    """The objects, once two looks a moment apart agree (the operator is at rest)."""
    first = _objects(seed)
    second = _objects(seed)
    return second if first == second else None


def test_dry_run_shows_the_diff_and_changes_nothing(
    seed: Seed, capsys: pytest.CaptureFixture[str]
) -> None:
    freight = wait_for(
        lambda: _verified_in_preprod(seed),
        what="the first Freight verified in preprod",
        details=seed.diagnostics,
    )
    refs = _refs(seed)
    objects = wait_for(lambda: _settled(seed), what="the project at rest")
    pushes = seed.git.request_count(GitRequestKind.RECEIVE_PACK)
    capsys.readouterr()

    code = main(
        [
            "promote", "--kubeconfig", str(seed.kube.kubeconfig_path), "-n", PROJECT,
            "--stage", "prod", "--freight", freight, "--dry-run", "--allow-credentials-over-http",
        ]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out

    assert "nothing was changed" in out
    assert "Every step would go through." in out
    diff = out[out.index("Changes to ") :].splitlines()
    assert diff[0].startswith(f"Changes to {seed.git.url(SEED_REPO)}, branch master (")
    assert "diff --git a/prod/values.yaml b/prod/values.yaml" in diff
    removed = [line for line in diff if line.startswith("-") and not line.startswith("---")]
    added = [line for line in diff if line.startswith("+") and not line.startswith("+++")]
    assert removed == [f"-  lmsImageTag: {OLD_TAG}"]
    assert added == [f"+  lmsImageTag: {FIRST_TAG}"]
    effects = out[out.index("Effects not carried out:") : out.index("Changes to ")]
    assert "(git-push): would push commit" in effects
    assert "to branch master of" in effects
    assert "kargo" not in seed.git.url(SEED_REPO)  # no credentials in what is shown
    assert "git-pass" not in out

    assert _refs(seed) == refs, "the preview changed refs on the git server"
    assert seed.git.request_count(GitRequestKind.RECEIVE_PACK) == pushes, "a push was attempted"
    assert _objects(seed) == objects, "the preview changed objects in the cluster"
    assert seed.promotions("prod") == []


def test_the_preview_runs_with_the_callers_rights(
    seed: Seed, capsys: pytest.CaptureFixture[str]
) -> None:
    """alice may read Kargo's objects in the project but not its Secrets: the preview stops at
    git-clone, saying which Secrets she may not list."""
    if not seed.kube.has_test_users:
        pytest.skip("this cluster has no test users")
    freight = wait_for(lambda: _verified_in_preprod(seed), what="the Freight in preprod")
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": "kargo-reader", "namespace": PROJECT},
        "rules": [
            {
                "apiGroups": ["kargo.akuity.io"],
                "resources": ["stages", "freights", "promotiontasks", "warehouses"],
                "verbs": ["get", "list"],
            }
        ],
    }
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": "alice-reads", "namespace": PROJECT},
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "Role",
            "name": "kargo-reader",
        },
        "subjects": [{"kind": "User", "name": "alice", "apiGroup": "rbac.authorization.k8s.io"}],
    }
    seed.kube.apply(json.dumps(role))
    seed.kube.apply(json.dumps(binding))
    kubeconfig = seed.kube.kubeconfig_for("alice")
    capsys.readouterr()
    code = main(
        [
            "promote", "--kubeconfig", str(kubeconfig), "-n", PROJECT, "--stage", "prod",
            "--freight", freight, "--dry-run", "--allow-credentials-over-http",
        ]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert code == 1, out
    assert "The Promotion would end Errored" in out
    assert (
        "the preview runs as kubernetes:alice, who may not list the git credential Secrets "
        f"of namespace '{PROJECT}'"
    ) in out
