"""The webhooks' self-signed certificate kept in a Secret, renewed, and its CA injected into
webhook configurations, against the real API server (the operator's code, in process)."""

from __future__ import annotations

import base64
import datetime as dt
import secrets
from collections.abc import AsyncIterator

import pytest
from cryptography import x509

from shunter.admission.certificates import needs_renewal
from shunter.admission.registration import (
    ADMISSION_GROUP,
    KINDS,
    ClientConfig,
    Registrar,
    configurations,
    inject_ca_bundle,
)
from shunter.admission.tls import SecretCertificates
from shunter.kube.client import KubeClient
from shunter_devenv.cluster import Cluster

HOSTS = ["shunter-webhooks.shunter-system.svc"]


@pytest.fixture
async def client(kube: Cluster) -> AsyncIterator[KubeClient]:
    kube_client = KubeClient.from_kubeconfig(kube.kubeconfig_path)
    yield kube_client
    await kube_client.aclose()


def _certs(bundle: bytes) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(bundle)


async def test_the_secret_is_created_once_and_renewed_before_expiry(
    namespace: str, client: KubeClient
) -> None:
    first = SecretCertificates(client, namespace, "webhook-tls", HOSTS)
    second = SecretCertificates(client, namespace, "webhook-tls", HOSTS)  # another replica
    served = await first.current()
    assert await second.current() == served
    cert = x509.load_pem_x509_certificate(served.cert_pem)
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == HOSTS
    assert await first.refresh() is None  # nothing due

    # Eleven months later the serving certificate has less than a third of its year left.
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=330)
    assert needs_renewal(served.cert_pem, later)
    renewed = await first.refresh(later)
    assert renewed is not None
    assert renewed.cert_pem != served.cert_pem
    assert renewed.ca_bundle == served.ca_bundle  # same CA: nothing to re-trust
    assert await second.refresh() == renewed  # the other replica picks it up from the Secret

    # Nine years later the CA is due too: a new CA, bundled with the old one.
    much_later = dt.datetime.now(dt.UTC) + dt.timedelta(days=3300)
    rolled = await first.refresh(much_later)
    assert rolled is not None
    old_ca, new_ca = _certs(served.ca_bundle)[0], _certs(rolled.ca_bundle)
    assert len(new_ca) == 2
    assert new_ca[1] == old_ca
    leaf = x509.load_pem_x509_certificate(rolled.cert_pem)
    assert leaf.issuer == new_ca[0].subject
    leaf.verify_directly_issued_by(new_ca[0])


async def test_the_ca_bundle_is_injected_into_both_configurations(
    namespace: str, client: KubeClient
) -> None:
    name = f"shunter-test-{secrets.token_hex(4)}"
    client_config = ClientConfig(service_namespace=namespace, service_name="webhooks")
    registrar = Registrar(client, name)
    await registrar.register(configurations(name, client_config, namespaces=[namespace]))
    try:
        certificate = await SecretCertificates(client, namespace, "tls", HOSTS).current()
        assert await inject_ca_bundle(client, name, certificate.ca_bundle)
        for plural in KINDS:
            stored = await client.get_cluster_custom(
                plural, name, group=ADMISSION_GROUP, version="v1"
            )
            bundles = {base64.b64decode(w["clientConfig"]["caBundle"]) for w in stored["webhooks"]}
            assert bundles == {certificate.ca_bundle}
            version = stored["metadata"]["resourceVersion"]
            assert await inject_ca_bundle(client, name, certificate.ca_bundle)  # no change
            again = await client.get_cluster_custom(
                plural, name, group=ADMISSION_GROUP, version="v1"
            )
            assert again["metadata"]["resourceVersion"] == version
    finally:
        await registrar.unregister()
    assert not await inject_ca_bundle(client, name, b"x")  # gone: reported, not raised
