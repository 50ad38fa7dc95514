"""Checking how each provider signs its requests, in constant time.

* :func:`hub_signature_valid`: ``X-Hub-Signature-256`` / ``X-Hub-Signature`` as GitHub, Gitea and
  Bitbucket send it: ``<algorithm>=<hex HMAC of the body keyed by the shared secret>``, the
  algorithm ``sha256`` (also ``sha1`` and ``sha512``, which the same header format allows).
* :func:`hex_hmac_sha256_valid`: a bare hex HMAC-SHA256 (Artifactory's ``X-Jfrog-Event-Auth``,
  Gitea's ``X-Gitea-Signature``).
* :func:`same_secret`: a token sent as it is (GitLab's ``X-Gitlab-Token``, Harbor's
  ``Authorization``).

Every comparison goes through :func:`hmac.compare_digest`; nothing here logs or raises with a
secret in the message.
"""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["hex_hmac_sha256_valid", "hub_signature_valid", "same_secret"]

_ALGORITHMS = {"sha1": hashlib.sha1, "sha256": hashlib.sha256, "sha512": hashlib.sha512}


def hub_signature_valid(header: str, body: bytes, key: bytes) -> bool:
    """Whether ``header`` (``sha256=<hex>``) is the HMAC of ``body`` under ``key``."""
    algorithm, sep, signature = header.strip().partition("=")
    digest = _ALGORITHMS.get(algorithm)
    if not sep or digest is None:
        return False
    expected = hmac.new(key, body, digest).hexdigest()
    return hmac.compare_digest(expected.encode(), signature.strip().lower().encode())


def hex_hmac_sha256_valid(header: str, body: bytes, key: bytes) -> bool:
    """Whether ``header`` is the hex HMAC-SHA256 of ``body`` under ``key``."""
    expected = hmac.new(key, body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), header.strip().lower().encode())


def same_secret(sent: str, secret: bytes) -> bool:
    """Whether a token sent in a header equals the shared secret."""
    return hmac.compare_digest(sent.encode("utf-8", "surrogateescape"), secret)
