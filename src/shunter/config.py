"""Operator settings, from command-line flags and ``SHUNTER_*`` environment variables.

Every setting has a flag (``shunter run --help``) and an environment variable; flags win. The
Helm chart sets the environment variables.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

__all__ = ["OperatorConfig"]

LogFormat = Literal["text", "json"]


def _split(value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(",") if v.strip())


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

    @property
    def git_mirrors_dir(self) -> Path:
        """Where the git mirrors live: ``<work_dir>/mirrors``."""
        return self.work_dir / "mirrors"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> OperatorConfig:
        """Settings from ``SHUNTER_*`` variables, defaults for the rest."""
        env = os.environ if env is None else env
        base = cls()
        log_format = env.get("SHUNTER_LOG_FORMAT", base.log_format)
        if log_format not in ("text", "json"):
            raise ValueError(f"SHUNTER_LOG_FORMAT must be text or json, not {log_format!r}")
        return cls(
            namespaces=_split(env.get("SHUNTER_NAMESPACES", "")),
            work_dir=Path(env.get("SHUNTER_WORK_DIR", str(base.work_dir))),
            workers=int(env.get("SHUNTER_WORKERS", base.workers)),
            log_level=env.get("SHUNTER_LOG_LEVEL", base.log_level).upper(),
            log_format=log_format,  # type: ignore[arg-type]
            argocd_namespace=env.get("SHUNTER_ARGOCD_NAMESPACE", base.argocd_namespace),
            git_author_name=env.get("SHUNTER_GIT_AUTHOR_NAME", base.git_author_name),
            git_author_email=env.get("SHUNTER_GIT_AUTHOR_EMAIL", base.git_author_email),
            min_warehouse_interval_seconds=float(
                env.get(
                    "SHUNTER_MIN_WAREHOUSE_INTERVAL_SECONDS", base.min_warehouse_interval_seconds
                )
            ),
            resync_seconds=float(env.get("SHUNTER_RESYNC_SECONDS", base.resync_seconds)),
            stage_resync_seconds=float(
                env.get("SHUNTER_STAGE_RESYNC_SECONDS", base.stage_resync_seconds)
            ),
            probes_address=env.get("SHUNTER_PROBES_ADDRESS", base.probes_address),
            min_step_requeue_seconds=float(
                env.get("SHUNTER_MIN_STEP_REQUEUE_SECONDS", base.min_step_requeue_seconds)
            ),
            step_attempt_timeout_seconds=float(
                env.get("SHUNTER_STEP_ATTEMPT_TIMEOUT_SECONDS", base.step_attempt_timeout_seconds)
            ),
            discovery_retry_seconds=float(
                env.get("SHUNTER_DISCOVERY_RETRY_SECONDS", base.discovery_retry_seconds)
            ),
            allow_credentials_over_http=env.get(
                "SHUNTER_ALLOW_CREDENTIALS_OVER_HTTP", "false"
            ).lower()
            in ("1", "true", "yes"),
            expression_workers=max(
                1, int(env.get("SHUNTER_EXPRESSION_WORKERS", base.expression_workers))
            ),
            expression_deadline_seconds=float(
                env.get("SHUNTER_EXPRESSION_DEADLINE_SECONDS", base.expression_deadline_seconds)
            ),
            expression_memory_mib=int(
                env.get("SHUNTER_EXPRESSION_MEMORY_MIB", base.expression_memory_mib)
            ),
            expression_project_workers=int(
                env.get("SHUNTER_EXPRESSION_PROJECT_WORKERS", base.expression_project_workers)
            ),
            git_mirror_max_idle_seconds=float(
                env.get("SHUNTER_GIT_MIRROR_MAX_IDLE_SECONDS", base.git_mirror_max_idle_seconds)
            ),
            git_mirror_sweep_seconds=float(
                env.get("SHUNTER_GIT_MIRROR_SWEEP_SECONDS", base.git_mirror_sweep_seconds)
            ),
            receivers_address=env.get("SHUNTER_RECEIVERS_ADDRESS", base.receivers_address),
            receivers_base_url=env.get("SHUNTER_RECEIVERS_BASE_URL", base.receivers_base_url),
            system_resources_namespace=env.get(
                "SHUNTER_SYSTEM_RESOURCES_NAMESPACE", base.system_resources_namespace
            ),
            receivers_rate=float(env.get("SHUNTER_RECEIVERS_RATE", base.receivers_rate)),
            receivers_burst=int(env.get("SHUNTER_RECEIVERS_BURST", base.receivers_burst)),
            admission_address=env.get("SHUNTER_ADMISSION_ADDRESS", base.admission_address),
            admission_cert_dir=env.get("SHUNTER_ADMISSION_CERT_DIR", base.admission_cert_dir),
            admission_secret=env.get("SHUNTER_ADMISSION_SECRET", base.admission_secret),
            admission_hosts=_split(env.get("SHUNTER_ADMISSION_HOSTS", "")),
            admission_webhook_name=env.get(
                "SHUNTER_ADMISSION_WEBHOOK_NAME", base.admission_webhook_name
            ),
            admission_register_url=env.get(
                "SHUNTER_ADMISSION_REGISTER_URL", base.admission_register_url
            ),
        )
