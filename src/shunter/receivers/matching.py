"""Does a push concern a Warehouse? Kargo's rules (v1.7+) for skipping needless refreshes.

A Warehouse subscribed to the pushed repository is refreshed only if one of its subscriptions
to that repository would consider what was pushed:

* git: one of the pushed refs (:func:`shunter.registries.git.ref_selected`: the subscription's
  branch - ``main``/``master`` when none is named - or a tag passing its filters and
  constraint), and, when the payload listed the changed files, at least one of them passes the
  include/exclude path filters;
* image: one of the pushed tags (:func:`shunter.registries.images.tag_selected`);
* chart: one of the pushed versions (:func:`shunter.registries.charts.version_selected`).

A subscription too broken to judge (a bad regex or constraint) does not block the refresh: its
Warehouse is refreshed and reports the problem in its own status. (Kargo answers 500 instead.)
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from shunter.api.v1alpha1 import Warehouse
from shunter.api.v1alpha1.warehouse import RepoSubscription
from shunter.freight.urls import normalize_chart_url, normalize_git_url, normalize_image_url
from shunter.registries.charts import version_selected
from shunter.registries.errors import InvalidSubscriptionError
from shunter.registries.git import paths_selected, ref_selected
from shunter.registries.images import tag_selected

__all__ = ["push_concerns"]

log = logging.getLogger(__name__)


def _subscription_concerned(
    sub: RepoSubscription, repo_url: str, qualifiers: Sequence[str], changed: Sequence[str]
) -> bool:
    if sub.git is not None and normalize_git_url(sub.git.repo_url) == repo_url:
        git = sub.git
        return any(ref_selected(git, ref) for ref in qualifiers) and (
            not changed or paths_selected(git, changed)
        )
    if sub.image is not None and normalize_image_url(sub.image.repo_url) == repo_url:
        image = sub.image
        return any(tag_selected(image, tag) for tag in qualifiers)
    if sub.chart is not None and normalize_chart_url(sub.chart.repo_url) == repo_url:
        chart = sub.chart
        return any(version_selected(chart, version) for version in qualifiers)
    return False


def push_concerns(
    warehouse: Warehouse, repo_url: str, qualifiers: Sequence[str], changed: Sequence[str]
) -> bool:
    """Whether pushing ``qualifiers`` (changing ``changed`` files) to the repository normalised
    as ``repo_url`` concerns the Warehouse."""
    for sub in warehouse.spec.subscriptions:
        try:
            if _subscription_concerned(sub, repo_url, qualifiers, changed):
                return True
        except InvalidSubscriptionError as error:
            log.debug(
                "Warehouse %s/%s: refreshing despite an invalid subscription (%s)",
                warehouse.metadata.namespace,
                warehouse.metadata.name,
                error,
            )
            return True
    return False
