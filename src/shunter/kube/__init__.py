"""The only package that talks to the Kubernetes API (and imports the ``kubernetes`` library).

:class:`KubeClient` is an async facade: each call runs the synchronous client in a worker thread
and returns plain JSON dicts; failures are :class:`KubeError` (:class:`NotFoundError`,
:class:`ConflictError`).
"""

from shunter.kube.client import (
    KARGO_GROUP,
    KARGO_VERSION,
    ConflictError,
    KubeClient,
    KubeError,
    NotFoundError,
)

__all__ = [
    "KARGO_GROUP",
    "KARGO_VERSION",
    "ConflictError",
    "KubeClient",
    "KubeError",
    "NotFoundError",
]
