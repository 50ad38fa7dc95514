"""argocd-update against the real API server, Argo CD's real Application CRD, a real git
server and the Argo CD controller TEST DOUBLE."""

from __future__ import annotations

from typing import Any

import pytest

from shunter.api.v1alpha1.promotion import PromotionStepStatus
from shunter.api.v1alpha1.stage import HealthState
from shunter.argocd import check_argocd_health
from shunter.promotion.step import StepError
from shunter.steps.argocd_update import ArgoCDUpdateStep
from shunter_devenv.argocd import ArgoCDControllerDouble, SyncOutcome
from shunter_devenv.gitserver import GitServer


def _repo(git: GitServer, name: str = "guestbook") -> str:
    return git.create_repo(name, {"guestbook/app.yaml": "replicas: 1\n"})


async def test_syncs_to_exactly_the_pushed_commit(
    harness: Any, git_server: GitServer, argocd_double: ArgoCDControllerDouble
) -> None:
    url = _repo(git_server)
    harness.application("guestbook", repo_url=url)
    pushed = git_server.commit_files("guestbook", {"guestbook/app.yaml": "replicas: 2\n"})
    git_server.commit_files("guestbook", {"guestbook/app.yaml": "replicas: 3\n"})  # newer head
    raw = {
        "apps": [
            {
                "name": "guestbook",
                "sources": [
                    {"repoURL": url, "desiredRevision": pushed, "updateTargetRevision": True}
                ],
            }
        ]
    }
    ctx = harness.context(actor="admin")

    result, runs = await harness.run_until_done(ArgoCDUpdateStep, ctx, raw)

    assert result.status is PromotionStepStatus.SUCCEEDED, result.message
    assert runs >= 2  # Running first, while the (double) controller synced
    assert result.output == {"apps": [{"name": "guestbook", "namespace": harness.namespace}]}
    assert result.health_check is not None
    assert result.health_check.uses == "argocd-update"
    assert result.health_check.config == {
        "apps": [
            {"name": "guestbook", "namespace": harness.namespace, "desiredRevisions": [pushed]}
        ]
    }
    app = await harness.get("guestbook")
    source = app["spec"]["source"]
    assert source == {
        "repoURL": url,
        "targetRevision": pushed,
        "path": "guestbook",
        "directory": {"recurse": True},
    }
    status = app["status"]
    assert status["sync"]["status"] == "Synced"
    assert status["sync"]["revision"] == pushed
    assert status["operationState"]["phase"] == "Succeeded"
    assert status["operationState"]["syncResult"]["revision"] == pushed
    assert status["health"]["status"] == "Healthy"
    assert status["history"][-1]["revision"] == pushed
    assert status["reconciledAt"] == status["operationState"]["finishedAt"]
    assert "operation" not in app
    assert "argocd.argoproj.io/refresh" not in app["metadata"].get("annotations", {})
    [sync] = argocd_double.syncs_of(harness.namespace, "guestbook")
    assert sync.revisions == (pushed,)
    assert sync.info["kargo.akuity.io/promotion"] == harness.promotion
    assert (sync.initiated_by, sync.automated) == ("admin", False)
    operation = status["operationState"]["operation"]
    assert operation["sync"] == {"revisions": []}
    assert operation["info"][1] == {"name": "kargo.akuity.io/promotion", "value": harness.promotion}

    health = await check_argocd_health(
        harness.client, result.health_check.config, default_namespace="unused"
    )
    assert health.status is HealthState.HEALTHY, health.issues
    [entry] = health.output["applicationStatuses"]
    assert entry["Name"] == "guestbook"
    assert entry["Namespace"] == harness.namespace
    assert entry["sync"]["revision"] == pushed
    assert "reconciledAt" not in entry

    # A second run of the finished step changes nothing and starts no new sync.
    again = await harness.run_once(ArgoCDUpdateStep, ctx, raw)
    assert again.status is PromotionStepStatus.SUCCEEDED
    assert len(argocd_double.syncs_of(harness.namespace, "guestbook")) == 1


async def test_branch_target_revision_is_resolved_on_the_git_server(
    harness: Any, git_server: GitServer, argocd_double: ArgoCDControllerDouble
) -> None:
    url = _repo(git_server)
    harness.application("guestbook", repo_url=url, target_revision="main")
    head = git_server.commit_files("guestbook", {"guestbook/app.yaml": "replicas: 5\n"})
    raw = {"apps": [{"name": "guestbook", "sources": [{"repoURL": url, "desiredRevision": head}]}]}

    result, _ = await harness.run_until_done(ArgoCDUpdateStep, harness.context(), raw)

    assert result.status is PromotionStepStatus.SUCCEEDED, result.message
    app = await harness.get("guestbook")
    assert app["spec"]["source"]["targetRevision"] == "main"  # not updated
    assert app["status"]["sync"]["revision"] == head
    [sync] = argocd_double.syncs_of(harness.namespace, "guestbook")
    assert (sync.initiated_by, sync.automated) == ("kargo-controller", True)


