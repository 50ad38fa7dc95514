"""Small parsers: Helm repository indexes, commit subjects, discovery error messages."""

from __future__ import annotations

import pytest

from shunter.registries.charts import parse_chart_index
from shunter.registries.errors import AuthenticationError, DiscoveryError, RemoteError
from shunter.registries.git import shorten_subject


def test_parse_chart_index() -> None:
    index = parse_chart_index(
        b"""apiVersion: v1
entries:
  app:
  - version: 1.0.0
  - version: 2.0.0
  - {name: app}
  - version: 3
  other: []
  broken: not-a-list
"""
    )
    assert index == {"app": ("1.0.0", "2.0.0"), "other": (), "broken": ()}
    assert parse_chart_index(b"{}") == {}
    assert parse_chart_index(b'{"entries": {"j": [{"version": "0.1.0"}]}}') == {"j": ("0.1.0",)}


def test_parse_chart_index_is_safe() -> None:
    with pytest.raises(ValueError, match="invalid YAML"):
        parse_chart_index(b"entries: !!python/object/apply:os.system ['true']")
    with pytest.raises(ValueError, match="invalid YAML"):
        parse_chart_index(b"entries: [unclosed")


def test_shorten_subject() -> None:
    assert shorten_subject("short") == "short"
    assert shorten_subject("x" * 80) == "x" * 80
    assert shorten_subject("x" * 81) == "x" * 77 + "..."
    # Cut by bytes, never inside a character.
    cut = shorten_subject("é" * 50)
    assert cut.endswith("...")
    assert len(cut.encode()) <= 80
    assert cut == "é" * 38 + "..."


def test_error_messages_name_the_subscription() -> None:
    error = AuthenticationError("registry r refused", host="r", status=401)
    assert str(error) == "registry r refused"
    error.subscription = "image subscription r/app"
    assert str(error) == "image subscription r/app: registry r refused"
    assert isinstance(error, RemoteError)
    assert isinstance(error, DiscoveryError)
    assert error.status == 401
