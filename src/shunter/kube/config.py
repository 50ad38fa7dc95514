"""Where the API server is and how to authenticate to it: a kubeconfig file or the pod's
service account, loaded into a ``kubernetes_asyncio`` :class:`Configuration`.

A kubeconfig may authenticate with client certificates, a bearer token (inline or a file), basic
auth, an exec plugin (``aws eks get-token``, ``gke-gcloud-auth-plugin``...) or an OIDC/GCP
auth provider. Credentials that expire (exec plugins, auth providers, the projected service
account token) are refreshed before a request once they are older than
:data:`REFRESH_SECONDS`; the hook runs on the event loop (exec plugins run as async
subprocesses), never in a thread.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from kubernetes_asyncio.client import Configuration
from kubernetes_asyncio.config import ConfigException
from kubernetes_asyncio.config.incluster_config import load_incluster_config
from kubernetes_asyncio.config.kube_config import KubeConfigLoader, KubeConfigMerger

__all__ = [
    "REFRESH_SECONDS",
    "ConfigException",
    "ConfigLoader",
    "in_cluster_loader",
    "kubeconfig_loader",
]

#: How long credentials from an exec plugin or auth provider are used before asking again.
REFRESH_SECONDS = 60.0

#: Fills a Configuration (awaited once, on the event loop that will use the client).
ConfigLoader = Callable[[], Awaitable[Configuration]]


def kubeconfig_loader(path: Path | str, *, context: str | None = None) -> ConfigLoader:
    """A loader for a kubeconfig file (``KUBECONFIG``-style ``a:b`` lists are merged). The file
    is read at once (a missing file or context raises here); credentials on first use."""
    merged = KubeConfigMerger(str(path))
    if not merged.config:
        raise ConfigException(f"kubeconfig {path} is empty or missing")
    loader = KubeConfigLoader(
        config_dict=merged.config,
        config_base_path=None,
        active_context=context,
        config_persister=None,
    )

    async def load() -> Configuration:
        configuration = Configuration()
        await loader.load_and_set(configuration)
        user: Any = loader._user  # the library keeps it private
        if user is not None and ("exec" in user or "auth-provider" in user):
            configuration.refresh_api_key_hook = _refresher(loader)
        return configuration

    return load


def _refresher(loader: KubeConfigLoader) -> Callable[[Configuration], Awaitable[None]]:
    loaded_at = time.monotonic()

    async def refresh(configuration: Configuration) -> None:
        nonlocal loaded_at
        if time.monotonic() - loaded_at < REFRESH_SECONDS:
            return
        loaded_at = time.monotonic()
        await loader.load_and_set(configuration)

    return refresh


def in_cluster_loader() -> ConfigLoader:
    """A loader for the pod's service account (raises ``ConfigException`` outside a pod, at
    once: the caller can say so before starting anything)."""
    configuration = Configuration()
    load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]

    async def load() -> Configuration:
        return configuration

    return load
