"""Masterminds-compatible versions and constraints (the rules Kargo's selectors use)."""

from __future__ import annotations

import itertools

import pytest

from shunter.registries.semver import (
    Constraint,
    InvalidConstraintError,
    parse_strict_version,
    parse_tag,
    parse_version,
    sort_descending,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1.2.3", "1.2.3"),
        ("v1.2.3", "1.2.3"),
        ("1.2", "1.2.0"),
        ("1", "1.0.0"),
        ("01.2.3", "1.2.3"),  # coercing parse tolerates leading zeros
        ("1.2.3-beta.1+build.5", "1.2.3-beta.1+build.5"),
        ("1.2.3+build.01", "1.2.3+build.01"),
        ("1.2.3-01", None),  # numeric prerelease parts may not start with 0
        ("1.2.3-", None),
        ("1.2.3.4", None),
        ("V1.2.3", None),
        ("latest", None),
        ("18446744073709551616.0.0", None),  # beyond uint64
    ],
)
def test_parse_version(text: str, expected: str | None) -> None:
    version = parse_version(text)
    assert (str(version) if version else None) == expected
    if version is not None:
        assert version.original == text


@pytest.mark.parametrize(
    ("tag", "strict", "ok"),
    [
        ("1.2.3", True, True),
        ("v1.2.3", True, True),
        ("1.2", True, False),
        ("1.2", False, True),
        ("01.2.3", True, False),
        ("vv1.2.3", False, False),
        ("1.2.3-rc.1", True, True),
    ],
)
def test_parse_tag_strictness(tag: str, strict: bool, ok: bool) -> None:
    assert (parse_tag(tag, strict) is not None) == ok


def test_strict_parse() -> None:
    assert parse_strict_version("1.2.3") is not None
    assert parse_strict_version("v1.2.3") is None
    assert parse_strict_version("1.02.3") is None


CHECKS = [
    ("^1.2.3", {"1.2.3": True, "1.9.0": True, "2.0.0": False, "1.2.2": False}),
    ("^0.2.3", {"0.2.3": True, "0.2.9": True, "0.3.0": False}),
    ("^0.0.3", {"0.0.3": True, "0.0.4": False}),
    ("^1.x", {"1.0.0": True, "1.9.9": True, "2.0.0": False}),
    ("~1.2.3", {"1.2.9": True, "1.3.0": False, "1.2.2": False}),
    ("~1", {"1.0.0": True, "1.9.0": True, "2.0.0": False}),
    ("~2.3", {"2.3.0": True, "2.3.9": True, "2.4.0": False}),
    ("1.2.x", {"1.2.0": True, "1.2.7": True, "1.3.0": False}),
    ("*", {"0.0.1": True, "9.9.9": True, "1.0.0-rc.1": False}),
    (">= 1.2, < 3.0.0 || >= 4.2.3", {"1.2.0": True, "2.9.9": True, "3.1.0": False, "4.3.0": True}),
    ("1.2 - 1.4.5", {"1.2.0": True, "1.4.5": True, "1.4.6": False, "1.1.9": False}),
    ("2.3.4 - 4.5", {"2.3.4": True, "4.5.9": True, "4.6.0": False}),
    (">=1.2.3", {"1.3.0": True, "1.3.0-beta": False}),
    (">=1.2.3-0", {"1.3.0-beta": True, "1.2.3-alpha": True, "1.2.2": False}),
    ("!=1.2.3", {"1.2.3": False, "1.2.4": True}),
    (">1.2", {"1.2.9": False, "1.3.0": True}),
    ("<=1.2", {"1.2.9": True, "1.3.0": False}),
    ("=1.2.3", {"1.2.3": True, "1.2.4": False}),
    ("1.2.3", {"1.2.3": True, "v1.2.3": True}),
    (">=1.0.0 <2.0.0", {"1.5.0": True, "2.0.0": False}),
]


@pytest.mark.parametrize(("constraint", "versions"), CHECKS)
def test_constraints(constraint: str, versions: dict[str, bool]) -> None:
    parsed = Constraint(constraint)
    for text, expected in versions.items():
        version = parse_version(text)
        assert version is not None
        assert parsed.check(version) is expected, (constraint, text)


@pytest.mark.parametrize("text", ["", "foo", ">>1.0", "1.2.3 ||", "^", "1.2.3 - ", "x" * 2000])
def test_invalid_constraints(text: str) -> None:
    with pytest.raises(InvalidConstraintError):
        Constraint(text)


def test_sort_descending_breaks_ties_by_original_text() -> None:
    texts = ["1.0", "v1.0.0", "1.0.0", "1.10.0", "1.2.0", "2.0.0-rc.1", "2.0.0-rc.2", "2.0.0"]
    versions = [v for v in (parse_version(t) for t in texts) if v is not None]
    ordered = [v.original for v in sort_descending(versions, lambda v: v)]
    assert ordered == [
        "2.0.0", "2.0.0-rc.2", "2.0.0-rc.1", "1.10.0", "1.2.0", "v1.0.0", "1.0.0", "1.0",
    ]  # fmt: skip


def test_prerelease_ordering() -> None:
    order = ["1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2",
             "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0"]  # fmt: skip
    versions = [parse_version(t) for t in order]
    assert all(v is not None for v in versions)
    for lower, higher in itertools.pairwise(versions):
        assert lower is not None
        assert higher is not None
        assert lower.compare(higher) == -1
        assert higher.compare(lower) == 1
