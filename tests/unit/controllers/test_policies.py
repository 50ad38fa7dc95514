"""Promotion policies: ProjectConfig (first match wins) and the legacy Project spec."""

from __future__ import annotations

import pytest

from shunter.api.v1alpha1 import Project, ProjectConfig
from shunter.controllers.policies import auto_promotion_enabled, stage_name_matches


def _config(*policies: dict[str, object]) -> ProjectConfig:
    return ProjectConfig.model_validate(
        {"kind": "ProjectConfig", "spec": {"promotionPolicies": list(policies)}}
    )


@pytest.mark.parametrize(
    ("pattern", "name", "expected"),
    [
        ("prod", "prod", True),
        ("prod", "prod-eu", False),
        ("glob:uat-*", "uat-1", True),
        ("glob:uat-*", "qa-1", False),
        ("glob:*-eu", "prod-eu", True),
        ("regex:^prod-(eu|us)$", "prod-us", True),
        ("regex:^prod-(eu|us)$", "prod-asia", False),
        ("regexp:dev", "my-dev-stage", True),
        ("regex:([", "x", False),
        # Backtracking regexes: RE2 answers at once where Python's re would run for ages.
        ("regex:^(a+)+$", "a" * 60 + "!", False),
        ("regex:^(a|a)*b$", "a" * 60, False),
        ("regex:(x+x+)+y", "x" * 60, False),
    ],
)
def test_stage_name_matches(pattern: str, name: str, expected: bool) -> None:
    assert stage_name_matches(pattern, name) is expected


def test_first_matching_policy_wins() -> None:
    config = _config(
        {"stageSelector": {"name": "glob:prod-*"}, "autoPromotionEnabled": False},
        {"stageSelector": {"name": "glob:*"}, "autoPromotionEnabled": True},
    )
    assert auto_promotion_enabled("prod-eu", {}, config) is False
    assert auto_promotion_enabled("test", {}, config) is True


def test_label_selectors_and_name_are_anded() -> None:
    config = _config(
        {
            "stageSelector": {"name": "glob:*", "matchLabels": {"tier": "dev"}},
            "autoPromotionEnabled": True,
        },
        {
            "stageSelector": {
                "matchExpressions": [{"key": "env", "operator": "In", "values": ["qa"]}]
            },
            "autoPromotionEnabled": True,
        },
        {
            "stageSelector": {"matchExpressions": [{"key": "pinned", "operator": "DoesNotExist"}]},
            "autoPromotionEnabled": False,
        },
    )
    assert auto_promotion_enabled("a", {"tier": "dev"}, config) is True
    assert auto_promotion_enabled("b", {"env": "qa"}, config) is True
    assert auto_promotion_enabled("c", {"tier": "prod"}, config) is False
    assert auto_promotion_enabled("d", {"pinned": "yes"}, config) is False


def test_exact_stage_policy() -> None:
    config = _config({"stage": "test", "autoPromotionEnabled": True})
    assert auto_promotion_enabled("test", {}, config) is True
    assert auto_promotion_enabled("uat", {}, config) is False


def test_no_config_and_no_legacy_spec_means_disabled() -> None:
    assert auto_promotion_enabled("test", {}, None) is False
    assert (
        auto_promotion_enabled("test", {}, None, Project.model_validate({"kind": "Project"}))
        is False
    )


def test_legacy_project_spec_from_the_seed() -> None:
    project = Project.model_validate(
        {
            "kind": "Project",
            "spec": {
                "promotionPolicies": [
                    {"stage": "preprod", "autoPromotionEnabled": True},
                    {"stage": "prod", "autoPromotionEnabled": False},
                ]
            },
        }
    )
    assert auto_promotion_enabled("preprod", {}, None, project) is True
    assert auto_promotion_enabled("prod", {}, None, project) is False
    assert auto_promotion_enabled("other", {}, None, project) is False


def test_project_config_takes_precedence_over_legacy_spec() -> None:
    project = Project.model_validate(
        {
            "kind": "Project",
            "spec": {"promotionPolicies": [{"stage": "prod", "autoPromotionEnabled": True}]},
        }
    )
    config = _config({"stage": "prod", "autoPromotionEnabled": False})
    assert auto_promotion_enabled("prod", {}, config, project) is False
