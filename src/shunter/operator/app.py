"""The composition root: builds the clients, the engine and the controllers, wires kopf's watch
events into per-kind work queues, and runs until told to stop.

kopf does the watching (with its retries, backoffs and liveness endpoint); every event only
adds a key to a queue ("look at this object again"). Related objects are woken too: a
Promotion wakes its Stage, new or changed Freight wakes the Stages of its namespace, a
ProjectConfig or Project wakes every Stage of the project.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Coroutine
from datetime import timedelta
from typing import Any

import kopf

from shunter.api.v1alpha1 import annotations as ann
from shunter.api.v1alpha1 import labels as lbl
from shunter.config import OperatorConfig
from shunter.controllers.freight import FreightReconciler
from shunter.controllers.project import ProjectReconciler
from shunter.controllers.promotion import PromotionReconciler
from shunter.controllers.stage import StageReconciler
from shunter.controllers.warehouse import WarehouseReconciler
from shunter.credentials.kubernetes import KubernetesCredentialsDatabase
from shunter.expressions import ExpressionError
from shunter.expressions.pool import PoolSettings
from shunter.expressions.pool import configure as configure_evaluation
from shunter.kube.client import KubeClient, KubeError
from shunter.operator.events import KubeEventSink
from shunter.operator.probes import ProbeServer
from shunter.operator.resources import KubeResourceFetcher
from shunter.operator.workqueue import Reconciled, WorkQueue
from shunter.promotion.engine import Engine, RequeuePolicy
from shunter.promotion.registry import DEFAULT_REGISTRY
from shunter.promotion.step import Capabilities, GitAuthor
from shunter.steps import load_builtin_steps
from shunter.verification import (
    ANALYSIS_RUNS,
    ROLLOUTS_GROUP,
    ROLLOUTS_VERSION,
    AnalysisRunReconciler,
    ensure_rollouts_crds,
)

__all__ = ["Operator"]

log = logging.getLogger(__name__)
GROUP, VERSION = "kargo.akuity.io", "v1alpha1"
STAGE_LABEL = lbl.STAGE
STAGE_ANNOTATION = ann.STAGE
ObjectKey = tuple[str, str]
#: How often a namespace-restricted operator looks at its Projects.
PROJECT_POLL_SECONDS = 2.0


class _Enqueue:
    """The controllers' view of the queues (implements ``controllers.wiring.Enqueue``)."""

    def __init__(self, op: Operator) -> None:
        self._op = op

    def stage(self, namespace: str, name: str, *, after: float = 0.0) -> None:
        self._op.stage_queue.add_after((namespace, name), after)

    def stages(self, namespace: str) -> None:
        for name in sorted(self._op.stage_index.get(namespace, ())):
            self._op.stage_queue.add((namespace, name))

    def promotion(self, namespace: str, name: str, *, after: float = 0.0) -> None:
        self._op.promotion_queue.add_after((namespace, name), after)


