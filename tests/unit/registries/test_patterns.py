"""Tag filters and git path selectors: RE2 regexes, doublestar globs, Kargo's base paths."""

from __future__ import annotations

import pytest

from shunter.registries.patterns import (
    BadPatternError,
    BaseDirMatcher,
    GlobMatcher,
    GoRegexp,
    TagFilter,
    go_rel,
    parse_path_selector,
)

GLOBS = [
    ("*", "abc", True),
    ("*", "a/b", False),
    ("a*/b", "abc/b", True),
    ("a?b", "a/b", False),
    ("a?b", "a☺b", True),
    ("ab[b-d]", "abc", True),
    ("ab[^b-d]", "abc", False),
    ("ab[!e-g]", "abc", True),
    ("[a-b-d]", "-", True),
    ("**", "a/b/c", True),
    ("a/**", "a", True),
    ("a/**", "a/b/c", True),
    ("a/**/b", "a/b", True),
    ("a/**/d", "a/b/c/d", True),
    ("**/c", "c", True),
    ("**/c", "a/abc", False),
    ("**/*.yaml", "apps/x/values.yaml", True),
    ("abc**", "abc/b", False),
    ("ab{c,d}", "abd", True),
    ("a{,bc}", "a", True),
    ("a/{b/c,c/b}", "a/c/b", True),
    ("e/\\*", "e/*", True),
    ("e/\\*", "e/x", False),
    ("apps/*/values.yaml", "apps/a/b/values.yaml", False),
]


@pytest.mark.parametrize(("pattern", "path", "expected"), GLOBS)
def test_glob(pattern: str, path: str, expected: bool) -> None:
    assert GlobMatcher(pattern).matches(path) is expected


@pytest.mark.parametrize("pattern", ["[", "a[", "[]a]", "ab{c,d", "trailing\\"])
def test_bad_globs(pattern: str) -> None:
    with pytest.raises(BadPatternError):
        GlobMatcher(pattern)


@pytest.mark.parametrize(
    ("base", "path", "expected"),
    [
        ("apps", "apps/a.yaml", True),
        ("apps", "apps", True),
        ("apps/", "apps/x/y", True),
        ("./apps", "apps/x", True),
        ("apps", "apps2/x", False),
        ("apps", "other", False),
        ("apps", "apps/a..b", False),  # Kargo's quirk: any ".." in the relative path
        ("/abs", "abs/x", False),
    ],
)
def test_base_dir(base: str, path: str, expected: bool) -> None:
    assert BaseDirMatcher(base).matches(path) is expected


def test_go_rel() -> None:
    assert go_rel("a/b", "a/b/c") == "c"
    assert go_rel("a/b", "a/c") == "../c"
    assert go_rel("a/b", "a") == ".."
    assert go_rel("/a", "b") is None
    assert go_rel("", "x/y") == "x/y"


def test_selectors_by_prefix() -> None:
    assert parse_path_selector("glob:apps/**/*.yaml").matches("apps/a/b.yaml")
    assert parse_path_selector("regex:^apps/.*\\.yaml$").matches("apps/a/b.yaml")
    assert parse_path_selector("regexp:ya?ml").matches("apps/a/b.yml")
    assert parse_path_selector("apps/a").matches("apps/a/b.yaml")
    assert not parse_path_selector("apps/a").matches("apps/ab/b.yaml")


def test_go_regexp_is_re2() -> None:
    assert GoRegexp(r"^\d{4}-\d{2}-\d{2}_\d{4}-\w{7}$").search("2025-01-31_1200-abc1234")
    assert not GoRegexp(r"^\d{4}$").search("2025\n")  # $ is end of text, as in Go
    with pytest.raises(BadPatternError, match="invalid regular expression"):
        GoRegexp(r"(?=lookahead)")  # not RE2 syntax
    with pytest.raises(BadPatternError):
        GoRegexp("(unclosed")


def test_tag_filter() -> None:
    tags = ["v1.0.0", "v1.1.0-rc.1", "latest", "sha-abc", "v2.0.0"]
    assert TagFilter.build().filter(tags) == tags
    versions_only = TagFilter.build(allow_regexes=[r"^v\d"])
    assert versions_only.filter(tags) == ["v1.0.0", "v1.1.0-rc.1", "v2.0.0"]
    only_releases = TagFilter.build(allow_regexes=[r"^v\d"], ignore_regexes=["-rc"])
    assert only_releases.filter(tags) == ["v1.0.0", "v2.0.0"]
    legacy = TagFilter.build(legacy_allow=r"^v", legacy_ignore=["v2.0.0"])
    assert legacy.filter(tags) == ["v1.0.0", "v1.1.0-rc.1"]
    assert legacy.constrained
    assert not TagFilter.build().constrained
