"""The ``argocd-wait`` step: wait until Argo CD Applications reach the wanted states.

Config (Kargo's keys): ``apps[]`` (at least one), each with exactly one of ``name`` or
``selector``, an optional ``namespace`` (default: the operator's Argo CD namespace) and
``waitFor[]`` (unique values of ``health``, ``sync``, ``operation``, ``suspended``,
``degraded``; default ``[health, sync, operation]``, like ``argocd app wait``).

Per Application, in this order:

* a ``ComparisonError`` or ``InvalidSpecError`` condition is an unrecoverable error;
* ``operation``: not ready while an operation is requested or has not finished;
* ``health`` / ``suspended`` / ``degraded`` (OR-ed: health is ``Healthy``, ``Suspended`` or
  ``Degraded`` respectively): not ready while the last operation finished after
  ``status.reconciledAt`` (health may predate it; a hard refresh is requested); with
  ``health``, an Application whose health falls to ``Degraded`` from a state seen earlier in this
  step (other than ``Degraded`` or ``Unknown``) is an unrecoverable error;
* ``sync``: not ready until ``status.sync.status`` is ``Synced``.

Running (looked at again after a few seconds) until every Application is ready, then
Succeeded. The step changes nothing but the refresh annotation, needs no authorization, and
registers no health check. Output: ``apps[] {name, namespace}`` and ``healthStatus`` (last seen
health per ``namespace/name``, which is how it spots a regression between runs). Default
timeout: 5 minutes.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, field_validator

from shunter.api.v1alpha1.promotion import PromotionStepStatus
from shunter.argocd import Application, ArgoCDClient, ArgoCDError, HealthStatusCode
from shunter.argocd.models import SyncStatusCode
from shunter.promotion.effects import Effects
from shunter.promotion.registry import register
from shunter.promotion.step import (
    StepConfig,
    StepContext,
    StepError,
    StepResult,
    TerminalStepError,
)
from shunter.providers.argocd import AppTargetConfig, apps_output, argocd_client
from shunter.steps_support.effects import app_names, would

__all__ = [
    "DEFAULT_WAIT_FOR",
    "HEALTH_STATUS_KEY",
    "POLL_INTERVAL",
    "ArgoCDAppWaitConfig",
    "ArgoCDWaitConfig",
    "ArgoCDWaitStep",
    "WaitFor",
]

WaitFor = Literal["health", "sync", "operation", "suspended", "degraded"]
DEFAULT_WAIT_FOR: tuple[WaitFor, ...] = ("health", "sync", "operation")
#: Output key of the last seen health per ``namespace/name``.
HEALTH_STATUS_KEY = "healthStatus"
#: How long a Running step waits before looking at the Applications again.
POLL_INTERVAL = timedelta(seconds=5)
_ERROR_CONDITIONS = ("ComparisonError", "InvalidSpecError")


class ArgoCDAppWaitConfig(AppTargetConfig):
    """An ``apps[]`` entry."""

    wait_for: Annotated[list[WaitFor], Field(min_length=1)] | None = Field(
        default=None, description="States to wait for (default: health, sync, operation)."
    )

    @field_validator("wait_for")
    @classmethod
    def _unique(cls, value: list[WaitFor] | None) -> list[WaitFor] | None:
        if value is not None and len(set(value)) != len(value):
            raise ValueError("waitFor values must be unique")
        return value


class ArgoCDWaitConfig(StepConfig):
    """Config of ``argocd-wait``."""

    apps: Annotated[list[ArgoCDAppWaitConfig], Field(min_length=1)]


def _where(app: Application) -> str:
    return f"Argo CD Application {app.name!r} in namespace {app.namespace!r}"


def _previous_health(ctx: StepContext) -> dict[str, str]:
    own = ctx.state.get(ctx.alias)
    statuses = own.get(HEALTH_STATUS_KEY) if isinstance(own, Mapping) else None
    if not isinstance(statuses, Mapping):
        return {}
    return {str(k): v for k, v in statuses.items() if isinstance(v, str)}


def _operation_in_progress(app: Application) -> bool:
    if app.operation is not None:
        return True
    state = app.operation_state
    return state is not None and state.finished_at is None


def _health_stale(app: Application) -> bool:
    state = app.operation_state
    if state is None or state.finished_at is None:
        return False
    reconciled = app.status.reconciled_at if app.status is not None else None
    return reconciled is None or reconciled < state.finished_at


async def _ready(
    client: ArgoCDClient, app: Application, wait_for: set[str], previous: str
) -> tuple[bool, str]:
    """Whether ``app`` meets ``wait_for``, and why not (raises TerminalStepError)."""
    errors = app.conditions_of(*_ERROR_CONDITIONS)
    if errors:
        raise TerminalStepError(
            "; ".join(f"{_where(app)} has a {c.type!r} condition: {c.message}" for c in errors)
        )
    if "operation" in wait_for and _operation_in_progress(app):
        return False, "an operation is in progress"
    health = app.health_status
    checks_health = bool(wait_for & {"health", "suspended", "degraded"})
    if checks_health:
        if _health_stale(app):
            await client.request_refresh(app)
            return False, "not reconciled since its last operation; health not trusted yet"
        if (
            "health" in wait_for
            and health == HealthStatusCode.DEGRADED
            and previous not in ("", HealthStatusCode.DEGRADED, HealthStatusCode.UNKNOWN)
        ):
            raise TerminalStepError(
                f"{_where(app)} health has regressed from {previous} to {health}"
            )
        passed = (
            ("health" in wait_for and health == HealthStatusCode.HEALTHY)
            or ("suspended" in wait_for and health == HealthStatusCode.SUSPENDED)
            or ("degraded" in wait_for and health == HealthStatusCode.DEGRADED)
        )
        if not passed:
            return False, f"health is {health or 'unknown'}"
    if "sync" in wait_for and app.sync_status.status != SyncStatusCode.SYNCED:
        return False, f"sync status is {app.sync_status.status or 'unknown'}"
    return True, ""


@register
class ArgoCDWaitStep:
    """Runner of ``argocd-wait``."""

    name: ClassVar[str] = "argocd-wait"
    config_model: ClassVar[type[StepConfig]] = ArgoCDWaitConfig
    default_timeout: ClassVar[timedelta | None] = timedelta(minutes=5)
    default_error_threshold: ClassVar[int] = 1
    external_effects: ClassVar[Effects] = Effects.WAITS

    async def preview(self, ctx: StepContext, config: Any) -> StepResult:
        """The Applications it would wait for."""
        cfg = ArgoCDWaitConfig.model_validate(config)
        return would(f"would wait for Argo CD Application(s) {app_names(cfg.apps)}")

    async def run(self, ctx: StepContext, config: Any) -> StepResult:
        """Check every Application once (see the module doc)."""
        if not isinstance(config, ArgoCDWaitConfig):
            raise TerminalStepError("argocd-wait: unexpected config type")
        client = argocd_client(ctx, self.name)
        previous = _previous_health(ctx)
        health: dict[str, str] = dict(previous)
        resolved: list[tuple[str, str]] = []
        waiting: list[str] = []
        for entry in config.apps:
            wait_for: set[str] = set(entry.wait_for or DEFAULT_WAIT_FOR)
            try:
                apps = await client.find(
                    entry.namespace,
                    name=entry.name,
                    selector=entry.selector.to_selector() if entry.selector else None,
                )
            except ArgoCDError as exc:
                raise StepError(str(exc)) from exc
            for app in apps:
                key = f"{app.namespace}/{app.name}"
                resolved.append((app.namespace, app.name))
                if app.health_status:
                    health[key] = app.health_status
                ready, why = await _ready(client, app, wait_for, previous.get(key, ""))
                if not ready:
                    waiting.append(f"{_where(app)}: {why}")
        output: dict[str, Any] = {"apps": apps_output(resolved), HEALTH_STATUS_KEY: health}
        if waiting:
            return StepResult(
                status=PromotionStepStatus.RUNNING,
                message="; ".join(waiting),
                output=output,
                retry_after=POLL_INTERVAL,
            )
        return StepResult(status=PromotionStepStatus.SUCCEEDED, output=output)
