"""The only package that talks to the Kubernetes API (and imports ``kubernetes_asyncio``).

:class:`KubeClient` is an async client over one aiohttp connection pool: plain JSON dicts in and
out, failures as :class:`KubeError` (:class:`NotFoundError`, :class:`ConflictError`,
:class:`GoneError`). :class:`~shunter.kube.informer.Informer` keeps a watch-fed copy of one
kind.

The library's package modules are imported lazily (:mod:`shunter.kube.lazy_imports`): only the
modules shunter uses are loaded.
"""

from shunter.kube import lazy_imports

lazy_imports.install()

from shunter.kube.client import (  # noqa: E402 - after the lazy imports are installed
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
