"""Stage health from Argo CD Applications: the ``argocd-update`` health check.

The check's config is what ``argocd-update`` registered:
``{apps: [{name, namespace, desiredRevisions: [...]}]}`` (an empty namespace means the operator's
Argo CD namespace). Each Application is assessed on its own, in this order, and the worst state
wins (Healthy < Progressing < Unknown < Unhealthy):

1. missing or unreadable: **Unknown**;
2. its last operation finished after its ``status.reconciledAt`` (or it was never reconciled):
   health may predate the sync, so a hard refresh is requested and the state is **Unknown**;
3. a ``ComparisonError`` or ``InvalidSpecError`` condition: **Unhealthy**;
4. sync, when some desired revision is non-empty: an operation requested or running, or none
   finished yet: **Unknown** (being synced); a source count different from the desired count:
   **Unknown**; a source whose ``status.sync.revision(s)[i]`` differs from its non-empty desired
   revision: **Unhealthy**;
5. health: ``Progressing``, ``Suspended`` or empty: **Progressing**; ``Healthy``: **Healthy**;
   anything else (``Degraded``, ``Missing``, ``Unknown``): **Unhealthy**.

The output holds ``applicationStatuses``: per Application ``Namespace`` and ``Name`` (capitalised,
as Kargo's UI reads them) plus a trimmed copy of its status without ``reconciledAt`` or condition
``lastTransitionTime`` (fields that change on every refresh).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from shunter.api.v1alpha1.stage import HealthState
from shunter.argocd.client import DEFAULT_NAMESPACE, ArgoCDClient
from shunter.argocd.errors import ApplicationNotFoundError, ArgoCDError
from shunter.argocd.models import Application, HealthStatusCode
from shunter.kube.client import KubeClient

__all__ = [
    "APPLICATION_STATUSES_KEY",
    "AppHealthCheck",
    "AppHealthVerdict",
    "HealthResult",
    "assess_application",
    "check_argocd_health",
    "parse_health_config",
    "trimmed_status",
    "worst",
]

APPLICATION_STATUSES_KEY = "applicationStatuses"
_ERROR_CONDITIONS = ("ComparisonError", "InvalidSpecError")
_ORDER = {
    HealthState.HEALTHY: 0,
    HealthState.NOT_APPLICABLE: 1,
    HealthState.PROGRESSING: 2,
    HealthState.UNKNOWN: 3,
    HealthState.UNHEALTHY: 4,
}

# The status fields copied into the output (True: the value as it is).
_SOURCE: dict[str, Any] = {
    "repoURL": True,
    "targetRevision": True,
    "chart": True,
    "helm": {"parameters": {"name": True, "value": True}},
    "kustomize": {"images": True},
}
_STATUS_SHAPE: dict[str, Any] = {
    "health": {"status": True, "message": True},
    "sync": {"status": True, "revision": True, "revisions": True},
    "conditions": {"type": True, "message": True},
    "operationState": {
        "operation": {
            "sync": {"syncOptions": True, "revisions": True},
            "initiatedBy": {"username": True, "automated": True},
            "info": {"name": True, "value": True},
            "retry": {
                "limit": True,
                "backoff": {"duration": True, "factor": True, "maxDuration": True},
            },
        },
        "phase": True,
        "message": True,
        "syncResult": {
            "revision": True,
            "revisions": True,
            "source": _SOURCE,
            "sources": _SOURCE,
        },
        "finishedAt": True,
    },
}


def worst(*states: HealthState) -> HealthState:
    """The most severe of ``states`` (Healthy when none)."""
    return max(states, key=lambda s: _ORDER.get(s, 0), default=HealthState.HEALTHY)


@dataclass
class HealthResult:
    """The outcome of a health check."""

    status: HealthState
    issues: list[str] = field(default_factory=list)
    output: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AppHealthCheck:
    """One entry of the check's ``apps``."""

    name: str
    namespace: str = ""
    desired_revisions: tuple[str, ...] = ()


@dataclass(frozen=True)
class AppHealthVerdict:
    """What :func:`assess_application` concluded about one Application."""

    state: HealthState
    issues: tuple[str, ...] = ()
    #: Health may be stale: ask Argo CD for a hard refresh.
    refresh: bool = False


def parse_health_config(config: Mapping[str, Any]) -> list[AppHealthCheck]:
    """The checks in a registered config (raises ``ValueError`` when malformed)."""
    apps = config.get("apps")
    if not isinstance(apps, list):
        raise ValueError("'apps' must be a list")
    checks: list[AppHealthCheck] = []
    for index, entry in enumerate(apps):
        if not isinstance(entry, Mapping):
            raise ValueError(f"apps[{index}] must be an object")
        name, namespace = entry.get("name"), entry.get("namespace") or ""
        revisions = entry.get("desiredRevisions") or []
        if not isinstance(name, str) or not name:
            raise ValueError(f"apps[{index}].name must be a non-empty string")
        if not isinstance(namespace, str):
            raise ValueError(f"apps[{index}].namespace must be a string")
        if not isinstance(revisions, list) or not all(isinstance(r, str) for r in revisions):
            raise ValueError(f"apps[{index}].desiredRevisions must be a list of strings")
        checks.append(AppHealthCheck(name, namespace, tuple(revisions)))
    return checks


def _pick(value: Any, shape: Any) -> Any:
    if shape is True:
        return value
    if isinstance(value, list):
        return [_pick(item, shape) for item in value]
    if not isinstance(value, Mapping):
        return value
    out = {}
    for key, sub in shape.items():
        if value.get(key) is not None:
            out[key] = _pick(value[key], sub)
    return out


