"""The keys a receiver finds objects by, computed from objects as stored (JSON), as Kargo's
cache indexes are:

* :func:`receiver_paths`: a ProjectConfig (or ClusterConfig) by the paths of its receivers,
  ``status.webhookReceivers[].path`` (``receiverPaths``);
* :func:`waiting_pr_urls`: a running Promotion by the pull requests its ``git-wait-for-pr``
  steps wait on - the ``pr.url`` output of every such step (with an alias) up to the current
  step (``pullRequestURL``);
* Warehouses by their subscriptions' normalised URLs: :func:`shunter.freight.subscribed_urls`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["receiver_paths", "waiting_pr_urls"]

WAIT_FOR_PR = "git-wait-for-pr"


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def receiver_paths(config: Mapping[str, Any]) -> list[str]:
    """The receiver paths a ProjectConfig or ClusterConfig publishes in its status."""
    receivers = _list(_mapping(config.get("status")).get("webhookReceivers"))
    paths = (_mapping(receiver).get("path") for receiver in receivers)
    return [path for path in paths if isinstance(path, str) and path]


def waiting_pr_urls(promotion: Mapping[str, Any]) -> list[str]:
    """The pull request URLs a running Promotion's ``git-wait-for-pr`` steps reported."""
    status = _mapping(promotion.get("status"))
    if status.get("phase") != "Running":
        return []
    state = _mapping(status.get("state"))
    current = status.get("currentStep")
    last = current if isinstance(current, int) else 0
    urls: list[str] = []
    for index, raw_step in enumerate(_list(_mapping(promotion.get("spec")).get("steps"))):
        if index > last:
            break
        step = _mapping(raw_step)
        alias = step.get("as")
        if step.get("uses") != WAIT_FOR_PR or not isinstance(alias, str) or not alias:
            continue
        url = _mapping(_mapping(state.get(alias)).get("pr")).get("url")
        if isinstance(url, str) and url:
            urls.append(url)
    return urls
