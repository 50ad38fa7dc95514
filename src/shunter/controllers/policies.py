"""Which Stages auto-promote: promotion policies from ProjectConfig or the legacy Project spec.

Kargo's rule: the first ProjectConfig ``promotionPolicies`` entry whose selector matches the
Stage decides; no ProjectConfig or no match means auto-promotion is off. A selector matches by
name (exact, ``glob:<pattern>``, ``regex:``/``regexp:<pattern>``: Go regexp syntax, matched
with RE2 as Kargo does, so a pattern cannot backtrack for ever) AND labels. shunter also
reads the legacy ``Project.spec.promotionPolicies`` (exact Stage names), used only when the
project has no ProjectConfig.
"""

from __future__ import annotations

import fnmatch
import functools
from collections.abc import Mapping

from shunter.api.v1alpha1.project import (
    LabelSelector,
    LabelSelectorRequirement,
    Project,
    ProjectConfig,
    PromotionPolicy,
    PromotionPolicySelector,
)
from shunter.registries.patterns import BadPatternError, GoRegexp

__all__ = [
    "auto_promotion_enabled",
    "label_selector_matches",
    "matching_policy",
    "selector_matches",
    "stage_name_matches",
]


@functools.lru_cache(maxsize=256)
def _regexp(pattern: str) -> GoRegexp:
    return GoRegexp(pattern)


def stage_name_matches(pattern: str, name: str) -> bool:
    """Whether a policy's stage name selector matches a Stage name."""
    if pattern.startswith("glob:"):
        return fnmatch.fnmatchcase(name, pattern.removeprefix("glob:"))
    for prefix in ("regex:", "regexp:"):
        if pattern.startswith(prefix):
            try:
                return _regexp(pattern.removeprefix(prefix)).search(name)
            except BadPatternError:
                return False
    return pattern == name


def _requirement_matches(req: LabelSelectorRequirement, labels: Mapping[str, str]) -> bool:
    values = req.values or []
    match req.operator:
        case "In":
            return req.key in labels and labels[req.key] in values
        case "NotIn":
            return req.key not in labels or labels[req.key] not in values
        case "Exists":
            return req.key in labels
        case _:  # "DoesNotExist"
            return req.key not in labels


def label_selector_matches(selector: LabelSelector, labels: Mapping[str, str]) -> bool:
    """Kubernetes label selector semantics (all terms ANDed; empty selects everything)."""
    for key, value in (selector.match_labels or {}).items():
        if labels.get(key) != value:
            return False
    return all(_requirement_matches(r, labels) for r in selector.match_expressions or [])


def selector_matches(
    selector: PromotionPolicySelector, name: str, labels: Mapping[str, str]
) -> bool:
    """A policy's (or a promotion window's) selector: the name pattern AND the labels."""
    if selector.name and not stage_name_matches(selector.name, name):
        return False
    return label_selector_matches(selector, labels)


def _policy_matches(policy: PromotionPolicy, stage: str, labels: Mapping[str, str]) -> bool:
    if policy.stage is not None:
        return policy.stage == stage
    selector = policy.stage_selector
    return selector is not None and selector_matches(selector, stage, labels)


def matching_policy(
    stage: str, labels: Mapping[str, str], project_config: ProjectConfig | None
) -> PromotionPolicy | None:
    """The first ProjectConfig policy that matches the Stage, if any."""
    spec = project_config.spec if project_config is not None else None
    for policy in (spec.promotion_policies if spec else None) or []:
        if _policy_matches(policy, stage, labels):
            return policy
    return None


def auto_promotion_enabled(
    stage: str,
    labels: Mapping[str, str],
    project_config: ProjectConfig | None,
    project: Project | None = None,
) -> bool:
    """Whether the Stage may be auto-promoted."""
    if project_config is not None:
        policy = matching_policy(stage, labels, project_config)
        return policy is not None and bool(policy.auto_promotion_enabled)
    if project is not None and project.spec is not None:
        for legacy in project.spec.promotion_policies or []:
            if legacy.stage == stage:
                return bool(legacy.auto_promotion_enabled)
    return False
