"""Operator settings, from command-line flags and ``SHUNTER_*`` environment variables.

Every setting has an environment variable (the Helm chart sets them) and the common ones a flag
(``shunter run --help``); flags win. A value that cannot be read raises :class:`SettingError`
naming the variable, so ``shunter run`` stops with one line saying which one is wrong.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, TypeVar

from shunter._internal.durations import parse_go_duration

__all__ = ["OperatorConfig", "SettingError"]

LogFormat = Literal["text", "json"]
T = TypeVar("T")

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
#: The default leader election Lease, as ``<name>`` or ``<name>-<shard>``.
DEFAULT_LEASE_NAME = "shunter-controller"


class SettingError(ValueError):
    """A ``SHUNTER_*`` variable (or flag) holds a value that cannot be used."""


def _split(value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(",") if v.strip())


def _bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError("expected true or false")


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError("expected a whole number") from None


def _seconds(text: str) -> float:
    """Seconds as a number (``90``, ``0.5``) or a Go duration (``336h``, ``1m30s``)."""
    try:
        return float(text)
    except ValueError:
        pass
    try:
        return parse_go_duration(text).total_seconds()
    except ValueError:
        raise ValueError("expected seconds or a duration such as 90s, 5m or 336h") from None


def _address(text: str) -> str:
    """``host:port`` or ``:port`` (empty: off)."""
    if not text:
        return ""
    _, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise ValueError("expected host:port or :port")
    return text


class _Env:
    """Reads typed values from an environment mapping; errors name the variable."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env

    def get(
        self, name: str, default: T, parse: Callable[[str], T], *, minimum: float | None = None
    ) -> T:
        raw = self._env.get(name)
        if raw is None:
            return default
        try:
            value = parse(raw.strip())
        except ValueError as exc:
            raise SettingError(f"{name}={raw!r} is not valid: {exc}") from None
        if minimum is not None and isinstance(value, int | float) and value < minimum:
            raise SettingError(f"{name}={raw!r} is not valid: must be at least {minimum:g}")
        return value

    def text(self, name: str, default: str) -> str:
        return self.get(name, default, str)

    def choice(
        self, name: str, default: str, choices: tuple[str, ...], *, upper: bool = False
    ) -> str:
        def parse(text: str) -> str:
            value = text.upper() if upper else text
            if value not in choices:
                raise ValueError(f"expected one of {', '.join(choices)}")
            return value

        return self.get(name, default, parse)


