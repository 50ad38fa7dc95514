"""Image selection for image subscriptions: SemVer, Lexical, NewestBuild and Digest.

Given an :class:`~shunter.api.v1alpha1.warehouse.ImageSubscription`, :func:`select_images` returns
the discovered references best first (element 0 is what new Freight gets), following Kargo:

* **SemVer** (default): tags that parse as semantic versions (``strictSemvers``, default on:
  ``X.Y.Z[-pre][+meta]`` with an optional leading ``v``) and satisfy ``constraint`` (or the
  legacy ``semverConstraint``), newest version first; equal versions by tag text, descending.
* **Lexical**: tags sorted by text, descending.
* **NewestBuild**: every remaining tag's build time is looked up (bounded concurrency, cached by
  digest, and by tag with ``cacheByTag``), newest first; ties by tag text, descending; images
  without a build time come last.
* **Digest**: ``constraint`` names one mutable tag; the result is that tag and its current
  digest (or nothing if the tag does not exist).

Before ordering, tags go through the allow/ignore filters (``allowTagsRegexes``,
``ignoreTagsRegexes`` and the deprecated ``allowTags``/``ignoreTags``, which shunter still
honours). For SemVer and Lexical, images are then fetched in order, a few at a time, until
``discoveryLimit`` images that match ``platform`` are found. ``platform`` (``os/arch[/variant]``)
keeps images with a matching index entry or, for a single image, a matching config (Kargo
compares all three parts exactly).

:func:`tag_selected` answers, without asking the registry, whether a subscription would consider
a tag at all (a webhook receiver skips Warehouses that would ignore a pushed tag): the filters,
plus for SemVer the version and constraint, and for Digest the one tag it follows.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from shunter.api.v1alpha1.warehouse import (
    DiscoveredImageReference,
    ImageSelectionStrategy,
    ImageSubscription,
)
from shunter.registries.auth import BasicCredentials
from shunter.registries.errors import InvalidSubscriptionError
from shunter.registries.metadata import ImageMetadata, ImageMetadataStore
from shunter.registries.oci import Repository, parse_repository
from shunter.registries.patterns import BadPatternError, TagFilter
from shunter.registries.semver import (
    Constraint,
    Version,
    parse_tag,
    sort_descending,
    subscription_constraint,
)
from shunter.registries.settings import CacheByTagPolicy

__all__ = [
    "PlatformConstraint",
    "SelectedImage",
    "parse_platform",
    "select_images",
    "tag_selected",
]


@dataclass(frozen=True)
class PlatformConstraint:
    """``os/arch[/variant]`` as an image subscription's ``platform`` names it."""

    os: str
    architecture: str
    variant: str = ""

    def __str__(self) -> str:
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)

    def matches(self, os: str, architecture: str, variant: str) -> bool:
        return (self.os, self.architecture, self.variant) == (os, architecture, variant)


def parse_platform(platform: str | None) -> PlatformConstraint | None:
    """Kargo's platform parser: ``os/arch`` or ``os/arch/variant`` (the rest goes in variant)."""
    if not platform:
        return None
    tokens = platform.split("/", 2)
    if len(tokens) < 2:
        raise InvalidSubscriptionError(f"invalid platform {platform!r}: want os/arch[/variant]")
    return PlatformConstraint(tokens[0], tokens[1], tokens[2] if len(tokens) == 3 else "")


@dataclass(frozen=True)
class SelectedImage:
    """A tag and what it points at."""

    tag: str
    image: ImageMetadata

    def reference(self, platform: PlatformConstraint | None) -> DiscoveredImageReference:
        annotations = dict(self.image.annotations)
        if platform is not None:
            for candidate in self.image.platforms:
                if platform.matches(candidate.os, candidate.architecture, candidate.variant):
                    annotations.update(candidate.annotations)
                    break
        return DiscoveredImageReference(
            tag=self.tag,
            digest=self.image.digest,
            annotations=annotations or None,
            created_at=self.image.created_at,
        )


def _platform_ok(image: ImageMetadata | None, platform: PlatformConstraint | None) -> bool:
    if image is None:
        return False
    if platform is None:
        return True
    return any(platform.matches(p.os, p.architecture, p.variant) for p in image.platforms)


def _tag_filter(sub: ImageSubscription) -> TagFilter:
    try:
        return TagFilter.build(
            sub.allow_tags_regexes, sub.ignore_tags_regexes, sub.allow_tags, sub.ignore_tags
        )
    except BadPatternError as error:
        raise InvalidSubscriptionError(str(error)) from None


def _cache_by_tag(sub: ImageSubscription, policy: CacheByTagPolicy) -> bool:
    if policy is CacheByTagPolicy.FORBID:
        return False
    if policy is CacheByTagPolicy.FORCE:
        return True
    if policy is CacheByTagPolicy.REQUIRE and not sub.cache_by_tag:
        raise InvalidSubscriptionError(
            "the operator requires cacheByTag on image subscriptions; enable it only for "
            "repositories whose tags never move"
        )
    return bool(sub.cache_by_tag)


Fetch = Callable[[str], Awaitable[ImageMetadata | None]]


async def _gather_in_order(tags: Sequence[str], fetch: Fetch) -> list[ImageMetadata | None]:
    results = await asyncio.gather(*(fetch(t) for t in tags), return_exceptions=True)
    images: list[ImageMetadata | None] = []
    for result in results:
        if isinstance(result, BaseException):
            raise result
        images.append(result)
    return images


