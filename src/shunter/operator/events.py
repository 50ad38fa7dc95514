"""Kubernetes Events for our objects (Kargo's event reasons and annotations)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from shunter.kube.client import KubeClient, KubeError

__all__ = ["KubeEventSink"]

log = logging.getLogger(__name__)
_COMPONENT = "shunter"


class KubeEventSink:
    """Writes core/v1 Events; never raises (an Event is never worth a failed reconcile)."""

    def __init__(self, kube: KubeClient) -> None:
        self._kube = kube

    async def emit(
        self,
        *,
        namespace: str,
        kind: str,
        name: str,
        uid: str | None,
        reason: str,
        message: str,
        annotations: dict[str, str] | None = None,
        warning: bool = False,
    ) -> None:
        """Record one Event about ``kind/name``."""
        now = datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
        body = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {
                "generateName": f"{name[:200]}.",
                "namespace": namespace,
                "annotations": {k: v for k, v in (annotations or {}).items() if v},
            },
            "involvedObject": {
                "apiVersion": "kargo.akuity.io/v1alpha1",
                "kind": kind,
                "name": name,
                "namespace": namespace,
                **({"uid": uid} if uid else {}),
            },
            "reason": reason,
            "message": message[:1024],
            "type": "Warning" if warning else "Normal",
            "source": {"component": _COMPONENT},
            "reportingComponent": _COMPONENT,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
        try:
            await self._kube.create_event(namespace, body)
        except KubeError as exc:
            log.warning("could not record event %s for %s/%s: %s", reason, kind, name, exc)