@dataclass(frozen=True)
class OperatorConfig:
    """What the operator process needs to know."""

    #: Namespaces to watch; empty means the whole cluster.
    namespaces: tuple[str, ...] = ()
    #: Root of the promotions' working directories.
    work_dir: Path = field(default_factory=lambda: Path("/tmp/shunter-work"))  # noqa: S108
    #: Concurrent reconciles per kind.
    workers: int = 4
    log_level: str = "INFO"
    log_format: LogFormat = "text"
    #: Argo CD namespace for argocd-update when an app names none.
    argocd_namespace: str = "argocd"
    git_author_name: str = "Kargo"
    git_author_email: str = "no-reply@kargo.io"
    #: Floor of every Warehouse's discovery interval (Kargo: MIN_WAREHOUSE_RECONCILIATION_INTERVAL).
    min_warehouse_interval_seconds: float = 0.0
    #: How often the cached objects are queued again, under the watches (seconds).
    resync_seconds: float = 600.0
    #: Periodic resync of Stages (seconds).
    stage_resync_seconds: float = 300.0
    #: Liveness/readiness HTTP endpoint, ``host:port`` (empty: none).
    probes_address: str = ""
    #: Prometheus ``/metrics`` endpoint, ``host:port`` (empty: none).
    metrics_address: str = ":9090"
    #: Smallest delay before a Running step is looked at again (Kargo: 10s).
    min_step_requeue_seconds: float = 10.0
    #: The longest one run of a promotion step may take (seconds); then it is stopped.
    step_attempt_timeout_seconds: float = 900.0
    #: How soon a failed Warehouse discovery is tried again (seconds).
    discovery_retry_seconds: float = 15.0
    #: Send repository credentials over plain http:// (Kargo refuses by default).
    allow_credentials_over_http: bool = False
    #: Worker processes evaluating expressions that could grow (at least 2 for fairness).
    expression_workers: int = 2
    #: Hard deadline of one evaluation (a step's whole config counts as one), seconds.
    expression_deadline_seconds: float = 5.0
    #: Memory an evaluation worker may use beyond its start-up size, MiB.
    expression_memory_mib: int = 256
    #: Evaluations of one Project running at once (0: every worker but one).
    expression_project_workers: int = 0
    #: A git mirror (``<work_dir>/mirrors``) that no Warehouse subscribes to and that nothing
    #: used for this long (seconds) is removed.
    git_mirror_max_idle_seconds: float = 3600.0
    #: How often unneeded git mirrors are looked for (seconds).
    git_mirror_sweep_seconds: float = 300.0
    #: Webhook receiver server, ``host:port`` (empty: not served).
    receivers_address: str = ""
    #: Public base URL of the receiver server, for ``status.webhookReceivers[].url``.
    receivers_base_url: str = ""
    #: Namespace of the Secrets that ClusterConfig's webhook receivers name (Kargo's default).
    system_resources_namespace: str = "kargo-system-resources"
    #: Requests per second one receiver accepts (token bucket), and its burst.
    receivers_rate: float = 10.0
    receivers_burst: int = 20
    #: Admission webhook server, ``host:port`` (empty: no webhooks served).
    admission_address: str = ""
    #: Folder holding the webhook server's ``tls.crt``/``tls.key`` (cert-manager); empty: a
    #: self-signed certificate made by the operator.
    admission_cert_dir: str = ""
    #: ``namespace/name`` of the Secret keeping the self-signed certificate (empty: memory).
    admission_secret: str = ""
    #: Host names/addresses of the self-signed serving certificate.
    admission_hosts: tuple[str, ...] = ()
    #: Name of the Mutating- and ValidatingWebhookConfiguration (CA bundle kept current).
    admission_webhook_name: str = "shunter"
    #: Local development: create the webhook configurations with this base URL (and remove
    #: them at exit), restricted to the watched namespaces.
    admission_register_url: str = ""
    #: Reconcile only objects labelled ``kargo.akuity.io/shard=<shard_name>`` (Kargo: SHARD_NAME).
    shard_name: str = ""
    #: With a shard name, also take unlabelled objects and manage Projects (Kargo:
    #: IS_DEFAULT_CONTROLLER). Without one the operator is the default one anyway.
    is_default_controller: bool = False
    #: Run the work queues only while holding a coordination.k8s.io Lease.
    leader_election: bool = False
    #: Namespace of the Lease (default: the operator's namespace).
    leader_election_namespace: str = ""
    #: Name of the Lease (default ``shunter-controller``, ``shunter-controller-<shard>``).
    leader_election_id: str = ""
    #: This replica's identity in the Lease (default: host name and process id).
    leader_election_identity: str = ""
    lease_duration_seconds: float = 15.0
    renew_deadline_seconds: float = 10.0
    retry_period_seconds: float = 2.0
    #: Garbage collection of old Promotions and Freight: how often (0: never), seconds.
    gc_interval_seconds: float = 3600.0
    #: Kargo's garbage collector settings and defaults.
    gc_max_retained_promotions: int = 20
    gc_min_promotion_deletion_age_seconds: float = 336 * 3600.0
    gc_max_retained_freight: int = 20
    gc_min_freight_deletion_age_seconds: float = 336 * 3600.0
    #: Install Argo Rollouts' AnalysisTemplate/AnalysisRun CRDs when they are missing.
    install_rollouts_crds: bool = False
    #: ClusterRole bound in every Project namespace (Secrets, ConfigMaps); empty: bind nothing.
    project_cluster_role: str = ""
    #: The operator's own namespace and ServiceAccount (the subject of those RoleBindings; the
    #: namespace also holds the leader election Lease). The chart sets both.
    operator_namespace: str = ""
    service_account: str = ""

    @property
    def git_mirrors_dir(self) -> Path:
        """Where the git mirrors live: ``<work_dir>/mirrors``."""
        return self.work_dir / "mirrors"

    @property
    def is_default(self) -> bool:
        """Whether this operator takes unlabelled objects and manages Projects."""
        return not self.shard_name or self.is_default_controller

    @property
    def lease_name(self) -> str:
        """The leader election Lease's name."""
        if self.leader_election_id:
            return self.leader_election_id
        return f"{DEFAULT_LEASE_NAME}-{self.shard_name}" if self.shard_name else DEFAULT_LEASE_NAME

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> OperatorConfig:
        """Settings from ``SHUNTER_*`` variables, defaults for the rest.

        Raises:
            SettingError: a variable holds a value that cannot be used (the message names it).
        """
        e = _Env(os.environ if env is None else env)
        base = cls()
        positive = {"minimum": 0.0}
        config = cls(
            namespaces=e.get("SHUNTER_NAMESPACES", base.namespaces, _split),
            work_dir=e.get("SHUNTER_WORK_DIR", base.work_dir, Path),
            workers=e.get("SHUNTER_WORKERS", base.workers, _int, minimum=1),
            log_level=e.choice("SHUNTER_LOG_LEVEL", base.log_level, _LOG_LEVELS, upper=True),
            log_format=e.choice("SHUNTER_LOG_FORMAT", base.log_format, ("text", "json")),  # type: ignore[arg-type]
            argocd_namespace=e.text("SHUNTER_ARGOCD_NAMESPACE", base.argocd_namespace),
            git_author_name=e.text("SHUNTER_GIT_AUTHOR_NAME", base.git_author_name),
            git_author_email=e.text("SHUNTER_GIT_AUTHOR_EMAIL", base.git_author_email),
            min_warehouse_interval_seconds=e.get(
                "SHUNTER_MIN_WAREHOUSE_INTERVAL_SECONDS",
                base.min_warehouse_interval_seconds,
                _seconds,
                **positive,
            ),
            resync_seconds=e.get(
                "SHUNTER_RESYNC_SECONDS", base.resync_seconds, _seconds, minimum=0.1
            ),
            stage_resync_seconds=e.get(
                "SHUNTER_STAGE_RESYNC_SECONDS", base.stage_resync_seconds, _seconds, minimum=0.1
            ),
            probes_address=e.get("SHUNTER_PROBES_ADDRESS", base.probes_address, _address),
            metrics_address=e.get("SHUNTER_METRICS_ADDRESS", base.metrics_address, _address),
            min_step_requeue_seconds=e.get(
                "SHUNTER_MIN_STEP_REQUEUE_SECONDS",
                base.min_step_requeue_seconds,
                _seconds,
                **positive,
            ),
            step_attempt_timeout_seconds=e.get(
                "SHUNTER_STEP_ATTEMPT_TIMEOUT_SECONDS",
                base.step_attempt_timeout_seconds,
                _seconds,
                minimum=1,
            ),
            discovery_retry_seconds=e.get(
                "SHUNTER_DISCOVERY_RETRY_SECONDS",
                base.discovery_retry_seconds,
                _seconds,
                **positive,
            ),
            allow_credentials_over_http=e.get(
                "SHUNTER_ALLOW_CREDENTIALS_OVER_HTTP", base.allow_credentials_over_http, _bool
            ),
            expression_workers=e.get(
                "SHUNTER_EXPRESSION_WORKERS", base.expression_workers, _int, minimum=1
            ),
            expression_deadline_seconds=e.get(
                "SHUNTER_EXPRESSION_DEADLINE_SECONDS",
                base.expression_deadline_seconds,
                _seconds,
                minimum=0.01,
            ),
            expression_memory_mib=e.get(
                "SHUNTER_EXPRESSION_MEMORY_MIB", base.expression_memory_mib, _int, minimum=16
            ),
            expression_project_workers=e.get(
                "SHUNTER_EXPRESSION_PROJECT_WORKERS",
                base.expression_project_workers,
                _int,
                **positive,
            ),
            shard_name=e.text("SHUNTER_SHARD_NAME", base.shard_name),
            is_default_controller=e.get(
                "SHUNTER_IS_DEFAULT_CONTROLLER", base.is_default_controller, _bool
            ),
            leader_election=e.get("SHUNTER_LEADER_ELECTION", base.leader_election, _bool),
            leader_election_namespace=e.text(
                "SHUNTER_LEADER_ELECTION_NAMESPACE", base.leader_election_namespace
            ),
            leader_election_id=e.text("SHUNTER_LEADER_ELECTION_ID", base.leader_election_id),
            leader_election_identity=e.text(
                "SHUNTER_LEADER_ELECTION_IDENTITY", base.leader_election_identity
            ),
            lease_duration_seconds=e.get(
                "SHUNTER_LEASE_DURATION", base.lease_duration_seconds, _seconds, minimum=1
            ),
            renew_deadline_seconds=e.get(
                "SHUNTER_LEASE_RENEW_DEADLINE", base.renew_deadline_seconds, _seconds, minimum=1
            ),
            retry_period_seconds=e.get(
                "SHUNTER_LEASE_RETRY_PERIOD", base.retry_period_seconds, _seconds, minimum=1
            ),
            gc_interval_seconds=e.get(
                "SHUNTER_GC_INTERVAL", base.gc_interval_seconds, _seconds, **positive
            ),
            gc_max_retained_promotions=e.get(
                "SHUNTER_GC_MAX_RETAINED_PROMOTIONS",
                base.gc_max_retained_promotions,
                _int,
                **positive,
            ),
            gc_min_promotion_deletion_age_seconds=e.get(
                "SHUNTER_GC_MIN_PROMOTION_DELETION_AGE",
                base.gc_min_promotion_deletion_age_seconds,
                _seconds,
                **positive,
            ),
            gc_max_retained_freight=e.get(
                "SHUNTER_GC_MAX_RETAINED_FREIGHT", base.gc_max_retained_freight, _int, **positive
            ),
            gc_min_freight_deletion_age_seconds=e.get(
                "SHUNTER_GC_MIN_FREIGHT_DELETION_AGE",
                base.gc_min_freight_deletion_age_seconds,
                _seconds,
                **positive,
            ),
            install_rollouts_crds=e.get(
                "SHUNTER_INSTALL_ROLLOUTS_CRDS", base.install_rollouts_crds, _bool
            ),
            project_cluster_role=e.text("SHUNTER_PROJECT_CLUSTER_ROLE", base.project_cluster_role),
            operator_namespace=e.text("SHUNTER_OPERATOR_NAMESPACE", base.operator_namespace),
            service_account=e.text("SHUNTER_SERVICE_ACCOUNT", base.service_account),
            git_mirror_max_idle_seconds=e.get(
                "SHUNTER_GIT_MIRROR_MAX_IDLE_SECONDS",
                base.git_mirror_max_idle_seconds,
                _seconds,
                **positive,
            ),
            git_mirror_sweep_seconds=e.get(
                "SHUNTER_GIT_MIRROR_SWEEP_SECONDS",
                base.git_mirror_sweep_seconds,
                _seconds,
                minimum=1,
            ),
            receivers_address=e.get("SHUNTER_RECEIVERS_ADDRESS", base.receivers_address, _address),
            receivers_base_url=e.text("SHUNTER_RECEIVERS_BASE_URL", base.receivers_base_url),
            system_resources_namespace=e.text(
                "SHUNTER_SYSTEM_RESOURCES_NAMESPACE", base.system_resources_namespace
            ),
            receivers_rate=e.get(
                "SHUNTER_RECEIVERS_RATE", base.receivers_rate, float, minimum=0.001
            ),
            receivers_burst=e.get("SHUNTER_RECEIVERS_BURST", base.receivers_burst, _int, minimum=1),
            admission_address=e.get("SHUNTER_ADMISSION_ADDRESS", base.admission_address, _address),
            admission_cert_dir=e.text("SHUNTER_ADMISSION_CERT_DIR", base.admission_cert_dir),
            admission_secret=e.text("SHUNTER_ADMISSION_SECRET", base.admission_secret),
            admission_hosts=e.get("SHUNTER_ADMISSION_HOSTS", base.admission_hosts, _split),
            admission_webhook_name=e.text(
                "SHUNTER_ADMISSION_WEBHOOK_NAME", base.admission_webhook_name
            ),
            admission_register_url=e.text(
                "SHUNTER_ADMISSION_REGISTER_URL", base.admission_register_url
            ),
        )
        config.check()
        return config

    def check(self) -> None:
        """Raise :class:`SettingError` for settings that contradict each other."""
        if self.project_cluster_role and not (self.operator_namespace and self.service_account):
            raise SettingError(
                "SHUNTER_PROJECT_CLUSTER_ROLE needs SHUNTER_OPERATOR_NAMESPACE and "
                "SHUNTER_SERVICE_ACCOUNT (the subject of the RoleBindings)"
            )
        if self.leader_election:
            if not (self.leader_election_namespace or self.operator_namespace):
                raise SettingError(
                    "SHUNTER_LEADER_ELECTION needs SHUNTER_LEADER_ELECTION_NAMESPACE or "
                    "SHUNTER_OPERATOR_NAMESPACE (where the Lease is)"
                )
            if self.lease_duration_seconds <= self.renew_deadline_seconds:
                raise SettingError(
                    "SHUNTER_LEASE_DURATION must be longer than SHUNTER_LEASE_RENEW_DEADLINE"
                )
            if self.renew_deadline_seconds <= 1.2 * self.retry_period_seconds:
                raise SettingError(
                    "SHUNTER_LEASE_RENEW_DEADLINE must be longer than 1.2 x "
                    "SHUNTER_LEASE_RETRY_PERIOD"
                )
