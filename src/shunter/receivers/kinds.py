"""The receiver types Kargo v1.11 serves: their names (the first path segment), the key of their
Secret that holds the shared secret, and which field of a ``WebhookReceiverConfig`` selects one.

| Type | Secret key | How a request is authenticated |
|---|---|---|
| ``artifactory`` | ``secret-token`` | HMAC-SHA256 of the body, hex, in ``X-Jfrog-Event-Auth`` |
| ``azure`` | ``secret`` | the URL (the secret is hashed into it) |
| ``bitbucket`` | ``secret`` | HMAC of the body in ``X-Hub-Signature`` |
| ``dockerhub`` | ``secret`` | the URL |
| ``generic`` | ``secret`` | the URL |
| ``gitea`` | ``secret`` | HMAC-SHA256 in ``X-Hub-Signature-256`` or ``X-Gitea-Signature`` |
| ``github`` | ``secret`` | HMAC-SHA256 of the body in ``X-Hub-Signature-256`` |
| ``gitlab`` | ``secret-token`` | the token itself in ``X-Gitlab-Token`` |
| ``harbor`` | ``auth-header`` | the value itself in ``Authorization`` |
| ``quay`` | ``secret`` | the URL |
"""

from __future__ import annotations

from dataclasses import dataclass

from shunter.api.v1alpha1.project import SecretRefHolder, WebhookReceiverConfig

__all__ = ["RECEIVER_TYPES", "ReceiverType", "receiver_type_of"]


@dataclass(frozen=True)
class ReceiverType:
    """One kind of webhook sender."""

    #: The path segment and the ``WebhookReceiverConfig`` field (``github``, ``dockerhub``...).
    name: str
    #: The key of the receiver's Secret that holds the shared secret.
    secret_key: str


#: Alphabetical, as Kargo registers them: the first one set in a configuration wins.
RECEIVER_TYPES: tuple[ReceiverType, ...] = (
    ReceiverType("artifactory", "secret-token"),
    ReceiverType("azure", "secret"),
    ReceiverType("bitbucket", "secret"),
    ReceiverType("dockerhub", "secret"),
    ReceiverType("generic", "secret"),
    ReceiverType("gitea", "secret"),
    ReceiverType("github", "secret"),
    ReceiverType("gitlab", "secret-token"),
    ReceiverType("harbor", "auth-header"),
    ReceiverType("quay", "secret"),
)


def receiver_type_of(
    config: WebhookReceiverConfig,
) -> tuple[ReceiverType, SecretRefHolder] | None:
    """The type a receiver configuration selects and that type's settings (``None``: none set)."""
    for kind in RECEIVER_TYPES:
        settings = getattr(config, kind.name)
        if isinstance(settings, SecretRefHolder):
            return kind, settings
    return None
