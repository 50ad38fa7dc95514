"""The periodic sweep of the operator's git mirrors (``<work_dir>/mirrors``).

Every ``interval`` seconds: the repository URLs the Warehouses' git subscriptions name (they
keep their mirrors), then :meth:`shunter.git.MirrorStore.sweep`, which prunes the working trees
of finished promotions and removes the mirrors nothing needs. A failed round is logged and the
next one tries again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from shunter.git import GitError, MirrorStore
from shunter.kube.client import KubeError

__all__ = ["subscribed_git_urls", "sweep_mirrors"]

log = logging.getLogger(__name__)

ListWarehouses = Callable[[], Awaitable[Iterable[Mapping[str, Any]]]]


def subscribed_git_urls(warehouses: Iterable[Mapping[str, Any]]) -> set[str]:
    """The ``repoURL`` of every git subscription of ``warehouses`` (raw objects)."""
    urls: set[str] = set()
    for warehouse in warehouses:
        spec = warehouse.get("spec") or {}
        for subscription in spec.get("subscriptions") or []:
            git = (subscription or {}).get("git") or {}
            url = git.get("repoURL")
            if isinstance(url, str) and url:
                urls.add(url)
    return urls


async def sweep_mirrors(
    store: MirrorStore,
    list_warehouses: ListWarehouses,
    *,
    interval: float,
    max_idle: float,
) -> None:
    """Sweep ``store`` every ``interval`` seconds, forever (cancel the task to stop)."""
    while True:
        await asyncio.sleep(interval)
        try:
            keep = subscribed_git_urls(await list_warehouses())
            removed = await store.sweep(keep, max_idle=max_idle)
        except (KubeError, GitError, OSError) as error:
            log.warning("git mirror sweep failed: %s", error)
            continue
        if removed:
            log.info("removed %d unused git mirror(s)", len(removed))
