"""The ``oci-push`` step: copy an OCI artifact (image, index, Helm chart) to a tag, annotated.

Config: ``srcRef`` (required; ``[oci://]host/repository:tag`` or ``...@sha256:...``), ``destRef``
(required; ``[oci://]host/repository:tag`` - the tag must be written, a digest is refused),
``annotations`` (map; keys ``index:<key>`` go to an image index, ``manifest:<key>`` and unprefixed
keys go to image manifests - to every image of an index) and ``insecureSkipTLSVerify``. Outputs:
``image`` (``host/repository:tag`` of the destination), ``digest`` (of what ``image`` now names)
and ``tag``.

What is copied: the manifest ``srcRef`` names and, for an index, every manifest it lists, and
every blob (configs and layers) they reference. Blobs the destination already holds are
skipped; on the same registry they are mounted from the source repository; otherwise (or when
the registry declines the mount) they are streamed through a temporary file in the work
directory, checked against their digest, and uploaded. Annotations rewrite the manifests they
land in (and the index entries pointing at them), so the pushed digest differs from the source's;
without annotations the manifests are copied byte for byte and the digest is unchanged.

Size limit (Kargo's ``controller.images.push.maxArtifactSize``): when the destination is another
repository, the compressed size of the artifact (configs + layers of every image) must not
exceed 1 GiB; 0 forbids cross-repository pushes, a negative value removes the limit.

Credentials and errors are as for ``oci-download``: refused credentials, unknown repositories
or tags, unsupported media types and size excess are terminal; unreachable registries retry.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field

from shunter.api.v1alpha1.promotion import PromotionStepStatus
from shunter.promotion.effects import Effects
from shunter.promotion.registry import register
from shunter.promotion.step import (
    StepConfig,
    StepContext,
    StepResult,
    TerminalStepError,
)
from shunter.providers.oci import (
    OCIReference,
    oci_client,
    parse_oci_reference,
    registry_credentials,
)
from shunter.providers.oci import step_error as _step_error
from shunter.registries.auth import BasicCredentials
from shunter.registries.errors import DiscoveryError
from shunter.registries.oci import (
    DOCKER_MANIFEST,
    DOCKER_MANIFEST_LIST,
    OCI_INDEX,
    OCI_MANIFEST,
    Manifest,
    OCIClient,
)
from shunter.steps_support.effects import would

__all__ = [
    "DEFAULT_MAX_ARTIFACT_BYTES",
    "OCIPushConfig",
    "OCIPushStep",
    "split_annotations",
]

#: Kargo's default ``maxArtifactSize`` (1 GiB).
DEFAULT_MAX_ARTIFACT_BYTES = 1024 * 1024 * 1024
_IMAGE_TYPES = (OCI_MANIFEST, DOCKER_MANIFEST)
_INDEX_TYPES = (OCI_INDEX, DOCKER_MANIFEST_LIST)
_CHUNK = 1024 * 1024


class OCIPushConfig(StepConfig):
    """``config`` of ``oci-push``."""

    src_ref: str = Field(min_length=1)
    dest_ref: str = Field(min_length=1)
    annotations: dict[str, str] | None = None
    insecure_skip_tls_verify: bool = Field(default=False, alias="insecureSkipTLSVerify")


def split_annotations(
    annotations: Mapping[str, str] | None,
) -> tuple[dict[str, str], dict[str, str]]:
    """``(index annotations, manifest annotations)`` by key prefix (see module doc)."""
    index: dict[str, str] = {}
    manifest: dict[str, str] = {}
    for key, value in (annotations or {}).items():
        if key.startswith("index:"):
            index[key.removeprefix("index:")] = value
        else:
            manifest[key.removeprefix("manifest:")] = value
    return index, manifest


@dataclass(frozen=True)
class _Side:
    ref: OCIReference
    creds: BasicCredentials | None


@dataclass(frozen=True)
class _Pushed:
    digest: str
    size: int
    media_type: str


def _document(manifest: Manifest, what: str) -> dict[str, Any]:
    try:
        body = json.loads(manifest.body)
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise TerminalStepError(f"{what} is not a JSON manifest")
    return body


def _media_type(manifest: Manifest, document: Mapping[str, Any]) -> str:
    declared = document.get("mediaType")
    if isinstance(declared, str) and declared:
        return declared
    if manifest.media_type in _IMAGE_TYPES + _INDEX_TYPES:
        return manifest.media_type
    return OCI_INDEX if "manifests" in document else OCI_MANIFEST


def _descriptors(document: Mapping[str, Any], key: str) -> list[dict[str, Any]]:
    items = document.get(key)
    if not isinstance(items, Sequence) or isinstance(items, str):
        return []
    return [item for item in items if isinstance(item, dict)]


def _blobs(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    config = document.get("config")
    blobs = [config] if isinstance(config, dict) else []
    blobs.extend(_descriptors(document, "layers"))
    for blob in blobs:
        if not isinstance(blob.get("digest"), str) or not isinstance(blob.get("size"), int):
            raise TerminalStepError("a manifest has a malformed blob descriptor")
    return blobs


def _annotated(document: dict[str, Any], annotations: Mapping[str, str]) -> dict[str, Any]:
    merged = dict(document.get("annotations") or {})
    merged.update(annotations)
    return {**document, "annotations": merged}


def _encode(document: Mapping[str, Any]) -> bytes:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


@register
class OCIPushStep:
    """Runner of ``oci-push``."""

    name: ClassVar[str] = "oci-push"
    config_model: ClassVar[type[StepConfig]] = OCIPushConfig
    default_timeout: ClassVar[timedelta | None] = None
    default_error_threshold: ClassVar[int] = 1
    external_effects: ClassVar[Effects] = Effects.WRITES

    def __init__(self, *, max_artifact_bytes: int = DEFAULT_MAX_ARTIFACT_BYTES) -> None:
        self.max_artifact_bytes = max_artifact_bytes

    async def preview(self, ctx: StepContext, config: Any) -> StepResult:
        """What it would push where."""
        cfg = OCIPushConfig.model_validate(config)
        return would(f"would push {cfg.src_ref} to {cfg.dest_ref}")

    async def run(self, ctx: StepContext, config: Any) -> StepResult:
        """Copy ``srcRef`` to ``destRef``."""
        cfg = OCIPushConfig.model_validate(config)
        insecure = cfg.insecure_skip_tls_verify
        src_ref = parse_oci_reference(cfg.src_ref, insecure_skip_tls_verify=insecure)
        dst_ref = parse_oci_reference(cfg.dest_ref, insecure_skip_tls_verify=insecure)
        if not dst_ref.explicit_tag or dst_ref.tag is None:
            raise TerminalStepError(f"destRef {cfg.dest_ref!r} must name a tag")
        src = _Side(src_ref, await registry_credentials(ctx, src_ref))
        dst = _Side(dst_ref, await registry_credentials(ctx, dst_ref))
        index_annotations, manifest_annotations = split_annotations(cfg.annotations)
        async with oci_client() as client:
            copier = _Copier(client, src, dst, ctx.work_dir, manifest_annotations)
            try:
                top = await client.get_manifest(src_ref.repository, src_ref.reference, src.creds)
                if top is None:
                    raise TerminalStepError(f"source artifact {cfg.src_ref!r} not found")
                if src_ref.repository != dst_ref.repository:
                    await self._check_size(copier, top)
                pushed = await copier.copy(top, dst_ref.tag, index_annotations)
            except DiscoveryError as error:
                raise _step_error(error, f"pushing {cfg.src_ref} to {cfg.dest_ref}") from None
        return StepResult(
            status=PromotionStepStatus.SUCCEEDED,
            output={
                "image": f"{dst_ref.name}:{dst_ref.tag}",
                "digest": pushed.digest,
                "tag": dst_ref.tag,
            },
        )

    async def _check_size(self, copier: _Copier, top: Manifest) -> None:
        limit = self.max_artifact_bytes
        if limit < 0:
            return
        if limit == 0:
            raise TerminalStepError("cross-repository push is disabled")
        size = await copier.artifact_size(top)
        if size > limit:
            raise TerminalStepError(
                f"compressed artifact size {size} bytes exceeds the maximum of {limit} bytes"
            )


class _Copier:
    """Copies manifests and blobs from one side to the other."""

    def __init__(
        self,
        client: OCIClient,
        src: _Side,
        dst: _Side,
        work_dir: Path,
        manifest_annotations: Mapping[str, str],
    ) -> None:
        self.client = client
        self.src = src
        self.dst = dst
        self.work_dir = work_dir
        self.manifest_annotations = manifest_annotations
        self.same_host = src.ref.repository.host == dst.ref.repository.host

    async def _child(self, digest: str) -> Manifest:
        child = await self.client.get_manifest(self.src.ref.repository, digest, self.src.creds)
        if child is None:
            raise TerminalStepError(f"manifest {digest} listed by the source index is missing")
        return child

    async def artifact_size(self, manifest: Manifest) -> int:
        """Configs + layers of every image (an index's images fetched, no blobs)."""
        document = _document(manifest, manifest.digest)
        media_type = _media_type(manifest, document)
        if media_type in _IMAGE_TYPES:
            return sum(int(blob["size"]) for blob in _blobs(document))
        if media_type in _INDEX_TYPES:
            total = 0
            for entry in _descriptors(document, "manifests"):
                total += await self.artifact_size(await self._child(str(entry.get("digest"))))
            return total
        raise TerminalStepError(f"unsupported media type {media_type!r}")

    async def copy(
        self, manifest: Manifest, tag: str | None, index_annotations: Mapping[str, str]
    ) -> _Pushed:
        """Copy ``manifest`` (and what it references); store it under ``tag`` or its digest."""
        document = _document(manifest, manifest.digest)
        media_type = _media_type(manifest, document)
        body = manifest.body
        if media_type in _IMAGE_TYPES:
            for blob in _blobs(document):
                await self._copy_blob(str(blob["digest"]), int(blob["size"]))
            if self.manifest_annotations:
                body = _encode(_annotated(document, self.manifest_annotations))
        elif media_type in _INDEX_TYPES:
            changed = False
            entries = _descriptors(document, "manifests")
            for entry in entries:
                child = await self._child(str(entry.get("digest")))
                pushed = await self.copy(child, None, index_annotations)
                if pushed.digest != entry.get("digest"):
                    entry.update(digest=pushed.digest, size=pushed.size)
                    changed = True
            if changed:
                document = {**document, "manifests": entries}
            if index_annotations:
                document = _annotated(document, index_annotations)
            if changed or index_annotations:
                body = _encode(document)
        else:
            raise TerminalStepError(f"unsupported media type {media_type!r}")
        reference = tag or "sha256:" + hashlib.sha256(body).hexdigest()
        digest = await self.client.put_manifest(
            self.dst.ref.repository, reference, body, media_type, self.dst.creds
        )
        return _Pushed(digest, len(body), media_type)

    async def _copy_blob(self, digest: str, size: int) -> None:
        dst_repo, src_repo = self.dst.ref.repository, self.src.ref.repository
        if await self.client.blob_exists(dst_repo, digest, self.dst.creds):
            return
        if self.same_host and await self.client.mount_blob(
            dst_repo, digest, src_repo.name, self.dst.creds
        ):
            return
        with tempfile.TemporaryDirectory(dir=self.work_dir, prefix=".oci-push-") as folder:
            path = Path(folder) / "blob"
            with path.open("wb") as out:
                await self.client.download_blob(
                    src_repo, digest, out, self.src.creds, max_bytes=size
                )

            async def stream() -> AsyncIterator[bytes]:
                with path.open("rb") as handle:
                    while chunk := handle.read(_CHUNK):
                        yield chunk

            await self.client.upload_blob(dst_repo, digest, stream, self.dst.creds)
