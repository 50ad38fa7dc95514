"""Value types and the lookup interface for credentials.

Passwords are :class:`pydantic.SecretStr`: their ``repr``/``str`` never show the value, so a
credential that reaches a log line or an exception message by accident still shows ``**********``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from pydantic import SecretStr

__all__ = ["CredentialType", "Credentials", "CredentialsDatabase", "StaticCredentialsDatabase"]


class CredentialType(StrEnum):
    """Values of the ``kargo.akuity.io/cred-type`` label."""

    GIT = "git"
    HELM = "helm"
    IMAGE = "image"
    GENERIC = "generic"


@dataclass(frozen=True)
class Credentials:
    """A username and password (or token) for one repository."""

    username: str
    password: SecretStr

    def __repr__(self) -> str:
        return f"Credentials(username={self.username!r}, password=SecretStr('**********'))"


class CredentialsDatabase(Protocol):
    """Finds credentials for a repository URL in a project."""

    async def get(
        self, namespace: str, cred_type: CredentialType, repo_url: str
    ) -> Credentials | None:
        """The credentials to use for ``repo_url``, or ``None`` to go anonymous."""
        ...


class StaticCredentialsDatabase:
    """Credentials given up front, keyed by (type, exact URL); for tools and tests."""

    def __init__(self, entries: dict[tuple[CredentialType, str], Credentials] | None = None):
        self._entries = dict(entries or {})

    async def get(
        self, namespace: str, cred_type: CredentialType, repo_url: str
    ) -> Credentials | None:
        """Exact-URL lookup, ignoring the namespace."""
        return self._entries.get((cred_type, repo_url))