def trimmed_status(app: Application | None, namespace: str, name: str) -> dict[str, Any]:
    """The ``applicationStatuses`` entry of one Application (Unknown when it is missing)."""
    entry: dict[str, Any] = {"Namespace": namespace, "Name": name}
    status = app.raw.get("status") if app is not None else None
    picked = _pick(status, _STATUS_SHAPE) if isinstance(status, Mapping) else {}
    entry["health"] = picked.pop("health", None) or {"status": HealthStatusCode.UNKNOWN.value}
    entry["sync"] = picked.pop("sync", None) or {"status": "Unknown"}
    entry.update(picked)
    return entry


def _where(app: Application) -> str:
    return f"Argo CD Application {app.name!r} in namespace {app.namespace!r}"


def _sync_verdict(app: Application, desired: Sequence[str]) -> AppHealthVerdict | None:
    if not any(desired):
        return None
    state = app.operation_state
    requested = app.operation is not None and app.operation.sync is not None
    if requested or state is None or state.finished_at is None:
        return AppHealthVerdict(HealthState.UNKNOWN, (f"{_where(app)} is being synced",))
    sources = app.sources()
    if len(sources) != len(desired):
        return AppHealthVerdict(
            HealthState.UNKNOWN,
            (f"{_where(app)} has {len(sources)} source(s) but {len(desired)} desired revision(s)",),
        )
    observed = app.sync_status.observed_revisions()
    if len(observed) != len(desired):
        return AppHealthVerdict(
            HealthState.UNKNOWN,
            (
                f"{_where(app)} reports {len(observed)} synced revision(s) but "
                f"{len(desired)} desired revision(s)",
            ),
        )
    problems = [
        f"source {i} ({sources[i].repo_url}) is synced to {got!r}, not to {want!r}"
        for i, (got, want) in enumerate(zip(observed, desired, strict=True))
        if want and got != want
    ]
    if problems:
        return AppHealthVerdict(
            HealthState.UNHEALTHY,
            (
                f"not all sources of {_where(app)} are synced to the desired revisions: "
                + "; ".join(problems),
            ),
        )
    return None


def assess_application(app: Application, desired: Sequence[str]) -> AppHealthVerdict:
    """The health one Application gives its Stage (steps 2-5 of the module doc)."""
    state = app.operation_state
    reconciled = app.status.reconciled_at if app.status is not None else None
    if (
        state is not None
        and state.finished_at is not None
        and (reconciled is None or reconciled < state.finished_at)
    ):
        return AppHealthVerdict(
            HealthState.UNKNOWN,
            (
                f"{_where(app)} was not reconciled after its last operation finished; "
                "its health status is not trusted yet",
            ),
            refresh=True,
        )
    errors = app.conditions_of(*_ERROR_CONDITIONS)
    if errors:
        return AppHealthVerdict(
            HealthState.UNHEALTHY,
            tuple(f"{_where(app)} has a {c.type!r} condition: {c.message}" for c in errors),
        )
    sync = _sync_verdict(app, desired)
    if sync is not None:
        return sync
    health = app.health_status
    if health in ("", HealthStatusCode.PROGRESSING):
        return AppHealthVerdict(HealthState.PROGRESSING, (f"{_where(app)} is progressing",))
    if health == HealthStatusCode.SUSPENDED:
        return AppHealthVerdict(HealthState.PROGRESSING, (f"{_where(app)} is suspended",))
    if health == HealthStatusCode.HEALTHY:
        return AppHealthVerdict(HealthState.HEALTHY)
    return AppHealthVerdict(HealthState.UNHEALTHY, (f"{_where(app)} has health state {health!r}",))


async def check_argocd_health(
    kube: KubeClient | None,
    config: Mapping[str, Any],
    *,
    default_namespace: str = DEFAULT_NAMESPACE,
) -> HealthResult:
    """Evaluate the ``argocd-update`` health check ``config`` (see the module doc).

    ``kube`` None means the Argo CD integration is off: the result is Unknown. Never raises for
    problems with the Applications; they become issues.
    """
    if kube is None:
        return HealthResult(
            HealthState.UNKNOWN,
            [
                "Argo CD integration is disabled on this controller; cannot assess the "
                "health or sync status of Argo CD Applications"
            ],
        )
    try:
        checks = parse_health_config(config)
    except ValueError as exc:
        return HealthResult(
            HealthState.UNKNOWN, [f"invalid argocd-update health check input: {exc}"]
        )
    client = ArgoCDClient(kube, default_namespace=default_namespace)
    result = HealthResult(HealthState.HEALTHY)
    statuses: list[dict[str, Any]] = []
    for check in checks:
        namespace = client.namespace(check.namespace)
        try:
            app = await client.get(namespace, check.name)
        except (ApplicationNotFoundError, ArgoCDError) as exc:
            result.status = worst(result.status, HealthState.UNKNOWN)
            result.issues.append(str(exc))
            statuses.append(trimmed_status(None, namespace, check.name))
            continue
        verdict = assess_application(app, check.desired_revisions)
        if verdict.refresh:
            await client.request_refresh(app)
        result.status = worst(result.status, verdict.state)
        result.issues.extend(verdict.issues)
        statuses.append(trimmed_status(app, namespace, check.name))
    result.output = {APPLICATION_STATUSES_KEY: statuses}
    return result
