"""Repository names (Docker Hub normalisation), build times and platform constraints."""

from __future__ import annotations

import datetime as dt

import pytest

from shunter.registries.errors import InvalidSubscriptionError
from shunter.registries.images import PlatformConstraint, SelectedImage, parse_platform
from shunter.registries.metadata import (
    ImageMetadata,
    PlatformImage,
    creation_time,
    parse_rfc3339,
)
from shunter.registries.oci import Repository, parse_repository

UTC = dt.UTC


@pytest.mark.parametrize(
    ("repo_url", "host", "name"),
    [
        ("nginx", "registry-1.docker.io", "library/nginx"),
        ("docker.io/library/nginx", "registry-1.docker.io", "library/nginx"),
        ("index.docker.io/bitnami/redis", "registry-1.docker.io", "bitnami/redis"),
        ("registry-1.docker.io/bitnami/redis", "registry-1.docker.io", "bitnami/redis"),
        ("bitnami/redis", "registry-1.docker.io", "bitnami/redis"),
        ("ghcr.io/Org/App", "ghcr.io", "org/app"),
        ("localhost:5000/team/app", "localhost:5000", "team/app"),
        ("127.0.0.1:39211/team/app", "127.0.0.1:39211", "team/app"),
        ("oci://ghcr.io/org/charts/podinfo", "ghcr.io", "org/charts/podinfo"),
        (
            "us-east1-docker.pkg.dev/container/main-containers/example-container",
            "us-east1-docker.pkg.dev",
            "container/main-containers/example-container",
        ),
    ],
)
def test_parse_repository(repo_url: str, host: str, name: str) -> None:
    assert parse_repository(repo_url) == Repository(host, name)


def test_parse_repository_refuses_garbage() -> None:
    with pytest.raises(InvalidSubscriptionError, match="not a valid image repository"):
        parse_repository("https://ghcr.io/org/app")
    assert parse_repository("ghcr.io/a/b", insecure_skip_tls_verify=True).insecure_skip_tls_verify


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-03-01T12:00:00Z", dt.datetime(2025, 3, 1, 12, tzinfo=UTC)),
        ("2025-03-01T12:00:00.123456789Z", dt.datetime(2025, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)),
        (
            "2025-03-01T14:30:00+02:30",
            dt.datetime(2025, 3, 1, 12, 0, tzinfo=UTC),
        ),
        ("2025-03-01 12:00:00", None),
        ("2025-02-30T00:00:00Z", None),
        ("yesterday", None),
    ],
)
def test_parse_rfc3339(text: str, expected: dt.datetime | None) -> None:
    assert parse_rfc3339(text) == expected


def test_creation_time_rules() -> None:
    config = dt.datetime(2025, 1, 1, tzinfo=UTC)
    later = "2025-06-01T00:00:00Z"
    earlier = "2024-06-01T00:00:00Z"
    created_key = "org.opencontainers.image.created"
    legacy_key = "org.label-schema.build-date"
    # An annotation wins over everything, even when older.
    assert creation_time({created_key: earlier}, {created_key: later}, config) == parse_rfc3339(
        earlier
    )
    assert creation_time({legacy_key: earlier}, None, config) == parse_rfc3339(earlier)
    # Otherwise the later of the config's created and the labels.
    assert creation_time(None, {created_key: later}, config) == parse_rfc3339(later)
    assert creation_time(None, {created_key: earlier}, config) == config
    assert creation_time({created_key: "garbage"}, None, config) == config
    assert creation_time(None, None, None) is None


def test_parse_platform() -> None:
    assert parse_platform(None) is None
    assert parse_platform("linux/amd64") == PlatformConstraint("linux", "amd64")
    assert parse_platform("linux/arm64/v8") == PlatformConstraint("linux", "arm64", "v8")
    assert parse_platform("linux/arm/v7/extra") == PlatformConstraint("linux", "arm", "v7/extra")
    assert str(parse_platform("linux/arm64/v8")) == "linux/arm64/v8"
    with pytest.raises(InvalidSubscriptionError, match="os/arch"):
        parse_platform("linux")


def test_reference_annotations_merge_the_platform_entry() -> None:
    image = ImageMetadata(
        digest="sha256:" + "a" * 64,
        media_type="application/vnd.oci.image.index.v1+json",
        created_at=dt.datetime(2025, 1, 1, tzinfo=UTC),
        annotations={"org.opencontainers.image.source": "https://x", "team": "index"},
        platforms=(
            PlatformImage("linux", "amd64", annotations={"team": "amd64"}),
            PlatformImage("linux", "arm64", "v8", annotations={"arch-note": "arm"}),
        ),
        is_index=True,
    )
    selected = SelectedImage("v1", image)
    plain = selected.reference(None)
    assert plain.annotations == {"org.opencontainers.image.source": "https://x", "team": "index"}
    amd = selected.reference(PlatformConstraint("linux", "amd64"))
    assert amd.annotations == {"org.opencontainers.image.source": "https://x", "team": "amd64"}
    arm = selected.reference(PlatformConstraint("linux", "arm64", "v8"))
    assert arm.annotations is not None
    assert arm.annotations["arch-note"] == "arm"
    assert (arm.tag, arm.digest, arm.created_at) == ("v1", image.digest, image.created_at)
    bare = SelectedImage("v2", ImageMetadata(image.digest, "x", None, {}, ()))
    assert bare.reference(None).annotations is None
