"""shunter's own evaluation of an AnalysisRun: one reconcile step, as Rollouts takes it.

Owns :class:`AnalysisRunner`. :meth:`AnalysisRunner.step` reads an AnalysisRun object (a JSON
dict), takes the measurements that are due, re-assesses every metric and the run, and returns
the new ``status`` and when to look again. It never talks to the API server itself (Secrets for
``valueFrom.secretKeyRef`` arguments come through the injected ``secrets`` reader), so the
controller decides how the status is persisted.

Order of a step, as in Rollouts: a completed run is left alone; arguments are substituted with
Secret values masked (an unresolvable argument - e.g. ``valueFrom.fieldRef``, which only runs
created from a Rollout have - ends the run in ``Error``: ``Unable to resolve metric arguments:
...``); the metrics are validated (``Analysis spec invalid: ...``); metrics whose provider is
not ``web`` end the run in ``Error`` naming the provider; then the due measurements run
concurrently with the real argument values (Secret values are masked as ``*****`` in
messages), and :func:`shunter.verification.assessment.assess_run` decides the phases.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shunter.verification.assessment import (
    DEFAULT_ERROR_RETRY_SECONDS,
    assess_run,
    dry_run_metrics,
    due_metrics,
    is_terminating,
    measurement_limits,
    next_reconcile_at,
    trim_measurements,
)
from shunter.verification.phases import AnalysisPhase
from shunter.verification.status import AnalysisRunStatus, Measurement, MetricResult
from shunter.verification.templates import (
    Argument,
    Metric,
    TemplateError,
    parse_arguments,
    parse_metric,
    substitute_args,
    validate_metrics,
)
from shunter.verification.webmetric import measure_web

__all__ = [
    "SUPPORTED_PROVIDERS",
    "AnalysisRunner",
    "SecretReader",
    "StepOutcome",
    "utc_now",
]

SUPPORTED_PROVIDERS = ("web",)
_SECRET_PLACEHOLDER = "temp-for-secret"  # noqa: S105 - Rollouts' stand-in, not a secret
_MASK = "*****"
_STATUS_KEYS = frozenset(
    {
        "phase",
        "message",
        "metricResults",
        "startedAt",
        "runSummary",
        "dryRunSummary",
        "completedAt",
    }
)

SecretReader = Callable[[str, str], Awaitable[Mapping[str, Any]]]
"""``await read(namespace, name)``: a Secret object as the API returns it (``data`` base64)."""


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class StepOutcome:
    """What one step decided."""

    status: dict[str, Any] | None
    """The new ``status`` (None: unchanged, nothing to write)."""
    phase: AnalysisPhase | None
    """The run's phase after the step (None: never assessed)."""
    requeue_after: float | None
    """Seconds until the next measurement is due (None: nothing more to do)."""


class _RunError(Exception):
    """Ends the run in ``Error`` with this message."""


def _spec_list(spec: Mapping[str, Any], key: str) -> list[Any]:
    value = spec.get(key)
    return list(value) if isinstance(value, list) else []


def _check_supported(metrics: Sequence[Metric]) -> None:
    for metric in metrics:
        if metric.provider not in SUPPORTED_PROVIDERS:
            raise _RunError(
                f'metric "{metric.name}" uses the {metric.provider} provider, which shunter '
                f"does not evaluate (supported: {', '.join(SUPPORTED_PROVIDERS)}); install "
                "Argo Rollouts to evaluate it"
            )
        if metric.web is not None and metric.web.oauth2:
            raise _RunError(
                f'metric "{metric.name}": web authentication (oauth2) is not supported by shunter'
            )


