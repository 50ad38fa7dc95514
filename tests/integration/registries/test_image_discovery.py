"""Image discovery against a real docker-registry (htpasswd and Bearer-token modes)."""

from __future__ import annotations

import asyncio
import datetime as dt
import gzip
import hashlib
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

import pytest

from shunter.api.v1alpha1.warehouse import ImageSubscription, WarehouseSpec
from shunter.registries import (
    AuthenticationError,
    Discoverer,
    DiscoverySettings,
    RateLimit,
    RepositoryNotFoundError,
    UnreachableError,
)
from shunter.registries.oci import DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, parse_repository
from shunter_devenv.registry import Registry
from shunter_devenv.registry_front import RegistryRequestKind

BASE_TIME = dt.datetime(2025, 3, 1, 12, 0, tzinfo=dt.UTC)
SEED_ALLOW_TAGS = r"^\d{4}-\d{2}-\d{2}_\d{4}-\w{7}$"


def image_sub(registry: Registry, repo: str, **fields: Any) -> ImageSubscription:
    return ImageSubscription.model_validate({"repoURL": registry.image(repo), **fields})


@pytest.fixture
def reader(credentials_for: Any) -> Any:
    """Credentials of the read-only user for one repository of a registry."""

    def make(registry: Registry, repo: str) -> Any:
        entry = {("image", registry.image(repo)): ("reader", registry.users["reader"])}
        return credentials_for(entry)

    return make


def spec_of(*subs: ImageSubscription) -> WarehouseSpec:
    return WarehouseSpec.model_validate(
        {"subscriptions": [{"image": s.model_dump(by_alias=True, exclude_none=True)} for s in subs]}
    )


async def test_seed_warehouse_lexical_allow_tags(
    registry: Registry, repo_name: str, discoverer: Discoverer, reader: Any
) -> None:
    """The seed's Warehouse: Lexical, legacy allowTags, 30 tags of which 10 do not match."""
    matching = {
        f"2025-{month:02d}-{day:02d}_{hour:02d}00-{sha}": BASE_TIME + dt.timedelta(days=n)
        for n, (month, day, hour, sha) in enumerate(
            (m, d, h, f"{n:07x}"[:7])
            for n, (m, d, h) in enumerate(
                [(1 + i % 12, 1 + (i * 7) % 28, i % 24) for i in range(20)]
            )
        )
    }
    not_matching = [
        "latest",
        "zz-top",
        "2025-13-01_1200",
        "2025-01-01_1200-abc",
        "2025-01-01_1200-abcdefgh",
        "v9.9.9",
        "9999-12-31_2359-short",
        "2025-1-01_1200-abcdefg",
        "main",
        "2099-01-01-1200-abcdefg",
    ]
    digests = {}
    for tag, created in matching.items():
        digests[tag] = registry.push_image(repo_name, tag, created)
    for index, tag in enumerate(not_matching):
        registry.push_image(repo_name, tag, BASE_TIME + dt.timedelta(days=100 + index))
    assert len(matching) == 20
    assert len(registry.list_tags(repo_name)) == 30

    sub = image_sub(
        registry,
        repo_name,
        imageSelectionStrategy="Lexical",
        allowTags=SEED_ALLOW_TAGS,
        discoveryLimit=5,
    )
    result = await discoverer.discover_images(sub, reader(registry, repo_name))

    expected = sorted(matching, reverse=True)[:5]
    refs = result.references or []
    assert [r.tag for r in refs] == expected
    assert all(re.fullmatch(SEED_ALLOW_TAGS, r.tag) for r in refs)
    assert refs[0].digest == digests[expected[0]]
    assert refs[0].created_at == matching[expected[0]]
    assert result.repo_url == registry.image(repo_name)


