"""A scheduled discovery sees the registry as it is: a tag pushed a moment before a Warehouse's
poll is found by that poll, even when another Warehouse listed the same repository just before
(the shared tag cache must not hand out a listing made before the push).

The Warehouse controller runs in-process against the real API server (its cache fed by real
informers) and a real registry.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import SecretStr

from shunter.cache import CacheFeed, KargoCache
from shunter.controllers.warehouse import WarehouseReconciler
from shunter.credentials.types import Credentials, CredentialType, StaticCredentialsDatabase
from shunter.kube import KubeClient
from shunter.operator.events import KubeEventSink
from shunter.registries import Discoverer
from shunter_devenv.registry import Registry
from shunter_devenv.waiting import wait_for_async

T0 = dt.datetime(2025, 3, 1, tzinfo=dt.UTC)


def warehouse(namespace: str, name: str, image: str) -> dict[str, Any]:
    return {
        "apiVersion": "kargo.akuity.io/v1alpha1",
        "kind": "Warehouse",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"interval": "1h", "subscriptions": [{"image": {"repoURL": image}}]},
    }


def newest_tag(cache: KargoCache, namespace: str, name: str) -> str | None:
    found = cache.warehouse(namespace, name)
    artifacts = found.status.discovered_artifacts if found and found.status else None
    images = (artifacts.images or []) if artifacts else []
    references = (images[0].references or []) if images else []
    return references[0].tag if references else None


async def test_a_tag_pushed_just_before_a_poll_is_found_by_it(
    namespace: str,
    client: KubeClient,
    registry: Registry,
    repo_name: str,
    discoverer: Discoverer,
) -> None:
    image = registry.image(repo_name)
    registry.push_image(repo_name, "1.0.0", T0)
    for name in ("first", "second"):
        await client.create_custom(namespace, "warehouses", warehouse(namespace, name, image))
    cache = KargoCache()
    feed = CacheFeed(client, cache, namespaces=(namespace,))
    feed.start()
    try:
        await feed.wait_synced()
        credentials = StaticCredentialsDatabase(
            {
                (CredentialType.IMAGE, image): Credentials(
                    "reader", SecretStr(registry.users["reader"])
                )
            }
        )
        reconciler = WarehouseReconciler(
            client, cache, credentials, KubeEventSink(client), discover_fn=discoverer.discover
        )

        # "first" polls: the repository's tag listing is now cached, with 1.0.0 only.
        assert await reconciler.reconcile(namespace, "first") == 3600.0
        await wait_for_async(
            lambda: newest_tag(cache, namespace, "first") == "1.0.0", what="first's result"
        )

        # A new tag, then "second"'s scheduled poll (its first, so it is due).
        registry.push_image(repo_name, "1.1.0", T0 + dt.timedelta(minutes=1))
        await reconciler.reconcile(namespace, "second")
        await wait_for_async(
            lambda: newest_tag(cache, namespace, "second") is not None, what="second's result"
        )
        assert newest_tag(cache, namespace, "second") == "1.1.0"
    finally:
        await feed.stop()
