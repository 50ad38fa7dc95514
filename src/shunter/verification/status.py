"""An AnalysisRun's ``status`` as Rollouts writes it, read from and written back to JSON.

Owns :class:`Measurement`, :class:`MetricResult`, :class:`RunSummary` and
:class:`AnalysisRunStatus`. JSON names and ``omitempty`` behaviour follow Rollouts (zero counters
and empty strings are left out), timestamps are RFC 3339 in UTC with whole seconds (Kubernetes'
``metav1.Time``), so ``kubectl get analysisrun -o yaml`` looks as it would under Rollouts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from shunter.verification.phases import AnalysisPhase

__all__ = [
    "AnalysisRunStatus",
    "Measurement",
    "MetricResult",
    "RunSummary",
    "format_time",
    "parse_time",
]


def format_time(moment: datetime) -> str:
    """``metav1.Time`` text: ``2006-01-02T15:04:05Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: Any) -> datetime | None:
    """A timestamp from JSON (None when absent or unreadable)."""
    if not isinstance(text, str) or not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _int(raw: Mapping[str, Any], key: str) -> int:
    value = raw.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _str_map(raw: Any) -> dict[str, str]:
    if not isinstance(raw, Mapping):
        return {}
    return {str(k): str(v) for k, v in raw.items()}


@dataclass(slots=True)
class Measurement:
    """One measurement of a metric."""

    phase: AnalysisPhase
    started_at: datetime | None = None
    finished_at: datetime | None = None
    value: str = ""
    message: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    resume_at: datetime | None = None

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Measurement:
        return cls(
            phase=AnalysisPhase.parse(raw.get("phase")) or AnalysisPhase.RUNNING,
            started_at=parse_time(raw.get("startedAt")),
            finished_at=parse_time(raw.get("finishedAt")),
            value=str(raw.get("value") or ""),
            message=str(raw.get("message") or ""),
            metadata=_str_map(raw.get("metadata")),
            resume_at=parse_time(raw.get("resumeAt")),
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"phase": str(self.phase)}
        if self.message:
            out["message"] = self.message
        if self.started_at is not None:
            out["startedAt"] = format_time(self.started_at)
        if self.finished_at is not None:
            out["finishedAt"] = format_time(self.finished_at)
        if self.value:
            out["value"] = self.value
        if self.metadata:
            out["metadata"] = dict(self.metadata)
        if self.resume_at is not None:
            out["resumeAt"] = format_time(self.resume_at)
        return out


@dataclass(slots=True)
class MetricResult:
    """The measurements of one metric and their counters."""

    name: str
    phase: AnalysisPhase = AnalysisPhase.RUNNING
    measurements: list[Measurement] = field(default_factory=list)
    message: str = ""
    count: int = 0
    """Measurements that did not end in Error (successful + failed + inconclusive)."""
    successful: int = 0
    failed: int = 0
    inconclusive: int = 0
    error: int = 0
    consecutive_error: int = 0
    consecutive_success: int = 0
    dry_run: bool = False
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def last(self) -> Measurement | None:
        return self.measurements[-1] if self.measurements else None

    def record(self, measurement: Measurement) -> None:
        """Count a completed measurement into the counters (Rollouts' bookkeeping)."""
        phase = measurement.phase
        if phase is AnalysisPhase.ERROR:
            self.error += 1
            self.consecutive_error += 1
            self.consecutive_success = 0
            return
        self.count += 1
        self.consecutive_error = 0
        if phase is AnalysisPhase.SUCCESSFUL:
            self.successful += 1
            self.consecutive_success += 1
            return
        self.consecutive_success = 0
        if phase is AnalysisPhase.FAILED:
            self.failed += 1
        elif phase is AnalysisPhase.INCONCLUSIVE:
            self.inconclusive += 1

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> MetricResult:
        return cls(
            name=str(raw.get("name") or ""),
            phase=AnalysisPhase.parse(raw.get("phase")) or AnalysisPhase.RUNNING,
            measurements=[
                Measurement.from_json(m)
                for m in raw.get("measurements") or []
                if isinstance(m, Mapping)
            ],
            message=str(raw.get("message") or ""),
            count=_int(raw, "count"),
            successful=_int(raw, "successful"),
            failed=_int(raw, "failed"),
            inconclusive=_int(raw, "inconclusive"),
            error=_int(raw, "error"),
            consecutive_error=_int(raw, "consecutiveError"),
            consecutive_success=_int(raw, "consecutiveSuccess"),
            dry_run=bool(raw.get("dryRun")),
            metadata=_str_map(raw.get("metadata")),
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "phase": str(self.phase)}
        if self.measurements:
            out["measurements"] = [m.to_json() for m in self.measurements]
        if self.message:
            out["message"] = self.message
        for key, value in (
            ("count", self.count),
            ("successful", self.successful),
            ("failed", self.failed),
            ("inconclusive", self.inconclusive),
            ("error", self.error),
            ("consecutiveError", self.consecutive_error),
        ):
            if value:
                out[key] = value
        if self.dry_run:
            out["dryRun"] = True
        if self.metadata:
            out["metadata"] = dict(self.metadata)
        if self.consecutive_success:
            out["consecutiveSuccess"] = self.consecutive_success
        return out


