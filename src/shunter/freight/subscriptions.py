"""The repository URLs a Warehouse subscribes to, normalised: Kargo's ``subscribedURLs`` index.

A webhook receiver learns a repository URL from a payload, normalises it and looks for the
Warehouses whose subscriptions normalise to the same text (git URLs with
:func:`~shunter.freight.urls.normalize_git_url`, images with
:func:`~shunter.freight.urls.normalize_image_url`, charts with
:func:`~shunter.freight.urls.normalize_chart_url`) - the normalisation Freight IDs use.

:func:`subscribed_urls` reads the Warehouse as stored (JSON), so an index can be computed on
ingest without parsing the whole object.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from shunter.freight.urls import normalize_chart_url, normalize_git_url, normalize_image_url

__all__ = ["subscribed_urls"]

_NORMALIZERS: tuple[tuple[str, Callable[[str], str]], ...] = (
    ("git", normalize_git_url),
    ("chart", normalize_chart_url),
    ("image", normalize_image_url),
)


def subscribed_urls(warehouse: Mapping[str, Any]) -> list[str]:
    """The normalised repository URLs of every subscription of a Warehouse (JSON), in order,
    duplicates removed; subscriptions without a ``repoURL`` add nothing."""
    spec = warehouse.get("spec")
    subscriptions = spec.get("subscriptions") if isinstance(spec, Mapping) else None
    found: dict[str, None] = {}
    for subscription in subscriptions if isinstance(subscriptions, list) else ():
        if not isinstance(subscription, Mapping):
            continue
        for kind, normalize in _NORMALIZERS:
            artifact = subscription.get(kind)
            repo_url = artifact.get("repoURL") if isinstance(artifact, Mapping) else None
            if isinstance(repo_url, str) and repo_url:
                found[normalize(repo_url)] = None
    return list(found)
