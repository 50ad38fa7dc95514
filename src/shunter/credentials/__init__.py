"""Credentials for git repositories, image registries and chart repositories.

Callers ask "credentials of this type for this URL in this project"; the answer comes from
Secrets labelled ``kargo.akuity.io/cred-type`` in the project namespace (Kargo's contract).
"""

from shunter.credentials.types import (
    Credentials,
    CredentialsDatabase,
    CredentialType,
    StaticCredentialsDatabase,
)

__all__ = ["CredentialType", "Credentials", "CredentialsDatabase", "StaticCredentialsDatabase"]
