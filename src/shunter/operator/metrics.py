"""The ``/metrics`` endpoint and the series read from the operator's state at scrape time.

:class:`StateCollector` reports what already exists in the cache and the queues instead of
keeping copies: work-queue depths, each Stage's health, whether each Warehouse's discovery is
failing, and when the oldest running Promotion of each Stage started. Object-derived series
come only from the replica that leads (a standby's warm cache would report every Stage twice)
and only for the objects this operator is responsible for (its shard).
:func:`metrics_route` serves the default registry (these, :mod:`shunter.metrics`, and the
client library's process and Python series) in Prometheus' text format.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from shunter.cache import PROMOTIONS, STAGES, WAREHOUSES, KargoCache
from shunter.operator.probes import Response, Route

__all__ = ["StateCollector", "metrics_route"]

_HEALTH_STATES = ("Healthy", "Unhealthy", "Progressing", "Unknown")


def metrics_route() -> Route:
    """``/metrics``: the default registry in the text exposition format."""

    def answer() -> Response:
        return Response(200, generate_latest(REGISTRY), CONTENT_TYPE_LATEST)

    return answer


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _epoch(text: Any) -> float | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None


class StateCollector(Collector):
    """Scrape-time series from the operator's queues and cache."""

    def __init__(
        self,
        cache: KargoCache,
        queue_depths: Callable[[], Iterable[tuple[str, int]]],
        *,
        reporting: Callable[[], bool],
        responsible: Callable[[Mapping[str, Any]], bool],
    ) -> None:
        self._cache = cache
        self._queue_depths = queue_depths
        self._reporting = reporting
        self._responsible = responsible

    def _objects(self, kind: Any, keys: Iterable[tuple[str, str]]) -> Iterator[Mapping[str, Any]]:
        for namespace, name in keys:
            raw = self._cache.raw(kind, namespace, name)
            if raw is not None and self._responsible(raw):
                yield raw

    def collect(self) -> Iterator[Metric]:
        depth = GaugeMetricFamily(
            "shunter_workqueue_depth", "Keys waiting in a work queue, by kind.", labels=["kind"]
        )
        for kind, value in self._queue_depths():
            depth.add_metric([kind], value)
        yield depth
        if not self._reporting():
            return
        yield self._stage_health()
        yield self._discovery_failing()
        yield self._running_promotions()

    def _stage_health(self) -> Metric:
        health = GaugeMetricFamily(
            "shunter_stage_health",
            "1 for a Stage's current health status (Healthy, Unhealthy, Progressing, Unknown), "
            "0 for the others; Stages without health checks report Unknown.",
            labels=["project", "stage", "status"],
        )
        for stage in self._objects(STAGES, self._cache.keys(STAGES)):
            meta = _dict(stage.get("metadata"))
            state = _dict(_dict(stage.get("status")).get("health")).get("status") or "Unknown"
            for status in _HEALTH_STATES:
                health.add_metric(
                    [str(meta.get("namespace")), str(meta.get("name")), status],
                    1.0 if state == status else 0.0,
                )
        return health

    def _discovery_failing(self) -> Metric:
        failing = GaugeMetricFamily(
            "shunter_warehouse_discovery_failing",
            "1 while a Warehouse's last artifact discovery failed (its Ready condition has "
            "reason DiscoveryFailure), else 0.",
            labels=["project", "warehouse"],
        )
        for warehouse in self._objects(WAREHOUSES, self._cache.keys(WAREHOUSES)):
            meta = _dict(warehouse.get("metadata"))
            conditions = _dict(warehouse.get("status")).get("conditions") or []
            down = any(
                _dict(c).get("type") == "Ready" and _dict(c).get("reason") == "DiscoveryFailure"
                for c in conditions
            )
            failing.add_metric(
                [str(meta.get("namespace")), str(meta.get("name"))], 1.0 if down else 0.0
            )
        return failing

    def _running_promotions(self) -> Metric:
        running = GaugeMetricFamily(
            "shunter_promotion_running_since_timestamp_seconds",
            "Start time (Unix seconds) of the oldest Running Promotion of a Stage; absent when "
            "none runs.",
            labels=["project", "stage"],
        )
        oldest: dict[tuple[str, str], float] = {}
        for promotion in self._objects(PROMOTIONS, self._cache.promotions_in_flight()):
            status = _dict(promotion.get("status"))
            started = _epoch(status.get("startedAt"))
            if status.get("phase") != "Running" or started is None:
                continue
            meta = _dict(promotion.get("metadata"))
            key = (str(meta.get("namespace")), str(_dict(promotion.get("spec")).get("stage")))
            oldest[key] = min(started, oldest.get(key, started))
        for (project, stage), started in sorted(oldest.items()):
            running.add_metric([project, stage], started)
        return running
