"""Credentials from Kubernetes Secrets, the way Kargo finds them.

A credentials Secret lives in the project namespace (or, optionally, a shared namespace searched
second), carries the label ``kargo.akuity.io/cred-type: git|helm|image`` and the data keys
``repoURL`` (an exact URL, or a regular expression when ``repoURLIsRegex`` is ``"true"``),
``username`` and ``password``.

Within a namespace, exact matches win over regex matches, and within each group Secrets are
tried in lexical order of their names; the first match wins. Git URLs are compared after
:func:`shunter.git.normalize_git_url`. A regex is RE2 syntax (as in Kargo, which is written in
Go) and, as in Kargo, is *searched* (not anchored) in both the URL as given and its normalised
form: anchor it (``^...$``) to match whole URLs only. Like Kargo, no credentials are handed out
for a plain ``http://`` URL unless ``allow_credentials_over_http`` is set.

A matching Secret without both a username and a password yields no credentials (Kargo's other
providers - GitHub Apps, cloud registries - are not implemented here).
"""

from __future__ import annotations

import base64
import binascii
import functools
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

import re2  # type: ignore[import-untyped]
from pydantic import SecretStr

from shunter.api.v1alpha1.labels import CRED_TYPE
from shunter.credentials.types import Credentials, CredentialType
from shunter.git.urls import normalize_git_url, redact_url
from shunter.kube.client import KubeClient

__all__ = ["KubernetesCredentialsDatabase", "SecretSource", "normalize_repo_url"]

#: ``(namespace, cred-type) -> the Secrets so labelled``: the API server (a LIST per lookup) by
#: default; the operator answers from its watch-fed cache.
SecretSource = Callable[[str, str], Awaitable[Iterable[Mapping[str, Any]]]]

_log = logging.getLogger(__name__)

FIELD_REPO_URL = "repoURL"
FIELD_REPO_URL_IS_REGEX = "repoURLIsRegex"
FIELD_USERNAME = "username"
FIELD_PASSWORD = "password"  # noqa: S105 - a data key, not a password


def normalize_repo_url(cred_type: CredentialType, url: str) -> str:
    """The form of ``url`` used for exact comparisons (git URLs are normalised; others as is)."""
    if cred_type is CredentialType.GIT:
        return normalize_git_url(url)
    return url


@functools.lru_cache(maxsize=256)
def _compile(pattern: str) -> Any:
    options = re2.Options()
    options.log_errors = False
    return re2.compile(pattern, options)


def _decode(data: Mapping[str, Any], key: str) -> str | None:
    raw = data.get(key)
    if not isinstance(raw, str):
        return None
    try:
        return base64.b64decode(raw, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None


def _sorted_by_name(secrets: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return sorted(secrets, key=lambda s: str(s.get("metadata", {}).get("name", "")))


class KubernetesCredentialsDatabase:
    """:class:`shunter.credentials.CredentialsDatabase` backed by labelled Secrets."""

    def __init__(
        self,
        kube: KubeClient | None,
        *,
        shared_namespace: str | None = None,
        allow_credentials_over_http: bool = False,
        secrets: SecretSource | None = None,
    ) -> None:
        self._kube = kube
        self._secrets = secrets or self._list
        self._shared_namespace = shared_namespace
        self._allow_http = allow_credentials_over_http

    async def get(
        self, namespace: str, cred_type: CredentialType, repo_url: str
    ) -> Credentials | None:
        """The credentials for ``repo_url`` in ``namespace`` (then the shared one), or None."""
        if not self._allow_http and repo_url.strip().lower().startswith("http://"):
            _log.info("refusing credentials for an insecure http:// URL: %s", redact_url(repo_url))
            return None
        for ns in (namespace, self._shared_namespace):
            if not ns:
                continue
            secret = await self._find(ns, cred_type, repo_url)
            if secret is not None:
                return self._credentials(ns, secret)
        return None

    async def _list(self, namespace: str, cred_type: str) -> list[dict[str, Any]]:
        if self._kube is None:
            raise RuntimeError("no Kubernetes client and no Secret source: cannot find credentials")
        return await self._kube.list_secrets(namespace, label_selector=f"{CRED_TYPE}={cred_type}")

    async def _find(
        self, namespace: str, cred_type: CredentialType, repo_url: str
    ) -> Mapping[str, Any] | None:
        secrets = _sorted_by_name(await self._secrets(namespace, str(cred_type)))
        wanted = normalize_repo_url(cred_type, repo_url)
        regex_candidates: list[tuple[Mapping[str, Any], str]] = []
        for secret in secrets:
            data = secret.get("data") or {}
            if not isinstance(data, Mapping):
                continue
            url = _decode(data, FIELD_REPO_URL)
            if url is None:
                continue
            if _decode(data, FIELD_REPO_URL_IS_REGEX) == "true":
                regex_candidates.append((secret, url))
            elif normalize_repo_url(cred_type, url) == wanted:
                return secret
        for secret, pattern in regex_candidates:
            try:
                regex = _compile(pattern)
            except re2.error:
                _log.warning(
                    "credentials Secret %s/%s: repoURL is not a valid regular expression",
                    namespace,
                    secret.get("metadata", {}).get("name", "?"),
                )
                continue
            if regex.search(repo_url) or regex.search(wanted):
                return secret
        return None

    @staticmethod
    def _credentials(namespace: str, secret: Mapping[str, Any]) -> Credentials | None:
        data = secret.get("data") or {}
        username = _decode(data, FIELD_USERNAME)
        password = _decode(data, FIELD_PASSWORD)
        name = secret.get("metadata", {}).get("name", "?")
        if not username or not password:
            _log.debug("credentials Secret %s/%s has no username and password", namespace, name)
            return None
        _log.debug("using credentials Secret %s/%s", namespace, name)
        return Credentials(username=username, password=SecretStr(password))
