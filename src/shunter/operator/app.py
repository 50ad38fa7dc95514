"""The composition root: builds the client, the cache and its informers, the engine, the
controllers and their work queues, and runs until told to stop (SIGTERM/SIGINT or a flag).

Start-up, on every replica: serve the probes and ``/metrics``, look for Argo Rollouts' analysis
CRDs (installing them only when asked), start the informers (:class:`~shunter.cache.CacheFeed`)
and wait until every one has listed its kind. Then the leader's part: with leader election, a
replica waits until it holds the Lease (:mod:`shunter.kube.leader`); standbys keep a warm
cache. The leader starts the work queues, the periodic resync and the garbage collector. A
leader that loses its Lease stops and exits non-zero, so nothing runs twice; one that stops
cleanly gives the Lease up.

Every cache change queues the reconciles it calls for (:mod:`shunter.operator.triggers`);
reconcilers read the cache and write to the API server. A periodic resync queues every cached
object again, spread over the interval, without calling the API server.

Shards (:class:`~shunter.cache.Shard`): the informers of Warehouses, Stages and Promotions watch
only this operator's shard, and every reconcile of one first checks the object is its own (and
moves a Stage or Warehouse whose ``spec.shard`` disagrees with its label to that shard). The
default operator alone manages Projects and Freight names.

Git: one :class:`~shunter.git.MirrorStore` (``<work_dir>/mirrors``) serves the promotions' git
steps and Warehouse discovery alike; the leader sweeps it periodically
(:mod:`shunter.operator.mirror_sweep`, reading the Warehouses from the cache).

With ``SHUNTER_RECEIVERS_ADDRESS``, the webhook receiver server (:mod:`shunter.receivers`) starts
once the cache is synced - on every replica: it answers from the cache and its only writes are
refresh annotations. The receivers' status is published by a reconcile like the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import signal
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from prometheus_client import REGISTRY

from shunter import metrics
from shunter._internal.redaction import install_log_redaction
from shunter._internal.tasks import cancel_and_wait
from shunter.admission import CacheLookups
from shunter.api.v1alpha1 import labels as lbl
from shunter.cache import (
    ANALYSIS_RUNS,
    FREIGHTS,
    PROJECTS,
    PROMOTIONS,
    STAGES,
    WAREHOUSES,
    CacheFeed,
    KargoCache,
    Shard,
    shard_of,
)
from shunter.config import OperatorConfig
from shunter.controllers.freight import FreightReconciler
from shunter.controllers.garbage import GarbageCollector, GarbageSettings
from shunter.controllers.project import ProjectAccess, ProjectReconciler
from shunter.controllers.promotion import PromotionReconciler
from shunter.controllers.stage import StageDeps, StageReconciler
from shunter.controllers.warehouse import WarehouseReconciler
from shunter.credentials.kubernetes import KubernetesCredentialsDatabase
from shunter.expressions import ExpressionError
from shunter.expressions.pool import PoolSettings
from shunter.expressions.pool import configure as configure_evaluation
from shunter.git import MirrorStore
from shunter.kube.client import KubeClient, KubeError
from shunter.kube.informer import Kind
from shunter.kube.leader import LeaderElector, LeaseSettings, default_identity
from shunter.operator.events import KubeEventSink
from shunter.operator.metrics import StateCollector, metrics_route
from shunter.operator.mirror_sweep import sweep_mirrors
from shunter.operator.probes import EndpointServer, probe_routes
from shunter.operator.resources import KubeResourceFetcher
from shunter.operator.triggers import Queues, Triggers
from shunter.operator.workqueue import Reconciled, WorkQueue
from shunter.promotion.engine import Engine, RequeuePolicy
from shunter.promotion.registry import DEFAULT_REGISTRY
from shunter.promotion.step import Capabilities, GitAuthor
from shunter.receivers import CacheReceiverLookups, ReceiverStatusSync
from shunter.registries.discovery import Discoverer
from shunter.steps import load_builtin_steps
from shunter.verification import AnalysisRunReconciler, ensure_rollouts_crds

if TYPE_CHECKING:
    from shunter.admission import AdmissionService
    from shunter.receivers import ReceiverServer

__all__ = ["Operator", "StartupError"]

log = logging.getLogger(__name__)
ObjectKey = tuple[str, str]
#: Exit code of a replica that lost its leadership (controller-runtime exits non-zero too).
EXIT_LOST_LEADERSHIP = 1


class StartupError(Exception):
    """The operator cannot start (a port cannot be bound, ...): one line for the user."""


class _Enqueue:
    """The controllers' view of the queues (implements ``controllers.wiring.Enqueue``)."""

    def __init__(self, op: Operator) -> None:
        self._op = op

    def stage(self, namespace: str, name: str, *, after: float = 0.0) -> None:
        self._op.stage_queue.add_after((namespace, name), after)

    def stages(self, namespace: str) -> None:
        for key in self._op.cache.stage_keys(namespace):
            self._op.stage_queue.add(key)

    def promotion(self, namespace: str, name: str, *, after: float = 0.0) -> None:
        self._op.promotion_queue.add_after((namespace, name), after)