@dataclass(slots=True)
class RunSummary:
    """Per-phase counts of completed metrics (``count`` is the number of metrics)."""

    count: int = 0
    successful: int = 0
    failed: int = 0
    inconclusive: int = 0
    error: int = 0

    def add(self, phase: AnalysisPhase) -> None:
        if phase is AnalysisPhase.ERROR:
            self.error += 1
        elif phase is AnalysisPhase.FAILED:
            self.failed += 1
        elif phase is AnalysisPhase.INCONCLUSIVE:
            self.inconclusive += 1
        else:
            self.successful += 1

    @classmethod
    def from_json(cls, raw: Any) -> RunSummary:
        if not isinstance(raw, Mapping):
            return cls()
        return cls(
            count=_int(raw, "count"),
            successful=_int(raw, "successful"),
            failed=_int(raw, "failed"),
            inconclusive=_int(raw, "inconclusive"),
            error=_int(raw, "error"),
        )

    def to_json(self) -> dict[str, Any]:
        pairs = (
            ("count", self.count),
            ("successful", self.successful),
            ("failed", self.failed),
            ("inconclusive", self.inconclusive),
            ("error", self.error),
        )
        return {key: value for key, value in pairs if value}


@dataclass(slots=True)
class AnalysisRunStatus:
    """``AnalysisRun.status``."""

    phase: AnalysisPhase | None = None
    """None while the run was never reconciled (Rollouts writes ``""``)."""
    message: str = ""
    metric_results: list[MetricResult] = field(default_factory=list)
    started_at: datetime | None = None
    completed_at: datetime | None = None
    run_summary: RunSummary = field(default_factory=RunSummary)
    dry_run_summary: RunSummary | None = None

    def result(self, name: str) -> MetricResult | None:
        return next((r for r in self.metric_results if r.name == name), None)

    def set_result(self, result: MetricResult) -> None:
        for i, existing in enumerate(self.metric_results):
            if existing.name == result.name:
                self.metric_results[i] = result
                return
        self.metric_results.append(result)

    @classmethod
    def from_json(cls, raw: Any) -> AnalysisRunStatus:
        if not isinstance(raw, Mapping):
            return cls()
        dry = raw.get("dryRunSummary")
        return cls(
            phase=AnalysisPhase.parse(raw.get("phase")),
            message=str(raw.get("message") or ""),
            metric_results=[
                MetricResult.from_json(r)
                for r in raw.get("metricResults") or []
                if isinstance(r, Mapping)
            ],
            started_at=parse_time(raw.get("startedAt")),
            completed_at=parse_time(raw.get("completedAt")),
            run_summary=RunSummary.from_json(raw.get("runSummary")),
            dry_run_summary=RunSummary.from_json(dry) if isinstance(dry, Mapping) else None,
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"phase": str(self.phase) if self.phase else ""}
        if self.message:
            out["message"] = self.message
        if self.metric_results:
            out["metricResults"] = [r.to_json() for r in self.metric_results]
        if self.started_at is not None:
            out["startedAt"] = format_time(self.started_at)
        out["runSummary"] = self.run_summary.to_json()
        if self.dry_run_summary is not None:
            out["dryRunSummary"] = self.dry_run_summary.to_json()
        if self.completed_at is not None:
            out["completedAt"] = format_time(self.completed_at)
        return out
