"""Artifact discovery for a whole Warehouse: the entry point the Warehouse controller calls.

:class:`Discoverer` owns everything that must be shared process-wide so that many Warehouses
cost their registries little: the per-host rate limiters, the registry client and its caches
(tag listings, tokens, endpoints), the image metadata store, the git mirrors and ``ls-remote``
cache, and the chart index cache. :meth:`Discoverer.discover` runs every subscription of a
:class:`~shunter.api.v1alpha1.warehouse.WarehouseSpec` concurrently and returns
:class:`~shunter.api.v1alpha1.warehouse.DiscoveredArtifacts` with the results in subscription
order, each list best first (Kargo's contract: element 0 goes into new Freight; an empty list
means "nothing matched", which is not an error).

Credentials come from a :class:`CredentialsLookup`: an async callable ``(kind, repo_url)`` with
``kind`` one of ``"image"``, ``"git"``, ``"helm"`` (the ``kargo.akuity.io/cred-type`` values),
called with the subscription's ``repoURL``. ``registries`` and ``credentials`` are independent
adapters (see ``.importlinter``), so the caller binds the two, e.g. in the Warehouse
controller::

    async def lookup(kind: str, repo_url: str) -> Credentials | None:
        return await database.get(namespace, CredentialType(kind), repo_url)

Any failure raises the first error (in subscription order) after all subscriptions finished;
its message is prefixed with the subscription (see :mod:`shunter.registries.errors`).

``max_age`` is how stale shared answers (tag listings, tag lookups, ``ls-remote``, chart
indexes) may be, in seconds: the Warehouse controller passes 0 (every discovery sees the
registry as it is; concurrent callers still share one in-flight request). :func:`discover`
uses a default :class:`Discoverer` per event loop.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import weakref
from collections.abc import Awaitable, Callable
from typing import Literal, Protocol, TypeVar

import httpx
from pydantic import SecretStr

from shunter._internal.redaction import redact_url
from shunter.api.v1alpha1.warehouse import (
    ChartDiscoveryResult,
    ChartSubscription,
    DiscoveredArtifacts,
    GitDiscoveryResult,
    GitSubscription,
    ImageDiscoveryResult,
    ImageSubscription,
    RepoSubscription,
    WarehouseSpec,
)
from shunter.git import MirrorStore
from shunter.registries.auth import BasicCredentials
from shunter.registries.charts import ChartDiscoverer
from shunter.registries.errors import DiscoveryError, InvalidSubscriptionError
from shunter.registries.git import GitDiscoverer
from shunter.registries.images import select_images
from shunter.registries.metadata import ImageMetadataStore
from shunter.registries.oci import OCIClient
from shunter.registries.ratelimit import RateLimiters
from shunter.registries.settings import DiscoverySettings

__all__ = [
    "CredentialKind",
    "CredentialsLookup",
    "Discoverer",
    "RepositoryCredentials",
    "default_discoverer",
    "discover",
]

#: The ``kargo.akuity.io/cred-type`` values discovery asks for.
CredentialKind = Literal["image", "git", "helm"]


class RepositoryCredentials(Protocol):
    """A username and password (``shunter.credentials.Credentials`` has this shape)."""

    @property
    def username(self) -> str: ...

    @property
    def password(self) -> SecretStr: ...


class CredentialsLookup(Protocol):
    """``await lookup(kind, repo_url)``: the credentials for a repository, or ``None``."""

    def __call__(
        self, kind: CredentialKind, repo_url: str, /
    ) -> Awaitable[RepositoryCredentials | None]: ...


_T = TypeVar("_T")
_Result = GitDiscoveryResult | ImageDiscoveryResult | ChartDiscoveryResult


def _label(kind: str, repo_url: str, name: str | None) -> str:
    url = redact_url(repo_url)
    return f"{kind} subscription {name!r} ({url})" if name else f"{kind} subscription {url}"


async def _labelled(label: str, work: Awaitable[_T]) -> _T:
    try:
        return await work
    except DiscoveryError as error:
        if error.subscription is None:
            error.subscription = label
        raise


class Discoverer:
    """Process-wide discovery machinery (see the module docstring). Close with :meth:`aclose`.

    Args:
        settings: operator-wide settings.
        transport: an httpx transport for every registry/chart request (tests only).
        git_mirrors: the git mirror store to share (the operator passes the one its promotions
            use); default: one of discovery's own (see :class:`GitDiscoverer`).
    """

    def __init__(
        self,
        settings: DiscoverySettings | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        git_mirrors: MirrorStore | None = None,
    ) -> None:
        self.settings = settings or DiscoverySettings()
        self.limiters = RateLimiters(
            self.settings.rate_limit, dict(self.settings.rate_limits_per_host)
        )
        self.oci = OCIClient(self.settings, self.limiters, transport=transport)
        self.images = ImageMetadataStore(self.oci)
        self.git = GitDiscoverer(self.settings, mirrors=git_mirrors)
        self.charts = ChartDiscoverer(self.oci)

    async def aclose(self) -> None:
        await self.oci.aclose()
        await self.git.aclose()

    @staticmethod
    async def _credentials(
        credentials: CredentialsLookup | None, kind: CredentialKind, repo_url: str
    ) -> BasicCredentials | None:
        if credentials is None:
            return None
        found = await credentials(kind, repo_url)
        if found is None:
            return None
        return BasicCredentials(found.username, found.password)

    async def discover_images(
        self,
        sub: ImageSubscription,
        credentials: CredentialsLookup | None = None,
        *,
        subscription_name: str | None = None,
        max_age: float | None = None,
    ) -> ImageDiscoveryResult:
        """One image subscription."""
        creds = await self._credentials(credentials, "image", sub.repo_url)
        references = await select_images(
            self.images, sub, creds, policy=self.settings.cache_by_tag_policy, max_age=max_age
        )
        return ImageDiscoveryResult(
            repoURL=sub.repo_url,
            platform=sub.platform,
            subscription_name=subscription_name,
            references=references,
        )

    async def discover_git(
        self,
        sub: GitSubscription,
        credentials: CredentialsLookup | None = None,
        *,
        subscription_name: str | None = None,
        previous: GitDiscoveryResult | None = None,
        max_age: float | None = None,
    ) -> GitDiscoveryResult:
        """One git subscription (``previous`` enables the ``ls-remote`` short-circuit)."""
        creds = await self._credentials(credentials, "git", sub.repo_url)
        return await self.git.discover(
            sub, creds, subscription_name=subscription_name, previous=previous, max_age=max_age
        )

    async def discover_charts(
        self,
        sub: ChartSubscription,
        credentials: CredentialsLookup | None = None,
        *,
        subscription_name: str | None = None,
        max_age: float | None = None,
    ) -> ChartDiscoveryResult:
        """One chart subscription."""
        creds = await self._credentials(credentials, "helm", sub.repo_url)
        return await self.charts.discover(
            sub, creds, subscription_name=subscription_name, max_age=max_age
        )

    def _one(
        self,
        subscription: RepoSubscription,
        credentials: CredentialsLookup | None,
        previous: GitDiscoveryResult | None,
        max_age: float | None,
    ) -> Awaitable[_Result]:
        name = subscription.name
        if subscription.image is not None:
            sub_i = subscription.image
            return _labelled(
                _label("image", sub_i.repo_url, name),
                self.discover_images(sub_i, credentials, subscription_name=name, max_age=max_age),
            )
        if subscription.git is not None:
            sub_g = subscription.git
            return _labelled(
                _label("git", sub_g.repo_url, name),
                self.discover_git(
                    sub_g,
                    credentials,
                    subscription_name=name,
                    previous=previous,
                    max_age=max_age,
                ),
            )
        if subscription.chart is not None:
            sub_c = subscription.chart
            return _labelled(
                _label("chart", sub_c.repo_url, name),
                self.discover_charts(sub_c, credentials, subscription_name=name, max_age=max_age),
            )
        raise InvalidSubscriptionError("a subscription must have one of git, image or chart")

    async def discover(
        self,
        spec: WarehouseSpec,
        credentials: CredentialsLookup | None = None,
        *,
        previous: DiscoveredArtifacts | None = None,
        max_age: float | None = None,
        now: Callable[[], dt.datetime] | None = None,
    ) -> DiscoveredArtifacts:
        """Discover every subscription of a Warehouse.

        Args:
            spec: the Warehouse's spec.
            credentials: repository credentials of the Warehouse's project (``None``:
                anonymous everywhere); see the module docstring.
            previous: the Warehouse's last ``status.discoveredArtifacts``, only when it was
                made for the current generation; the Nth git subscription may reuse the Nth
                previous git result when the repository's refs did not change.
            max_age: see the module docstring; ``None`` for the operator defaults.
            now: clock for ``discoveredAt`` (default: UTC now).

        Raises:
            DiscoveryError: the first failing subscription's error (subclasses tell auth,
                not-found, unreachable, rate-limited, invalid subscription...).
        """
        previous_git = list(previous.git or ()) if previous is not None else []
        work: list[Awaitable[_Result]] = []
        git_index = 0
        for subscription in spec.subscriptions:
            last = None
            if subscription.git is not None:
                if git_index < len(previous_git):
                    last = previous_git[git_index]
                git_index += 1
            work.append(self._one(subscription, credentials, last, max_age))
        results = await asyncio.gather(*work, return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result
        clock = now or (lambda: dt.datetime.now(dt.UTC))
        return DiscoveredArtifacts(
            discovered_at=clock().replace(microsecond=0),
            git=[r for r in results if isinstance(r, GitDiscoveryResult)],
            images=[r for r in results if isinstance(r, ImageDiscoveryResult)],
            charts=[r for r in results if isinstance(r, ChartDiscoveryResult)],
        )


_defaults: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Discoverer] = (
    weakref.WeakKeyDictionary()
)


def default_discoverer() -> Discoverer:
    """The process-wide :class:`Discoverer` of the running event loop (created on first use)."""
    loop = asyncio.get_running_loop()
    discoverer = _defaults.get(loop)
    if discoverer is None:
        discoverer = Discoverer()
        _defaults[loop] = discoverer
    return discoverer


async def discover(
    spec: WarehouseSpec,
    credentials: CredentialsLookup | None = None,
    *,
    previous: DiscoveredArtifacts | None = None,
    max_age: float | None = None,
) -> DiscoveredArtifacts:
    """:meth:`Discoverer.discover` on :func:`default_discoverer`."""
    return await default_discoverer().discover(
        spec, credentials, previous=previous, max_age=max_age
    )
