"""Whether a subscription would consider a pushed tag, ref, path or chart version (what webhook
receivers check before refreshing a Warehouse), following Kargo's selectors' ``Matches*``."""

from __future__ import annotations

from typing import Any

import pytest

from shunter.api.v1alpha1.warehouse import ChartSubscription, GitSubscription, ImageSubscription
from shunter.registries.charts import version_selected
from shunter.registries.errors import InvalidSubscriptionError
from shunter.registries.git import paths_selected, ref_selected
from shunter.registries.images import tag_selected


def _image(**fields: Any) -> ImageSubscription:
    return ImageSubscription.model_validate({"repoURL": "ghcr.io/acme/app", **fields})


def _git(**fields: Any) -> GitSubscription:
    return GitSubscription.model_validate({"repoURL": "https://github.com/acme/app", **fields})


@pytest.mark.parametrize(
    ("fields", "tag", "expected"),
    [
        ({}, "1.2.3", True),
        ({}, "v1.2.3", True),
        ({}, "latest", False),
        ({}, "1.2", False),  # strictSemvers (the default) wants X.Y.Z
        ({"strictSemvers": False}, "1.2", True),
        ({"constraint": "^1.0"}, "2.0.0", False),
        ({"semverConstraint": "<2"}, "1.9.0", True),
        ({"ignoreTagsRegexes": ["-rc"]}, "1.0.0-rc.1", False),
        ({"imageSelectionStrategy": "Lexical"}, "anything", True),
        (
            {"imageSelectionStrategy": "Lexical", "allowTagsRegexes": [r"^\d{4}-\d{2}"]},
            "2026-11_x",
            True,
        ),
        ({"imageSelectionStrategy": "Lexical", "allowTags": "^release-"}, "main-1", False),
        ({"imageSelectionStrategy": "NewestBuild", "ignoreTags": ["latest"]}, "latest", False),
        ({"imageSelectionStrategy": "Digest", "constraint": "stable"}, "stable", True),
        ({"imageSelectionStrategy": "Digest", "constraint": "stable"}, "1.0.0", False),
    ],
)
def test_image_tags(fields: dict[str, Any], tag: str, expected: bool) -> None:
    assert tag_selected(_image(**fields), tag) is expected


def test_a_bad_image_pattern_is_an_invalid_subscription() -> None:
    with pytest.raises(InvalidSubscriptionError, match="semver constraint"):
        tag_selected(_image(constraint=">>1"), "1.0.0")
    with pytest.raises(InvalidSubscriptionError):
        tag_selected(_image(imageSelectionStrategy="Lexical", allowTagsRegexes=["("]), "x")


@pytest.mark.parametrize(
    ("fields", "ref", "expected"),
    [
        ({}, "refs/heads/main", True),  # no branch named: main or master, as Kargo assumes
        ({}, "refs/heads/master", True),
        ({}, "refs/heads/develop", False),
        ({}, "refs/tags/v1.0.0", False),
        ({"branch": "release"}, "refs/heads/release", True),
        ({"branch": "release"}, "refs/heads/main", False),
        ({"branch": "main"}, "main", False),  # a bare name is not a branch ref
        ({"commitSelectionStrategy": "SemVer"}, "refs/tags/v1.2.3", True),
        ({"commitSelectionStrategy": "SemVer"}, "refs/tags/nightly", False),
        ({"commitSelectionStrategy": "SemVer"}, "refs/heads/main", False),
        (
            {"commitSelectionStrategy": "SemVer", "semverConstraint": ">=2"},
            "refs/tags/1.5.0",
            False,
        ),
        ({"commitSelectionStrategy": "Lexical"}, "refs/tags/anything", True),
        (
            {"commitSelectionStrategy": "NewestTag", "ignoreTagsRegexes": ["^tmp-"]},
            "refs/tags/tmp-1",
            False,
        ),
    ],
)
def test_git_refs(fields: dict[str, Any], ref: str, expected: bool) -> None:
    assert ref_selected(_git(**fields), ref) is expected


@pytest.mark.parametrize(
    ("fields", "paths", "expected"),
    [
        ({}, ["README.md"], True),
        ({}, [], False),
        ({"includePaths": ["apps/web"]}, ["apps/web/values.yaml"], True),
        ({"includePaths": ["apps/web"]}, ["apps/api/values.yaml"], False),
        ({"excludePaths": ["glob:**/*.md"]}, ["docs/a.md"], False),
        ({"excludePaths": ["glob:**/*.md"]}, ["docs/a.md", "src/x.py"], True),
        (
            {"includePaths": ["regex:^charts/"], "excludePaths": ["charts/old"]},
            ["charts/old/a"],
            False,
        ),
    ],
)
def test_git_paths(fields: dict[str, Any], paths: list[str], expected: bool) -> None:
    assert paths_selected(_git(**fields), paths) is expected


@pytest.mark.parametrize(
    ("constraint", "version", "expected"),
    [
        (None, "1.2.3", True),
        (None, "v1.2", True),  # Masterminds' NewVersion coerces
        (None, "latest", False),
        ("^1", "1.9.0", True),
        ("^1", "2.0.0", False),
    ],
)
def test_chart_versions(constraint: str | None, version: str, expected: bool) -> None:
    sub = ChartSubscription.model_validate(
        {"repoURL": "oci://ghcr.io/acme/charts/app", "semverConstraint": constraint}
    )
    assert version_selected(sub, version) is expected
