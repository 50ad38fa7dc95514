"""The merge patch argocd-update writes, desired revisions, and source matching."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from shunter.argocd import (
    Application,
    HelmParameterUpdate,
    KustomizeImageUpdate,
    SourceUpdate,
    SourceUpdateError,
    build_sync_patch,
    desired_revisions,
    desired_sources,
)

GIT = "https://github.com/example/guestbook.git"
CHARTS = "https://charts.example.com"


def _app(spec: dict[str, Any], *, status: dict[str, Any] | None = None) -> Application:
    obj: dict[str, Any] = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": "gb", "namespace": "argocd", "resourceVersion": "42"},
        "spec": spec,
    }
    if status is not None:
        obj["status"] = status
    return Application.from_object(obj)


def _single(**source: Any) -> Application:
    base = {"repoURL": GIT, "targetRevision": "main", "path": "app", "directory": {"jsonnet": {}}}
    base.update(source)
    return _app({"project": "default", "source": base}, status={"sync": {"status": "Synced"}})


def test_minimal_patch_for_a_single_source() -> None:
    app = _single()
    update = SourceUpdate(
        repo_url="https://GitHub.com/example/guestbook/",  # another spelling, same repo
        desired_revision="abc123",
        update_target_revision=True,
    )

    patch = build_sync_patch(app, [update], promotion="p1", actor=None)

    assert patch == {
        "metadata": {
            "annotations": {"argocd.argoproj.io/refresh": "hard"},
            "resourceVersion": "42",
        },
        "spec": {"source": {"targetRevision": "abc123"}},
        "operation": {
            "initiatedBy": {"username": "kargo-controller", "automated": True},
            "info": [
                {
                    "name": "Reason",
                    "value": "A Kargo Promotion requested a sync of this Application.",
                },
                {"name": "kargo.akuity.io/promotion", "value": "p1"},
            ],
            "sync": {"revisions": []},
        },
        "status": {"operationState": None},
    }


def test_no_source_change_without_update_target_revision() -> None:
    patch = build_sync_patch(
        _single(), [SourceUpdate(repo_url=GIT, desired_revision="abc")], promotion="p1"
    )
    assert "spec" not in patch


def test_actor_makes_a_manual_operation_and_sync_policy_is_carried() -> None:
    app = _app(
        {
            "source": {"repoURL": GIT},
            "syncPolicy": {
                "syncOptions": ["CreateNamespace=true"],
                "retry": {"limit": 3, "backoff": {"duration": "5s"}},
                "automated": {"prune": True},
            },
        }
    )
    patch = build_sync_patch(app, [], promotion="p2", actor="admin")
    assert patch["operation"]["initiatedBy"] == {"username": "admin", "automated": False}
    assert patch["operation"]["sync"] == {"revisions": [], "syncOptions": ["CreateNamespace=true"]}
    assert patch["operation"]["retry"] == {"limit": 3, "backoff": {"duration": "5s"}}
    assert "status" not in patch  # never reconciled: nothing to clear
    assert "spec" not in patch


def test_kustomize_images_replace_the_list() -> None:
    app = _single(kustomize={"images": ["old/img:1"], "namePrefix": "x-"})
    update = SourceUpdate(
        repo_url=GIT,
        kustomize_images=(
            KustomizeImageUpdate("ghcr.io/ex/web", tag="v2"),
            KustomizeImageUpdate("ghcr.io/ex/api", digest="sha256:abc", new_name="mirror/api"),
            KustomizeImageUpdate("ghcr.io/ex/cli"),
        ),
    )
    patch = build_sync_patch(app, [update], promotion="p")
    assert patch["spec"] == {
        "source": {
            "kustomize": {
                "images": [
                    "ghcr.io/ex/web:v2",
                    "ghcr.io/ex/api=mirror/api@sha256:abc",
                    "ghcr.io/ex/cli:",
                ]
            }
        }
    }


def test_helm_parameters_updated_by_name_and_appended() -> None:
    app = _app(
        {
            "source": {
                "repoURL": CHARTS,
                "chart": "web",
                "targetRevision": "1.0.0",
                "helm": {
                    "parameters": [
                        {"name": "image.tag", "value": "v1"},
                        {"name": "replicas", "value": "2", "forceString": True},
                    ],
                    "releaseName": "web",
                },
            }
        }
    )
    update = SourceUpdate(
        repo_url=CHARTS,
        chart="web",
        desired_revision="1.2.0",
        update_target_revision=True,
        helm_parameters=(
            HelmParameterUpdate("image.tag", "v2"),
            HelmParameterUpdate("image.repository", "ghcr.io/ex/web"),
        ),
    )
    patch = build_sync_patch(app, [update], promotion="p")
    assert patch["spec"] == {
        "source": {
            "targetRevision": "1.2.0",
            "helm": {
                "parameters": [
                    {"name": "image.tag", "value": "v2"},
                    {"name": "replicas", "value": "2", "forceString": True},
                    {"name": "image.repository", "value": "ghcr.io/ex/web"},
                ]
            },
        }
    }
    assert desired_revisions(app, [update]) == ["1.2.0"]


def test_chart_sources_match_exactly() -> None:
    app = _app({"source": {"repoURL": CHARTS, "chart": "web", "targetRevision": "1.0.0"}})
    for update in (
        SourceUpdate(repo_url=CHARTS, chart="api", desired_revision="2"),
        SourceUpdate(repo_url=CHARTS + "/", chart="web", desired_revision="2"),
        SourceUpdate(repo_url=CHARTS, desired_revision="2"),
    ):
        assert desired_revisions(app, [update]) == [""]
        with pytest.raises(SourceUpdateError, match="matched the update for repoURL"):
            desired_sources(app, [update])


def test_multi_source_sends_every_source_in_full() -> None:
    sources = [
        {"repoURL": CHARTS, "chart": "web", "targetRevision": "1.0.0", "helm": {"valueFiles": []}},
        {"repoURL": GIT, "targetRevision": "main", "ref": "values"},
    ]
    app = _app({"sources": copy.deepcopy(sources)}, status={})
    updates = [
        SourceUpdate(repo_url=GIT, desired_revision="sha1", update_target_revision=True),
    ]
    assert desired_revisions(app, updates) == ["", "sha1"]
    patch = build_sync_patch(app, updates, promotion="p")
    assert patch["spec"] == {
        "sources": [sources[0], {"repoURL": GIT, "targetRevision": "sha1", "ref": "values"}]
    }
    assert patch["status"] == {"operationState": None}


def test_each_update_applies_to_the_first_matching_source_only() -> None:
    app = _app(
        {
            "sources": [
                {"repoURL": GIT, "targetRevision": "main", "path": "a"},
                {"repoURL": GIT, "targetRevision": "main", "path": "b"},
            ]
        }
    )
    update = SourceUpdate(repo_url=GIT, desired_revision="sha", update_target_revision=True)
    new = desired_sources(app, [update])
    assert [s["targetRevision"] for s in new] == ["sha", "main"]
    # Both sources name the same repository, so both get its desired revision for health.
    assert desired_revisions(app, [update]) == ["sha", "sha"]


def test_the_patch_does_not_mutate_the_model() -> None:
    app = _single(kustomize={"images": ["a:1"]})
    before = app.raw
    build_sync_patch(
        app,
        [SourceUpdate(repo_url=GIT, kustomize_images=(KustomizeImageUpdate("b", tag="2"),))],
        promotion="p",
    )
    assert app.raw == before