async def _first_matching(
    tags: Sequence[str],
    limit: int,
    fetch: Fetch,
    platform: PlatformConstraint | None,
    concurrency: int,
) -> list[SelectedImage]:
    """Images of ``tags`` in order, fetched a window at a time, until ``limit`` match."""
    selected: list[SelectedImage] = []
    position = 0
    while position < len(tags) and len(selected) < limit:
        window = max(1, min(concurrency, limit - len(selected)))
        batch = tags[position : position + window]
        position += len(batch)
        for tag, image in zip(batch, await _gather_in_order(batch, fetch), strict=True):
            if image is not None and _platform_ok(image, platform) and len(selected) < limit:
                selected.append(SelectedImage(tag, image))
    return selected


async def _all_matching(
    tags: Sequence[str],
    fetch: Fetch,
    platform: PlatformConstraint | None,
    concurrency: int,
) -> list[SelectedImage]:
    semaphore = asyncio.Semaphore(max(1, concurrency))

    async def bounded(tag: str) -> ImageMetadata | None:
        async with semaphore:
            return await fetch(tag)

    images = await _gather_in_order(tags, bounded)
    return [
        SelectedImage(tag, image)
        for tag, image in zip(tags, images, strict=True)
        if image is not None and _platform_ok(image, platform)
    ]


def _newest_build_order(a: SelectedImage, b: SelectedImage) -> int:
    oldest = dt.datetime.min.replace(tzinfo=dt.UTC)
    created_a = a.image.created_at or oldest
    created_b = b.image.created_at or oldest
    if created_a != created_b:
        return -1 if created_a > created_b else 1
    if a.tag == b.tag:
        return 0
    return -1 if a.tag > b.tag else 1


def _semver_constraint(sub: ImageSubscription) -> Constraint | None:
    return subscription_constraint(sub.constraint or sub.semver_constraint, "semver constraint")


def _semver_version(
    sub: ImageSubscription, constraint: Constraint | None, tag: str
) -> Version | None:
    version = parse_tag(tag, sub.strict_semvers)
    if version is None or (constraint is not None and not constraint.check(version)):
        return None
    return version


def _semver_candidates(sub: ImageSubscription, tags: Sequence[str]) -> list[str]:
    constraint = _semver_constraint(sub)
    versions: list[tuple[str, Version]] = []
    for tag in tags:
        version = _semver_version(sub, constraint, tag)
        if version is not None:
            versions.append((tag, version))
    return [tag for tag, _ in sort_descending(versions, lambda item: item[1])]


def tag_selected(sub: ImageSubscription, tag: str) -> bool:
    """Whether the subscription would consider ``tag`` (Kargo's selectors' ``MatchesTag``).

    Raises:
        InvalidSubscriptionError: bad regex or constraint.
    """
    if sub.image_selection_strategy is ImageSelectionStrategy.DIGEST:
        return tag == sub.constraint
    if not _tag_filter(sub).matches(tag):
        return False
    if sub.image_selection_strategy is ImageSelectionStrategy.SEMVER:
        return _semver_version(sub, _semver_constraint(sub), tag) is not None
    return True


async def select_images(
    store: ImageMetadataStore,
    sub: ImageSubscription,
    creds: BasicCredentials | None = None,
    *,
    policy: CacheByTagPolicy = CacheByTagPolicy.ALLOW,
    max_age: float | None = None,
) -> list[DiscoveredImageReference]:
    """The references an image subscription discovers, best first (at most discoveryLimit).

    Args:
        store: the process-wide image metadata store (and through it the registry client).
        sub: the subscription.
        creds: credentials for the repository, if any.
        policy: the operator's cacheByTag policy.
        max_age: accept a tag listing (and tag lookups) up to this old, in seconds; ``None``
            for the operator default, 0 to force fresh ones.

    Raises:
        InvalidSubscriptionError: bad regex, constraint, platform or repository URL.
        RemoteError: see :mod:`shunter.registries.errors`.
    """
    platform = parse_platform(sub.platform)
    repo: Repository = parse_repository(
        sub.repo_url, insecure_skip_tls_verify=bool(sub.insecure_skip_tls_verify)
    )
    settings = store.client.settings
    age = settings.tag_list_max_age if max_age is None else max_age
    concurrency = settings.metadata_concurrency
    strategy = sub.image_selection_strategy

    if strategy is ImageSelectionStrategy.DIGEST:
        if not sub.constraint:
            raise InvalidSubscriptionError(
                "the Digest strategy needs constraint: the (mutable) tag to follow"
            )
        image = await store.get_image(repo, sub.constraint, creds, max_age=age)
        if image is None:
            # Registries may answer "manifest unknown" for an unknown repository too; the
            # (shared, cached) tag listing tells the two apart.
            await store.client.list_tags(repo, creds, max_age=age)
            return []
        if not _platform_ok(image, platform):
            return []
        return [SelectedImage(sub.constraint, image).reference(platform)]

    tag_filter = _tag_filter(sub)
    cache_by_tag = _cache_by_tag(sub, policy)

    async def fetch(tag: str) -> ImageMetadata | None:
        return await store.get_image(repo, tag, creds, cache_by_tag=cache_by_tag, max_age=age)

    tags = tag_filter.filter(await store.client.list_tags(repo, creds, max_age=age))
    limit = sub.discovery_limit
    if strategy is ImageSelectionStrategy.NEWEST_BUILD:
        found = await _all_matching(tags, fetch, platform, concurrency)
        found.sort(key=functools.cmp_to_key(_newest_build_order))
        selected = found[:limit]
    else:
        if strategy is ImageSelectionStrategy.LEXICAL:
            ordered = sorted(tags, reverse=True)
        else:
            ordered = _semver_candidates(sub, tags)
        selected = await _first_matching(ordered, limit, fetch, platform, concurrency)
    return [item.reference(platform) for item in selected]