class Operator:
    """Everything the operator process runs."""

    def __init__(self, config: OperatorConfig, kube: KubeClient) -> None:
        self.config = config
        self.kube = kube
        load_builtin_steps()
        events = KubeEventSink(kube)
        credentials = KubernetesCredentialsDatabase(
            kube, allow_credentials_over_http=config.allow_credentials_over_http
        )
        capabilities = Capabilities(
            credentials=credentials,
            git_author=GitAuthor(name=config.git_author_name, email=config.git_author_email),
            argocd_namespace=config.argocd_namespace,
            extras={"kube": kube},
        )
        data = KubeResourceFetcher(kube)
        engine = Engine(
            capabilities=capabilities,
            work_root=config.work_dir,
            registry=DEFAULT_REGISTRY,
            data=data,
            requeue=RequeuePolicy(min_interval=timedelta(seconds=config.min_step_requeue_seconds)),
        )
        self.stage_index: dict[str, set[str]] = defaultdict(set)
        self._background: set[asyncio.Task[None]] = set()
        enqueue = _Enqueue(self)
        self.projects = ProjectReconciler(kube, enqueue)
        self.stages = StageReconciler(
            kube,
            enqueue,
            events,
            resync_seconds=config.stage_resync_seconds,
            argocd_namespace=config.argocd_namespace,
            data=data,
        )
        self.analysis_runs = AnalysisRunReconciler(kube, enabled=False)
        self.promotions = PromotionReconciler(kube, engine, enqueue, events)
        self.freights = FreightReconciler(kube, events)
        self.warehouses = WarehouseReconciler(
            kube,
            credentials,
            enqueue,
            events,
            min_interval_seconds=config.min_warehouse_interval_seconds,
            retry_after_error=config.discovery_retry_seconds,
        )
        workers = config.workers
        self.project_queue: WorkQueue[str] = WorkQueue("projects", self._project, workers=1)
        self.stage_queue: WorkQueue[ObjectKey] = WorkQueue("stages", self._stage, workers=workers)
        self.promotion_queue: WorkQueue[ObjectKey] = WorkQueue(
            "promotions", self._promotion, workers=workers
        )
        self.warehouse_queue: WorkQueue[ObjectKey] = WorkQueue(
            "warehouses", self._warehouse, workers=workers
        )
        self.freight_queue: WorkQueue[ObjectKey] = WorkQueue(
            "freights", self._freight, workers=workers
        )
        self.analysis_queue: WorkQueue[ObjectKey] = WorkQueue(
            "analysisruns", self._analysis_run, workers=workers
        )
        self.queues: list[WorkQueue[Any]] = [
            self.project_queue,
            self.analysis_queue,
            self.freight_queue,
            self.warehouse_queue,
            self.stage_queue,
            self.promotion_queue,
        ]

    # -- reconcile adapters ----------------------------------------------------------------

    async def _project(self, name: str) -> Reconciled:
        return Reconciled(await self.projects.reconcile(name))

    async def _warehouse(self, key: ObjectKey) -> Reconciled:
        return Reconciled(await self.warehouses.reconcile(*key))

    async def _freight(self, key: ObjectKey) -> Reconciled:
        await self.freights.reconcile(*key)
        return Reconciled()

    async def _analysis_run(self, key: ObjectKey) -> Reconciled:
        return Reconciled(await self.analysis_runs.reconcile(*key))

    async def _stage(self, key: ObjectKey) -> Reconciled:
        outcome = await self.stages.reconcile(*key)
        return Reconciled(outcome.requeue_after)

    async def _promotion(self, key: ObjectKey) -> Reconciled:
        outcome = await self.promotions.reconcile(*key)
        return Reconciled(outcome.requeue_after)

    # -- kopf wiring -----------------------------------------------------------------------

    def register(self, registry: kopf.OperatorRegistry) -> None:
        """Register the watch handlers (events only: no kopf-managed state or finalizers)."""
        on = kopf.on
        enqueue = _Enqueue(self)

        @on.login(registry=registry)
        def login(**kwargs: Any) -> Any:
            return kopf.login_via_client(**kwargs)

        @on.event(GROUP, VERSION, "projects", registry=registry)
        def project_event(**kwargs: Any) -> None:
            self.project_queue.add(kwargs["name"])
            enqueue.stages(kwargs["name"])  # the legacy promotion policies may have changed

        @on.event(GROUP, VERSION, "projectconfigs", registry=registry)
        def project_config_event(**kwargs: Any) -> None:
            enqueue.stages(kwargs["namespace"])

        @on.event(GROUP, VERSION, "stages", registry=registry)
        def stage_event(**kwargs: Any) -> None:
            namespace, name = kwargs["namespace"], kwargs["name"]
            if kwargs["type"] == "DELETED":
                self.stage_index[namespace].discard(name)
                self._spawn(self.stages.forget(namespace, name), f"forget stage {name}")
                return
            self.stage_index[namespace].add(name)
            self.stage_queue.add((namespace, name))

        @on.event(GROUP, VERSION, "promotions", registry=registry)
        def promotion_event(**kwargs: Any) -> None:
            namespace, name = kwargs["namespace"], kwargs["name"]
            if kwargs["type"] != "DELETED":
                self.promotion_queue.add((namespace, name))
            stage = kwargs["spec"].get("stage")
            if stage:
                self.stage_queue.add((namespace, stage))

        @on.event(GROUP, VERSION, "warehouses", registry=registry)
        def warehouse_event(**kwargs: Any) -> None:
            if kwargs["type"] != "DELETED":
                self.warehouse_queue.add((kwargs["namespace"], kwargs["name"]))

        @on.event(
            ROLLOUTS_GROUP,
            ROLLOUTS_VERSION,
            ANALYSIS_RUNS,
            labels={STAGE_LABEL: kopf.PRESENT},
            registry=registry,
        )
        def analysis_run_event(**kwargs: Any) -> None:
            namespace = kwargs["namespace"]
            if kwargs["type"] != "DELETED":
                self.analysis_queue.add((namespace, kwargs["name"]))
            meta = kwargs["body"].get("metadata", {})
            stage = (meta.get("annotations") or {}).get(STAGE_ANNOTATION) or (
                meta.get("labels") or {}
            ).get(STAGE_LABEL)
            if stage:
                self.stage_queue.add((namespace, stage))

        @on.event(GROUP, VERSION, "freights", registry=registry)
        def freight_event(**kwargs: Any) -> None:
            if kwargs["type"] != "DELETED":
                self.freight_queue.add((kwargs["namespace"], kwargs["name"]))
            enqueue.stages(kwargs["namespace"])

    async def _prepare_analysis(self) -> None:
        """Install Argo Rollouts' analysis CRDs if absent; evaluate AnalysisRuns ourselves only
        when the CRDs are ours (a real Rollouts installation evaluates its own)."""
        try:
            crds = await ensure_rollouts_crds(self.kube)
        except KubeError as exc:
            log.warning("Argo Rollouts analysis CRDs unavailable: %s", exc)
            self.stages.analysis_enabled = False
            return
        if crds.created:
            log.info("installed Argo Rollouts analysis CRDs: %s", ", ".join(crds.created))
        self.analysis_runs = AnalysisRunReconciler(self.kube, enabled=crds.shunter_evaluates)

    async def _poll_projects(self) -> None:
        """In namespace-restricted mode kopf does not watch cluster-scoped kinds: look at the
        Projects named after the watched namespaces now and then instead."""
        while True:
            for name in self.config.namespaces:
                self.project_queue.add(name)
            await asyncio.sleep(PROJECT_POLL_SECONDS)

    async def _resync(self) -> None:
        """Now and then, list every object and queue it: a safety net under the watches
        (a watch that starts late or misses an event never leaves work undone)."""
        queues = {
            "warehouses": self.warehouse_queue,
            "freights": self.freight_queue,
            "stages": self.stage_queue,
            "promotions": self.promotion_queue,
        }
        while True:
            await asyncio.sleep(self.config.resync_seconds)
            try:
                for plural, queue in queues.items():
                    if self.config.namespaces:
                        items = [
                            obj
                            for ns in self.config.namespaces
                            for obj in await self.kube.list_custom(ns, plural)
                        ]
                    else:
                        items = await self.kube.list_custom_all_namespaces(plural)
                    for obj in items:
                        meta = obj.get("metadata", {})
                        key = (meta.get("namespace", ""), meta.get("name", ""))
                        if plural == "stages":
                            self.stage_index[key[0]].add(key[1])
                        queue.add(key)
                if not self.config.namespaces:
                    for obj in await self.kube.list_cluster_custom("projects"):
                        self.project_queue.add(obj.get("metadata", {}).get("name", ""))
            except KubeError as exc:
                log.warning("resync failed: %s", exc)

    def _spawn(self, work: Coroutine[Any, Any, None], what: str) -> None:
        """Run ``work`` in the background; failures are logged (the resync catches up)."""

        async def guarded() -> None:
            try:
                await work
            except Exception:
                log.exception("%s failed", what)

        task = asyncio.get_running_loop().create_task(guarded(), name=what)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def settings(self) -> kopf.OperatorSettings:
        """kopf settings: our own annotation prefix, no kopf-posted Events."""
        settings = kopf.OperatorSettings()
        settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(
            prefix="shunter.dev"
        )
        settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
            prefix="shunter.dev", key="last-handled-configuration"
        )
        settings.persistence.finalizer = "shunter.dev/kopf-finalizer"
        settings.posting.enabled = False
        settings.watching.server_timeout = 300
        settings.watching.client_timeout = 330
        return settings

    async def run(
        self,
        stop_flag: asyncio.Event | None = None,
        ready_flag: asyncio.Event | None = None,
    ) -> None:
        """Run the queues and kopf until ``stop_flag`` is set (or the task is cancelled)."""
        evaluation = configure_evaluation(
            PoolSettings(
                workers=self.config.expression_workers,
                deadline_seconds=self.config.expression_deadline_seconds,
                memory_mib=self.config.expression_memory_mib,
                per_project=self.config.expression_project_workers or None,
            )
        )
        try:
            await evaluation.start()  # warm workers; they are started on demand otherwise
        except ExpressionError as exc:
            log.warning("expression workers did not start: %s", exc)
        registry = kopf.OperatorRegistry()
        self.register(registry)
        await self._prepare_analysis()
        for queue in self.queues:
            queue.start()
        ready = ready_flag or asyncio.Event()
        probes: ProbeServer | None = None
        if self.config.probes_address:
            probes = ProbeServer(
                self.config.probes_address,
                live=lambda: all(q.alive for q in self.queues),
                ready=ready.is_set,
            )
            await probes.start()
        background = [asyncio.create_task(self._resync(), name="resync")]
        if self.config.namespaces:
            background.append(asyncio.create_task(self._poll_projects(), name="project-poller"))
        try:
            await kopf.operator(
                registry=registry,
                settings=self.settings(),
                clusterwide=not self.config.namespaces,
                namespaces=list(self.config.namespaces),
                standalone=True,
                stop_flag=stop_flag,
                ready_flag=ready,
            )
        finally:
            if probes is not None:
                await probes.stop()
            for task in background:
                task.cancel()
            for queue in self.queues:
                await queue.stop()
            evaluation.close()
            self.kube.close()