async def test_strategies_disagree_on_one_repository(
    registry: Registry, repo_name: str, discoverer: Discoverer, reader: Any
) -> None:
    """SemVer, Lexical, NewestBuild and Digest each pick a different tag of the same images."""
    pushed = {
        "1.10.0": BASE_TIME,  # highest version
        "1.2.0": BASE_TIME + dt.timedelta(days=1),  # lexically above 1.10.0
        "v1.9.0": BASE_TIME + dt.timedelta(days=2),  # lexically highest of the versions
        "nightly": BASE_TIME + dt.timedelta(days=30),  # newest build
        "latest": BASE_TIME + dt.timedelta(days=3),  # the mutable tag Digest follows
        "1.0": BASE_TIME + dt.timedelta(days=4),  # not strict semver
    }
    digests = {tag: registry.push_image(repo_name, tag, created) for tag, created in pushed.items()}
    creds = reader(registry, repo_name)

    async def first(**fields: Any) -> tuple[str, str]:
        result = await discoverer.discover_images(
            image_sub(registry, repo_name, **fields), creds, max_age=0
        )
        refs = result.references or []
        assert refs, fields
        return refs[0].tag, refs[0].digest

    assert await first() == ("1.10.0", digests["1.10.0"])  # SemVer is the default
    assert await first(imageSelectionStrategy="SemVer", constraint="<1.5") == (
        "1.2.0",
        digests["1.2.0"],
    )
    assert await first(imageSelectionStrategy="SemVer", strictSemvers=False) == (
        "1.10.0",
        digests["1.10.0"],
    )
    assert await first(imageSelectionStrategy="Lexical") == ("v1.9.0", digests["v1.9.0"])
    assert await first(imageSelectionStrategy="NewestBuild") == ("nightly", digests["nightly"])
    assert await first(imageSelectionStrategy="Digest", constraint="latest") == (
        "latest",
        digests["latest"],
    )

    # Strict semvers off lets "1.0" in; it ties with nothing and sorts below 1.10.0.
    loose = await discoverer.discover_images(
        image_sub(registry, repo_name, strictSemvers=False, discoveryLimit=10), creds
    )
    assert [r.tag for r in loose.references or []] == ["1.10.0", "v1.9.0", "1.2.0", "1.0"]

    # NewestBuild orders every candidate by build time.
    newest = await discoverer.discover_images(
        image_sub(registry, repo_name, imageSelectionStrategy="NewestBuild", discoveryLimit=3),
        creds,
    )
    assert [r.tag for r in newest.references or []] == ["nightly", "1.0", "latest"]

    # The Digest strategy follows the tag when it moves.
    moved = registry.push_image(repo_name, "latest", BASE_TIME + dt.timedelta(days=40))
    assert moved != digests["latest"]
    assert await first(imageSelectionStrategy="Digest", constraint="latest") == ("latest", moved)
    missing = await discoverer.discover_images(
        image_sub(registry, repo_name, imageSelectionStrategy="Digest", constraint="nope"), creds
    )
    assert missing.references == []


async def test_platform_selection_from_an_index(
    registry: Registry, repo_name: str, discoverer: Discoverer, reader: Any
) -> None:
    index = registry.push_index(repo_name, "v1.0.0", ["linux/amd64", "linux/arm64/v8"], BASE_TIME)
    amd64_only = registry.push_image(
        repo_name, "v1.1.0", BASE_TIME + dt.timedelta(days=1), "linux/amd64"
    )
    creds = reader(registry, repo_name)

    async def tags(platform: str | None) -> list[tuple[str, str]]:
        sub = image_sub(registry, repo_name, platform=platform)
        result = await discoverer.discover_images(sub, creds)
        assert result.platform == platform
        return [(r.tag, r.digest) for r in result.references or []]

    assert await tags(None) == [("v1.1.0", amd64_only), ("v1.0.0", index)]
    assert await tags("linux/amd64") == [("v1.1.0", amd64_only), ("v1.0.0", index)]
    assert await tags("linux/arm64/v8") == [("v1.0.0", index)]  # the index's digest
    assert await tags("linux/arm64") == []  # variants must match exactly, as in Kargo
    assert await tags("windows/amd64") == []


