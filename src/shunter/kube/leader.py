"""Leader election on a ``coordination.k8s.io`` Lease, with ``kubernetes_asyncio``'s
implementation (``LeaderElection`` and ``LeaseLock``, the Python port of client-go's).

:meth:`LeaderElector.run` campaigns until this replica holds the Lease, runs ``lead`` as a task
while it does, and returns once the Lease could not be renewed within the renew deadline (the
task is cancelled first). The caller decides what losing means; the operator exits non-zero,
as controller-runtime does, so nothing it started can run twice.

A replica that stops cleanly gives the Lease up (:meth:`LeaderElector.release`: the holder is
cleared, guarded by the Lease's resourceVersion), so a standby takes over at its next retry
instead of waiting out the lease duration.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from kubernetes_asyncio.leaderelection.electionconfig import Config
from kubernetes_asyncio.leaderelection.leaderelection import LeaderElection
from kubernetes_asyncio.leaderelection.resourcelock.leaselock import LeaseLock

from shunter.kube.client import KubeClient, KubeError, NotFoundError, resource_path

__all__ = ["LeaderElector", "LeaseSettings", "default_identity"]

log = logging.getLogger(__name__)


def default_identity() -> str:
    """``<host name>_<pid>``: unique per replica (a pod's host name is its name)."""
    return f"{socket.gethostname()}_{os.getpid()}"


@dataclass(frozen=True)
class LeaseSettings:
    """Where the Lease is, who we are, and client-go's timing (defaults 15 s / 10 s / 2 s)."""

    namespace: str
    name: str
    identity: str
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0


class LeaderElector:
    """Campaigns for one Lease."""

    def __init__(self, kube: KubeClient, settings: LeaseSettings) -> None:
        self._kube = kube
        self.settings = settings
        self.leading = False

    @property
    def lease(self) -> str:
        """``<namespace>/<name>`` of the Lease."""
        return f"{self.settings.namespace}/{self.settings.name}"

    async def run(self, lead: Callable[[], Awaitable[None]]) -> None:
        """Wait for the Lease, run ``lead()`` while holding it, return when it is lost."""
        s = self.settings
        lock = LeaseLock(s.name, s.namespace, s.identity, await self._kube.api_client())

        async def started() -> None:
            self.leading = True
            log.info("started leading (Lease %s, identity %s)", self.lease, s.identity)
            await lead()

        async def stopped() -> None:
            self.leading = False
            log.error("stopped leading (Lease %s, identity %s)", self.lease, s.identity)

        config = Config(
            lock,
            # A Lease holds whole seconds (leaseDurationSeconds).
            lease_duration=max(1, math.ceil(s.lease_duration)),
            renew_deadline=s.renew_deadline,
            retry_period=s.retry_period,
            onstarted_leading=started,
            onstopped_leading=stopped,
        )
        log.info("waiting to lead (Lease %s, identity %s)", self.lease, s.identity)
        await LeaderElection(config).run()

    async def release(self) -> None:
        """Give the Lease up if we hold it (best effort; never raises)."""
        if not self.leading:
            return
        self.leading = False
        s = self.settings
        path = resource_path(
            "coordination.k8s.io", "v1", "leases", namespace=s.namespace, name=s.name
        )
        try:
            lease = await self._kube.request("GET", path, f"get lease {self.lease}")
            spec = lease.get("spec") or {}
            if spec.get("holderIdentity") != s.identity:
                return
            spec.pop("holderIdentity", None)
            spec["leaseDurationSeconds"] = 1
            lease["spec"] = spec
            await asyncio.wait_for(
                self._kube.request("PUT", path, f"release lease {self.lease}", body=lease), 5
            )
            log.info("released the Lease %s", self.lease)
        except NotFoundError:
            return
        except (KubeError, TimeoutError) as exc:
            log.warning("could not release the Lease %s: %s", self.lease, exc)