async def test_application_without_the_annotation_is_refused(
    harness: Any, git_server: GitServer, argocd_double: ArgoCDControllerDouble
) -> None:
    url = _repo(git_server)
    harness.application("guestbook", repo_url=url, authorized=None)
    harness.application("other", repo_url=url, authorized="demo:prod")
    raw: dict[str, Any] = {"apps": [{"name": "guestbook"}]}

    with pytest.raises(StepError) as missing:
        await harness.run_once(ArgoCDUpdateStep, harness.context(), raw)
    assert 'add the annotation kargo.akuity.io/authorized-stage: "demo:preprod"' in str(
        missing.value
    )
    with pytest.raises(StepError) as other:
        await harness.run_once(ArgoCDUpdateStep, harness.context(), {"apps": [{"name": "other"}]})
    assert 'add "demo:preprod" to it' in str(other.value)
    assert 'kargo.akuity.io/authorized-stage: "demo:prod,demo:preprod"' in str(other.value)

    for name in ("guestbook", "other"):
        app = await harness.get(name)
        assert "operation" not in app
        assert "argocd.argoproj.io/refresh" not in (app["metadata"].get("annotations") or {})
    assert argocd_double.syncs == []


async def test_selector_updates_only_authorized_applications(
    harness: Any, git_server: GitServer, argocd_double: ArgoCDControllerDouble
) -> None:
    url = _repo(git_server)
    labels = {"app.kubernetes.io/part-of": "guestbook"}
    harness.application("gb-a", repo_url=url, labels=labels)
    harness.application("gb-b", repo_url=url, labels=labels)
    harness.application("gb-c", repo_url=url, labels=labels, authorized="demo:prod")
    harness.application("unrelated", repo_url=url)
    head = git_server.head("guestbook")
    raw = {
        "apps": [
            {
                "selector": {
                    "matchLabels": labels,
                    "matchExpressions": [
                        {"key": "app.kubernetes.io/part-of", "operator": "Exists"}
                    ],
                },
                # Another spelling of the same repository (normalised git URLs match).
                "sources": [{"repoURL": url.removesuffix(".git"), "desiredRevision": head}],
            }
        ]
    }

    result, _ = await harness.run_until_done(ArgoCDUpdateStep, harness.context(), raw)

    assert result.status is PromotionStepStatus.SUCCEEDED, result.message
    assert [a["name"] for a in result.output["apps"]] == ["gb-a", "gb-b"]
    assert {s.name for s in argocd_double.syncs} == {"gb-a", "gb-b"}


async def test_multi_source_application(
    harness: Any, git_server: GitServer, argocd_double: ArgoCDControllerDouble
) -> None:
    config_url = _repo(git_server, "config")
    values_url = _repo(git_server, "values")
    harness.application(
        "multi",
        sources=[
            {"repoURL": config_url, "targetRevision": "main", "path": "guestbook"},
            {"repoURL": values_url, "targetRevision": "main", "ref": "values"},
        ],
    )
    pushed = git_server.commit_files("values", {"values.yaml": "tag: v2\n"})
    config_head = git_server.head("config")
    raw = {
        "apps": [
            {
                "name": "multi",
                "sources": [
                    {"repoURL": values_url, "desiredRevision": pushed, "updateTargetRevision": True}
                ],
            }
        ]
    }

    result, _ = await harness.run_until_done(ArgoCDUpdateStep, harness.context(), raw)

    assert result.status is PromotionStepStatus.SUCCEEDED, result.message
    assert result.health_check is not None
    assert result.health_check.config == {
        "apps": [
            {"name": "multi", "namespace": harness.namespace, "desiredRevisions": ["", pushed]}
        ]
    }
    app = await harness.get("multi")
    assert app["spec"]["sources"][1] == {
        "repoURL": values_url,
        "targetRevision": pushed,
        "ref": "values",
    }
    assert app["status"]["sync"]["revisions"] == [config_head, pushed]
    assert app["status"]["operationState"]["syncResult"]["revisions"] == [config_head, pushed]
    health = await check_argocd_health(harness.client, result.health_check.config)
    assert health.status is HealthState.HEALTHY, health.issues