async def test_fifty_warehouses_cost_one_tag_listing(
    registry: Registry, repo_name: str, discoverer: Discoverer, reader: Any
) -> None:
    for n in range(8):
        registry.push_image(repo_name, f"1.{n}.0", BASE_TIME + dt.timedelta(hours=n))
    creds = reader(registry, repo_name)
    spec = spec_of(image_sub(registry, repo_name, discoveryLimit=3))
    registry.reset_requests()

    results = await asyncio.gather(
        *(discoverer.discover(spec, creds, max_age=300) for _ in range(50))
    )

    assert {tuple(r.tag for r in res.images[0].references or []) for res in results} == {  # type: ignore[index]
        ("1.7.0", "1.6.0", "1.5.0")
    }
    assert registry.request_count(RegistryRequestKind.TAGS, repo=repo_name) == 1
    # Tag lookups are shared too: one HEAD per selected tag, manifests and configs once.
    assert registry.request_count(RegistryRequestKind.MANIFEST, method="HEAD", repo=repo_name) == 3
    assert registry.request_count(RegistryRequestKind.MANIFEST, method="GET", repo=repo_name) == 3
    assert registry.request_count(RegistryRequestKind.BLOB, repo=repo_name) == 3
    # Each request took a token from the registry's rate limiter, plus the HTTPS attempt that
    # found this loopback registry speaks plain HTTP (go-containerregistry's order).
    assert discoverer.limiters.for_host(registry.host).acquired == registry.request_count() + 1

    # Within max_age nothing is asked again; max_age=0 (a refresh) lists once more.
    await asyncio.gather(*(discoverer.discover(spec, creds, max_age=300) for _ in range(50)))
    assert registry.request_count(RegistryRequestKind.TAGS, repo=repo_name) == 1
    await asyncio.gather(*(discoverer.discover(spec, creds, max_age=0) for _ in range(50)))
    assert registry.request_count(RegistryRequestKind.TAGS, repo=repo_name) == 2
    # Known digests are not fetched again: only HEADs for the refreshed lookups.
    assert registry.request_count(RegistryRequestKind.MANIFEST, method="GET", repo=repo_name) == 3


class PaginatingRegistryDouble(BaseHTTPRequestHandler):
    """A test double of a registry that pages tag lists (GHCR, Docker Hub do; Debian's
    docker-registry 2.8 does not): ``n``/``last`` parameters and a ``Link: <...>; rel="next"``
    header with a relative URL as the distribution spec shows; bodies gzip-encoded."""

    protocol_version = "HTTP/1.1"
    tags: ClassVar[list[str]] = [f"0.0.{n}" for n in range(23)]
    seen: ClassVar[list[str]] = []

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        self.seen.append(self.path)
        headers: dict[str, str] = {}
        if url.path == "/v2/":
            body: bytes = b"{}"
        elif url.path == "/v2/team/paged/tags/list":
            query = parse_qs(url.query)
            size = int(query.get("n", ["100"])[0])
            after = query.get("last", [""])[0]
            rest = sorted(t for t in self.tags if t > after)
            page = rest[:size]
            if len(rest) > size:
                headers["Link"] = f'</v2/team/paged/tags/list?n={size}&last={page[-1]}>; rel="next"'
            # Compressed, as CDN-fronted registries often answer.
            body = gzip.compress(json.dumps({"name": "team/paged", "tags": page}).encode())
            headers["Content-Encoding"] = "gzip"
        else:
            self.send_error(404)
            return
        self.send_response(200)
        for name, value in {**headers, "Content-Type": "application/json"}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


async def test_tag_list_pagination_follows_link_headers() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), PaginatingRegistryDouble)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings = DiscoverySettings(tag_page_size=5, rate_limit=RateLimit(500.0, 100))
    discoverer = Discoverer(settings)
    try:
        repo = parse_repository(f"127.0.0.1:{server.server_address[1]}/team/paged")
        found = await discoverer.oci.list_tags(repo)
    finally:
        await discoverer.aclose()
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
    assert sorted(found) == sorted(PaginatingRegistryDouble.tags)
    pages = [p for p in PaginatingRegistryDouble.seen if "/tags/list" in p]
    assert pages[0] == "/v2/team/paged/tags/list?n=5"
    assert len(pages) == 5
    fourth_page_end = sorted(PaginatingRegistryDouble.tags)[19]
    assert pages[-1] == f"/v2/team/paged/tags/list?n=5&last={fourth_page_end}"


