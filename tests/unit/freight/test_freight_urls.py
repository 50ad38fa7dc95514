"""Kargo's URL normalisations, case by case.

The expected values are Kargo's own results (its ``urls`` package with go-containerregistry
v0.21.7 and Go 1.26's ``net/url``), corner cases included: they are keys for matching and
hashing, so they must agree with Kargo even where they look odd.
"""

from __future__ import annotations

import pytest

from shunter.freight import (
    normalize_chart_url,
    normalize_git_url,
    normalize_image_url,
    parse_image_reference,
    sanitize_url,
)

GIT = [
    ("https://GitHub.com/Org/Repo.git/", "https://github.com/org/repo"),
    ("https://user:tok@github.com/org/repo.git", "https://github.com/org/repo"),
    ("http://github.com/org/repo/", "http://github.com/org/repo"),
    ("https://github.com/org/repo.git.git", "https://github.com/org/repo.git"),
    ("https://github.com/org/repo?ref=Main", "https://github.com/org/repo?ref=Main"),
    ("https://GitHub.com/org/Repo.git#frag", "https://github.com/org/repo#frag"),
    ("ssh://git@github.com/org/repo.git", "ssh://git@github.com/org/repo"),
    ("ssh://git@github.com:2222/org/repo.git/", "ssh://git@github.com:2222/org/repo"),
    ("git@github.com:org/repo.git", "ssh://git@github.com/org/repo"),
    ("git@github.com:org/repo.git/", "ssh://git@github.com/org/repo"),
    ("github.com:org/repo", "ssh://github.com/org/repo"),
    ("  https://github.com/org/repo.git  ", "https://github.com/org/repo"),
    ("https://github.com/org/repo.git\t", "https://github.com/org/repo"),
    ("https://github.com/org/a%20b.git", "https://github.com/org/a%20b"),
    ("https://example.com:8443/a/b", "https://example.com:8443/a/b"),
    ("not a url at all", "not a url at all"),
    ("https://%zz", "https://%zz"),
]

IMAGES = [
    ("nginx", "nginx"),
    ("docker.io/library/nginx", "nginx"),
    ("index.docker.io/library/nginx", "nginx"),
    ("registry-1.docker.io/bitnami/redis", "bitnami/redis"),
    ("docker.io/bitnami/redis:7.2", "bitnami/redis"),
    ("ghcr.io/Org/App", "ghcr.io/org/app"),
    ("localhost:5000/team/app", "localhost:5000/team/app"),
    ("127.0.0.1:5000/team/app", "127.0.0.1:5000/team/app"),
    ("oci://ghcr.io/org/charts/podinfo", "oci://ghcr.io/org/charts/podinfo"),
    ("a", "a"),  # one-character repositories do not parse: returned as given
    ("A", "A"),
]

CHARTS = [
    ("oci://ghcr.io/org/charts/podinfo", "ghcr.io/org/charts/podinfo"),
    ("oci://registry-1.docker.io/bitnamicharts/redis", "bitnamicharts/redis"),
    ("oci://docker.io/library/mychart", "mychart"),
    ("oci://LOCALHOST:5000/Charts/Demo", "localhost:5000/charts/demo"),
    ("https://charts.example.com/stable", "https://charts.example.com/stable"),
    ("https://charts.example.com/stable/", "https://charts.example.com/stable/"),
    ("HTTP://Charts.Example.com:8080/x", "http://charts.example.com:8080/x"),
    ("https://example.com:8443", "https://example.com"),  # Kargo loses a bare port here
    ("https://github.com/org/repo?ref=Main", "https://github.com/org/repo?ref=main"),
    ("https://%zz", "https://%zz"),
]


@pytest.mark.parametrize(("url", "expected"), GIT)
def test_normalize_git_url(url: str, expected: str) -> None:
    assert normalize_git_url(url) == expected


@pytest.mark.parametrize(("url", "expected"), IMAGES)
def test_normalize_image_url(url: str, expected: str) -> None:
    assert normalize_image_url(url) == expected


@pytest.mark.parametrize(("url", "expected"), CHARTS)
def test_normalize_chart_url(url: str, expected: str) -> None:
    assert normalize_chart_url(url) == expected


def test_sanitize_drops_non_printable_characters_and_spaces() -> None:
    assert sanitize_url(" \u200bhttps://x\u00a0/y\n ") == "https://x/y"


def test_parse_image_reference() -> None:
    nginx = parse_image_reference("nginx")
    assert nginx is not None
    assert (nginx.registry, nginx.repository) == ("index.docker.io", "library/nginx")
    assert nginx.tag == "latest"
    assert nginx.is_docker_hub
    local = parse_image_reference("localhost:5000/team/app:v1")
    assert local is not None
    assert (local.registry, local.repository, local.tag) == ("localhost:5000", "team/app", "v1")
    pinned = parse_image_reference("ghcr.io/org/app@sha256:" + "a" * 64)
    assert pinned is not None
    assert (pinned.name, pinned.digest) == ("ghcr.io/org/app", "sha256:" + "a" * 64)
    assert parse_image_reference("Upper/Case") is None  # repositories are lower case
    assert parse_image_reference("ghcr.io/org/app:") is None
