"""Metric labels stay bounded: hosts, not URLs."""

from __future__ import annotations

import pytest

from shunter.metrics import url_host


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("https://github.com/org/repo.git", "github.com"),
        ("http://127.0.0.1:8080/test/sandbox", "127.0.0.1:8080"),
        ("git@github.com:org/repo.git", "github.com"),
        ("ssh://git@host:2222/r", "host:2222"),
        ("ghcr.io/org/image", "ghcr.io"),
        ("", "unknown"),
    ],
)
def test_url_host(url: str, host: str) -> None:
    assert url_host(url) == host
