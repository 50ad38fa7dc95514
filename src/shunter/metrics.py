"""The operator's Prometheus metrics: every ``shunter_*`` series, defined once, in the default
registry of the official client library (``prometheus_client``).

Code that does the work records it here (a Promotion's end, a step, a discovery, a registry or
git request, a reconcile); state that already exists elsewhere - queue depths, Stage health,
running Promotions - is read at scrape time by collectors the operator registers
(:mod:`shunter.operator.metrics`). ``docs/metrics.md`` lists them all.

Labels are bounded: projects, Stages, Warehouses, kinds, step kinds, hosts, outcomes and
phases - never Freight names, commit IDs, Promotion names or error messages.
"""

from __future__ import annotations

import contextlib
from urllib.parse import urlsplit

from prometheus_client import Counter, Gauge, Histogram

__all__ = [
    "DISCOVERY_DURATION",
    "DISCOVERY_ERRORS",
    "DISCOVERY_RUNS",
    "FREIGHT_CREATED",
    "GARBAGE_COLLECTED",
    "GIT_REQUESTS",
    "GIT_REQUEST_DURATION",
    "IS_LEADER",
    "PROMOTIONS",
    "PROMOTION_DURATION",
    "RECONCILES",
    "RECONCILE_DURATION",
    "RECONCILE_ERRORS",
    "REGISTRY_RATE_LIMIT_WAIT",
    "REGISTRY_REQUESTS",
    "STEP_DURATION",
    "WORKQUEUE_ADDS",
    "WORKQUEUE_RETRIES",
    "count_registry_request",
    "forget_stage",
    "forget_warehouse",
    "touch_stage",
    "touch_warehouse",
    "url_host",
]

#: Kargo's terminal Promotion phases.
TERMINAL_PHASES = ("Succeeded", "Failed", "Errored", "Aborted")

#: Promotions and their steps take seconds to hours.
_LONG_BUCKETS = (0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200)
#: Reconciles, discoveries and requests take milliseconds to a minute.
_SHORT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)

PROMOTIONS = Counter(
    "shunter_promotions",
    "Promotions that reached a terminal phase.",
    ["project", "stage", "phase"],
)
PROMOTION_DURATION = Histogram(
    "shunter_promotion_duration_seconds",
    "From a Promotion's start (its first step) to its terminal phase.",
    ["project", "stage", "phase"],
    buckets=_LONG_BUCKETS,
)
STEP_DURATION = Histogram(
    "shunter_promotion_step_duration_seconds",
    "One run of a promotion step, by step kind and the step's status after it.",
    ["kind", "outcome"],
    buckets=_LONG_BUCKETS,
)
DISCOVERY_RUNS = Counter(
    "shunter_discovery_runs",
    "Artifact discoveries of a Warehouse (successful or not).",
    ["project", "warehouse"],
)
DISCOVERY_ERRORS = Counter(
    "shunter_discovery_errors",
    "Artifact discoveries of a Warehouse that failed.",
    ["project", "warehouse"],
)
DISCOVERY_DURATION = Histogram(
    "shunter_discovery_duration_seconds",
    "How long one artifact discovery of a Warehouse took.",
    ["project", "warehouse"],
    buckets=_SHORT_BUCKETS,
)
FREIGHT_CREATED = Counter(
    "shunter_freight_created",
    "Freight a Warehouse created.",
    ["project", "warehouse"],
)
REGISTRY_REQUESTS = Counter(
    "shunter_registry_requests",
    "HTTP requests to container and chart registries, by host and outcome (the status code "
    "class, 429, or error when no answer came).",
    ["host", "outcome"],
)
REGISTRY_RATE_LIMIT_WAIT = Counter(
    "shunter_registry_rate_limit_wait_seconds",
    "Time requests waited for the client-side rate limiter of a registry host (a 429 pauses "
    "the host: that wait counts too).",
    ["host"],
)
GIT_REQUESTS = Counter(
    "shunter_git_requests",
    "git commands that talk to a remote (clone, fetch, push, ls-remote), by host, command and "
    "outcome (success, or the failure's class).",
    ["host", "verb", "outcome"],
)
GIT_REQUEST_DURATION = Histogram(
    "shunter_git_request_duration_seconds",
    "How long git commands that talk to a remote took.",
    ["host", "verb"],
    buckets=_SHORT_BUCKETS,
)
RECONCILES = Counter(
    "shunter_reconciles",
    "Reconciles run by the work queues, by kind.",
    ["kind"],
)
RECONCILE_ERRORS = Counter(
    "shunter_reconcile_errors",
    "Reconciles that raised (they are retried with backoff), by kind.",
    ["kind"],
)
RECONCILE_DURATION = Histogram(
    "shunter_reconcile_duration_seconds",
    "How long one reconcile took, by kind.",
    ["kind"],
    buckets=_SHORT_BUCKETS,
)
WORKQUEUE_ADDS = Counter(
    "shunter_workqueue_adds",
    "Keys added to a work queue, by kind.",
    ["kind"],
)
WORKQUEUE_RETRIES = Counter(
    "shunter_workqueue_retries",
    "Keys queued again after a failed reconcile, by kind.",
    ["kind"],
)
GARBAGE_COLLECTED = Counter(
    "shunter_garbage_collected",
    "Objects the garbage collector deleted: Promotions, Freight, and promotion work "
    "directories a crash left behind.",
    ["kind"],
)
IS_LEADER = Gauge(
    "shunter_leader",
    "1 while this replica holds the leader election Lease (or runs without leader election).",
    ["lease"],
)


def url_host(url: str) -> str:
    """The host (and port) of a URL or an scp-style git address, for a ``host`` label."""
    if "://" not in url and "@" in url and ":" in url:  # git@github.com:org/repo.git
        return url.split("@", 1)[1].split(":", 1)[0] or "unknown"
    try:
        parts = urlsplit(url if "://" in url else f"//{url}")
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return "unknown"
    if not host:
        return "unknown"
    return f"{host}:{port}" if port else host


def count_registry_request(host: str, status: int | None) -> None:
    """One request to a registry: outcome ``2xx``/``3xx``/``4xx``/``5xx``, ``429``, or ``error``
    (no answer)."""
    if status is None:
        outcome = "error"
    elif status == 429:
        outcome = "429"
    else:
        outcome = f"{status // 100}xx"
    REGISTRY_REQUESTS.labels(host, outcome).inc()


def touch_stage(project: str, stage: str) -> None:
    """Start a Stage's Promotion counters at 0 for every terminal phase, so that ``increase()``
    sees its first failure (a series born at 1 looks like no increase)."""
    for phase in TERMINAL_PHASES:
        PROMOTIONS.labels(project, stage, phase)


def forget_stage(project: str, stage: str) -> None:
    """Drop the series of a deleted Stage."""
    for phase in TERMINAL_PHASES:
        for family in (PROMOTIONS, PROMOTION_DURATION):
            with contextlib.suppress(KeyError):
                family.remove(project, stage, phase)


def touch_warehouse(project: str, warehouse: str) -> None:
    """Start a Warehouse's discovery counters at 0."""
    DISCOVERY_RUNS.labels(project, warehouse)
    DISCOVERY_ERRORS.labels(project, warehouse)


def forget_warehouse(project: str, warehouse: str) -> None:
    """Drop the series of a deleted Warehouse."""
    for family in (DISCOVERY_RUNS, DISCOVERY_ERRORS, DISCOVERY_DURATION, FREIGHT_CREATED):
        with contextlib.suppress(KeyError):
            family.remove(project, warehouse)
