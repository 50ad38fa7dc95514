"""Throw-away certificates for the local servers: a private CA, serving, signing and client
certs.

The git server and the registry front use these for their optional HTTPS mode; the registry's
token issuer signs its JWTs with a signing certificate from the same kind of CA. Keys are EC
P-256 (fast to generate). Everything here is for 127.0.0.1 tests and the demo only.
"""

from __future__ import annotations

import datetime as dt
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from shunter.admission.certificates import new_ca, subject_alt_names

__all__ = [
    "DEFAULT_HOSTS",
    "CertificateAuthority",
    "IssuedCertificate",
    "TLSFiles",
    "server_ssl_context",
    "write_server_tls",
]

DEFAULT_HOSTS: tuple[str, ...] = ("127.0.0.1", "localhost", "::1")
_VALIDITY = dt.timedelta(days=7)
_CLOCK_SKEW = dt.timedelta(minutes=5)


@dataclass(frozen=True)
class IssuedCertificate:
    """A certificate and its private key."""

    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def cert_der(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.DER)

    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )


@dataclass(frozen=True)
class TLSFiles:
    """PEM files of a serving certificate: the CA to trust, the chain to serve, its key."""

    ca_file: Path
    cert_file: Path
    key_file: Path


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "shunter devenv"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


class CertificateAuthority:
    """A self-signed CA that issues serving and signing certificates."""

    def __init__(self, common_name: str = "shunter devenv CA") -> None:
        pair = new_ca(common_name, _VALIDITY)  # the operator's own CA maker
        self.issued = IssuedCertificate(cert=pair.cert, key=pair.private_key())

    def cert_pem(self) -> bytes:
        return self.issued.cert_pem()

    def _leaf(
        self, subject: x509.Name
    ) -> tuple[x509.CertificateBuilder, ec.EllipticCurvePrivateKey]:
        now = dt.datetime.now(dt.UTC)
        key = ec.generate_private_key(ec.SECP256R1())
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.issued.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _CLOCK_SKEW)
            .not_valid_after(now + _VALIDITY)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.issued.key.public_key()),
                critical=False,
            )
        )
        return builder, key

    def issue(
        self, common_name: str, *, hosts: Sequence[str] = (), server: bool = True
    ) -> IssuedCertificate:
        """Issue a leaf certificate: a TLS server cert for ``hosts``, or a plain signing cert."""
        builder, key = self._leaf(_name(common_name))
        if server:
            builder = builder.add_extension(
                x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
            )
            if hosts:
                builder = builder.add_extension(subject_alt_names(hosts), critical=False)
        cert = builder.sign(self.issued.key, hashes.SHA256())
        return IssuedCertificate(cert=cert, key=key)

    def issue_client(self, user: str, groups: Sequence[str] = ()) -> IssuedCertificate:
        """Issue a TLS client certificate as Kubernetes reads them: CN the user, O each group."""
        subject = x509.Name(
            [x509.NameAttribute(NameOID.ORGANIZATION_NAME, group) for group in groups]
            + [x509.NameAttribute(NameOID.COMMON_NAME, user)]
        )
        builder, key = self._leaf(subject)
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
        )
        cert = builder.sign(self.issued.key, hashes.SHA256())
        return IssuedCertificate(cert=cert, key=key)


def write_server_tls(
    directory: Path, common_name: str, hosts: Sequence[str] = DEFAULT_HOSTS
) -> TLSFiles:
    """Make a fresh CA and a serving cert for ``hosts``: ``ca.pem``, ``tls.crt``, ``tls.key``."""
    directory.mkdir(parents=True, exist_ok=True)
    ca = CertificateAuthority(f"{common_name} CA")
    leaf = ca.issue(common_name, hosts=hosts)
    files = TLSFiles(
        ca_file=directory / "ca.pem",
        cert_file=directory / "tls.crt",
        key_file=directory / "tls.key",
    )
    files.ca_file.write_bytes(ca.cert_pem())
    files.cert_file.write_bytes(leaf.cert_pem() + ca.cert_pem())
    files.key_file.touch(mode=0o600)
    files.key_file.write_bytes(leaf.key_pem())
    return files


def server_ssl_context(files: TLSFiles) -> ssl.SSLContext:
    """A server-side TLS context serving ``files``' certificate chain."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(files.cert_file, files.key_file)
    return context
