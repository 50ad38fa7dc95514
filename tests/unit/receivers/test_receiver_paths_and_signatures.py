"""Receiver paths as Kargo computes them (vectors from Go's ``url.JoinPath`` and ``sha256``), and
the signature checks."""

from __future__ import annotations

import pytest

from shunter.receivers.paths import receiver_details, receiver_path, redact_path
from shunter.receivers.signatures import hex_hmac_sha256_valid, hub_signature_valid, same_secret
from shunter_devenv.webhooks import hub_signature

# (base URL, project, type, receiver, secret) -> (path, URL), computed by Kargo's getDetails.
GO_VECTORS = [
    (
        ("https://webhooks.kargo.example.com", "kargo-demo", "github", "my-receiver", "s3cr3t"),
        "/github/0d17c5d5d449f969951c3a81db5057705cf42c699ae44e6bcf48847a68dafce1",
        "https://webhooks.kargo.example.com/github/"
        "0d17c5d5d449f969951c3a81db5057705cf42c699ae44e6bcf48847a68dafce1",
    ),
    (
        ("https://webhooks.kargo.example.com/", "kargo-demo", "dockerhub", "dh", "abc"),
        "/dockerhub/f671da536fdd68dd58020d4fcec2f52e359ec045faa32ac69b4f7d890bae566e",
        "https://webhooks.kargo.example.com/dockerhub/"
        "f671da536fdd68dd58020d4fcec2f52e359ec045faa32ac69b4f7d890bae566e",
    ),
    (
        ("https://example.com/hooks", "p", "gitlab", "gl", "tok"),
        "/hooks/gitlab/6f455100dccdbbec1e095d7a7c5baabf2f43a5e6a1972cbc533748056f11365d",
        "https://example.com/hooks/gitlab/"
        "6f455100dccdbbec1e095d7a7c5baabf2f43a5e6a1972cbc533748056f11365d",
    ),
    (
        ("https://example.com/hooks/", "", "generic", "cluster-wide", "x"),
        "/hooks/generic/fd5b4846933b18000f8633ce9a15fc3c65c3f32cc84ed0c2b946be769cff0afe",
        "https://example.com/hooks/generic/"
        "fd5b4846933b18000f8633ce9a15fc3c65c3f32cc84ed0c2b946be769cff0afe",
    ),
    (
        ("", "proj", "quay", "q", "s"),
        "/quay/f9714573b648a2afe503ef555ff0a73d5cba39a6f0e335b42205735af7616ad9",
        "/quay/f9714573b648a2afe503ef555ff0a73d5cba39a6f0e335b42205735af7616ad9",
    ),
    (
        ("http://127.0.0.1:8081", "sandbox-example", "generic", "registry", "ünïcode"),
        "/generic/2584e5053a71b959c44f2a6aef352658c8763ecb17adf275e7607f484ab675b3",
        "http://127.0.0.1:8081/generic/"
        "2584e5053a71b959c44f2a6aef352658c8763ecb17adf275e7607f484ab675b3",
    ),
    (
        ("https://example.com/../x", "p", "azure", "a", "s"),
        "/x/azure/7f1f073d8bb9b2e3ad6c885019660d1b51b389f8e9169ebd15586467f8bc87e6",
        "https://example.com/x/azure/"
        "7f1f073d8bb9b2e3ad6c885019660d1b51b389f8e9169ebd15586467f8bc87e6",
    ),
]


@pytest.mark.parametrize(("given", "path", "url"), GO_VECTORS)
def test_paths_and_urls_are_kargos(given: tuple[str, ...], path: str, url: str) -> None:
    base, project, kind, name, secret = given
    details = receiver_details(base, project, kind, name, secret.encode())
    assert (details.name, details.path, details.url) == (name, path, url)
    assert receiver_path("", project, kind, name, secret.encode()) == path.removeprefix(
        "/hooks"
    ).removeprefix("/x")


def test_logs_see_only_the_start_of_the_hash() -> None:
    path = GO_VECTORS[0][1]
    assert redact_path(path) == "/github/0d17c5d5..."
    assert redact_path("/short") == "/short"


def test_hub_signatures() -> None:
    body = b'{"ref": "refs/heads/main"}'
    good = hub_signature(body, "k")
    assert hub_signature_valid(good, body, b"k")
    assert hub_signature_valid(good.upper().replace("SHA256=", "sha256="), body, b"k")
    assert hub_signature_valid(hub_signature(body, "k", "sha1"), body, b"k")
    assert hub_signature_valid(hub_signature(body, "k", "sha512"), body, b"k")
    assert not hub_signature_valid(good, body + b" ", b"k")
    assert not hub_signature_valid(good, body, b"other")
    assert not hub_signature_valid(good.removeprefix("sha256="), body, b"k")
    assert not hub_signature_valid("md5=" + good.removeprefix("sha256="), body, b"k")
    assert not hub_signature_valid("sha256=", body, b"k")


def test_hex_signatures_and_tokens() -> None:
    body = b"{}"
    hexed = hub_signature(body, "k").removeprefix("sha256=")
    assert hex_hmac_sha256_valid(hexed, body, b"k")
    assert not hex_hmac_sha256_valid(hexed[:-1], body, b"k")
    assert same_secret("tok", b"tok")
    assert not same_secret("tok ", b"tok")
    assert not same_secret("", b"tok")
