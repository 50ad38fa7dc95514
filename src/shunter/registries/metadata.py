"""Image metadata for discovery: digest, build time, annotations and platforms of a tag.

:class:`ImageMetadataStore` turns manifests fetched by :class:`~shunter.registries.oci.OCIClient`
into :class:`ImageMetadata`:

* a tag is first resolved with ``HEAD`` (its digest); metadata already known for that digest is
  reused (digests are immutable, so this cache never goes stale) - one cheap request per tag;
* an image manifest's build time is Kargo's: the ``org.opencontainers.image.created`` (or
  ``org.label-schema.build-date``) annotation, else the later of the config's ``created`` and
  the same keys among the config labels; its platform comes from the config;
* an image index lists its platforms (entries with an unknown OS or architecture, such as
  attestations, are skipped); each entry's image is fetched (by digest, cached) for its build
  time unless the entry is annotated with one; the index's build time is its own annotation,
  else the newest of its images;
* answers by tag are shared by concurrent callers and reused for ``max_age`` seconds (callers
  pass their polling interval, like for tag listings); with ``cache_by_tag`` they are kept for
  good (only safe for immutable tags).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import math
import re
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from shunter.registries.auth import BasicCredentials
from shunter.registries.cache import SingleFlightCache
from shunter.registries.errors import ProtocolError
from shunter.registries.oci import (
    DIGEST_PATTERN,
    DOCKER_MANIFEST,
    DOCKER_MANIFEST_LIST,
    OCI_INDEX,
    OCI_MANIFEST,
    Manifest,
    OCIClient,
    Repository,
    identity_of,
)

__all__ = [
    "ImageMetadata",
    "ImageMetadataStore",
    "PlatformImage",
    "creation_time",
    "parse_rfc3339",
]

_log = logging.getLogger("shunter.registries.metadata")

_T = TypeVar("_T")
_IMAGE_TYPES = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
_INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_MANIFEST_LIST})
_OCI_CREATED = "org.opencontainers.image.created"
_LEGACY_BUILD_DATE = "org.label-schema.build-date"
_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$",
    re.ASCII,
)


def parse_rfc3339(text: str) -> dt.datetime | None:
    """Go's ``time.Parse(time.RFC3339, text)``; fractions beyond microseconds are dropped."""
    match = _RFC3339.match(text.strip())
    if match is None:
        return None
    year, month, day, hour, minute, second = (int(match.group(i)) for i in range(1, 7))
    fraction = match.group(7)
    micro = int((fraction[1:] + "000000")[:6]) if fraction else 0
    zone = match.group(8)
    if zone in ("Z", "z"):
        tz = dt.UTC
    else:
        offset = dt.timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
        tz = dt.timezone(offset if zone[0] == "+" else -offset)
    try:
        return dt.datetime(year, month, day, hour, minute, second, micro, tzinfo=tz)
    except ValueError:
        return None


def _created_from(metadata: Mapping[str, str] | None) -> dt.datetime | None:
    for key in (_OCI_CREATED, _LEGACY_BUILD_DATE):
        value = (metadata or {}).get(key)
        if value is not None:
            parsed = parse_rfc3339(value)
            if parsed is not None:
                return parsed
    return None


def creation_time(
    annotations: Mapping[str, str] | None,
    labels: Mapping[str, str] | None,
    config_created: dt.datetime | None,
) -> dt.datetime | None:
    """Kargo's build time: annotation, else the later of config ``created`` and the labels."""
    from_annotations = _created_from(annotations)
    if from_annotations is not None:
        return from_annotations
    from_labels = _created_from(labels)
    if config_created is None:
        return from_labels
    if from_labels is not None and from_labels > config_created:
        return from_labels
    return config_created


@dataclass(frozen=True)
class PlatformImage:
    """One platform of an image: an index entry, or a single image's config."""

    os: str
    architecture: str
    variant: str = ""
    digest: str = ""
    created_at: dt.datetime | None = None
    annotations: Mapping[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """``os/architecture[/variant]``."""
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)


@dataclass(frozen=True)
class ImageMetadata:
    """What discovery knows about the manifest (or index) a tag points at."""

    digest: str
    media_type: str
    created_at: dt.datetime | None
    annotations: Mapping[str, str]
    platforms: tuple[PlatformImage, ...]
    is_index: bool = False


