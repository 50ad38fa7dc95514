"""The kinds the operator keeps in its cache, and the indexes over them.

Each index maps an object (its raw JSON, as stored) to the keys it is found under; the keys are
computed once per resourceVersion, on ingest, from a handful of fields (no parsing). The
webhook receivers' indexes are Kargo's: ProjectConfigs by the paths of their receivers
(``receiverPaths``), Warehouses by their subscriptions' normalised URLs (``subscribedURLs``)
and running Promotions by the pull requests their ``git-wait-for-pr`` steps wait on
(``pullRequestURL``).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from shunter.api.v1alpha1 import labels as lbl
from shunter.freight.subscriptions import subscribed_urls
from shunter.kube.client import KARGO_GROUP, KARGO_VERSION
from shunter.kube.informer import Kind

__all__ = [
    "ANALYSIS_RUNS",
    "CLUSTER_CONFIGS",
    "CLUSTER_PROMOTION_TASKS",
    "FREIGHTS",
    "INDEXES",
    "PROJECTS",
    "PROJECT_CONFIGS",
    "PROMOTIONS",
    "PROMOTION_TASKS",
    "SECRETS",
    "STAGES",
    "WAREHOUSES",
    "Index",
    "freight_stages",
    "receiver_paths",
    "requested_origins",
    "upstream_stages",
    "waiting_pr_urls",
]

PROJECTS = Kind(KARGO_GROUP, KARGO_VERSION, "projects", namespaced=False)
PROJECT_CONFIGS = Kind(KARGO_GROUP, KARGO_VERSION, "projectconfigs")
WAREHOUSES = Kind(KARGO_GROUP, KARGO_VERSION, "warehouses")
STAGES = Kind(KARGO_GROUP, KARGO_VERSION, "stages")
FREIGHTS = Kind(KARGO_GROUP, KARGO_VERSION, "freights")
PROMOTIONS = Kind(KARGO_GROUP, KARGO_VERSION, "promotions")
PROMOTION_TASKS = Kind(KARGO_GROUP, KARGO_VERSION, "promotiontasks")
CLUSTER_PROMOTION_TASKS = Kind(KARGO_GROUP, KARGO_VERSION, "clusterpromotiontasks", False)
#: The one ClusterConfig (named ``cluster``).
CLUSTER_CONFIGS = Kind(KARGO_GROUP, KARGO_VERSION, "clusterconfigs", namespaced=False)
ANALYSIS_RUNS = Kind("argoproj.io", "v1alpha1", "analysisruns")
#: Only credentials Secrets (labelled ``kargo.akuity.io/cred-type``) are cached.
SECRETS = Kind("", "v1", "secrets")

JSON = Mapping[str, Any]
_TERMINAL = frozenset({"Succeeded", "Failed", "Errored", "Aborted"})
WAIT_FOR_PR = "git-wait-for-pr"


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _requests(stage: JSON) -> list[Mapping[str, Any]]:
    requested = _dict(stage.get("spec")).get("requestedFreight")
    return [r for r in requested or [] if isinstance(r, Mapping)]


def requested_origins(stage: JSON) -> set[str]:
    """The origin keys (``Warehouse/<name>``) a Stage requests Freight from."""
    keys = set()
    for request in _requests(stage):
        origin = _dict(request.get("origin"))
        if origin.get("name"):
            keys.add(f"{origin.get('kind') or 'Warehouse'}/{origin['name']}")
    return keys


def upstream_stages(stage: JSON) -> set[str]:
    """The Stages a Stage takes Freight from."""
    names = set()
    for request in _requests(stage):
        for upstream in _dict(request.get("sources")).get("stages") or []:
            if isinstance(upstream, str):
                names.add(upstream)
    return names


def freight_stages(freight: JSON) -> set[str]:
    """The Stages a Freight is currently in, verified in or approved for."""
    status = _dict(freight.get("status"))
    names: set[str] = set()
    for key in ("currentlyIn", "verifiedIn", "approvedFor"):
        names.update(_dict(status.get(key)))
    return names


def receiver_paths(config: JSON) -> list[str]:
    """The receiver paths a ProjectConfig or ClusterConfig publishes in its status."""
    receivers = _dict(config.get("status")).get("webhookReceivers")
    paths = (_dict(receiver).get("path") for receiver in receivers or [])
    return [path for path in paths if isinstance(path, str) and path]


def waiting_pr_urls(promotion: JSON) -> list[str]:
    """The pull requests a running Promotion waits on: the ``pr.url`` output of each
    ``git-wait-for-pr`` step (with an alias) up to the current step."""
    status = _dict(promotion.get("status"))
    if status.get("phase") != "Running":
        return []
    state = _dict(status.get("state"))
    current = status.get("currentStep")
    last = current if isinstance(current, int) else 0
    urls: list[str] = []
    steps = _dict(promotion.get("spec")).get("steps")
    for index, raw_step in enumerate(steps if isinstance(steps, list) else []):
        if index > last:
            break
        step = _dict(raw_step)
        alias = step.get("as")
        if step.get("uses") != WAIT_FOR_PR or not isinstance(alias, str) or not alias:
            continue
        url = _dict(_dict(state.get(alias)).get("pr")).get("url")
        if isinstance(url, str) and url:
            urls.append(url)
    return urls


def _namespace(obj: JSON) -> str:
    return str(_dict(obj.get("metadata")).get("namespace") or "")


def _origin(freight: JSON) -> str:
    origin = _dict(freight.get("origin"))
    return f"{origin.get('kind') or 'Warehouse'}/{origin.get('name') or ''}"


def _alias(freight: JSON) -> str | None:
    alias = freight.get("alias") or _dict(_dict(freight.get("metadata")).get("labels")).get(
        lbl.ALIAS
    )
    return alias if isinstance(alias, str) and alias else None


def _cred_type(secret: JSON) -> str | None:
    value = _dict(_dict(secret.get("metadata")).get("labels")).get(lbl.CRED_TYPE)
    return value if isinstance(value, str) else None


@dataclass(frozen=True)
class Index:
    """A named index of one kind: ``keys(raw)`` lists the keys an object is found under."""

    name: str
    kind: Kind
    keys: Callable[[JSON], Iterable[Hashable]]


def _by_namespace(kind: Kind) -> Index:
    return Index(f"{kind.plural}-by-namespace", kind, lambda o: [_namespace(o)])


INDEXES: tuple[Index, ...] = (
    _by_namespace(STAGES),
    _by_namespace(WAREHOUSES),
    _by_namespace(FREIGHTS),
    _by_namespace(PROMOTIONS),
    Index(
        "stages-by-origin",
        STAGES,
        lambda s: [(_namespace(s), origin) for origin in requested_origins(s)],
    ),
    Index(
        "stages-by-upstream",
        STAGES,
        lambda s: [(_namespace(s), upstream) for upstream in upstream_stages(s)],
    ),
    Index(
        "promotions-by-stage",
        PROMOTIONS,
        lambda p: [(_namespace(p), str(_dict(p.get("spec")).get("stage") or ""))],
    ),
    Index(
        "promotions-in-flight",
        PROMOTIONS,
        lambda p: [] if _dict(p.get("status")).get("phase") in _TERMINAL else [_namespace(p)],
    ),
    Index("freight-by-origin", FREIGHTS, lambda f: [(_namespace(f), _origin(f))]),
    Index(
        "freight-by-stage",
        FREIGHTS,
        lambda f: [(_namespace(f), stage) for stage in freight_stages(f)],
    ),
    Index(
        "freight-by-alias",
        FREIGHTS,
        lambda f: [(_namespace(f), alias)] if (alias := _alias(f)) else [],
    ),
    Index("warehouses-by-subscribed-url", WAREHOUSES, subscribed_urls),
    Index("project-configs-by-receiver-path", PROJECT_CONFIGS, receiver_paths),
    Index("promotions-by-pull-request", PROMOTIONS, waiting_pr_urls),
    Index(
        "secrets-by-type",
        SECRETS,
        lambda s: [(_namespace(s), t)] if (t := _cred_type(s)) else [],
    ),
)
