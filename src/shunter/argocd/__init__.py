"""The Argo CD adapter: read, authorize, patch and assess Argo CD ``Application`` objects.

It talks to the Kubernetes API only (through :class:`shunter.kube.KubeClient`), never to an Argo
CD API server: Applications are custom objects, and a sync starts when ``operation`` is written.

* :mod:`~shunter.argocd.models`: trimmed read models that keep unknown fields and the raw JSON;
* :mod:`~shunter.argocd.authorization`: the ``kargo.akuity.io/authorized-stage`` annotation;
* :mod:`~shunter.argocd.selectors`: label selectors as selector strings;
* :mod:`~shunter.argocd.patch`: the minimal merge patch that updates sources and starts a sync;
* :mod:`~shunter.argocd.operations`: whether a Promotion must start a sync, wait, or is done;
* :mod:`~shunter.argocd.client`: finding (and authorizing) and patching Applications;
* :mod:`~shunter.argocd.health`: the ``argocd-update`` health check of a Stage.

This package imports no other adapter, and nothing from steps or controllers.
"""

from shunter.argocd.authorization import (
    AUTHORIZED_STAGE,
    StageRef,
    authorize,
    parse_authorized_stages,
)
from shunter.argocd.client import DEFAULT_NAMESPACE, ArgoCDClient
from shunter.argocd.errors import (
    ApplicationNotFoundError,
    ArgoCDError,
    AuthorizationError,
    SelectorError,
    SourceUpdateError,
)
from shunter.argocd.health import (
    APPLICATION_STATUSES_KEY,
    AppHealthCheck,
    AppHealthVerdict,
    HealthResult,
    assess_application,
    check_argocd_health,
    parse_health_config,
    worst,
)
from shunter.argocd.models import Application, HealthStatusCode, OperationPhase, SyncStatusCode
from shunter.argocd.operations import SyncProgress, assess_sync
from shunter.argocd.patch import (
    OPERATION_INITIATOR,
    PROMOTION_INFO_KEY,
    REFRESH_ANNOTATION,
    HelmParameterUpdate,
    KustomizeImageUpdate,
    SourceUpdate,
    build_sync_patch,
    desired_revisions,
    desired_sources,
)
from shunter.argocd.selectors import LabelRequirement, label_selector

__all__ = [
    "APPLICATION_STATUSES_KEY",
    "AUTHORIZED_STAGE",
    "DEFAULT_NAMESPACE",
    "OPERATION_INITIATOR",
    "PROMOTION_INFO_KEY",
    "REFRESH_ANNOTATION",
    "AppHealthCheck",
    "AppHealthVerdict",
    "Application",
    "ApplicationNotFoundError",
    "ArgoCDClient",
    "ArgoCDError",
    "AuthorizationError",
    "HealthResult",
    "HealthStatusCode",
    "HelmParameterUpdate",
    "KustomizeImageUpdate",
    "LabelRequirement",
    "OperationPhase",
    "SelectorError",
    "SourceUpdate",
    "SourceUpdateError",
    "StageRef",
    "SyncProgress",
    "SyncStatusCode",
    "assess_application",
    "assess_sync",
    "authorize",
    "build_sync_patch",
    "check_argocd_health",
    "desired_revisions",
    "desired_sources",
    "label_selector",
    "parse_authorized_stages",
    "parse_health_config",
    "worst",
]
