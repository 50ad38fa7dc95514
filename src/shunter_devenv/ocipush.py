"""Push test images to a registry with nothing but the OCI distribution HTTP API (httpx).

``OCIPusher`` uploads a config blob and one small random layer (a real gzipped tar), then PUTs an
OCI image manifest; it can also push an OCI image index over per-platform manifests, retag an
existing manifest, list tags and delete manifests. ``ChallengeAuth`` answers a registry's 401
challenge the way real clients do: Basic credentials, or a Docker-Hub-style Bearer token fetched
from the challenge's ``realm``. Requests carry ``PUSHER_USER_AGENT`` so a counting front can tell
test set-up traffic from the traffic under test.
"""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import hashlib
import io
import json
import os
import re
import ssl
import tarfile
from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import httpx

__all__ = [
    "MANIFEST_ACCEPT",
    "OCI_CONFIG",
    "OCI_INDEX",
    "OCI_LAYER",
    "OCI_MANIFEST",
    "PUSHER_USER_AGENT",
    "ChallengeAuth",
    "Manifest",
    "OCIPusher",
    "RegistryPushError",
    "parse_challenge",
    "parse_platform",
]

PUSHER_USER_AGENT = "shunter-devenv-pusher/1"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
MANIFEST_ACCEPT = ", ".join(
    [
        OCI_MANIFEST,
        OCI_INDEX,
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
    ]
)

_CHALLENGE_PARAM = re.compile(r'([A-Za-z_][A-Za-z0-9_-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')
_REPO_IN_PATH = re.compile(r"^/v2/(.+?)/(?:tags|manifests|blobs|referrers)/")


class RegistryPushError(RuntimeError):
    """The registry refused or failed a request the pusher made."""


@dataclass(frozen=True)
class Manifest:
    """A manifest as stored: its exact bytes, media type and digest."""

    digest: str
    media_type: str
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """Split a ``WWW-Authenticate`` value into (lower-case scheme, params)."""
    scheme, _, rest = header.strip().partition(" ")
    params = {
        m.group(1).lower(): (m.group(2) if m.group(2) is not None else m.group(3))
        for m in _CHALLENGE_PARAM.finditer(rest)
    }
    return scheme.lower(), params


