"""The only package that talks to the Kubernetes API (and imports ``kubernetes_asyncio``).

:class:`KubeClient` is an async client over one aiohttp connection pool: plain JSON dicts in and
out, failures as :class:`KubeError` (:class:`NotFoundError`, :class:`ConflictError`,
:class:`GoneError`). :class:`~shunter.kube.informer.Informer` keeps a watch-fed copy of one
kind.
"""

from shunter.kube.client import (
    KARGO_GROUP,
    KARGO_VERSION,
    ConflictError,
    GoneError,
    KubeClient,
    KubeError,
    NotFoundError,
)

__all__ = [
    "KARGO_GROUP",
    "KARGO_VERSION",
    "ConflictError",
    "GoneError",
    "KubeClient",
    "KubeError",
    "NotFoundError",
]
