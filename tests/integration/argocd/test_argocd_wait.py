"""argocd-wait against real Applications and the Argo CD controller TEST DOUBLE."""

from __future__ import annotations

from typing import Any

import pytest

from shunter.api.v1alpha1.promotion import PromotionStepStatus
from shunter.promotion.step import StepError, TerminalStepError
from shunter.steps.argocd_update import ArgoCDUpdateStep
from shunter.steps.argocd_wait import ArgoCDWaitStep
from shunter_devenv.argocd import ArgoCDControllerDouble, SyncOutcome
from shunter_devenv.gitserver import GitServer


async def _synced(harness: Any, git: GitServer) -> str:
    url = git.create_repo("guestbook", {"app.yaml": "a: 1\n"})
    harness.application("guestbook", repo_url=url, labels={"tier": "web"})
    raw = {"apps": [{"name": "guestbook"}]}
    result, _ = await harness.run_until_done(ArgoCDUpdateStep, harness.context(), raw)
    assert result.status is PromotionStepStatus.SUCCEEDED, result.message
    return url


async def test_waits_for_health(
    harness: Any, git_server: GitServer, argocd_double: ArgoCDControllerDouble
) -> None:
    await _synced(harness, git_server)
    argocd_double.set_health(harness.namespace, "guestbook", "Progressing")
    await harness.wait_app("guestbook", lambda a: a["status"]["health"]["status"] == "Progressing")
    ctx = harness.context(alias="wait")
    raw = {"apps": [{"selector": {"matchLabels": {"tier": "web"}}}]}

    waiting = await harness.run_once(ArgoCDWaitStep, ctx, raw)
    assert waiting.status is PromotionStepStatus.RUNNING
    assert "health is Progressing" in waiting.message
    assert waiting.output["healthStatus"] == {f"{harness.namespace}/guestbook": "Progressing"}

    argocd_double.set_health(harness.namespace, "guestbook", "Healthy")
    result, _ = await harness.run_until_done(ArgoCDWaitStep, ctx, raw)

    assert result.status is PromotionStepStatus.SUCCEEDED, result.message
    assert result.output["apps"] == [{"name": "guestbook", "namespace": harness.namespace}]
    assert result.health_check is None


async def test_waits_for_the_operation_then_sync(
    harness: Any, git_server: GitServer, argocd_double: ArgoCDControllerDouble
) -> None:
    await _synced(harness, git_server)
    argocd_double.set_outcome(SyncOutcome(hold=True))
    await harness.patch("guestbook", {"operation": {"sync": {"revision": "main"}}})
    raw = {"apps": [{"name": "guestbook", "waitFor": ["operation", "sync"]}]}
    ctx = harness.context(alias="wait")

    waiting = await harness.run_once(ArgoCDWaitStep, ctx, raw)
    assert waiting.status is PromotionStepStatus.RUNNING
    assert "an operation is in progress" in waiting.message

    argocd_double.set_outcome(SyncOutcome())
    result, _ = await harness.run_until_done(ArgoCDWaitStep, ctx, raw)
    assert result.status is PromotionStepStatus.SUCCEEDED, result.message


async def test_regression_to_degraded_is_an_error(
    harness: Any, git_server: GitServer, argocd_double: ArgoCDControllerDouble
) -> None:
    await _synced(harness, git_server)
    argocd_double.set_health(harness.namespace, "guestbook", "Progressing")
    await harness.wait_app("guestbook", lambda a: a["status"]["health"]["status"] == "Progressing")
    ctx = harness.context(alias="wait")
    raw = {"apps": [{"name": "guestbook"}]}
    first = await harness.run_once(ArgoCDWaitStep, ctx, raw)
    assert first.status is PromotionStepStatus.RUNNING

    argocd_double.set_health(harness.namespace, "guestbook", "Degraded")
    await harness.wait_app("guestbook", lambda a: a["status"]["health"]["status"] == "Degraded")
    with pytest.raises(TerminalStepError, match="regressed from Progressing to Degraded"):
        await harness.run_once(
            ArgoCDWaitStep, harness.context(alias="wait", state={"wait": first.output}), raw
        )
    # Waiting for "degraded" accepts it.
    done = await harness.run_once(
        ArgoCDWaitStep, ctx, {"apps": [{"name": "guestbook", "waitFor": ["degraded"]}]}
    )
    assert done.status is PromotionStepStatus.SUCCEEDED


async def test_missing_application_and_disabled_integration(harness: Any) -> None:
    with pytest.raises(StepError, match="unable to find Argo CD Application 'nope'"):
        await harness.run_once(ArgoCDWaitStep, harness.context(), {"apps": [{"name": "nope"}]})
    with pytest.raises(StepError, match="Argo CD integration is disabled"):
        await harness.run_once(
            ArgoCDWaitStep, harness.context(kube=False), {"apps": [{"name": "nope"}]}
        )