def parse_platform(platform: str) -> dict[str, str]:
    """``"linux/arm64/v8"`` -> ``{"os": "linux", "architecture": "arm64", "variant": "v8"}``."""
    parts = platform.split("/")
    if len(parts) not in (2, 3) or not all(parts):
        raise ValueError(f"platform {platform!r} is not os/arch[/variant]")
    result = {"os": parts[0], "architecture": parts[1]}
    if len(parts) == 3:
        result["variant"] = parts[2]
    return result


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _rfc3339(moment: dt.datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("created must be timezone-aware")
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _canonical(document: Mapping[str, Any]) -> bytes:
    return json.dumps(document, separators=(",", ":"), sort_keys=True).encode("utf-8")


class ChallengeAuth(httpx.Auth):
    """Answer 401 challenges with Basic credentials or a Bearer token from the realm."""

    requires_request_body = True
    requires_response_body = True

    def __init__(self, username: str | None, password: str | None) -> None:
        self._basic: str | None = None
        if username is not None:
            raw = f"{username}:{password or ''}".encode()
            self._basic = "Basic " + base64.b64encode(raw).decode("ascii")
        self._scheme: str | None = None
        self._tokens: dict[str, str] = {}

    def _apply(self, request: httpx.Request) -> None:
        if self._scheme == "basic" and self._basic is not None:
            request.headers["Authorization"] = self._basic
        elif self._scheme == "bearer":
            token = self._tokens.get(self._token_key(request))
            if token is not None:
                request.headers["Authorization"] = f"Bearer {token}"

    @staticmethod
    def _token_key(request: httpx.Request) -> str:
        match = _REPO_IN_PATH.match(request.url.path)
        return match.group(1) if match else request.url.path

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        self._apply(request)
        response = yield request
        if response.status_code != 401:
            return
        scheme, params = parse_challenge(response.headers.get("WWW-Authenticate", ""))
        if scheme == "basic" and self._basic is not None:
            self._scheme = "basic"
            request.headers["Authorization"] = self._basic
            yield request
        elif scheme == "bearer" and "realm" in params:
            query: dict[str, str] = {k: params[k] for k in ("service", "scope") if k in params}
            headers = {"User-Agent": request.headers.get("User-Agent", PUSHER_USER_AGENT)}
            if self._basic is not None:
                headers["Authorization"] = self._basic
            token_response = yield httpx.Request(
                "GET", params["realm"], params=query, headers=headers
            )
            if token_response.status_code != 200:
                raise RegistryPushError(
                    f"token endpoint answered {token_response.status_code} for scope "
                    f"{params.get('scope', '')!r}"
                )
            body = token_response.json()
            token = body.get("token") or body.get("access_token")
            if not isinstance(token, str):
                raise RegistryPushError("token endpoint answered without a token")
            self._scheme = "bearer"
            self._tokens[self._token_key(request)] = token
            request.headers["Authorization"] = f"Bearer {token}"
            yield request


class OCIPusher:
    """A small OCI distribution client for test set-up; use as a context manager or close()."""

    def __init__(
        self,
        base_url: str,
        *,
        username: str | None = None,
        password: str | None = None,
        ca_file: Path | None = None,
        timeout: float = 30.0,
    ) -> None:
        verify: ssl.SSLContext | bool = True
        if ca_file is not None:
            verify = ssl.create_default_context(cafile=str(ca_file))
        self._client = httpx.Client(
            base_url=base_url,
            auth=ChallengeAuth(username, password),
            verify=verify,
            headers={"User-Agent": PUSHER_USER_AGENT},
            timeout=timeout,
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    @staticmethod
    def _check(response: httpx.Response, *expected: int) -> httpx.Response:
        if response.status_code not in expected:
            raise RegistryPushError(
                f"{response.request.method} {response.request.url.path} answered "
                f"{response.status_code}: {response.text[:500]}"
            )
        return response

    # -- blobs -----------------------------------------------------------------------------

    def push_blob(self, repo: str, data: bytes) -> str:
        """Upload ``data`` as a blob (monolithic POST + PUT) unless it exists; return digest."""
        digest = _digest(data)
        head = self._client.head(f"/v2/{repo}/blobs/{digest}")
        if head.status_code == 200:
            return digest
        started = self._check(self._client.post(f"/v2/{repo}/blobs/uploads/"), 202)
        location = started.headers.get("Location")
        if not location:
            raise RegistryPushError("blob upload started without a Location")
        upload_url = self._client.base_url.join(location).copy_merge_params({"digest": digest})
        self._check(
            self._client.put(
                upload_url, content=data, headers={"Content-Type": "application/octet-stream"}
            ),
            201,
        )
        return digest

    def get_blob(self, repo: str, digest: str) -> bytes:
        return self._check(self._client.get(f"/v2/{repo}/blobs/{digest}"), 200).content

    # -- manifests -------------------------------------------------------------------------

    def push_manifest(self, repo: str, reference: str, body: bytes, media_type: str) -> str:
        """PUT a manifest under a tag or its digest; return the digest the registry stored."""
        digest = _digest(body)
        response = self._check(
            self._client.put(
                f"/v2/{repo}/manifests/{reference}",
                content=body,
                headers={"Content-Type": media_type},
            ),
            201,
        )
        stored = response.headers.get("Docker-Content-Digest", digest)
        if stored != digest:
            raise RegistryPushError(f"registry stored {stored}, expected {digest}")
        return digest

    def get_manifest(self, repo: str, reference: str) -> Manifest:
        response = self._check(
            self._client.get(
                f"/v2/{repo}/manifests/{reference}", headers={"Accept": MANIFEST_ACCEPT}
            ),
            200,
        )
        media_type = response.headers.get("Content-Type", "").split(";")[0].strip()
        body = response.content
        return Manifest(
            digest=response.headers.get("Docker-Content-Digest", _digest(body)),
            media_type=media_type,
            body=body,
        )

    def _image_manifest(
        self,
        repo: str,
        created: dt.datetime,
        platform: str,
        labels: Mapping[str, str] | None,
        annotations: Mapping[str, str] | None,
    ) -> bytes:
        layer_tar = _random_layer_tar()
        layer = gzip.compress(layer_tar, mtime=0)
        timestamp = _rfc3339(created)
        config: dict[str, Any] = {
            "created": timestamp,
            **parse_platform(platform),
            "config": {"Labels": dict(labels or {})},
            "rootfs": {"type": "layers", "diff_ids": [_digest(layer_tar)]},
            "history": [{"created": timestamp, "created_by": PUSHER_USER_AGENT}],
        }
        config_bytes = _canonical(config)
        manifest: dict[str, Any] = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {
                "mediaType": OCI_CONFIG,
                "digest": self.push_blob(repo, config_bytes),
                "size": len(config_bytes),
            },
            "layers": [
                {
                    "mediaType": OCI_LAYER,
                    "digest": self.push_blob(repo, layer),
                    "size": len(layer),
                }
            ],
        }
        if annotations:
            manifest["annotations"] = dict(annotations)
        return _canonical(manifest)

    def push_image(
        self,
        repo: str,
        tag: str | None,
        created: dt.datetime,
        platform: str = "linux/amd64",
        *,
        labels: Mapping[str, str] | None = None,
        annotations: Mapping[str, str] | None = None,
    ) -> str:
        """Push a single-platform OCI image (tagged, or by digest when ``tag`` is None)."""
        body = self._image_manifest(repo, created, platform, labels, annotations)
        return self.push_manifest(repo, tag or _digest(body), body, OCI_MANIFEST)

    def push_index(
        self,
        repo: str,
        tag: str | None,
        platforms: Sequence[str],
        created: dt.datetime,
        labels: Mapping[str, str] | None = None,
    ) -> str:
        """Push one image per platform (by digest) and an OCI image index over them."""
        if not platforms:
            raise ValueError("an index needs at least one platform")
        entries = []
        for platform in platforms:
            body = self._image_manifest(repo, created, platform, labels, None)
            entries.append(
                {
                    "mediaType": OCI_MANIFEST,
                    "digest": self.push_manifest(repo, _digest(body), body, OCI_MANIFEST),
                    "size": len(body),
                    "platform": parse_platform(platform),
                }
            )
        index = _canonical({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries})
        return self.push_manifest(repo, tag or _digest(index), index, OCI_INDEX)

    def tag_existing(self, repo: str, src_tag: str, dst_tag: str) -> str:
        """Point ``dst_tag`` at the manifest ``src_tag`` names; return its digest."""
        manifest = self.get_manifest(repo, src_tag)
        return self.push_manifest(repo, dst_tag, manifest.body, manifest.media_type)

    def delete_manifest(self, repo: str, digest: str) -> None:
        """Delete a manifest by digest (every tag pointing at it goes too)."""
        self._check(self._client.delete(f"/v2/{repo}/manifests/{digest}"), 202)

    def list_tags(self, repo: str) -> list[str]:
        """Every tag of ``repo``, following ``Link`` pagination."""
        tags: list[str] = []
        url: str | None = f"/v2/{repo}/tags/list"
        while url is not None:
            response = self._check(self._client.get(url), 200)
            tags.extend(response.json().get("tags") or [])
            next_link = response.links.get("next", {}).get("url")
            url = next_link or None
        return tags


def _random_layer_tar() -> bytes:
    """A tar archive with one small file of random bytes (so every image is distinct)."""
    payload = os.urandom(64)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        info = tarfile.TarInfo("devenv/random.bin")
        info.size = len(payload)
        info.mode = 0o644
        archive.addfile(info, io.BytesIO(payload))
    return buffer.getvalue()
