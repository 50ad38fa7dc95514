"""How a preview reads the cluster: with the caller's own identity, through a :class:`Reader`
the caller supplies (the command line's client, the web UI's user API).

The preview reads the Stage, the Freight, PromotionTasks, the credential Secrets its steps
need and whatever their expressions read (``configMap()``, ``secret()``, ``freightMetadata()``).
A read the caller is not allowed raises :class:`AccessDenied`, which the preview turns into
a step error saying exactly what could not be read; it never falls back to other credentials.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from shunter.api.v1alpha1.group import GROUP
from shunter.api.v1alpha1.labels import CRED_TYPE
from shunter.expressions import ExpressionEvaluationError
from shunter.expressions.functions.data import ResourceRef
from shunter.promotion.step import TerminalStepError

__all__ = ["AccessDenied", "Reader", "ReaderFetcher", "ReaderSecrets"]

JSON = dict[str, Any]

#: ResourceRef kinds of the data and freight functions: (plural, API group).
_KINDS = {
    "ConfigMap": ("configmaps", ""),
    "Secret": ("secrets", ""),
    "Freight": ("freights", GROUP),
    "Stage": ("stages", GROUP),
    "Warehouse": ("warehouses", GROUP),
}


class AccessDenied(Exception):  # noqa: N818 - what the API server said
    """The caller may not read something the preview needs (HTTP 401/403)."""


class Reader(Protocol):
    """Reads as the caller. ``group`` ``""`` is the core API (Secrets, ConfigMaps)."""

    async def get(
        self, plural: str, namespace: str | None, name: str, *, group: str = GROUP
    ) -> JSON | None:
        """One object, or None when it does not exist (raises :class:`AccessDenied`)."""
        ...

    async def list(
        self,
        plural: str,
        namespace: str,
        *,
        label_selector: str | None = None,
        group: str = GROUP,
    ) -> list[JSON]:
        """The objects of a namespace (raises :class:`AccessDenied`)."""
        ...


class ReaderFetcher:
    """:class:`shunter.promotion.environment.ResourceFetcher` over a :class:`Reader`."""

    def __init__(self, reader: Reader, who: str) -> None:
        self._reader = reader
        self._who = who

    async def __call__(self, project: str, ref: ResourceRef) -> Mapping[str, Any] | None:
        """The object an expression asks for (no shared namespace in a preview)."""
        if ref.shared:
            return None
        plural, group = _KINDS[ref.kind]
        try:
            return await self._reader.get(plural, project, ref.name, group=group)
        except AccessDenied as exc:
            raise ExpressionEvaluationError(
                f"the preview runs as {self._who}, who may not read {ref.kind} {ref.name!r} in "
                f"namespace {project!r}: {exc}"
            ) from None


class ReaderSecrets:
    """The credential Secrets of a namespace, for
    :class:`shunter.credentials.kubernetes.KubernetesCredentialsDatabase`."""

    def __init__(self, reader: Reader, who: str) -> None:
        self._reader = reader
        self._who = who

    async def __call__(self, namespace: str, cred_type: str) -> list[JSON]:
        """Secrets labelled ``kargo.akuity.io/cred-type: <cred_type>``."""
        try:
            return await self._reader.list(
                "secrets", namespace, label_selector=f"{CRED_TYPE}={cred_type}", group=""
            )
        except AccessDenied as exc:
            raise TerminalStepError(
                f"the preview runs as {self._who}, who may not list the {cred_type} credential "
                f"Secrets of namespace {namespace!r}: {exc}"
            ) from None
