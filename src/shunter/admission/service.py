"""The admission webhooks as one service of the operator process: the HTTPS server, its
certificate (renewed in the background), and the webhook configurations' CA bundle - or, in
local development, the configurations themselves (created at start, removed at stop).

Every replica of the operator serves; nothing here needs the leader.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from shunter.admission.context import AdmissionContext
from shunter.admission.identity import Authorizer, ControlPlane, who_am_i
from shunter.admission.lookups import AdmissionLookups
from shunter.admission.registration import (
    ClientConfig,
    Registrar,
    configurations,
    inject_ca_bundle,
)
from shunter.admission.server import AdmissionServer
from shunter.admission.tls import (
    CertificateSource,
    DirectoryCertificates,
    EphemeralCertificates,
    SecretCertificates,
    ServingCertificate,
)
from shunter.admission.webhooks import WEBHOOKS
from shunter.config import OperatorConfig
from shunter.kube.client import KubeClient, KubeError

__all__ = ["AdmissionService", "AdmissionSettings"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AdmissionSettings:
    """How the webhooks are served (see ``shunter run --help``)."""

    #: ``host:port`` to listen on.
    address: str
    #: The namespaces the operator serves (empty: all).
    namespaces: tuple[str, ...] = ()
    #: A folder with ``tls.crt``/``tls.key`` (cert-manager); else self-signed.
    cert_dir: str = ""
    #: ``namespace/name`` of the Secret that keeps the self-signed certificate.
    secret: str = ""
    #: Host names and addresses the serving certificate is for.
    hosts: tuple[str, ...] = ()
    #: Name of the Mutating- and ValidatingWebhookConfiguration.
    webhook_name: str = "shunter"
    #: Local development: register the configurations with this base URL.
    register_url: str = ""
    #: How often the certificate is checked for renewal, and the CA bundle of the webhook
    #: configurations restored (a ``helm upgrade`` or a GitOps sync may reset it), in seconds.
    refresh_seconds: float = 60.0

    @classmethod
    def from_config(cls, config: OperatorConfig) -> AdmissionSettings:
        return cls(
            address=config.admission_address,
            namespaces=config.namespaces,
            cert_dir=config.admission_cert_dir,
            secret=config.admission_secret,
            hosts=config.admission_hosts,
            webhook_name=config.admission_webhook_name,
            register_url=config.admission_register_url,
        )

    def listen(self) -> tuple[str, int]:
        host, _, port = self.address.rpartition(":")
        return host.strip("[]") or "0.0.0.0", int(port)  # noqa: S104 - the chart's Pod address

    def certificate_hosts(self) -> list[str]:
        if self.hosts:
            return list(self.hosts)
        if self.register_url:
            return [urlsplit(self.register_url).hostname or "127.0.0.1"]
        host = self.listen()[0]
        return [host] if host not in ("0.0.0.0", "::") else ["localhost"]  # noqa: S104


class AdmissionService:
    """Starts and stops everything the webhooks need."""

    def __init__(self, kube: KubeClient, lookups: AdmissionLookups, settings: AdmissionSettings):
        self._kube = kube
        self._lookups = lookups
        self.settings = settings
        self._source = self._certificate_source()
        self._registrar = Registrar(kube, settings.webhook_name)
        self._server: AdmissionServer | None = None
        self._refresher: asyncio.Task[None] | None = None

    def _certificate_source(self) -> CertificateSource:
        settings = self.settings
        if settings.cert_dir:
            return DirectoryCertificates(Path(settings.cert_dir))
        hosts = settings.certificate_hosts()
        if settings.secret:
            namespace, _, name = settings.secret.partition("/")
            if not namespace or not name:
                raise ValueError(
                    f"admission secret must be namespace/name, not {settings.secret!r}"
                )
            return SecretCertificates(self._kube, namespace, name, hosts)
        return EphemeralCertificates(hosts)

    @property
    def port(self) -> int:
        return self._server.port if self._server else self.settings.listen()[1]

    async def start(self) -> None:
        """Serve, then make the API server trust (or, locally, call) the webhooks."""
        me = await who_am_i(self._kube)
        ctx = AdmissionContext(self._lookups, ControlPlane(frozenset({me})), Authorizer(self._kube))
        certificate = await self._source.current()
        host, port = self.settings.listen()
        self._server = AdmissionServer(ctx, WEBHOOKS, host, port, certificate)
        await self._server.start()
        await self._publish(certificate)
        self._refresher = asyncio.create_task(self._refresh_loop(), name="webhook-certificate")
        log.info("admission webhooks ready (operator identity %r)", me)

    async def _publish(self, certificate: ServingCertificate) -> None:
        settings = self.settings
        if settings.register_url:
            client = ClientConfig(ca_bundle=certificate.ca_bundle, url=settings.register_url)
            bodies = configurations(settings.webhook_name, client, namespaces=settings.namespaces)
            await self._registrar.register(bodies)
        elif self._source.injects_ca_bundle:
            await inject_ca_bundle(self._kube, settings.webhook_name, certificate.ca_bundle)

    async def refresh(self) -> bool:
        """Renew the certificate when due and make sure the API server trusts it; returns
        whether it changed."""
        fresh = await self._source.refresh()
        if self._server is None:
            return False
        if fresh is None:
            if self._source.injects_ca_bundle and not self.settings.register_url:
                current = await self._source.current()
                await inject_ca_bundle(self._kube, self.settings.webhook_name, current.ca_bundle)
            return False
        await self._publish(fresh)  # trust first (the bundle keeps the old CA), then serve
        self._server.use_certificate(fresh)
        log.info("admission webhook certificate renewed")
        return True

    async def _refresh_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.refresh_seconds)
            try:
                await self.refresh()
            except (KubeError, OSError, ValueError) as exc:
                log.warning("admission webhook certificate not renewed: %s", exc)

    async def stop(self) -> None:
        """Unregister (local development), then stop serving."""
        if self._refresher is not None:
            self._refresher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._refresher
        if self.settings.register_url:
            await self._registrar.unregister()
        if self._server is not None:
            await self._server.stop()
            self._server = None