async def test_failed_operation_fails_the_step_with_argo_cds_message(
    harness: Any, git_server: GitServer, argocd_double: ArgoCDControllerDouble
) -> None:
    url = _repo(git_server)
    harness.application("guestbook", repo_url=url)
    argocd_double.set_outcome(
        SyncOutcome(phase="Failed", message="one or more objects failed to apply: quota exceeded")
    )
    raw = {"apps": [{"name": "guestbook"}]}

    result, _ = await harness.run_until_done(ArgoCDUpdateStep, harness.context(), raw)

    assert result.status is PromotionStepStatus.FAILED
    assert result.message == (
        f"Argo CD Application 'guestbook' in namespace {harness.namespace!r} failed with: "
        "one or more objects failed to apply: quota exceeded"
    )
    assert result.health_check is None


async def test_waits_for_a_foreign_operation_before_starting_its_own(
    harness: Any, git_server: GitServer, argocd_double: ArgoCDControllerDouble
) -> None:
    url = _repo(git_server)
    harness.application("guestbook", repo_url=url)
    argocd_double.set_outcome(SyncOutcome(hold=True))
    await harness.patch(
        "guestbook",
        {"operation": {"initiatedBy": {"username": "alice"}, "sync": {"revision": "main"}}},
    )
    await harness.wait_app(
        "guestbook",
        lambda a: (a.get("status") or {}).get("operationState", {}).get("phase") == "Running",
    )
    ctx = harness.context()
    raw = {"apps": [{"name": "guestbook"}]}

    first = await harness.run_once(ArgoCDUpdateStep, ctx, raw)
    assert first.status is PromotionStepStatus.RUNNING
    assert "alice" in first.message
    app = await harness.get("guestbook")
    assert app["operation"]["initiatedBy"]["username"] == "alice"  # not replaced

    argocd_double.set_outcome(SyncOutcome())
    result, _ = await harness.run_until_done(ArgoCDUpdateStep, ctx, raw)
    assert result.status is PromotionStepStatus.SUCCEEDED, result.message
    syncs = argocd_double.syncs_of(harness.namespace, "guestbook")
    assert [s.initiated_by for s in syncs] == ["alice", "kargo-controller"]


async def test_crds_are_argo_cds(argocd: Any) -> None:
    assert argocd.crds == ["applications.argoproj.io", "appprojects.argoproj.io"]
    assert argocd.version.startswith("v3.")


async def test_a_second_promotion_syncs_again(
    harness: Any, git_server: GitServer, argocd_double: ArgoCDControllerDouble
) -> None:
    url = _repo(git_server)
    harness.application("guestbook", repo_url=url)
    revisions = []
    for promotion in ("preprod.01.aaa", "preprod.02.bbb"):
        head = git_server.commit_files("guestbook", {"guestbook/app.yaml": f"p: {promotion}\n"})
        revisions.append(head)
        raw = {
            "apps": [
                {
                    "name": "guestbook",
                    "sources": [
                        {"repoURL": url, "desiredRevision": head, "updateTargetRevision": True}
                    ],
                }
            ]
        }
        ctx = harness.context(promotion=promotion)
        result, _ = await harness.run_until_done(ArgoCDUpdateStep, ctx, raw)
        assert result.status is PromotionStepStatus.SUCCEEDED, result.message

    app = await harness.get("guestbook")
    assert [h["revision"] for h in app["status"]["history"]] == revisions
    assert [h["id"] for h in app["status"]["history"]] == [0, 1]
    syncs = argocd_double.syncs_of(harness.namespace, "guestbook")
    assert [s.info["kargo.akuity.io/promotion"] for s in syncs] == [
        "preprod.01.aaa",
        "preprod.02.bbb",
    ]
    assert [s.revisions for s in syncs] == [(r,) for r in revisions]


async def test_selected_applications_are_updated_all_or_nothing(
    harness: Any, git_server: GitServer, argocd_double: ArgoCDControllerDouble
) -> None:
    url = _repo(git_server)
    other = _repo(git_server, "other")
    labels = {"team": "web"}
    harness.application("gb-a", repo_url=url, labels=labels)
    harness.application("gb-b", repo_url=other, labels=labels)
    raw = {
        "apps": [
            {
                "selector": {"matchLabels": labels},
                "sources": [{"repoURL": url, "desiredRevision": git_server.head("guestbook")}],
            }
        ]
    }

    with pytest.raises(StepError) as info:
        await harness.run_once(ArgoCDUpdateStep, harness.context(), raw)

    message = str(info.value)
    assert "1 incompatible. No Applications were updated" in message
    assert "'gb-b'" in message
    for name in ("gb-a", "gb-b"):
        assert "operation" not in await harness.get(name)
