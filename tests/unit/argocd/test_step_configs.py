"""Config validation of argocd-update and argocd-wait (Kargo's schema rules)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from shunter.promotion.registry import DEFAULT_REGISTRY
from shunter.steps.argocd_update import ArgoCDUpdateConfig, ArgoCDUpdateStep
from shunter.steps.argocd_wait import ArgoCDWaitConfig, ArgoCDWaitStep

URL = "https://github.com/example/guestbook.git"


def test_registered_with_kargo_defaults() -> None:
    assert DEFAULT_REGISTRY.get("argocd-update") is ArgoCDUpdateStep
    assert DEFAULT_REGISTRY.get("argocd-wait") is ArgoCDWaitStep
    for step in (ArgoCDUpdateStep, ArgoCDWaitStep):
        assert step.default_timeout is not None
        assert step.default_timeout.total_seconds() == 300


def test_full_update_config() -> None:
    config = ArgoCDUpdateConfig.model_validate(
        {
            "apps": [
                {
                    "name": "gb",
                    "namespace": "argocd",
                    "sources": [
                        {
                            "repoURL": URL,
                            "desiredRevision": "abc",
                            "updateTargetRevision": True,
                            "kustomize": {
                                "images": [{"repoURL": "ghcr.io/x/y", "digest": "sha256:1"}]
                            },
                        },
                        {
                            "repoURL": "https://charts.example.com",
                            "chart": "web",
                            "helm": {"images": [{"key": "image.tag", "value": "v1"}]},
                        },
                    ],
                },
                {"selector": {"matchExpressions": [{"key": "app", "operator": "Exists"}]}},
            ]
        }
    )
    first = config.apps[0].sources
    assert first is not None
    update = first[0].to_update()
    assert update.kustomize_images[0].render() == "ghcr.io/x/y@sha256:1"
    assert first[1].to_update().helm_parameters[0].key == "image.tag"
    assert config.apps[1].selector is not None
    assert config.apps[1].selector.to_selector() == "app"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"apps": []}, "at least 1"),
        ({"apps": [{}]}, "exactly one of name and selector"),
        ({"apps": [{"name": "", "selector": None}]}, "exactly one of name and selector"),
        (
            {"apps": [{"name": "a", "selector": {"matchLabels": {"a": "b"}}}]},
            "exactly one of name and selector",
        ),
        ({"apps": [{"selector": {}}]}, "at least one of matchLabels or matchExpressions"),
        ({"apps": [{"selector": {"matchLabels": {"a": "b,c"}}}]}, "invalid label value"),
        (
            {"apps": [{"selector": {"matchExpressions": [{"key": "a", "operator": "Like"}]}}]},
            "operator",
        ),
        ({"apps": [{"name": "a", "sources": []}]}, "at least 1"),
        (
            {"apps": [{"name": "a", "sources": [{"repoURL": URL, "updateTargetRevision": True}]}]},
            "updateTargetRevision requires desiredRevision",
        ),
        (
            {
                "apps": [
                    {
                        "name": "a",
                        "sources": [
                            {
                                "repoURL": URL,
                                "kustomize": {
                                    "images": [{"repoURL": "x", "tag": "1", "digest": "d"}]
                                },
                            }
                        ],
                    }
                ]
            },
            "tag and digest are mutually exclusive",
        ),
        ({"apps": [{"name": "a", "sources": [{"repoURL": URL, "helm": {}}]}]}, "images"),
        ({"apps": [{"name": "a", "extra": 1}]}, "extra"),
    ],
)
def test_update_config_errors(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        ArgoCDUpdateConfig.model_validate(raw)


def test_empty_strings_count_as_unset() -> None:
    config = ArgoCDUpdateConfig.model_validate(
        {
            "apps": [
                {
                    "name": "a",
                    "sources": [
                        {
                            "repoURL": URL,
                            "desiredRevision": "",
                            "kustomize": {"images": [{"repoURL": "x", "tag": "", "digest": "d"}]},
                        }
                    ],
                }
            ]
        }
    )
    sources = config.apps[0].sources
    assert sources is not None
    assert sources[0].desired_revision is None


def test_wait_config() -> None:
    config = ArgoCDWaitConfig.model_validate({"apps": [{"name": "a"}]})
    assert config.apps[0].wait_for is None
    for raw, message in (
        ({"apps": [{"name": "a", "waitFor": ["health", "health"]}]}, "unique"),
        ({"apps": [{"name": "a", "waitFor": ["ready"]}]}, "waitFor"),
        ({"apps": [{"name": "a", "waitFor": []}]}, "at least 1"),
    ):
        with pytest.raises(ValidationError, match=message):
            ArgoCDWaitConfig.model_validate(raw)
