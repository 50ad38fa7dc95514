"""Where a Promotion stands with an Application's sync operation: start one, wait, or done.

:func:`assess_sync` reads ``operation`` (a requested operation Argo CD has not finished) and
``status.operationState`` (the operation Argo CD runs or ran last):

* a requested operation that Argo CD has not picked up yet (``operation`` set, no operation in
  progress): wait for it, whoever asked for it;
* no operation state: start a sync;
* an operation not started by a Promotion (no ``kargo.akuity.io/promotion`` info), or started
  by another Promotion: wait while it runs, then start our own;
* our operation still running: wait;
* our operation finished without a sync result, or synced a revision other than a desired one:
  start a sync again;
* otherwise it is done: Succeeded, or Failed/Error (the caller fails with Argo CD's message).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from shunter.argocd.models import Application, OperationPhase, is_completed
from shunter.argocd.patch import PROMOTION_INFO_KEY

__all__ = ["SyncProgress", "assess_sync"]


@dataclass(frozen=True)
class SyncProgress:
    """The verdict of :func:`assess_sync`."""

    #: The phase that matters ("" when the caller must start a sync and there is none).
    phase: str
    #: The caller must patch the Application to start a (new) sync operation.
    must_sync: bool
    #: Why (for logs and step messages).
    reason: str = ""


def _who(app: Application) -> str:
    op = app.operation
    user = op.initiated_by.username if op is not None and op.initiated_by is not None else None
    return user or "someone"


def assess_sync(app: Application, *, promotion: str, desired: Sequence[str]) -> SyncProgress:
    """Whether ``promotion`` must start a sync of ``app``, wait, or has finished (see module)."""
    state = app.operation_state
    in_progress = state is not None and not is_completed(state.phase)
    if app.operation is not None and not in_progress:
        requested_by = app.operation.info_value(PROMOTION_INFO_KEY)
        if requested_by == promotion:
            reason = "waiting for Argo CD to start the requested sync"
        else:
            reason = f"waiting for the operation requested by {_who(app)!r} to start and finish"
        return SyncProgress(OperationPhase.RUNNING, False, reason)
    if state is None:
        return SyncProgress("", True, "the Application has no operation")
    op = state.operation
    started_by = op.info_value(PROMOTION_INFO_KEY) if op is not None else None
    phase = state.phase or ""
    if started_by is None or started_by != promotion:
        if not is_completed(phase):
            user = op.initiated_by.username if op and op.initiated_by else None
            who = f"Promotion {started_by!r}" if started_by else f"{user or 'someone'!r}"
            return SyncProgress(
                phase, False, f"the current operation was started by {who}: waiting for it"
            )
        return SyncProgress("", True, "the last operation was not started by this Promotion")
    if not is_completed(phase):
        return SyncProgress(phase, False, "waiting for the sync operation to finish")
    result = state.sync_result
    if result is None:
        return SyncProgress("", True, "the operation completed without a sync result")
    if not any(desired):
        return SyncProgress(phase, False, "")
    observed = result.observed_revisions()
    for index, revision in enumerate(observed):
        wanted = desired[index] if index < len(desired) else ""
        if wanted and revision != wanted:
            return SyncProgress(
                "",
                True,
                f"sync result revisions {observed} do not match desired revisions {list(desired)}",
            )
    return SyncProgress(phase, False, "")
