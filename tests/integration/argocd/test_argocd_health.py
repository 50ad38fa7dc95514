"""The argocd-update health check against real Applications and the controller TEST DOUBLE."""

from __future__ import annotations

from typing import Any

from shunter.api.v1alpha1.promotion import PromotionStepStatus
from shunter.api.v1alpha1.stage import HealthState
from shunter.argocd import check_argocd_health
from shunter.steps.argocd_update import ArgoCDUpdateStep
from shunter_devenv.argocd import ArgoCDControllerDouble, SyncOutcome
from shunter_devenv.gitserver import GitServer


async def _promote(harness: Any, url: str, revision: str) -> dict[str, Any]:
    raw = {
        "apps": [{"name": "guestbook", "sources": [{"repoURL": url, "desiredRevision": revision}]}]
    }
    result, _ = await harness.run_until_done(ArgoCDUpdateStep, harness.context(), raw)
    assert result.status is PromotionStepStatus.SUCCEEDED, result.message
    assert result.health_check is not None
    config: dict[str, Any] = result.health_check.config or {}
    return config


async def test_degraded_application_makes_the_stage_unhealthy(
    harness: Any, git_server: GitServer, argocd_double: ArgoCDControllerDouble
) -> None:
    url = git_server.create_repo("guestbook", {"app.yaml": "a: 1\n"})
    harness.application("guestbook", repo_url=url)
    argocd_double.set_outcome(SyncOutcome(health="Degraded", health_message="CrashLoopBackOff"))

    config = await _promote(harness, url, git_server.head("guestbook"))
    health = await check_argocd_health(harness.client, config)

    assert health.status is HealthState.UNHEALTHY
    assert health.issues == [
        f"Argo CD Application 'guestbook' in namespace {harness.namespace!r} has health "
        "state 'Degraded'"
    ]
    [entry] = health.output["applicationStatuses"]
    assert entry["health"] == {"status": "Degraded", "message": "CrashLoopBackOff"}

    # The workload recovers: Argo CD (the double) reports Healthy again.
    argocd_double.set_health(harness.namespace, "guestbook", "Healthy")
    await harness.wait_app("guestbook", lambda a: a["status"]["health"]["status"] == "Healthy")
    assert (await check_argocd_health(harness.client, config)).status is HealthState.HEALTHY


async def test_wrong_revision_missing_app_and_worst_wins(
    harness: Any, git_server: GitServer, argocd_double: ArgoCDControllerDouble
) -> None:
    url = git_server.create_repo("guestbook", {"app.yaml": "a: 1\n"})
    harness.application("guestbook", repo_url=url)
    first = git_server.head("guestbook")
    await _promote(harness, url, first)
    newer = git_server.commit_files("guestbook", {"app.yaml": "a: 2\n"})
    ns = harness.namespace
    config = {
        "apps": [
            {"name": "guestbook", "namespace": ns, "desiredRevisions": [newer]},
            {"name": "absent", "namespace": ns},
        ]
    }

    health = await check_argocd_health(harness.client, config)

    assert health.status is HealthState.UNHEALTHY
    assert len(health.issues) == 2
    assert f"synced to {first!r}, not to {newer!r}" in health.issues[0]
    assert health.issues[1] == f"unable to find Argo CD Application 'absent' in namespace {ns!r}"
    assert [e["Name"] for e in health.output["applicationStatuses"]] == ["guestbook", "absent"]
    assert health.output["applicationStatuses"][1]["health"] == {"status": "Unknown"}


async def test_stale_health_requests_a_refresh(
    harness: Any, git_server: GitServer, argocd_double: ArgoCDControllerDouble
) -> None:
    url = git_server.create_repo("guestbook", {"app.yaml": "a: 1\n"})
    harness.application("guestbook", repo_url=url)
    config = await _promote(harness, url, git_server.head("guestbook"))
    # Health assessed before the operation finished (Argo CD's two loops can lag).
    await harness.patch("guestbook", {"status": {"reconciledAt": "2020-01-01T00:00:00Z"}})

    health = await check_argocd_health(harness.client, config)

    assert health.status is HealthState.UNKNOWN
    assert "not reconciled after its last operation" in health.issues[0]
    # The check asked for a hard refresh; the double refreshed and removed the annotation.
    await harness.wait_app(
        "guestbook",
        lambda a: (
            "argocd.argoproj.io/refresh" not in (a["metadata"].get("annotations") or {})
            and a["status"]["reconciledAt"] != "2020-01-01T00:00:00Z"
        ),
    )
    assert (await check_argocd_health(harness.client, config)).status is HealthState.HEALTHY


async def test_sync_in_progress_is_unknown(
    harness: Any, git_server: GitServer, argocd_double: ArgoCDControllerDouble
) -> None:
    url = git_server.create_repo("guestbook", {"app.yaml": "a: 1\n"})
    harness.application("guestbook", repo_url=url)
    head = git_server.head("guestbook")
    argocd_double.set_outcome(SyncOutcome(hold=True))
    raw = {"apps": [{"name": "guestbook", "sources": [{"repoURL": url, "desiredRevision": head}]}]}
    running = await harness.run_once(ArgoCDUpdateStep, harness.context(), raw)
    assert running.status is PromotionStepStatus.RUNNING
    config = {
        "apps": [{"name": "guestbook", "namespace": harness.namespace, "desiredRevisions": [head]}]
    }

    health = await check_argocd_health(harness.client, config)

    assert health.status is HealthState.UNKNOWN
    assert health.issues == [
        f"Argo CD Application 'guestbook' in namespace {harness.namespace!r} is being synced"
    ]


async def test_without_kube_client_the_check_is_unknown() -> None:
    health = await check_argocd_health(None, {"apps": []})
    assert health.status is HealthState.UNKNOWN
    assert "Argo CD integration is disabled" in health.issues[0]
