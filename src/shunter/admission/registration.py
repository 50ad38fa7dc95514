"""The Mutating- and ValidatingWebhookConfiguration of the admission webhooks.

:func:`configurations` builds both from the catalogue. Which namespaces they cover:

* an operator restricted to some namespaces (``--namespace``): exactly those namespaces
  (``kubernetes.io/metadata.name In [...]``), plus the Projects named after them; the
  cluster-wide kinds (ClusterConfig, ClusterPromotionTask) are left to a cluster-wide operator;
* a cluster-wide operator: every namespace except ``kube-system`` and the operator's own.

``failurePolicy: Fail`` everywhere, as Kargo: an admission check that is skipped while the
server is down would let anyone promote anything. The narrow scope is what keeps a down server
harmless: only Kargo kinds are intercepted, never in ``kube-system`` or the operator's
namespace, and reads (``kubectl get``) never go through admission.

:class:`Registrar` creates the configurations (local development: the API server dials
``https://127.0.0.1:<port>``) and deletes them at shutdown; :func:`inject_ca_bundle` only
keeps the ``caBundle`` of configurations the Helm chart installed current.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from shunter.admission.webhooks import WEBHOOKS, Webhook
from shunter.kube.client import ConflictError, KubeClient, KubeError, NotFoundError

__all__ = [
    "ADMISSION_GROUP",
    "KINDS",
    "ClientConfig",
    "Registrar",
    "configurations",
    "inject_ca_bundle",
]

log = logging.getLogger(__name__)

ADMISSION_GROUP, ADMISSION_VERSION = "admissionregistration.k8s.io", "v1"
#: plural of each configuration kind, mutating first.
KINDS = ("mutatingwebhookconfigurations", "validatingwebhookconfigurations")
NAME_LABEL = "kubernetes.io/metadata.name"
TIMEOUT_SECONDS = 10
JSON = dict[str, Any]


@dataclass(frozen=True)
class ClientConfig:
    """How the API server reaches the webhook server: a base ``url``, or a Service."""

    ca_bundle: bytes = b""
    url: str = ""
    service_namespace: str = ""
    service_name: str = ""
    service_port: int = 443

    def for_path(self, path: str) -> JSON:
        config: JSON
        if self.url:
            config = {"url": self.url.rstrip("/") + path}
        else:
            config = {
                "service": {
                    "namespace": self.service_namespace,
                    "name": self.service_name,
                    "path": path,
                    "port": self.service_port,
                }
            }
        if self.ca_bundle:
            config["caBundle"] = base64.b64encode(self.ca_bundle).decode("ascii")
        return config


def _entry(
    hook: Webhook, client: ClientConfig, namespaces: Sequence[str], exclude: Sequence[str]
) -> JSON:
    entry: JSON = {
        "name": hook.name,
        "admissionReviewVersions": ["v1"],
        "sideEffects": "None",
        "failurePolicy": "Fail",
        "timeoutSeconds": TIMEOUT_SECONDS,
        "clientConfig": client.for_path(hook.path),
        "rules": [hook.rule()],
    }
    if hook.scope == "Namespaced":
        if namespaces:
            expression = {"key": NAME_LABEL, "operator": "In", "values": sorted(namespaces)}
        else:
            expression = {"key": NAME_LABEL, "operator": "NotIn", "values": sorted(exclude)}
        entry["namespaceSelector"] = {"matchExpressions": [expression]}
    elif namespaces:
        names = json.dumps(sorted(namespaces))
        entry["matchConditions"] = [
            {"name": "served-projects", "expression": f"request.name in {names}"}
        ]
    return entry


def configurations(
    name: str,
    client: ClientConfig,
    *,
    namespaces: Sequence[str] = (),
    exclude_namespaces: Sequence[str] = ("kube-system",),
    labels: dict[str, str] | None = None,
) -> tuple[JSON, JSON]:
    """The MutatingWebhookConfiguration and ValidatingWebhookConfiguration called ``name``."""
    hooks = [
        h for h in WEBHOOKS if not namespaces or h.scope == "Namespaced" or h.kind == "Project"
    ]
    meta = {"name": name, "labels": {"app.kubernetes.io/part-of": "shunter", **(labels or {})}}
    bodies = []
    for mutating in (True, False):
        bodies.append(
            {
                "apiVersion": f"{ADMISSION_GROUP}/{ADMISSION_VERSION}",
                "kind": "MutatingWebhookConfiguration"
                if mutating
                else "ValidatingWebhookConfiguration",
                "metadata": dict(meta),
                "webhooks": [
                    _entry(h, client, namespaces, exclude_namespaces)
                    for h in hooks
                    if h.mutating == mutating
                ],
            }
        )
    return bodies[0], bodies[1]


class Registrar:
    """Creates (or replaces) the two configurations, and deletes them again."""

    def __init__(self, kube: KubeClient, name: str) -> None:
        self._kube = kube
        self.name = name

    async def register(self, bodies: Sequence[JSON]) -> None:
        for plural, body in zip(KINDS, bodies, strict=True):
            try:
                await self._kube.create_cluster_custom(
                    plural, body, group=ADMISSION_GROUP, version=ADMISSION_VERSION
                )
            except ConflictError:
                await self._kube.patch_cluster_custom(
                    plural,
                    self.name,
                    {
                        "metadata": {"labels": body["metadata"]["labels"]},
                        "webhooks": body["webhooks"],
                    },
                    group=ADMISSION_GROUP,
                    version=ADMISSION_VERSION,
                )
        log.info("registered admission webhooks %r", self.name)

    async def unregister(self) -> None:
        for plural in KINDS:
            try:
                await self._kube.delete_cluster_custom(
                    plural, self.name, group=ADMISSION_GROUP, version=ADMISSION_VERSION
                )
            except KubeError as exc:
                log.warning("could not remove %s %s: %s", plural, self.name, exc)
        log.info("removed admission webhooks %r", self.name)


async def inject_ca_bundle(kube: KubeClient, name: str, ca_bundle: bytes) -> bool:
    """Set ``caBundle`` in every webhook of the two configurations called ``name``; returns
    whether both exist (a missing one is logged, not raised)."""
    encoded = base64.b64encode(ca_bundle).decode("ascii")
    found = True
    for plural in KINDS:
        try:
            current = await kube.get_cluster_custom(
                plural, name, group=ADMISSION_GROUP, version=ADMISSION_VERSION
            )
        except NotFoundError:
            log.warning("%s %r not found: cannot inject the CA bundle", plural, name)
            found = False
            continue
        webhooks = current.get("webhooks") or []
        if all((w.get("clientConfig") or {}).get("caBundle") == encoded for w in webhooks):
            continue
        for webhook in webhooks:
            webhook.setdefault("clientConfig", {})["caBundle"] = encoded
        patch = {
            "metadata": {"resourceVersion": current["metadata"]["resourceVersion"]},
            "webhooks": webhooks,
        }
        await kube.patch_cluster_custom(
            plural, name, patch, group=ADMISSION_GROUP, version=ADMISSION_VERSION
        )
        log.info("CA bundle of %s %r updated", plural, name)
    return found
