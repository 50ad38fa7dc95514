"""What ``oci-download`` and ``oci-push`` share: references, credentials, clients, errors.

A reference is ``[oci://]host/repository(:tag|@digest)`` (go-containerregistry's weak parsing;
a reference with neither names the tag ``latest``). Credentials are looked up by repository URL:
for ``oci://`` references the ``helm`` type first (``oci://host/repository``), then ``image``
(``host/repository``); for others the reverse. Registry failures become step errors: refused
credentials, unknown repositories and unusable references are terminal, everything else
(unreachable, rate limited, odd answers) may be retried. Messages never carry passwords.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from shunter.credentials.types import CredentialType
from shunter.freight.urls import parse_image_reference
from shunter.promotion.step import StepContext, StepError, TerminalStepError
from shunter.registries.auth import BasicCredentials
from shunter.registries.errors import (
    AuthenticationError,
    DiscoveryError,
    InvalidSubscriptionError,
    RepositoryNotFoundError,
)
from shunter.registries.oci import DIGEST_PATTERN, OCIClient, Repository, parse_repository
from shunter.registries.settings import DiscoverySettings

__all__ = [
    "OCIReference",
    "oci_client",
    "parse_oci_reference",
    "registry_credentials",
    "step_error",
]


@dataclass(frozen=True)
class OCIReference:
    """A parsed artifact reference."""

    repository: Repository
    #: The tag, or None when the reference names a digest.
    tag: str | None
    digest: str | None
    #: Written with ``oci://`` (a Helm chart: ``helm`` credentials come first).
    helm: bool
    #: Whether the text named a tag explicitly (``latest`` is otherwise implied).
    explicit_tag: bool

    @property
    def reference(self) -> str:
        """The manifest reference: the digest if there is one, else the tag."""
        return self.digest or self.tag or "latest"

    @property
    def name(self) -> str:
        """``host/repository`` as written (Docker Hub's API host aside)."""
        return f"{self.repository.host}/{self.repository.name}"


def parse_oci_reference(text: str, *, insecure_skip_tls_verify: bool = False) -> OCIReference:
    """Parse ``text`` (raises :class:`TerminalStepError` when it is not a reference)."""
    raw = text.strip()
    helm = raw.startswith("oci://")
    raw = raw.removeprefix("oci://")
    parsed = parse_image_reference(raw)
    if parsed is None or (parsed.digest is not None and not DIGEST_PATTERN.match(parsed.digest)):
        raise TerminalStepError(f"{text!r} is not a valid OCI artifact reference")
    try:
        repository = parse_repository(
            f"{parsed.registry}/{parsed.repository}",
            insecure_skip_tls_verify=insecure_skip_tls_verify,
        )
    except InvalidSubscriptionError:
        raise TerminalStepError(f"{text!r} is not a valid OCI artifact reference") from None
    last = raw.rsplit("/", 1)[-1]
    explicit_tag = parsed.digest is None and ":" in last
    return OCIReference(repository, parsed.tag, parsed.digest, helm, explicit_tag)


async def registry_credentials(ctx: StepContext, ref: OCIReference) -> BasicCredentials | None:
    """The project's credentials for ``ref``'s repository (helm/image order: see module)."""
    name = f"{ref.repository.host}/{ref.repository.name}"
    lookups = [(CredentialType.IMAGE, name), (CredentialType.HELM, f"oci://{name}")]
    if ref.helm:
        lookups.reverse()
    for cred_type, url in lookups:
        found = await ctx.capabilities.credentials.get(ctx.project, cred_type, url)
        if found is not None and (found.username or found.password.get_secret_value()):
            return BasicCredentials(found.username, found.password)
    return None


@asynccontextmanager
async def oci_client() -> AsyncIterator[OCIClient]:
    """A private registry client for one step run (closed afterwards)."""
    client = OCIClient(DiscoverySettings())
    try:
        yield client
    finally:
        await client.aclose()


def step_error(error: DiscoveryError, doing: str) -> StepError:
    """The step error for a registry failure while ``doing`` something."""
    message = f"{doing}: {error}"
    if isinstance(error, AuthenticationError | RepositoryNotFoundError | InvalidSubscriptionError):
        return TerminalStepError(message)
    return StepError(message)
