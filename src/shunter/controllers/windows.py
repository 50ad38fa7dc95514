"""Which promotion windows gate a Stage, and what its schedule says now.

A Stage's windows are those of its project's ProjectConfig whose ``stageSelector`` matches it
(no selector: every Stage of the project) plus those of the ClusterConfig whose
``projectSelector`` matches its Project (by name and the Project's labels) and whose
``stageSelector`` matches it. Selectors match as promotion policies' do. Parsed windows are
kept (they are immutable) so that a reconcile does not parse them again.

:func:`window_state` is the schedule at an instant (see :mod:`shunter.windows.schedule`);
:func:`window_status` is its ``Stage.status.promotionWindowStatus`` form,
:func:`closed_explanation` why it is closed and until when (the same words in the Stage's
status, a waiting Promotion's message and an admission refusal), and :func:`waiting_message`
what a Promotion held back by it says.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

from shunter.api.v1alpha1 import ClusterConfig, Project, ProjectConfig, Stage
from shunter.api.v1alpha1.project import PromotionWindow
from shunter.api.v1alpha1.stage import PromotionWindowStatus
from shunter.cache import KargoCache
from shunter.controllers.policies import selector_matches
from shunter.windows import (
    Occurrences,
    ScheduleState,
    Window,
    WindowError,
    evaluate,
    parse_occurrences,
)

__all__ = [
    "WAITING_PREFIX",
    "closed_explanation",
    "matching_windows",
    "stage_window_state",
    "waiting_message",
    "window_state",
    "window_status",
]


#: How the message of a Promotion held back by promotion windows starts.
WAITING_PREFIX = "Waiting for a promotion window: "


@functools.lru_cache(maxsize=1024)
def _parsed(rrule: str | None, dtstart: str | None, dtend: str | None) -> Occurrences | WindowError:
    try:
        return parse_occurrences(rrule, dtstart, dtend)
    except WindowError as exc:
        return exc


def _window(window: PromotionWindow, source: str) -> Window:
    parsed = _parsed(window.rrule or None, window.dtstart or None, window.dtend or None)
    if isinstance(parsed, WindowError):
        return Window(window.name, window.kind, None, parsed, source)
    return Window(window.name, window.kind, parsed, None, source)


def _matching(
    windows: Iterable[PromotionWindow],
    source: str,
    stage: str,
    *,
    stage_labels: Mapping[str, str],
    project: str | None = None,
    project_labels: Mapping[str, str] | None = None,
) -> list[Window]:
    found = []
    for window in windows:
        if window.stage_selector is not None and not selector_matches(
            window.stage_selector, stage, stage_labels
        ):
            continue
        if (
            project is not None
            and window.project_selector is not None
            and not selector_matches(window.project_selector, project, project_labels or {})
        ):
            continue
        found.append(_window(window, source))
    return found


def matching_windows(
    stage: Stage,
    project_config: ProjectConfig | None,
    cluster_config: ClusterConfig | None,
    project: Project | None = None,
) -> list[Window]:
    """The windows that gate ``stage``: its project's, then the cluster's."""
    name = stage.metadata.name or ""
    labels = stage.metadata.labels or {}
    namespace = stage.metadata.namespace or ""
    project_windows = (
        project_config.spec.promotion_windows if project_config and project_config.spec else None
    ) or []
    cluster_windows = (
        cluster_config.spec.promotion_windows if cluster_config and cluster_config.spec else None
    ) or []
    project_labels = (project.metadata.labels if project else None) or {}
    return [
        *_matching(project_windows, "ProjectConfig", name, stage_labels=labels),
        *_matching(
            cluster_windows,
            "ClusterConfig",
            name,
            stage_labels=labels,
            project=namespace,
            project_labels=project_labels,
        ),
    ]


def window_state(windows: list[Window], now: datetime) -> ScheduleState | None:
    """The schedule of ``windows`` at ``now``; None when no window gates the Stage."""
    return evaluate(windows, now) if windows else None


def stage_window_state(cache: KargoCache, stage: Stage, now: datetime) -> ScheduleState | None:
    """The schedule of a Stage at ``now``, from the configs in the cache."""
    namespace = stage.metadata.namespace or ""
    windows = matching_windows(
        stage, cache.project_config(namespace), cache.cluster_config(), cache.project(namespace)
    )
    return window_state(windows, now)


def window_status(state: ScheduleState | None) -> PromotionWindowStatus | None:
    """``Stage.status.promotionWindowStatus`` for a schedule (None: no window gates it)."""
    if state is None:
        return None
    return PromotionWindowStatus(
        closed=state.closed,
        reason=state.reason,
        next_open=state.next_open,
        next_close=state.next_close,
        next_close_reason=state.next_close_reason,
    )


def closed_explanation(reason: str | None, next_open: datetime | None) -> str:
    """Why a closed schedule is closed and, when known, when it opens."""
    message = reason or "promotions are frozen"
    if next_open is not None:
        opens = next_open.astimezone(UTC).replace(microsecond=0)
        message += f"; it opens at {opens.isoformat().replace('+00:00', 'Z')}"
    return message


def waiting_message(status: PromotionWindowStatus) -> str:
    """What a Promotion held back by a closed schedule says."""
    return WAITING_PREFIX + closed_explanation(status.reason, status.next_open)
