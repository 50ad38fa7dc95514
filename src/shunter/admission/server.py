"""The webhook HTTPS server: aiohttp.web, one route per webhook of the catalogue.

Every request is answered with an AdmissionReview: a handler's :class:`AdmissionError`
becomes a denial with its status; an API error or a handler taking longer than
:data:`HANDLER_TIMEOUT` becomes a 500 denial (the API server then applies the webhook's
``failurePolicy``); a body that is not an AdmissionReview gets HTTP 400. The certificate can
be swapped while serving (:meth:`AdmissionServer.use_certificate`): new connections get the
new one.
"""

from __future__ import annotations

import asyncio
import logging
import os
import ssl
import tempfile
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from aiohttp import web

from shunter.admission.context import AdmissionContext
from shunter.admission.review import AdmissionError, AdmissionRequest, Verdict
from shunter.admission.tls import ServingCertificate
from shunter.admission.webhooks import Webhook
from shunter.kube.client import KubeError

__all__ = ["HANDLER_TIMEOUT", "AdmissionServer"]

log = logging.getLogger(__name__)

#: Below the webhook configurations' 10 s ``timeoutSeconds``, so that the API server gets our
#: answer rather than its own timeout.
HANDLER_TIMEOUT = 8.0
#: An AdmissionReview carries the object and its previous version.
MAX_BODY = 8 * 1024 * 1024


def _ssl_context(certificate: ServingCertificate, context: ssl.SSLContext | None) -> ssl.SSLContext:
    if context is None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
    with tempfile.TemporaryDirectory(prefix="shunter-webhook-") as folder:
        cert, key = Path(folder) / "tls.crt", Path(folder) / "tls.key"
        cert.write_bytes(certificate.cert_pem)
        fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(certificate.key_pem)
        context.load_cert_chain(cert, key)
    return context


class AdmissionServer:
    """Serves the webhooks on ``host:port`` over TLS (port 0: any free port)."""

    def __init__(
        self,
        ctx: AdmissionContext,
        webhooks: Sequence[Webhook],
        host: str,
        port: int,
        certificate: ServingCertificate,
    ) -> None:
        self._ctx = ctx
        self._host = host
        self._port = port
        self._ssl = _ssl_context(certificate, None)
        self._runner: web.AppRunner | None = None
        self.app = web.Application(client_max_size=MAX_BODY)
        for hook in webhooks:
            self.app.router.add_post(hook.path, self._route(hook))

    def use_certificate(self, certificate: ServingCertificate) -> None:
        """Serve ``certificate`` from the next TLS handshake on."""
        _ssl_context(certificate, self._ssl)

    @property
    def port(self) -> int:
        """The port listened on (the one chosen when 0 was asked)."""
        if self._runner is None or not self._runner.addresses:
            return self._port
        return int(self._runner.addresses[0][1])

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port, ssl_context=self._ssl)
        await site.start()
        log.info("admission webhooks listening on https://%s:%d", self._host, self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def _route(self, hook: Webhook) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handle(http: web.Request) -> web.StreamResponse:
            try:
                request = AdmissionRequest.from_review(await http.json())
            except ValueError as exc:
                return web.json_response({"error": str(exc)}, status=400)
            verdict = await self._answer(hook, request)
            return web.json_response(verdict.response(request))

        return handle

    async def _answer(self, hook: Webhook, request: AdmissionRequest) -> Verdict:
        what = f"{hook.name} {request.operation} {request.namespace}/{request.name}"
        try:
            async with asyncio.timeout(HANDLER_TIMEOUT):
                verdict = await hook.handler(request, self._ctx)
        except AdmissionError as exc:
            log.info("%s denied: %s", what, exc.message)
            return Verdict(allowed=False, denial=exc)
        except KubeError as exc:
            log.warning("%s: API error: %s", what, exc)
            return Verdict(allowed=False, denial=AdmissionError(500, "InternalError", str(exc)))
        except TimeoutError:
            log.warning("%s: no answer within %.0fs", what, HANDLER_TIMEOUT)
            message = f"the {hook.name} webhook took longer than {HANDLER_TIMEOUT:.0f}s"
            return Verdict(allowed=False, denial=AdmissionError(500, "Timeout", message))
        except Exception:
            log.exception("%s failed", what)
            message = f"the {hook.name} webhook failed; see the operator's log"
            return Verdict(allowed=False, denial=AdmissionError(500, "InternalError", message))
        log.debug("%s allowed", what)
        return verdict