def _string_map(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping):
        return {}
    return {str(k): v for k, v in value.items() if isinstance(v, str)}


async def _gather_in_order(awaitables: Sequence[Awaitable[_T]]) -> list[_T]:
    """``asyncio.gather`` that lets all finish, then raises the first failure in order."""
    results = await asyncio.gather(*awaitables, return_exceptions=True)
    values: list[_T] = []
    for result in results:
        if isinstance(result, BaseException):
            raise result
        values.append(result)
    return values


class ImageMetadataStore:
    """Image metadata by tag or digest, cached by digest for good (see the module docstring)."""

    def __init__(self, client: OCIClient, *, max_entries: int | None = None) -> None:
        self.client = client
        entries = max_entries or client.settings.metadata_cache_entries
        self.by_digest: SingleFlightCache[tuple[str, str, str], ImageMetadata | None] = (
            SingleFlightCache(entries)
        )
        self.by_tag: SingleFlightCache[tuple[str, str, str, str], ImageMetadata | None] = (
            SingleFlightCache(entries)
        )
        self.recent_by_tag: SingleFlightCache[tuple[str, str, str, str], ImageMetadata | None] = (
            SingleFlightCache(entries)
        )

    async def get_image(
        self,
        repo: Repository,
        tag: str,
        creds: BasicCredentials | None = None,
        *,
        cache_by_tag: bool = False,
        max_age: float = 0.0,
    ) -> ImageMetadata | None:
        """The image ``tag`` points at; ``None`` if the tag does not exist or is no image.

        Args:
            cache_by_tag: trust a previous answer for this tag forever (immutable tags only).
            max_age: reuse an answer for this tag up to this many seconds old (capped by
                ``settings.tag_list_max_age``); 0 only joins a lookup already running.

        Raises:
            RepositoryNotFoundError: the repository does not exist.
            AuthenticationError, UnreachableError, ...: see :mod:`shunter.registries.errors`.
        """
        key = (repo.host, repo.name, identity_of(creds), tag)
        if cache_by_tag:
            cached = self.by_tag.peek(key)
            if cached is not None:
                self.by_tag.stats.hits += 1
                return cached
        age = min(max_age, self.client.settings.tag_list_max_age)
        image = await self.recent_by_tag.get(
            key, lambda: self._by_tag(repo, tag, creds), max_age=age
        )
        if image is not None and cache_by_tag:  # never cache the absence of a tag for good
            self.by_tag.put(key, image)
        return image

    async def get_image_by_digest(
        self, repo: Repository, digest: str, creds: BasicCredentials | None = None
    ) -> ImageMetadata | None:
        """The image (or index) with this digest (cached for good)."""

        async def load() -> ImageMetadata | None:
            manifest = await self.client.get_manifest(repo, digest, creds)
            if manifest is None:
                raise ProtocolError(
                    f"manifest {digest} of {repo.name} not found on registry {repo.host}",
                    host=repo.host,
                    status=404,
                )
            return await self._parse(repo, creds, manifest)

        return await self.by_digest.get((repo.host, repo.name, digest), load, max_age=math.inf)

    async def _by_tag(
        self, repo: Repository, tag: str, creds: BasicCredentials | None
    ) -> ImageMetadata | None:
        digest = await self.client.head_manifest(repo, tag, creds)
        if digest is not None:
            cached = self.by_digest.peek((repo.host, repo.name, digest))
            if cached is not None:
                self.by_digest.stats.hits += 1
                return cached
        manifest = await self.client.get_manifest(repo, digest or tag, creds)
        if manifest is None:
            return None

        async def parse() -> ImageMetadata | None:
            assert manifest is not None  # noqa: S101 - narrowed above; for mypy
            return await self._parse(repo, creds, manifest)

        return await self.by_digest.get(
            (repo.host, repo.name, manifest.digest), parse, max_age=math.inf
        )

    async def _parse(
        self, repo: Repository, creds: BasicCredentials | None, manifest: Manifest
    ) -> ImageMetadata | None:
        try:
            document = json.loads(manifest.body)
        except ValueError:
            raise ProtocolError(
                f"registry {repo.host} sent an invalid manifest {manifest.digest} for {repo.name}",
                host=repo.host,
            ) from None
        if not isinstance(document, Mapping):
            return None
        kind = manifest.media_type
        if kind not in _IMAGE_TYPES | _INDEX_TYPES:
            kind = str(document.get("mediaType", ""))
        is_index = kind in _INDEX_TYPES or ("manifests" in document and "config" not in document)
        if is_index:
            return await self._parse_index(repo, creds, manifest.digest, kind, document)
        if kind in _IMAGE_TYPES or "config" in document:
            return await self._parse_image(repo, creds, manifest.digest, kind, document)
        _log.info("skipping %s@%s: unsupported manifest type %r", repo, manifest.digest, kind)
        return None

    async def _parse_image(
        self,
        repo: Repository,
        creds: BasicCredentials | None,
        digest: str,
        kind: str,
        document: Mapping[str, Any],
    ) -> ImageMetadata | None:
        descriptor = document.get("config")
        config_digest = descriptor.get("digest") if isinstance(descriptor, Mapping) else None
        if not isinstance(config_digest, str) or not DIGEST_PATTERN.match(config_digest):
            return None
        config = await self.client.get_json_blob(repo, config_digest, creds)
        annotations = _string_map(document.get("annotations"))
        created_text = config.get("created")
        config_created = parse_rfc3339(created_text) if isinstance(created_text, str) else None
        inner = config.get("config")
        labels = _string_map(inner.get("Labels")) if isinstance(inner, Mapping) else {}
        created = creation_time(annotations, labels, config_created)
        platforms: tuple[PlatformImage, ...] = ()
        os_name, arch, variant = (config.get(k) for k in ("os", "architecture", "variant"))
        if isinstance(os_name, str) and isinstance(arch, str) and os_name and arch:
            platforms = (
                PlatformImage(
                    os_name, arch, variant if isinstance(variant, str) else "", digest, created
                ),
            )
        return ImageMetadata(digest, kind or OCI_MANIFEST, created, annotations, platforms)

    async def _parse_index(
        self,
        repo: Repository,
        creds: BasicCredentials | None,
        digest: str,
        kind: str,
        document: Mapping[str, Any],
    ) -> ImageMetadata:
        entries = document.get("manifests")
        usable: list[tuple[Mapping[str, Any], Mapping[str, Any], str]] = []
        for entry in entries if isinstance(entries, list) else ():
            if not isinstance(entry, Mapping):
                continue
            platform, child = entry.get("platform"), entry.get("digest")
            if not isinstance(platform, Mapping) or not isinstance(child, str):
                continue
            if platform.get("os") in (None, "", "unknown"):
                continue  # attestations and other entries that are not runnable images
            if platform.get("architecture") in (None, "", "unknown"):
                continue
            if DIGEST_PATTERN.match(child):
                usable.append((entry, platform, child))
        semaphore = asyncio.Semaphore(max(1, self.client.settings.metadata_concurrency))

        async def child_image(entry: Mapping[str, Any], child: str) -> ImageMetadata | None:
            if _created_from(_string_map(entry.get("annotations"))) is not None:
                return None  # the entry says when it was built; no need to fetch it
            async with semaphore:
                return await self.get_image_by_digest(repo, child, creds)

        children = await _gather_in_order([child_image(e, c) for e, _, c in usable])
        platforms: list[PlatformImage] = []
        for (entry, platform, child), image in zip(usable, children, strict=True):
            entry_annotations = _string_map(entry.get("annotations"))
            created = _created_from(entry_annotations)
            if created is None and image is not None:
                created = image.created_at
            variant = platform.get("variant")
            platforms.append(
                PlatformImage(
                    str(platform.get("os")),
                    str(platform.get("architecture")),
                    variant if isinstance(variant, str) else "",
                    child,
                    created,
                    entry_annotations,
                )
            )
        annotations = _string_map(document.get("annotations"))
        created = _created_from(annotations)
        if created is None:
            dates = [p.created_at for p in platforms if p.created_at is not None]
            created = max(dates) if dates else None
        return ImageMetadata(
            digest, kind or OCI_INDEX, created, annotations, tuple(platforms), is_index=True
        )
