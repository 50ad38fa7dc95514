"""The webhook receiver server: an ``aiohttp.web`` application in the operator process.

Every request goes through the same steps, cheapest first, so that bad input costs little:

1. ``/healthz`` answers 200. A path that cannot be a receiver's (not ``.../<type>/<64 hex>``)
   is a 404 at once.
2. The path's token bucket (``SHUNTER_RECEIVERS_RATE`` per second, ``SHUNTER_RECEIVERS_BURST``)
   must have a token, else 429 with ``Retry-After``. Paths that are not found share one more
   bucket: once it is empty, unknown paths get 429 without being looked up.
3. The receiver is found by its path: the ProjectConfig publishing it in
   ``status.webhookReceivers``, else the ClusterConfig (404 when neither does).
4. The body is read, at most 2 MiB (a larger ``Content-Length`` or body is a 413; reading stops
   at the limit) within 30 seconds (408).
5. The receiver's Secret is read and its provider's handler authenticates the request and reads
   the payload (401 for a missing or wrong signature or token, 400 for a payload of the wrong
   shape or an unsupported event, 501 where Kargo says so).
6. The outcome is carried out - refresh annotations written - and answered (200, or 500 when a
   write failed). Nothing waits for discovery or promotions.

Answers are JSON, as Kargo's: ``{"msg": ...}`` or ``{"error": ...}``; a server error says
nothing more than ``{}``. Logs name the project and receiver, never a secret, and cut the
path's secret-derived hash to 8 characters.

:class:`ReceiverServer` is built from a :class:`~shunter.kube.client.KubeClient` (Secret reads,
annotation writes) and a :class:`~shunter.receivers.lookups.ReceiverLookups` (everything else);
``start()`` binds, ``stop()`` closes.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from shunter.api.v1alpha1.project import (
    ConfigStatusBase,
    WebhookReceiverConfig,
)
from shunter.kube.client import KubeClient, KubeError
from shunter.receivers.actions import run_actions
from shunter.receivers.events import (
    Inbound,
    Outcome,
    RefreshPromotions,
    RefreshWarehouses,
    Rejected,
    Reply,
)
from shunter.receivers.kinds import RECEIVER_TYPES
from shunter.receivers.lookups import ReceiverLookups
from shunter.receivers.paths import redact_path
from shunter.receivers.providers import HANDLERS
from shunter.receivers.ratelimit import Buckets
from shunter.receivers.refresh import Refresher
from shunter.receivers.status import SecretProblem, receiver_secret

__all__ = ["MAX_BODY_BYTES", "ReceiverServer", "Resolved"]

log = logging.getLogger(__name__)

#: Largest request body accepted (Kargo's limit).
MAX_BODY_BYTES = 2 << 20
#: Time allowed to receive the body.
BODY_TIMEOUT_SECONDS = 30.0
_TYPES = "|".join(kind.name for kind in RECEIVER_TYPES)
_RECEIVER_PATH = re.compile(rf"/(?:{_TYPES})/[0-9a-f]{{64}}\Z")
_MAX_PATH = 2048
_UNKNOWN = "\x00unknown"
_KNOWN_PATHS = 1024


@dataclass(frozen=True)
class Resolved:
    """The receiver a path belongs to."""

    #: The project (``None`` for a ClusterConfig receiver: every project).
    project: str | None
    secrets_namespace: str
    config: WebhookReceiverConfig


def _find(
    status: ConfigStatusBase | None, receivers: list[WebhookReceiverConfig] | None, path: str
) -> WebhookReceiverConfig | None:
    for published in (status.webhook_receivers if status else None) or []:
        if published.path == path:
            return next((r for r in receivers or [] if r.name == published.name), None)
    return None


def _json(status: int, body: Any, *, retry_after: float | None = None) -> web.Response:
    response = web.json_response({} if body is None else body, status=status)
    if retry_after is not None:
        response.headers["Retry-After"] = str(max(1, math.ceil(retry_after)))
    return response


class ReceiverServer:
    """Serves every receiver of every project on one address."""

    def __init__(
        self,
        kube: KubeClient,
        lookups: ReceiverLookups,
        *,
        address: str,
        system_namespace: str,
        rate: float = 10.0,
        burst: int = 20,
        max_body_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        host, _, port = address.rpartition(":")
        self._host = host or "0.0.0.0"  # noqa: S104 - providers call in from outside
        self._port = int(port)
        self._kube = kube
        self._lookups = lookups
        self._refresher = Refresher(kube, lookups)
        self._system_namespace = system_namespace
        self._buckets = Buckets(rate, burst)
        self._max_body = max_body_bytes
        self._known: OrderedDict[str, None] = OrderedDict()
        self._runner: web.AppRunner | None = None
        self._bound_port: int | None = None

    @property
    def port(self) -> int:
        """The bound port (useful with port 0)."""
        return self._bound_port if self._bound_port is not None else self._port

    def application(self) -> web.Application:
        """The aiohttp application (every method, every path)."""
        app = web.Application(client_max_size=self._max_body + 1)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        return app

    async def start(self) -> None:
        """Start listening."""
        runner = web.AppRunner(self.application(), access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, self._host, self._port)
        await site.start()
        self._runner = runner
        for address in runner.addresses:
            if isinstance(address, tuple) and len(address) >= 2:
                self._bound_port = int(address[1])
                break
        log.info("webhook receivers listening on %s:%d", self._host, self.port)

    async def stop(self) -> None:
        """Stop listening (requests in flight are finished first, briefly)."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- request handling ------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        if path == "/healthz":
            return _json(200, {"status": "ok"})
        began = time.monotonic()
        try:
            response = await self._receive(request, path)
        except Rejected as rejected:
            response = _json(rejected.status, {"error": rejected.message})
            if rejected.status == 413:
                response.force_close()
        except (KubeError, SecretProblem) as error:
            log.warning("receiver %s: %s", redact_path(path), error)
            response = _json(500, None)
        except Exception:  # a bug of ours must not say more than 500, nor stop the server
            log.exception("receiver %s: unexpected error", redact_path(path))
            response = _json(500, None)
        log.debug(
            "receiver %s: %d in %.1f ms",
            redact_path(path),
            response.status,
            (time.monotonic() - began) * 1000,
        )
        return response

    async def _receive(self, request: web.Request, path: str) -> web.StreamResponse:
        if len(path) > _MAX_PATH or _RECEIVER_PATH.search(path) is None:
            raise Rejected(404, "not found")
        wait = self._buckets.take(path)
        if wait:
            return _json(429, {"error": "too many requests"}, retry_after=wait)
        if path not in self._known:
            wait = self._buckets.take(_UNKNOWN)
            if wait:
                return _json(429, {"error": "too many requests"}, retry_after=wait)
        resolved = await self._resolve(path)
        if resolved is None:
            raise Rejected(404, "not found")
        self._remember(path)
        body = await self._read_body(request)
        type_name, secret = await receiver_secret(
            self._kube, resolved.secrets_namespace, resolved.config
        )
        inbound = Inbound(request.headers, request.query, body)
        outcome = HANDLERS[type_name](inbound, secret, resolved.config)
        reply = await self._carry_out(outcome, resolved)
        log.info(
            "receiver %s of %s (%s): %d",
            resolved.config.name,
            f"project {resolved.project}" if resolved.project else "the cluster",
            type_name,
            reply.status,
        )
        return _json(reply.status, reply.body)

    def _remember(self, path: str) -> None:
        self._known[path] = None
        self._known.move_to_end(path)
        while len(self._known) > _KNOWN_PATHS:
            self._known.popitem(last=False)

    async def _resolve(self, path: str) -> Resolved | None:
        configs = await self._lookups.project_configs_with_receiver(path)
        if len(configs) == 1:
            config = configs[0]
            project = config.metadata.namespace or ""
            found = _find(
                config.status, config.spec.webhook_receivers if config.spec else None, path
            )
            return Resolved(project, project, found) if found else None
        cluster = await self._lookups.cluster_config()
        if cluster is None:
            return None
        found = _find(
            cluster.status, cluster.spec.webhook_receivers if cluster.spec else None, path
        )
        return Resolved(None, self._system_namespace, found) if found else None

    async def _read_body(self, request: web.Request) -> bytes:
        too_large = Rejected(413, f"content exceeds limit of {self._max_body} bytes")
        if request.content_length is not None and request.content_length > self._max_body:
            raise too_large
        chunks: list[bytes] = []
        size = 0
        try:
            async with asyncio.timeout(BODY_TIMEOUT_SECONDS):
                while chunk := await request.content.read(64 * 1024):
                    size += len(chunk)
                    if size > self._max_body:
                        raise too_large
                    chunks.append(chunk)
        except TimeoutError:
            raise Rejected(408, "request body not received in time") from None
        return b"".join(chunks)

    async def _carry_out(self, outcome: Outcome, resolved: Resolved) -> Reply:
        if isinstance(outcome, Reply):
            return outcome
        if isinstance(outcome, RefreshWarehouses):
            return await self._refresher.warehouses(resolved.project, outcome)
        if isinstance(outcome, RefreshPromotions):
            return await self._refresher.promotions(resolved.project, outcome.pr_url)
        generic = resolved.config.generic
        actions = (generic.actions if generic else None) or []
        return await run_actions(actions, outcome, self._lookups, self._refresher, resolved.project)