class Operator:
    """Everything the operator process runs."""

    def __init__(self, config: OperatorConfig, kube: KubeClient) -> None:
        self.config = config
        self.kube = kube
        install_log_redaction()
        load_builtin_steps()
        self.shard = Shard.of(config.shard_name, is_default_controller=config.is_default_controller)
        self.cache = KargoCache()
        self.feed = CacheFeed(
            kube, self.cache, namespaces=config.namespaces, shard_selector=self.shard.selector
        )
        events = KubeEventSink(kube)

        async def credential_secrets(namespace: str, cred_type: str) -> list[Any]:
            if self.feed.secrets_synced(namespace):
                return self.cache.credential_secrets(namespace, cred_type)
            return await kube.list_secrets(namespace, label_selector=f"{lbl.CRED_TYPE}={cred_type}")

        credentials = KubernetesCredentialsDatabase(
            kube,
            allow_credentials_over_http=config.allow_credentials_over_http,
            secrets=credential_secrets,
        )
        self.mirrors = MirrorStore(config.git_mirrors_dir)
        self.discoverer = Discoverer(git_mirrors=self.mirrors)
        capabilities = Capabilities(
            credentials=credentials,
            git_author=GitAuthor(name=config.git_author_name, email=config.git_author_email),
            argocd_namespace=config.argocd_namespace,
            extras={"kube": kube},
            git_mirrors=self.mirrors,
        )
        data = KubeResourceFetcher(kube, cache=self.cache)
        engine = Engine(
            capabilities=capabilities,
            work_root=config.work_dir,
            registry=DEFAULT_REGISTRY,
            data=data,
            requeue=RequeuePolicy(min_interval=timedelta(seconds=config.min_step_requeue_seconds)),
            attempt_timeout=timedelta(seconds=config.step_attempt_timeout_seconds),
        )
        enqueue = _Enqueue(self)
        access = (
            ProjectAccess(
                config.project_cluster_role, config.service_account, config.operator_namespace
            )
            if config.project_cluster_role
            else None
        )
        self.projects = ProjectReconciler(kube, self.cache, access=access)
        self.stages = StageReconciler(
            StageDeps(
                kube=kube,
                cache=self.cache,
                enqueue=enqueue,
                events=events,
                argocd_namespace=config.argocd_namespace,
                data=data,
            ),
            resync_seconds=config.stage_resync_seconds,
        )
        self.analysis_runs = AnalysisRunReconciler(kube, enabled=False)
        self.promotions = PromotionReconciler(kube, self.cache, engine, enqueue, events)
        self.freights = FreightReconciler(kube, self.cache, events)
        self.warehouses = WarehouseReconciler(
            kube,
            self.cache,
            credentials,
            events,
            min_interval_seconds=config.min_warehouse_interval_seconds,
            retry_after_error=config.discovery_retry_seconds,
            discover_fn=self.discoverer.discover,
        )
        self.receiver_status = ReceiverStatusSync(
            kube,
            self.cache,
            base_url=config.receivers_base_url,
            system_namespace=config.system_resources_namespace,
        )
        self.receivers: ReceiverServer | None = None
        self.garbage = GarbageCollector(
            kube,
            self.cache,
            events,
            GarbageSettings(
                max_retained_promotions=config.gc_max_retained_promotions,
                min_promotion_age=timedelta(seconds=config.gc_min_promotion_deletion_age_seconds),
                max_retained_freight=config.gc_max_retained_freight,
                min_freight_age=timedelta(seconds=config.gc_min_freight_deletion_age_seconds),
            ),
            responsible=self.shard.responsible,
            work_root=config.work_dir,
        )
        workers = config.workers
        self.project_queue: WorkQueue[str] = WorkQueue(
            "projects", self._project, workers=1, kind="Project"
        )
        #: Webhook receivers' publication: ProjectConfigs by namespace, "" the ClusterConfig.
        self.config_queue: WorkQueue[str] = WorkQueue(
            "configs", self._config, workers=1, kind="ProjectConfig"
        )
        self.stage_queue: WorkQueue[ObjectKey] = WorkQueue(
            "stages", self._stage, workers=workers, kind="Stage"
        )
        self.forget_queue: WorkQueue[ObjectKey] = WorkQueue(
            "deleted-stages", self._forget, workers=1, kind="Stage"
        )
        self.promotion_queue: WorkQueue[ObjectKey] = WorkQueue(
            "promotions", self._promotion, workers=workers, kind="Promotion"
        )
        self.warehouse_queue: WorkQueue[ObjectKey] = WorkQueue(
            "warehouses", self._warehouse, workers=workers, kind="Warehouse"
        )
        self.freight_queue: WorkQueue[ObjectKey] = WorkQueue(
            "freights", self._freight, workers=workers, kind="Freight"
        )
        self.analysis_queue: WorkQueue[ObjectKey] = WorkQueue(
            "analysisruns", self._analysis_run, workers=workers, kind="AnalysisRun"
        )
        # Projects and Freight names are the default operator's business (Kargo's management
        # controller is one, whatever the shards).
        management: list[WorkQueue[Any]] = (
            [self.project_queue, self.config_queue, self.freight_queue]
            if self.shard.default
            else []
        )
        self.queues: list[WorkQueue[Any]] = [
            *management,
            self.analysis_queue,
            self.warehouse_queue,
            self.stage_queue,
            self.forget_queue,
            self.promotion_queue,
        ]
        self.triggers = Triggers(
            self.cache,
            Queues(
                project=self.project_queue.add if self.shard.default else _ignore,
                stage=self.stage_queue.add,
                forget_stage=self.forget_queue.add,
                promotion=self.promotion_queue.add,
                freight=self.freight_queue.add if self.shard.default else _ignore,
                warehouse=self.warehouse_queue.add,
                analysis_run=self.analysis_queue.add,
                config=self.config_queue.add if self.shard.default else _ignore,
            ),
            analysis=False,
        )
        self.cache.listen(self.triggers)
        self._leader_tasks: list[asyncio.Task[None]] = []
        self.elector: LeaderElector | None = None
        if config.leader_election:
            self.elector = LeaderElector(
                kube,
                LeaseSettings(
                    namespace=config.leader_election_namespace or config.operator_namespace,
                    name=config.lease_name,
                    identity=config.leader_election_identity or default_identity(),
                    lease_duration=config.lease_duration_seconds,
                    renew_deadline=config.renew_deadline_seconds,
                    retry_period=config.retry_period_seconds,
                ),
            )
        self._leading = False
        self.admission: AdmissionService | None = None

    # -- reconcile adapters ----------------------------------------------------------------

    async def _project(self, name: str) -> Reconciled:
        return Reconciled(await self.projects.reconcile(name))

    async def _config(self, namespace: str) -> Reconciled:
        if namespace:
            return Reconciled(await self.receiver_status.project_config(namespace))
        return Reconciled(await self.receiver_status.cluster_config())

    async def _ours(self, kind: Kind, key: ObjectKey) -> bool:
        """Whether this operator reconciles the cached object (its shard); a Stage or Warehouse
        whose ``spec.shard`` disagrees with its label is relabelled first (and may so leave)."""
        raw = self.cache.raw(kind, *key)
        if raw is None:
            return True  # gone: the reconciler knows what to do
        if kind in (STAGES, WAREHOUSES):
            wanted = str((raw.get("spec") or {}).get("shard") or "")
            if wanted != shard_of(raw) and self.shard.responsible(raw):
                written = await self.kube.patch_custom(
                    key[0],
                    kind.plural,
                    key[1],
                    {"metadata": {"labels": {lbl.SHARD: wanted or None}}},
                )
                self.cache.apply(kind, written)
                log.info("%s %s/%s: shard label set to %r", kind.plural, *key, wanted)
                raw = written
        return self.shard.responsible(raw)

    async def _warehouse(self, key: ObjectKey) -> Reconciled:
        if not await self._ours(WAREHOUSES, key):
            return Reconciled()
        if self.cache.raw(WAREHOUSES, *key) is None:
            metrics.forget_warehouse(*key)
            return Reconciled()
        metrics.touch_warehouse(*key)
        return Reconciled(await self.warehouses.reconcile(*key))

    async def _freight(self, key: ObjectKey) -> Reconciled:
        await self.freights.reconcile(*key)
        return Reconciled()

    async def _analysis_run(self, key: ObjectKey) -> Reconciled:
        return Reconciled(await self.analysis_runs.reconcile(*key))

    async def _stage(self, key: ObjectKey) -> Reconciled:
        if not await self._ours(STAGES, key):
            return Reconciled()
        if self.cache.raw(STAGES, *key) is not None:
            metrics.touch_stage(*key)
        outcome = await self.stages.reconcile(*key)
        return Reconciled(outcome.requeue_after)

    async def _forget(self, key: ObjectKey) -> Reconciled:
        metrics.forget_stage(*key)
        await self.stages.forget(*key)
        return Reconciled()

    async def _promotion(self, key: ObjectKey) -> Reconciled:
        if not await self._ours(PROMOTIONS, key):
            return Reconciled()
        outcome = await self.promotions.reconcile(*key)
        return Reconciled(outcome.requeue_after)

    # -- start-up and resync ---------------------------------------------------------------

    async def _prepare_analysis(self) -> None:
        """Install Argo Rollouts' analysis CRDs if absent and watch the Stages' AnalysisRuns;
        evaluate AnalysisRuns ourselves only when the CRDs are ours (a real Rollouts
        installation evaluates its own)."""
        try:
            crds = await ensure_rollouts_crds(self.kube, create=self.config.install_rollouts_crds)
        except KubeError as exc:
            log.warning("Argo Rollouts analysis CRDs unavailable: %s", exc)
            self.stages.analysis_enabled = False
            return
        if crds.created:
            log.info("installed Argo Rollouts analysis CRDs: %s", ", ".join(crds.created))
        if crds.missing:
            log.info(
                "Argo Rollouts analysis CRDs missing (%s): Stage verification is off; install "
                "Argo Rollouts, or set SHUNTER_INSTALL_ROLLOUTS_CRDS=true",
                ", ".join(crds.missing),
            )
            self.stages.analysis_enabled = False
            return
        self.analysis_runs = AnalysisRunReconciler(self.kube, enabled=crds.shunter_evaluates)
        self.triggers.analysis = crds.shunter_evaluates
        self.feed.add(ANALYSIS_RUNS, label_selector=lbl.STAGE)

    async def start_informers(self) -> None:
        """Prepare the analysis CRDs and start every informer (they run until stopped)."""
        await self._prepare_analysis()
        self.feed.start()

    def start_queues(self) -> None:
        """Start the work queues, the periodic resync, the garbage collector and the git mirror
        sweep (the leader's part)."""
        for queue in self.queues:
            queue.start()
        self._leader_tasks.append(asyncio.create_task(self._resync(), name="resync"))
        if self.config.gc_interval_seconds > 0:
            self._leader_tasks.append(
                asyncio.create_task(self._collect_garbage(), name="garbage-collector")
            )
        self._leader_tasks.append(
            asyncio.create_task(
                sweep_mirrors(
                    self.mirrors,
                    self._warehouses,
                    interval=self.config.git_mirror_sweep_seconds,
                    max_idle=self.config.git_mirror_max_idle_seconds,
                ),
                name="git-mirror-sweep",
            )
        )

    async def _warehouses(self) -> list[dict[str, Any]]:
        """Every cached Warehouse, raw (the git mirror sweep keeps their repositories)."""
        found = (self.cache.raw(WAREHOUSES, ns, name) for ns, name in self.cache.keys(WAREHOUSES))
        return [warehouse for warehouse in found if warehouse is not None]

    async def start_receivers(self) -> None:
        """Serve the webhook receivers, if configured (every replica, once the cache is synced:
        a receiver looks Warehouses and Promotions up in it)."""
        if not self.config.receivers_address:
            return
        # Imported here: aiohttp.web and the providers cost memory an operator serving no
        # receivers does not spend.
        from shunter.receivers.server import ReceiverServer  # noqa: PLC0415

        self.receivers = ReceiverServer(
            self.kube,
            CacheReceiverLookups(self.cache),
            address=self.config.receivers_address,
            system_namespace=self.config.system_resources_namespace,
            rate=self.config.receivers_rate,
            burst=self.config.receivers_burst,
        )
        await self.receivers.start()

    async def _resync(self) -> None:
        """Now and then, queue the cached objects that can have work left again, spread over
        the interval: a safety net under the event-driven triggers. No API call. (A Freight's
        work - alias, name, forgotten Stages - and a finished Promotion's are done on their
        events.)"""
        queues: list[tuple[Callable[[], list[Any]], Callable[[Any, float], None]]] = [
            (lambda: self.cache.keys(WAREHOUSES), self.warehouse_queue.add_after),
            (lambda: self.cache.keys(STAGES), self.stage_queue.add_after),
            (self.cache.promotions_in_flight, self.promotion_queue.add_after),
        ]
        if self.shard.default:
            queues.append(
                (
                    lambda: self.cache.keys(PROJECTS),
                    lambda key, delay: self.project_queue.add_after(key[1], delay),
                )
            )
        interval = self.config.resync_seconds
        while True:
            await asyncio.sleep(interval)
            queued = 0
            for keys, add_after in queues:
                for key in keys():
                    add_after(key, random.uniform(0, interval))  # noqa: S311 - spreading load
                    queued += 1
            log.debug("resync: %d objects queued again from the cache", queued)

    async def _collect_garbage(self) -> None:
        """Kargo's garbage collection, every ``gc_interval_seconds`` (the first pass one
        interval after start-up, once the cache and the Stages have settled)."""
        while True:
            await asyncio.sleep(self.config.gc_interval_seconds)
            try:
                await self.garbage.collect()
            except Exception:  # a failed pass must not end the schedule
                log.exception("garbage collection failed; trying again next time")

    @property
    def live(self) -> bool:
        """Every informer, and every queue worker that was started, is running."""
        return self.feed.alive and all(q.alive for q in self.queues if q.started)

    @property
    def leading(self) -> bool:
        """Whether the work queues run here."""
        return self._leading

    async def _lead(self) -> None:
        """The leader's part: start the queues, then hold until cancelled."""
        self._leading = True
        metrics.IS_LEADER.labels(self.config.lease_name).set(1)
        self.start_queues()
        await asyncio.Event().wait()

    async def _serve(self, ready: asyncio.Event) -> list[EndpointServer]:
        """The probes and ``/metrics`` (every replica serves them)."""
        servers: list[tuple[str, str, EndpointServer]] = []
        if self.config.probes_address:
            routes = probe_routes(
                live=lambda: self.live, ready=lambda: ready.is_set() and self.feed.synced
            )
            servers.append(
                (
                    "SHUNTER_PROBES_ADDRESS",
                    self.config.probes_address,
                    EndpointServer(self.config.probes_address, routes),
                )
            )
        if self.config.metrics_address:
            routes = {"/metrics": metrics_route()}
            servers.append(
                (
                    "SHUNTER_METRICS_ADDRESS",
                    self.config.metrics_address,
                    EndpointServer(self.config.metrics_address, routes, name="metrics"),
                )
            )
        started: list[EndpointServer] = []
        for setting, address, server in servers:
            try:
                await server.start()
            except OSError as exc:
                for running in started:
                    await running.stop()
                raise StartupError(f"cannot listen on {setting}={address}: {exc}") from None
            started.append(server)
        return started

    async def run(
        self,
        stop_flag: asyncio.Event | None = None,
        ready_flag: asyncio.Event | None = None,
    ) -> int:
        """Run until ``stop_flag`` is set, SIGTERM/SIGINT arrives, the task is cancelled, or
        the Lease is lost; returns the process' exit code (0: stopped as asked)."""
        stop = stop_flag or asyncio.Event()
        ready = ready_flag or asyncio.Event()
        _stop_on_signals(stop)
        collector = StateCollector(
            self.cache,
            lambda: [(q.name, q.depth) for q in self.queues],
            reporting=lambda: self._leading,
            responsible=self.shard.responsible,
        )
        servers = await self._serve(ready)
        REGISTRY.register(collector)
        evaluation = configure_evaluation(
            PoolSettings(
                workers=self.config.expression_workers,
                deadline_seconds=self.config.expression_deadline_seconds,
                memory_mib=self.config.expression_memory_mib,
                per_project=self.config.expression_project_workers or None,
            )
        )
        code = 0
        election: asyncio.Task[None] | None = None
        try:
            try:
                await evaluation.start()  # warm workers; they are started on demand otherwise
            except ExpressionError as exc:
                log.warning("expression workers did not start: %s", exc)
            log.info("shard: %s", self.shard)
            await self.start_informers()
            synced = asyncio.create_task(self.feed.wait_synced())
            stopping = asyncio.create_task(stop.wait())
            await asyncio.wait({synced, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if not stop.is_set():
                log.info(
                    "cache synced: %d Stages, %d Freight, %d Promotions",
                    self.cache.count(STAGES),
                    self.cache.count(FREIGHTS),
                    self.cache.count(PROMOTIONS),
                )
                if self.config.admission_address:  # every replica serves, leader or not
                    # Imported here: the server and its certificates (cryptography) cost
                    # memory an operator without admission webhooks does not spend.
                    from shunter.admission.service import (  # noqa: PLC0415
                        AdmissionService,
                        AdmissionSettings,
                    )

                    self.admission = AdmissionService(
                        self.kube,
                        CacheLookups(self.cache, self.kube),
                        AdmissionSettings.from_config(self.config),
                    )
                    await self.admission.start()
                await self.start_receivers()  # every replica too: answers from the cache
                ready.set()
                if self.elector is None:
                    self._leader_tasks.append(asyncio.create_task(self._lead(), name="lead"))
                else:
                    metrics.IS_LEADER.labels(self.config.lease_name).set(0)
                    election = asyncio.create_task(self.elector.run(self._lead), name="election")
                    await asyncio.wait({election, stopping}, return_when=asyncio.FIRST_COMPLETED)
                    if election.done() and not stop.is_set():
                        # The Lease is lost (or the election broke): stop at once.
                        if not election.cancelled() and election.exception() is not None:
                            log.error("leader election failed: %s", election.exception())
                        code = EXIT_LOST_LEADERSHIP
                        stop.set()
            await stopping
            synced.cancel()
        finally:
            log.info("stopping")
            if self.receivers is not None:
                await self.receivers.stop()
            if self.admission is not None:
                await self.admission.stop()
            self._leading = False
            metrics.IS_LEADER.labels(self.config.lease_name).set(0)
            REGISTRY.unregister(collector)
            for server in servers:
                await server.stop()
            await cancel_and_wait(self._leader_tasks)
            self._leader_tasks.clear()
            if election is not None:
                election.cancel()
                with contextlib.suppress(Exception, asyncio.CancelledError):
                    await election  # its failure, if any, was logged above
            for queue in self.queues:
                await queue.stop()
            if self.elector is not None and code == 0:
                await self.elector.release()
            await self.feed.stop()
            evaluation.close()
            await self.discoverer.aclose()
            await self.mirrors.aclose()
            await self.kube.aclose()
        return code


def _ignore(_key: Any) -> None:
    """A queue this operator does not run (another operator's business)."""


def _stop_on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)
