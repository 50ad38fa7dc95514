"""Where the webhook server's certificate comes from, and how it is renewed.

* :class:`DirectoryCertificates`: ``tls.crt``/``tls.key`` (and ``ca.crt``) in a folder, as
  cert-manager's Secret is mounted; read again when the files change. cert-manager injects the
  CA bundle into the webhook configurations itself.
* :class:`SecretCertificates`: a self-signed CA and serving certificate the operator makes and
  keeps in a Secret (every replica uses the same one; the first to start creates it). Renewed
  when a third of its life is left; a renewed CA is bundled with the old one so that the API
  server keeps trusting replicas still serving the old certificate.
* :class:`EphemeralCertificates`: the same, in memory only (local development).

All three answer :meth:`CertificateSource.current` and :meth:`CertificateSource.refresh`.
"""

from __future__ import annotations

import base64
import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from cryptography import x509

from shunter.admission.certificates import KeyPair, issue_serving, needs_renewal, new_ca
from shunter.kube.client import ConflictError, KubeClient, NotFoundError

__all__ = [
    "CertificateSource",
    "DirectoryCertificates",
    "EphemeralCertificates",
    "SecretCertificates",
    "ServingCertificate",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServingCertificate:
    """What the server serves and what the API server must trust (``ca_bundle``)."""

    cert_pem: bytes
    key_pem: bytes
    ca_bundle: bytes


class CertificateSource(Protocol):
    """A serving certificate that may change over time."""

    #: Whether the operator puts ``ca_bundle`` into the webhook configurations.
    injects_ca_bundle: bool

    async def current(self) -> ServingCertificate:
        """The certificate to serve now (made on first use when needed)."""
        ...

    async def refresh(self, now: dt.datetime | None = None) -> ServingCertificate | None:
        """A new certificate when it changed or was renewed; None when it did not."""
        ...


def _covers(cert_pem: bytes, hosts: Sequence[str]) -> bool:
    try:
        cert = x509.load_pem_x509_certificate(cert_pem)
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (ValueError, x509.ExtensionNotFound):
        return False
    present = {str(n) for n in names.get_values_for_type(x509.DNSName)}
    present |= {str(ip) for ip in names.get_values_for_type(x509.IPAddress)}
    return set(hosts) <= present


def _first_cert(bundle: bytes) -> bytes:
    end = b"-----END CERTIFICATE-----"
    head, sep, _ = bundle.partition(end)
    return head + sep + b"\n" if sep else bundle


def _renew(
    ca: KeyPair | None, bundle: bytes, hosts: Sequence[str], now: dt.datetime | None
) -> tuple[KeyPair, bytes, KeyPair]:
    """A (possibly new) CA, its bundle, and a new serving certificate."""
    if ca is None or needs_renewal(ca.cert_pem, now):
        old = _first_cert(bundle) if ca is not None else b""
        ca = new_ca()
        bundle = ca.cert_pem + old
    return ca, bundle, issue_serving(ca, hosts)


class EphemeralCertificates:
    """A self-signed CA and serving certificate kept in memory."""

    injects_ca_bundle = True

    def __init__(self, hosts: Sequence[str]) -> None:
        self._hosts = list(hosts)
        self._ca: KeyPair | None = None
        self._bundle = b""
        self._serving: KeyPair | None = None

    async def current(self) -> ServingCertificate:
        if self._serving is None:
            self._ca, self._bundle, self._serving = _renew(None, b"", self._hosts, None)
        return ServingCertificate(self._serving.cert_pem, self._serving.key_pem, self._bundle)

    async def refresh(self, now: dt.datetime | None = None) -> ServingCertificate | None:
        if self._serving is not None and not needs_renewal(self._serving.cert_pem, now):
            return None
        self._ca, self._bundle, self._serving = _renew(self._ca, self._bundle, self._hosts, now)
        return await self.current()


class DirectoryCertificates:
    """``tls.crt``, ``tls.key`` and optionally ``ca.crt`` in a folder (cert-manager)."""

    injects_ca_bundle = False

    def __init__(self, folder: Path) -> None:
        self._folder = folder
        self._last: ServingCertificate | None = None

    def _read(self) -> ServingCertificate:
        ca = self._folder / "ca.crt"
        return ServingCertificate(
            (self._folder / "tls.crt").read_bytes(),
            (self._folder / "tls.key").read_bytes(),
            ca.read_bytes() if ca.is_file() else b"",
        )

    async def current(self) -> ServingCertificate:
        if self._last is None:
            self._last = self._read()
        return self._last

    async def refresh(self, now: dt.datetime | None = None) -> ServingCertificate | None:
        try:
            fresh = self._read()
        except OSError as exc:  # cert-manager swaps the files: try again next time
            log.warning("cannot read the webhook certificate in %s: %s", self._folder, exc)
            return None
        if fresh == self._last:
            return None
        self._last = fresh
        return fresh


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


class SecretCertificates:
    """A self-signed CA and serving certificate shared through a Secret (keys ``ca.crt`` -
    the bundle -, ``ca.key``, ``tls.crt``, ``tls.key``)."""

    injects_ca_bundle = True

    def __init__(self, kube: KubeClient, namespace: str, name: str, hosts: Sequence[str]) -> None:
        self._kube = kube
        self._namespace = namespace
        self._name = name
        self._hosts = list(hosts)
        self._last: ServingCertificate | None = None

    def _body(self, ca: KeyPair, bundle: bytes, serving: KeyPair, version: str = "") -> Any:
        meta: dict[str, Any] = {
            "name": self._name,
            "namespace": self._namespace,
            "labels": {"app.kubernetes.io/part-of": "shunter"},
        }
        if version:
            meta["resourceVersion"] = version
        return {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "kubernetes.io/tls",
            "metadata": meta,
            "data": {
                "ca.crt": _b64(bundle),
                "ca.key": _b64(ca.key_pem),
                "tls.crt": _b64(serving.cert_pem),
                "tls.key": _b64(serving.key_pem),
            },
        }

    async def _load(self, now: dt.datetime | None) -> ServingCertificate:
        """Read the Secret; create or renew what it holds when needed."""
        try:
            secret = await self._kube.get_secret(self._namespace, self._name)
        except NotFoundError:
            made = _renew(None, b"", self._hosts, now)
            try:
                await self._kube.create_secret(self._namespace, self._body(*made))
                log.info(
                    "created the webhook certificate Secret %s/%s", self._namespace, self._name
                )
                return ServingCertificate(made[2].cert_pem, made[2].key_pem, made[1])
            except ConflictError:  # another replica was first
                secret = await self._kube.get_secret(self._namespace, self._name)
        data = {k: base64.b64decode(v) for k, v in (secret.get("data") or {}).items()}
        cert, key, bundle = (
            data.get("tls.crt", b""),
            data.get("tls.key", b""),
            data.get("ca.crt", b""),
        )
        ca: KeyPair | None = None
        if cert and key and bundle and data.get("ca.key"):
            ca = KeyPair(_first_cert(bundle), data["ca.key"])
            fresh = not needs_renewal(cert, now) and not needs_renewal(ca.cert_pem, now)
            if fresh and _covers(cert, self._hosts):
                return ServingCertificate(cert, key, bundle)
        ca, bundle, serving = _renew(ca, bundle, self._hosts, now)
        version = str((secret.get("metadata") or {}).get("resourceVersion") or "")
        try:
            await self._kube.replace_secret(
                self._namespace, self._name, self._body(ca, bundle, serving, version)
            )
        except ConflictError:  # another replica renewed it: use theirs
            return await self._load(None)
        log.info("renewed the webhook certificate in Secret %s/%s", self._namespace, self._name)
        return ServingCertificate(serving.cert_pem, serving.key_pem, bundle)

    async def current(self) -> ServingCertificate:
        if self._last is None:
            self._last = await self._load(None)
        return self._last

    async def refresh(self, now: dt.datetime | None = None) -> ServingCertificate | None:
        fresh = await self._load(now)
        if fresh == self._last:
            return None
        self._last = fresh
        return fresh