class AnalysisRunner:
    """Evaluates AnalysisRuns whose metrics use the ``web`` provider."""

    def __init__(
        self,
        *,
        secrets: SecretReader | None = None,
        clock: Callable[[], datetime] = utc_now,
        error_retry_seconds: float = DEFAULT_ERROR_RETRY_SECONDS,
    ) -> None:
        """``secrets`` reads Secrets for ``secretKeyRef`` arguments (None: such arguments
        fail); ``error_retry_seconds`` is the wait after an ``Error`` measurement (Rollouts:
        10 s)."""
        self._secrets = secrets
        self._clock = clock
        self._error_retry = error_retry_seconds

    async def step(self, run: Mapping[str, Any]) -> StepOutcome:
        """Take one reconcile step of ``run`` (an AnalysisRun object)."""
        original = run.get("status")
        status = AnalysisRunStatus.from_json(original)
        if status.phase is not None and status.phase.completed:
            return StepOutcome(None, status.phase, None)
        spec = run.get("spec") if isinstance(run.get("spec"), Mapping) else {}
        assert isinstance(spec, Mapping)  # noqa: S101 - narrowed above
        namespace = str((run.get("metadata") or {}).get("namespace") or "")
        now = self._clock()
        try:
            requeue = await self._advance(spec, namespace, status, now)
        except _RunError as exc:
            status.phase = AnalysisPhase.ERROR
            status.message = str(exc)
            status.completed_at = status.completed_at or now
            requeue = None
        new = status.to_json()
        if isinstance(original, Mapping):  # keep what others wrote (e.g. an operator's notes)
            new = {**{k: v for k, v in original.items() if k not in _STATUS_KEYS}, **new}
        return StepOutcome(None if new == original else new, status.phase, requeue)

    async def _advance(
        self, spec: Mapping[str, Any], namespace: str, status: AnalysisRunStatus, now: datetime
    ) -> float | None:
        raw_metrics = _spec_list(spec, "metrics")
        try:
            args = parse_arguments(spec.get("args"))
        except TemplateError as exc:
            raise _RunError(f"Analysis spec invalid: {exc}") from None
        metrics = self._resolve_without_secrets(raw_metrics, args)
        try:
            validate_metrics(metrics)
            dry_run = dry_run_metrics(_mappings(spec, "dryRun"), metrics)
            limits = measurement_limits(_mappings(spec, "measurementRetention"), metrics)
        except TemplateError as exc:
            raise _RunError(f"Analysis spec invalid: {exc}") from None
        _check_supported(metrics)

        terminate = bool(spec.get("terminate"))
        terminating = is_terminating(terminate, status)
        due = due_metrics(
            metrics,
            status,
            terminating=terminating,
            now=now,
            error_retry_seconds=self._error_retry,
        )
        if due:
            await self._measure(
                raw_metrics=raw_metrics,
                args=args,
                namespace=namespace,
                due=due,
                status=status,
                dry_run=dry_run,
            )
        now = self._clock()
        phase, message = assess_run(metrics, status, terminate=terminate, dry_run=dry_run, now=now)
        if phase is not status.phase:
            status.phase = phase
            status.message = message
            if phase.completed and status.completed_at is None:
                status.completed_at = now
        trim_measurements(status, limits)
        if phase.completed:
            return None
        if is_terminating(terminate, status):
            return 0.0  # a metric just went bad: the next step stops the others
        when = next_reconcile_at(metrics, status, now=now, error_retry_seconds=self._error_retry)
        return None if when is None else max(0.0, (when - now).total_seconds())

    @staticmethod
    def _resolve_without_secrets(raw_metrics: list[Any], args: list[Argument]) -> list[Metric]:
        values: dict[str, str] = {}
        for arg in args:
            if arg.value is not None:
                values[arg.name] = arg.value
            elif arg.secret_key_ref is not None:
                values[arg.name] = _SECRET_PLACEHOLDER
            else:
                hint = (
                    " (valueFrom.fieldRef is only resolved for runs Argo Rollouts creates from "
                    "a Rollout)"
                    if arg.field_path is not None
                    else ""
                )
                raise _RunError(
                    f'Unable to resolve metric arguments: argument "{arg.name}" was not '
                    f"supplied{hint}"
                )
        metrics: list[Metric] = []
        for index, raw in enumerate(raw_metrics):
            if not isinstance(raw, Mapping):
                raise _RunError(f"Analysis spec invalid: metrics[{index}] must be an object")
            try:
                resolved = substitute_args(raw, values)
            except TemplateError as exc:
                raise _RunError(f"Unable to resolve metric arguments: {exc}") from None
            try:
                metrics.append(parse_metric(resolved, f"metrics[{index}]"))
            except TemplateError as exc:
                raise _RunError(f"Analysis spec invalid: {exc}") from None
        return metrics

    async def _argument_values(
        self, args: list[Argument], namespace: str
    ) -> tuple[dict[str, str], list[str]]:
        """Real argument values (Secrets read) and the secret values to mask."""
        values: dict[str, str] = {}
        secrets: list[str] = []
        for arg in args:
            ref = arg.secret_key_ref
            if arg.value is not None or ref is None:
                values[arg.name] = arg.value or ""
                continue
            if self._secrets is None:
                raise _RunError(
                    f"Unable to resolve metric arguments: cannot read Secret {ref.name!r}"
                )
            try:
                secret = await self._secrets(namespace, ref.name)
            except Exception as exc:  # any read failure ends the run
                raise _RunError(f"Unable to resolve metric arguments: {exc}") from None
            data = secret.get("data") or {}
            if ref.key not in data:
                raise _RunError(
                    f"Unable to resolve metric arguments: key '{ref.key}' does not exist in "
                    f"secret '{ref.name}'"
                )
            try:
                value = base64.b64decode(str(data[ref.key]), validate=True).decode()
            except ValueError:
                raise _RunError(
                    f"Unable to resolve metric arguments: key '{ref.key}' of secret "
                    f"'{ref.name}' is not valid base64 UTF-8"
                ) from None
            values[arg.name] = value
            secrets.append(value)
        return values, secrets

    async def _measure(
        self,
        *,
        raw_metrics: list[Any],
        args: list[Argument],
        namespace: str,
        due: list[Metric],
        status: AnalysisRunStatus,
        dry_run: set[str],
    ) -> None:
        values, secrets = await self._argument_values(args, namespace)
        by_name = {str(raw.get("name")): raw for raw in raw_metrics if isinstance(raw, Mapping)}
        resolved: list[Metric] = []
        for metric in due:
            try:
                real = substitute_args(by_name[metric.name], values)
                resolved.append(parse_metric(real, f"metric[{metric.name}]"))
            except TemplateError as exc:
                message = _mask(str(exc), secrets)
                raise _RunError(f"Unable to resolve metric arguments: {message}") from None
        measurements = await asyncio.gather(
            *(measure_web(m, self._clock, project=namespace) for m in resolved)
        )
        for metric, measurement in zip(resolved, measurements, strict=True):
            measurement.message = _mask(measurement.message, secrets)
            result = status.result(metric.name) or MetricResult(
                name=metric.name, phase=AnalysisPhase.RUNNING, dry_run=metric.name in dry_run
            )
            _store(result, measurement)
            status.set_result(result)


def _store(result: MetricResult, measurement: Measurement) -> None:
    if measurement.phase.completed:
        result.record(measurement)
    last = result.last
    if last is not None and last.finished_at is None:
        result.measurements[-1] = measurement  # finish the interrupted measurement
    else:
        result.measurements.append(measurement)


def _mask(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, _MASK)
    return text


def _mappings(spec: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    return [item for item in _spec_list(spec, key) if isinstance(item, Mapping)]
