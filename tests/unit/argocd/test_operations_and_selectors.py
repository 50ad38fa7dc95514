"""assess_sync (start, wait or done) and label selector strings."""

from __future__ import annotations

from typing import Any

import pytest

from shunter.argocd import Application, LabelRequirement, SelectorError, assess_sync, label_selector

PROMO = "p1"
SHA = "c" * 40


def _op(promotion: str | None = PROMO, user: str = "kargo-controller") -> dict[str, Any]:
    info = [{"name": "Reason", "value": "x"}]
    if promotion is not None:
        info.append({"name": "kargo.akuity.io/promotion", "value": promotion})
    return {"initiatedBy": {"username": user}, "info": info, "sync": {"revisions": []}}


def _app(
    *,
    operation: dict[str, Any] | None = None,
    state_op: dict[str, Any] | None = None,
    phase: str | None = None,
    result: str | None = SHA,
    message: str = "",
) -> Application:
    obj: dict[str, Any] = {
        "metadata": {"name": "gb", "namespace": "argocd"},
        "spec": {"source": {"repoURL": "https://x/y.git"}},
    }
    if operation is not None:
        obj["operation"] = operation
    if phase is not None:
        state: dict[str, Any] = {"operation": state_op or {}, "phase": phase, "message": message}
        if result is not None:
            state["syncResult"] = {"revision": result}
        obj["status"] = {"operationState": state}
    return Application.from_object(obj)


def test_no_operation_starts_a_sync() -> None:
    progress = assess_sync(_app(), promotion=PROMO, desired=[SHA])
    assert progress.must_sync
    assert progress.phase == ""


def test_own_requested_operation_is_awaited_not_repatched() -> None:
    progress = assess_sync(_app(operation=_op()), promotion=PROMO, desired=[SHA])
    assert not progress.must_sync
    assert progress.phase == "Running"
    assert "waiting for Argo CD to start" in progress.reason


def test_foreign_requested_operation_is_awaited() -> None:
    app = _app(operation=_op(None, user="alice"), state_op=_op(), phase="Succeeded")
    progress = assess_sync(app, promotion=PROMO, desired=[SHA])
    assert not progress.must_sync
    assert "'alice'" in progress.reason


@pytest.mark.parametrize("owner", [None, "other-promotion"])
def test_foreign_running_operation_is_awaited_then_replaced(owner: str | None) -> None:
    running = _app(state_op=_op(owner, user="bob"), phase="Running", result=None)
    progress = assess_sync(running, promotion=PROMO, desired=[SHA])
    assert (progress.must_sync, progress.phase) == (False, "Running")
    finished = _app(state_op=_op(owner), phase="Succeeded")
    assert assess_sync(finished, promotion=PROMO, desired=[SHA]).must_sync


def test_own_operation() -> None:
    running = assess_sync(_app(state_op=_op(), phase="Running"), promotion=PROMO, desired=[SHA])
    assert (running.must_sync, running.phase) == (False, "Running")
    done = assess_sync(_app(state_op=_op(), phase="Succeeded"), promotion=PROMO, desired=[SHA])
    assert (done.must_sync, done.phase) == (False, "Succeeded")
    failed = assess_sync(_app(state_op=_op(), phase="Failed"), promotion=PROMO, desired=[SHA])
    assert (failed.must_sync, failed.phase) == (False, "Failed")


def test_own_operation_at_another_revision_is_redone() -> None:
    app = _app(state_op=_op(), phase="Succeeded", result="d" * 40)
    progress = assess_sync(app, promotion=PROMO, desired=[SHA])
    assert progress.must_sync
    assert "do not match desired revisions" in progress.reason
    assert not assess_sync(app, promotion=PROMO, desired=[""]).must_sync


def test_own_operation_without_sync_result_is_redone() -> None:
    app = _app(state_op=_op(), phase="Succeeded", result=None)
    assert assess_sync(app, promotion=PROMO, desired=[]).must_sync


def test_label_selector() -> None:
    selector = label_selector(
        {"app": "guestbook", "a.example.com/tier": "web"},
        [
            LabelRequirement("env", "In", ("prod", "dev", "prod")),
            LabelRequirement("track", "NotIn", ("canary",)),
            LabelRequirement("owner", "Exists"),
            LabelRequirement("legacy", "DoesNotExist"),
        ],
    )
    assert selector == (
        "a.example.com/tier=web,app=guestbook,env in (dev,prod),track notin (canary),owner,!legacy"
    )


@pytest.mark.parametrize(
    ("labels", "exprs", "message"),
    [
        ({}, [], "at least one match criterion"),
        ({"app": "a,b=c"}, [], "invalid label value"),
        ({"bad key": "x"}, [], "invalid label key"),
        ({"Bad_Prefix/app": "x"}, [], "bad prefix"),
        ({}, [LabelRequirement("env", "In")], "needs values"),
        ({}, [LabelRequirement("env", "Exists", ("x",))], "takes no values"),
    ],
)
def test_label_selector_rejects(
    labels: dict[str, str], exprs: list[LabelRequirement], message: str
) -> None:
    with pytest.raises(SelectorError, match=message):
        label_selector(labels, exprs)
