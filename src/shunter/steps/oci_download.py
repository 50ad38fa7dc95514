"""The ``oci-download`` step: save one layer of an OCI artifact as a file in the work directory.

Config: ``imageRef`` (required; ``host/repository:tag`` or ``host/repository@sha256:...``, with or
without ``oci://``; neither tag nor digest means ``latest``), ``outPath`` (required; the file to
write, parent folders are created), ``allowOverwrite`` (default false: an existing ``outPath``
is refused), ``mediaType`` (the first layer with exactly this media type; default: the first
layer) and ``insecureSkipTLSVerify``. No outputs.

The manifest is fetched by tag or digest (digest-verified). An image index is resolved to its
``linux/amd64`` image, as go-containerregistry's default platform does for Kargo; an index
without one is refused. The layer's declared size must not exceed 100 MiB; it is streamed into
a temporary file next to ``outPath`` with the same cap, checked against its digest and declared
size, then moved into place (mode 0644), so a failed download leaves nothing behind.

Credentials: ``oci://`` references use the project's ``helm`` credentials first, then ``image``
ones; other references the reverse. Refused credentials, unknown repositories, tags or media
types, bad references and paths outside the work directory are terminal errors; unreachable or
misbehaving registries are retryable errors.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
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
    StepError,
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
    DOCKER_MANIFEST_LIST,
    OCI_INDEX,
    Manifest,
    OCIClient,
)
from shunter.steps_support.atomicwrite import atomic_file

__all__ = ["DEFAULT_PLATFORM", "MAX_LAYER_BYTES", "OCIDownloadConfig", "OCIDownloadStep"]

#: The largest layer the step downloads (Kargo's limit).
MAX_LAYER_BYTES = 100 * 1024 * 1024
#: The platform picked from an image index.
DEFAULT_PLATFORM = ("linux", "amd64")


class OCIDownloadConfig(StepConfig):
    """``config`` of ``oci-download``."""

    image_ref: str = Field(min_length=1)
    out_path: str = Field(min_length=1)
    allow_overwrite: bool = False
    media_type: str | None = Field(default=None, min_length=1)
    insecure_skip_tls_verify: bool = Field(default=False, alias="insecureSkipTLSVerify")


def _json(manifest: Manifest, what: str) -> Mapping[str, Any]:
    try:
        body = json.loads(manifest.body)
    except ValueError:
        body = None
    if not isinstance(body, Mapping):
        raise TerminalStepError(f"{what} is not a JSON manifest")
    return body


def _descriptors(document: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    items = document.get(key)
    if not isinstance(items, Sequence) or isinstance(items, str):
        return []
    return [item for item in items if isinstance(item, Mapping)]


def _is_index(manifest: Manifest, document: Mapping[str, Any]) -> bool:
    media_type = manifest.media_type or str(document.get("mediaType", ""))
    return media_type in (OCI_INDEX, DOCKER_MANIFEST_LIST) or (
        "manifests" in document and "layers" not in document
    )


def _platform_child(document: Mapping[str, Any], what: str) -> str:
    found: list[str] = []
    for child in _descriptors(document, "manifests"):
        platform = child.get("platform")
        if not isinstance(platform, Mapping):
            continue
        os_arch = (str(platform.get("os", "")), str(platform.get("architecture", "")))
        found.append("/".join(os_arch))
        if os_arch == DEFAULT_PLATFORM and isinstance(child.get("digest"), str):
            return str(child["digest"])
    listed = ", ".join(found) or "none"
    raise TerminalStepError(
        f"{what} is an image index without a {'/'.join(DEFAULT_PLATFORM)} image "
        f"(platforms: {listed})"
    )


def _select_layer(
    document: Mapping[str, Any], media_type: str | None, what: str
) -> Mapping[str, Any]:
    layers = _descriptors(document, "layers")
    if not layers:
        raise TerminalStepError(f"{what} has no layers")
    if media_type is None:
        return layers[0]
    for layer in layers:
        if layer.get("mediaType") == media_type:
            return layer
    raise TerminalStepError(f"{what} has no layer with media type {media_type!r}")


@register
class OCIDownloadStep:
    """Runner of ``oci-download``."""

    name: ClassVar[str] = "oci-download"
    config_model: ClassVar[type[StepConfig]] = OCIDownloadConfig
    default_timeout: ClassVar[timedelta | None] = None
    default_error_threshold: ClassVar[int] = 1
    external_effects: ClassVar[Effects] = Effects.NONE

    def __init__(self, *, max_bytes: int = MAX_LAYER_BYTES) -> None:
        self.max_bytes = max_bytes

    async def run(self, ctx: StepContext, config: Any) -> StepResult:
        """Download the selected layer of ``imageRef`` to ``outPath``."""
        cfg = OCIDownloadConfig.model_validate(config)
        ref = parse_oci_reference(
            cfg.image_ref, insecure_skip_tls_verify=cfg.insecure_skip_tls_verify
        )
        out = ctx.path(cfg.out_path)
        _check_destination(out, cfg.out_path, cfg.allow_overwrite)
        creds = await registry_credentials(ctx, ref)
        async with oci_client() as client:
            try:
                layer = await self._resolve_layer(client, ref, creds, cfg.media_type)
                await self._download(client, ref, creds, layer, root=ctx.work_dir, out=out)
            except DiscoveryError as error:
                raise _step_error(error, f"downloading {cfg.image_ref}") from None
        return StepResult(status=PromotionStepStatus.SUCCEEDED)

    async def _resolve_layer(
        self,
        client: OCIClient,
        ref: OCIReference,
        creds: BasicCredentials | None,
        media_type: str | None,
    ) -> Mapping[str, Any]:
        what = f"artifact {ref.name}:{ref.reference}" if ref.tag else f"{ref.name}@{ref.digest}"
        manifest = await client.get_manifest(ref.repository, ref.reference, creds)
        if manifest is None:
            raise TerminalStepError(f"{what} not found")
        document = _json(manifest, what)
        if _is_index(manifest, document):
            child = _platform_child(document, what)
            manifest = await client.get_manifest(ref.repository, child, creds)
            if manifest is None:
                raise TerminalStepError(f"{what}: image {child} of the index not found")
            what = f"{ref.name}@{child}"
            document = _json(manifest, what)
        layer = _select_layer(document, media_type, what)
        digest, size = layer.get("digest"), layer.get("size")
        if not isinstance(digest, str) or not isinstance(size, int) or size < 0:
            raise TerminalStepError(f"{what} has a malformed layer descriptor")
        if size > self.max_bytes:
            raise TerminalStepError(
                f"layer {digest} of {what} is {size} bytes, more than the {self.max_bytes} "
                "bytes allowed"
            )
        return layer

    async def _download(
        self,
        client: OCIClient,
        ref: OCIReference,
        creds: BasicCredentials | None,
        layer: Mapping[str, Any],
        *,
        root: Path,
        out: Path,
    ) -> None:
        digest, size = str(layer["digest"]), int(layer["size"])
        with atomic_file(root, out, mode=0o644) as handle:
            got = await client.download_blob(
                ref.repository, digest, handle, creds, max_bytes=min(size, self.max_bytes)
            )
            if got != size:
                raise StepError(
                    f"registry {ref.repository.host} sent {got} bytes for layer {digest}, "
                    f"the manifest says {size}"
                )


def _check_destination(out: Path, out_text: str, allow_overwrite: bool) -> None:
    if out.is_dir():
        raise TerminalStepError(f"{out_text!r} is a directory")
    if out.exists() and not allow_overwrite:
        raise TerminalStepError(
            f"a file already exists at {out_text!r} and allowOverwrite is false"
        )