async def test_wrong_password_is_an_authentication_error(
    registry: Registry, repo_name: str, discoverer: Discoverer, credentials_for: Any
) -> None:
    registry.push_image(repo_name, "1.0.0", BASE_TIME)
    password = "wrong-Password-!x9"
    creds = credentials_for({("image", registry.image(repo_name)): ("reader", password)})
    spec = spec_of(image_sub(registry, repo_name))

    with pytest.raises(AuthenticationError) as caught:
        await discoverer.discover(spec, creds)

    message = str(caught.value)
    assert "refused the credentials of user 'reader'" in message
    assert registry.host in message
    assert repo_name in message
    assert f"image subscription {registry.image(repo_name)}" in message
    assert password not in message
    assert password not in repr(caught.value)


async def test_anonymous_access_to_a_private_registry(
    registry: Registry, repo_name: str, discoverer: Discoverer
) -> None:
    registry.push_image(repo_name, "1.0.0", BASE_TIME)
    with pytest.raises(AuthenticationError, match=r"requires credentials .* none are configured"):
        await discoverer.discover_images(image_sub(registry, repo_name), None)


async def test_unknown_repository_is_not_found(
    registry: Registry, repo_name: str, discoverer: Discoverer, reader: Any
) -> None:
    with pytest.raises(RepositoryNotFoundError, match=f"repository {repo_name} not found"):
        await discoverer.discover_images(
            image_sub(registry, repo_name), reader(registry, repo_name)
        )
    # The Digest strategy tells an unknown repository from an unknown tag, too.
    with pytest.raises(RepositoryNotFoundError):
        await discoverer.discover_images(
            image_sub(registry, repo_name, imageSelectionStrategy="Digest", constraint="latest"),
            reader(registry, repo_name),
        )


async def test_stopped_registry_is_unreachable(discoverer: Discoverer, reader: Any) -> None:
    with Registry(users={"reader": "reader-Secret-0b7e"}) as short_lived:
        short_lived.push_image("team/gone", "1.0.0", BASE_TIME)
        sub = image_sub(short_lived, "team/gone")
        creds = reader(short_lived, "team/gone")
    with pytest.raises(UnreachableError, match=r"registry 127\.0\.0\.1:\d+ is unreachable"):
        await discoverer.discover_images(sub, creds)


async def test_bearer_token_registry(
    token_registry: Registry,
    repo_name: str,
    discoverer: Discoverer,
    reader: Any,
    credentials_for: Any,
) -> None:
    digest = token_registry.push_image(repo_name, "2.0.0", BASE_TIME)
    token_registry.push_image(repo_name, "1.0.0", BASE_TIME)
    creds = reader(token_registry, repo_name)
    token_registry.reset_requests()

    first = await discoverer.discover_images(image_sub(token_registry, repo_name), creds)
    second = await discoverer.discover_images(
        image_sub(token_registry, repo_name), creds, max_age=0
    )

    refs = first.references or []
    assert (refs[0].tag, refs[0].digest) == ("2.0.0", digest)
    assert second.references == first.references
    # One token for the repository scope, reused by every later request.
    assert token_registry.request_count(RegistryRequestKind.TOKEN, status=200) == 1
    assert token_registry.request_count(RegistryRequestKind.TAGS, repo=repo_name) == 2

    password = "not-the-Password-3"
    wrong = credentials_for({("image", token_registry.image(repo_name)): ("reader", password)})
    with pytest.raises(AuthenticationError, match="token service") as caught:
        await discoverer.discover_images(image_sub(token_registry, repo_name), wrong)
    assert password not in str(caught.value)
    with pytest.raises(AuthenticationError, match="none are configured"):
        await discoverer.discover_images(image_sub(token_registry, repo_name), None)


