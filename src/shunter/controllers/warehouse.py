"""The Warehouse controller: discovers artifacts on schedule and creates Freight from them.

Each pass decides whether discovery is due: the interval (``spec.interval``, floored by the
operator's minimum) has passed since ``status.discoveredArtifacts.discoveredAt``, the spec
changed, or a new ``kargo.akuity.io/refresh`` value arrived. Discovery results are written
best-first to ``status.discoveredArtifacts``. With ``freightCreationPolicy: Automatic`` (the
default), the first result of every subscription becomes Freight named by Kargo's Freight ID,
unless ``freightCreationCriteria.expression`` says no. Discovery errors (bad credentials, an
unknown repository, an unreachable registry) are reported in the Ready/Healthy conditions;
the last good results and existing Freight stay, and discovery is tried again soon. A criteria
expression that fails to evaluate is reported there too (reason ``CriteriaEvaluationFailed``)
and not retried until the Warehouse changes.

Every discovery asks the registries afresh (``max_age=0``): a scheduled poll must see a tag
pushed a moment before it. Warehouses polling one repository at the same moment still share a
single listing (the discovery caches are single-flight).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from shunter import metrics
from shunter.api.v1alpha1 import Warehouse, to_wire
from shunter.api.v1alpha1 import annotations as ann
from shunter.api.v1alpha1 import labels as lbl
from shunter.api.v1alpha1.warehouse import (
    DiscoveredArtifacts,
    FreightCreationPolicy,
    WarehouseSpec,
    WarehouseStatus,
)
from shunter.cache import FREIGHTS, WAREHOUSES, KargoCache
from shunter.controllers.availability import parse_duration
from shunter.controllers.conditions import remove_condition, set_condition
from shunter.controllers.wiring import EventSink
from shunter.credentials.types import CredentialsDatabase, CredentialType
from shunter.expressions import ExpressionError, sandbox
from shunter.expressions.functions import FunctionContext
from shunter.expressions.jobs import Job
from shunter.expressions.values import go_sprint, parse_go_bool
from shunter.freight import freight_id, generate_alias
from shunter.kube.client import ConflictError, KubeClient
from shunter.registries.discovery import CredentialsLookup, RepositoryCredentials, discover
from shunter.registries.errors import DiscoveryError

__all__ = ["CriteriaEvaluationError", "WarehouseReconciler", "build_freight", "criteria_met"]

log = logging.getLogger(__name__)

Discover = Callable[..., Awaitable[DiscoveredArtifacts]]
#: How soon a failed discovery is tried again.
RETRY_AFTER_ERROR = 15.0


def _ts_precise(when: datetime) -> str:
    """RFC 3339 with microseconds: two Freight found in one second still sort by time."""
    return when.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def build_freight(
    namespace: str, warehouse: str, spec: WarehouseSpec, found: DiscoveredArtifacts, now: datetime
) -> dict[str, Any] | None:
    """The Freight (wire form, no alias yet) made of each subscription's best artifact, or None
    when a subscription found nothing."""
    commits: list[dict[str, Any]] = []
    images: list[dict[str, Any]] = []
    charts: list[dict[str, Any]] = []
    git = iter(found.git or [])
    image = iter(found.images or [])
    chart = iter(found.charts or [])
    for sub in spec.subscriptions:
        extra = {"subscriptionName": sub.name} if sub.name else {}
        if sub.git is not None:
            result = next(git, None)
            if result is None or not result.commits:
                return None
            c = result.commits[0]
            commit: dict[str, Any] = {"repoURL": result.repo_url, "id": c.id}
            for key, value in (
                ("branch", c.branch),
                ("tag", c.tag),
                ("message", c.subject),
                ("author", c.author),
                ("committer", c.committer),
            ):
                if value:
                    commit[key] = value
            commits.append({**commit, **extra})
        elif sub.image is not None:
            result_i = next(image, None)
            if result_i is None or not result_i.references:
                return None
            r = result_i.references[0]
            img: dict[str, Any] = {"repoURL": result_i.repo_url, "tag": r.tag, "digest": r.digest}
            if r.annotations:
                img["annotations"] = dict(r.annotations)
            images.append({**img, **extra})
        elif sub.chart is not None:
            result_c = next(chart, None)
            if result_c is None or not result_c.versions:
                return None
            ch: dict[str, Any] = {"repoURL": result_c.repo_url, "version": result_c.versions[0]}
            if result_c.name:
                ch["name"] = result_c.name
            charts.append({**ch, **extra})
    name = freight_id("Warehouse", warehouse, commits, images, charts)
    body: dict[str, Any] = {
        "apiVersion": "kargo.akuity.io/v1alpha1",
        "kind": "Freight",
        "metadata": {"name": name, "namespace": namespace},
        "origin": {"kind": "Warehouse", "name": warehouse},
        "discoveredAt": _ts_precise(now),
    }
    for key, items in (("commits", commits), ("images", images), ("charts", charts)):
        if items:
            body[key] = items
    return body


class CriteriaEvaluationError(Exception):
    """``freightCreationCriteria.expression`` could not be evaluated (or not read as a bool)."""


async def criteria_met(expression: str | None, freight: dict[str, Any], *, project: str) -> bool:
    """Whether ``freightCreationCriteria.expression`` accepts the Freight.

    The expression is raw expr-lang (no ``${{ }}``) with ``imageFrom``, ``commitFrom`` and
    ``chartFrom`` answering from the candidate Freight, evaluated off the event loop (a worker
    process with a deadline when it could grow). Like Kargo, a result that is not a bool is
    read with Go's ``strconv.ParseBool`` of its text.

    Raises:
        CriteriaEvaluationError: the expression does not evaluate, or not to a bool.
    """
    if not expression or not expression.strip():
        return True
    job = Job("evaluate", expression.strip(), {}, FunctionContext(freight=[freight]))
    try:
        result = await sandbox.run(job, project=project)
    except ExpressionError as exc:
        raise CriteriaEvaluationError(str(exc)) from None
    if isinstance(result, bool):
        return result
    parsed = parse_go_bool(go_sprint(result))
    if parsed is None:
        raise CriteriaEvaluationError(
            f"failed to parse freight creation criteria expression result "
            f"{go_sprint(result)!r} as bool"
        )
    return parsed


class WarehouseReconciler:
    """Reconciles one Warehouse."""

    def __init__(
        self,
        kube: KubeClient,
        cache: KargoCache,
        credentials: CredentialsDatabase,
        events: EventSink,
        *,
        min_interval_seconds: float = 0.0,
        retry_after_error: float = RETRY_AFTER_ERROR,
        discover_fn: Discover = discover,
    ) -> None:
        self._kube = kube
        self._cache = cache
        self._credentials = credentials
        self._events = events
        self._min_interval = min_interval_seconds
        self._discover = discover_fn
        self._retry_after_error = retry_after_error

    async def reconcile(self, namespace: str, name: str) -> float | None:
        """One pass; returns when to look again (seconds)."""
        warehouse = self._cache.warehouse(namespace, name)
        if warehouse is None:
            return None
        old = warehouse.status or WarehouseStatus()
        status = old.model_copy(deep=True)
        now = datetime.now(UTC).replace(microsecond=0)
        interval = max(parse_duration(warehouse.spec.interval).total_seconds(), self._min_interval)
        interval = max(interval, 1.0)
        refresh = (warehouse.metadata.annotations or {}).get(ann.REFRESH)
        refresh_requested = bool(refresh) and refresh != old.last_handled_refresh
        changed = warehouse.metadata.generation != old.observed_generation
        last = old.discovered_artifacts.discovered_at if old.discovered_artifacts else None
        due = last is None or now >= last + timedelta(seconds=interval)
        failing = any(
            c.type == "Ready" and c.reason == "DiscoveryFailure" for c in old.conditions or []
        )
        if last is not None and not (due or refresh_requested or changed or failing):
            return max(1.0, (last + timedelta(seconds=interval) - now).total_seconds())

        gen = warehouse.metadata.generation
        log.debug(
            "Warehouse %s/%s: discovering (due=%s refresh=%s changed=%s failing=%s)",
            namespace, name, due, refresh_requested, changed, failing,
        )  # fmt: skip
        status.observed_generation = gen
        if refresh:
            status.last_handled_refresh = refresh
        metrics.DISCOVERY_RUNS.labels(namespace, name).inc()
        began = time.monotonic()
        try:
            found = await self._discover(
                warehouse.spec,
                self._lookup(namespace),
                previous=old.discovered_artifacts,
                # Every discovery sees the registries as they are now: a listing another
                # Warehouse made earlier may miss what was pushed since (concurrent discoveries
                # of one repository still share one listing).
                max_age=0.0,
            )
        except Exception as exc:  # any failure is reported in a condition, never raised
            metrics.DISCOVERY_ERRORS.labels(namespace, name).inc()
            metrics.DISCOVERY_DURATION.labels(namespace, name).observe(time.monotonic() - began)
            if isinstance(exc, DiscoveryError):
                message = f"discovery failed: {exc}"
                log.warning("Warehouse %s/%s: %s", namespace, name, message)
            else:
                message = f"discovery failed: {type(exc).__name__}: {exc}"
                log.exception("Warehouse %s/%s: unexpected discovery error", namespace, name)
            status.conditions = set_condition(
                status.conditions,
                "Ready",
                False,
                "DiscoveryFailure",
                message,
                generation=gen,
                now=now,
            )
            status.conditions = set_condition(
                status.conditions,
                "Healthy",
                False,
                "DiscoveryFailed",
                message,
                generation=gen,
                now=now,
            )
            await self._write(warehouse, status, old)
            return self._retry_after_error

        metrics.DISCOVERY_DURATION.labels(namespace, name).observe(time.monotonic() - began)
        status.discovered_artifacts = found
        status.conditions = remove_condition(status.conditions, "Reconciling")
        freight = build_freight(namespace, name, warehouse.spec, found, datetime.now(UTC))
        if freight is None:
            message = "no artifacts matched a subscription: nothing to build Freight from"
            status.conditions = set_condition(
                status.conditions,
                "Ready",
                False,
                "MissingArtifacts",
                message,
                generation=gen,
                now=now,
            )
            status.conditions = set_condition(
                status.conditions,
                "Healthy",
                False,
                "NoImageReferencesDiscovered"
                if warehouse.spec.subscriptions and warehouse.spec.subscriptions[0].image
                else "NoCommitsDiscovered",
                message,
                generation=gen,
                now=now,
            )
            await self._write(warehouse, status, old)
            return interval
        count = len(warehouse.spec.subscriptions)
        status.conditions = set_condition(
            status.conditions,
            "Healthy",
            True,
            "ReconciliationSucceeded",
            "Warehouse is healthy",
            generation=gen,
            now=now,
        )
        status.conditions = set_condition(
            status.conditions,
            "Ready",
            True,
            "ArtifactsDiscovered",
            f"Successfully discovered artifacts from {count} subscriptions",
            generation=gen,
            now=now,
        )
        if warehouse.spec.freight_creation_policy == FreightCreationPolicy.AUTOMATIC:
            status = await self._create_freight(warehouse, status, freight, now)
        await self._write(warehouse, status, old)
        return interval

    def _lookup(self, namespace: str) -> CredentialsLookup:
        async def lookup(kind: str, repo_url: str) -> RepositoryCredentials | None:
            return await self._credentials.get(namespace, CredentialType(kind), repo_url)

        return lookup

    async def _create_freight(
        self,
        warehouse: Warehouse,
        status: WarehouseStatus,
        freight: dict[str, Any],
        now: datetime,
    ) -> WarehouseStatus:
        namespace = warehouse.metadata.namespace or ""
        gen = warehouse.metadata.generation
        criteria = warehouse.spec.freight_creation_criteria
        try:
            ok = await criteria_met(
                criteria.expression if criteria else None, freight, project=namespace
            )
        except CriteriaEvaluationError as exc:
            # Reported, not retried: retrying does not make the expression any more valid.
            message = f"Evaluation of Freight creation criteria failed: {exc}"
            for kind in ("Healthy", "Ready"):
                status.conditions = set_condition(
                    status.conditions,
                    kind,
                    False,
                    "CriteriaEvaluationFailed",
                    message,
                    generation=gen,
                    now=now,
                )
            return status
        status.conditions = set_condition(
            status.conditions,
            "FreightCreationCriteriaSatisfied",
            ok,
            "CriteriaSatisfied" if ok else "CriteriaNotSatisfied",
            "Freight creation criteria satisfied"
            if ok
            else "Freight creation criteria were not satisfied",
            generation=gen,
            now=now,
        )
        if not ok:
            return status
        name = freight["metadata"]["name"]
        if self._cache.freight_raw(namespace, name) is not None:
            status.conditions = set_condition(
                status.conditions,
                "FreightCreated",
                True,
                "AlreadyExists",
                f"Freight {name} already exists",
                generation=gen,
                now=now,
            )
            status.last_freight_id = name
            return status

        async def taken(alias: str) -> bool:
            return bool(self._cache.freight_with_alias(namespace, alias))

        alias = await generate_alias(taken)
        freight["alias"] = alias
        freight["metadata"]["labels"] = {lbl.ALIAS: alias}
        try:
            created = await self._kube.create_custom(namespace, "freights", freight)
        except ConflictError:
            pass
        else:
            self._cache.apply(FREIGHTS, created)
            metrics.FREIGHT_CREATED.labels(namespace, warehouse.metadata.name or "").inc()
            log.info(
                "Warehouse %s/%s created Freight %s (%s)",
                namespace,
                warehouse.metadata.name,
                name,
                alias,
            )
            await self._events.emit(
                namespace=namespace,
                kind="Freight",
                name=name,
                uid=None,
                reason="FreightCreated",
                message=f"Freight {alias} created from Warehouse {warehouse.metadata.name!r}",
                annotations={
                    "event.kargo.akuity.io/freight-name": name,
                    "event.kargo.akuity.io/freight-alias": alias,
                    "event.kargo.akuity.io/freight-warehouse-name": warehouse.metadata.name or "",
                },
            )
        status.conditions = set_condition(
            status.conditions,
            "FreightCreated",
            True,
            "NewFreight",
            f"Freight {name} created",
            generation=gen,
            now=now,
        )
        status.last_freight_id = name
        return status

    async def _write(
        self, warehouse: Warehouse, status: WarehouseStatus, old: WarehouseStatus
    ) -> None:
        if status == old:
            return
        written = await self._kube.patch_custom(
            warehouse.metadata.namespace or "",
            "warehouses",
            warehouse.metadata.name or "",
            {"status": to_wire(status)},
            status=True,
        )
        self._cache.apply(WAREHOUSES, written)