async def test_tls_registry(tmp_path: Any, credentials_for: Any) -> None:
    """HTTPS with a private CA: refused without it, fine with ca_bundle or insecureSkipTLSVerify."""
    with Registry(users={"reader": "reader-Secret-tls1"}, tls=True, workdir=tmp_path) as tls:
        digest = tls.push_image("team/secure", "1.0.0", BASE_TIME)
        entry = {("image", tls.image("team/secure")): ("reader", "reader-Secret-tls1")}
        creds = credentials_for(entry)
        plain = Discoverer()
        trusting = Discoverer(DiscoverySettings(ca_bundle=tls.ca_file))
        try:
            with pytest.raises(UnreachableError, match=r"CERTIFICATE_VERIFY_FAILED|certificate"):
                await plain.discover_images(image_sub(tls, "team/secure"), creds)
            skipping = await plain.discover_images(
                image_sub(tls, "team/secure", insecureSkipTLSVerify=True), creds
            )
            verified = await trusting.discover_images(image_sub(tls, "team/secure"), creds)
        finally:
            await plain.aclose()
            await trusting.aclose()
    assert [(r.tag, r.digest) for r in skipping.references or []] == [("1.0.0", digest)]
    assert verified.references == skipping.references


async def test_docker_media_types(
    registry: Registry, repo_name: str, discoverer: Discoverer, reader: Any
) -> None:
    """Docker schema 2 manifests and manifest lists are read like their OCI counterparts."""
    pusher = registry.pusher
    created = BASE_TIME + dt.timedelta(days=3)

    def docker_image(architecture: str, variant: str | None = None) -> tuple[str, int]:
        config: dict[str, Any] = {
            "created": created.isoformat().replace("+00:00", "Z"),
            "os": "linux",
            "architecture": architecture,
            "config": {"Labels": {"org.label-schema.build-date": "2025-03-09T00:00:00Z"}},
            "rootfs": {"type": "layers", "diff_ids": []},
        }
        if variant:
            config["variant"] = variant
        config_bytes = json.dumps(config).encode()
        layer = architecture.encode() * 32
        manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": DOCKER_MANIFEST,
                "config": {
                    "mediaType": "application/vnd.docker.container.image.v1+json",
                    "digest": pusher.push_blob(repo_name, config_bytes),
                    "size": len(config_bytes),
                },
                "layers": [
                    {
                        "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                        "digest": pusher.push_blob(repo_name, layer),
                        "size": len(layer),
                    }
                ],
            }
        ).encode()
        digest = "sha256:" + hashlib.sha256(manifest).hexdigest()
        pusher.push_manifest(repo_name, digest, manifest, DOCKER_MANIFEST)
        return digest, len(manifest)

    amd64, amd64_size = docker_image("amd64")
    arm, arm_size = docker_image("arm", "v7")
    listing = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": DOCKER_MANIFEST_LIST,
            "manifests": [
                {
                    "mediaType": DOCKER_MANIFEST,
                    "digest": amd64,
                    "size": amd64_size,
                    "platform": {"os": "linux", "architecture": "amd64"},
                },
                {
                    "mediaType": DOCKER_MANIFEST,
                    "digest": arm,
                    "size": arm_size,
                    "platform": {"os": "linux", "architecture": "arm", "variant": "v7"},
                },
            ],
        }
    ).encode()
    list_digest = pusher.push_manifest(repo_name, "2.0.0", listing, DOCKER_MANIFEST_LIST)
    single = pusher.push_manifest(
        repo_name, "1.0.0", pusher.get_manifest(repo_name, amd64).body, DOCKER_MANIFEST
    )

    creds = reader(registry, repo_name)
    arm_only = await discoverer.discover_images(
        image_sub(registry, repo_name, platform="linux/arm/v7"), creds
    )
    refs = arm_only.references or []
    assert [(r.tag, r.digest) for r in refs] == [("2.0.0", list_digest)]
    # The label says the build is newer than the config's "created": the later one counts.
    assert refs[0].created_at == dt.datetime(2025, 3, 9, tzinfo=dt.UTC)
    everything = await discoverer.discover_images(image_sub(registry, repo_name), creds)
    assert [(r.tag, r.digest) for r in everything.references or []] == [
        ("2.0.0", list_digest),
        ("1.0.0", single),
    ]
    # Every request went through the host's rate limiter.
    assert discoverer.limiters.for_host(registry.host).acquired > 0
