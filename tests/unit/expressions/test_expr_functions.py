"""Kargo's expression functions over injected data: freight, data, utility and status."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

import pytest

from shunter.expressions import (
    ExpressionEvaluationError,
    Record,
    evaluate,
    evaluate_template,
    evaluate_template_string,
    sandbox,
    to_plain,
)
from shunter.expressions.functions import (
    FunctionContext,
    ResourceCache,
    ResourceRef,
    StaticResources,
    StepOutcome,
    build_environment,
    normalize_git_url,
    parse_semver,
)
from shunter.expressions.jobs import Job

GIT = "https://github.com/example/repo.git"
IMAGE = "ghcr.io/example/app"
OCI_CHART = "oci://ghcr.io/example/charts/app"
HTTP_CHARTS = "https://charts.example.com"

FREIGHT: list[dict[str, Any]] = [
    {
        "name": "f-main",
        "origin": {"kind": "Warehouse", "name": "main"},
        "commits": [
            {
                "repoURL": GIT,
                "id": "abc123",
                "branch": "main",
                "message": "Fix things",
                "author": "Alice <alice@example.com>",
                "committer": "Alice <alice@example.com>",
            }
        ],
        "images": [
            {
                "repoURL": IMAGE,
                "tag": "v1.2.3",
                "digest": "sha256:aaa",
                "annotations": {"org.opencontainers.image.revision": "abc123"},
            }
        ],
        "charts": [{"repoURL": OCI_CHART, "version": "0.4.0"}],
    },
    {
        "name": "f-other",
        "origin": {"kind": "Warehouse", "name": "other"},
        "images": [{"repoURL": IMAGE, "tag": "v2.0.0", "digest": "sha256:bbb"}],
        "charts": [{"repoURL": HTTP_CHARTS, "name": "app", "version": "9.9.9"}],
    },
]
REQUESTS = [{"origin": {"kind": "Warehouse", "name": "main"}}]
WAREHOUSES = {
    ResourceRef("Warehouse", "main"): {
        "spec": {
            "subscriptions": [
                {"git": {"repoURL": "https://GitHub.com/example/repo"}},
                {"image": {"repoURL": IMAGE}},
                {"chart": {"repoURL": OCI_CHART}},
            ]
        }
    },
    ResourceRef("Warehouse", "other"): {
        "spec": {
            "subscriptions": [
                {"image": {"repoURL": IMAGE}},
                {"chart": {"repoURL": HTTP_CHARTS, "name": "app"}},
            ]
        }
    },
}


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


DATA: dict[ResourceRef, Mapping[str, Any] | None] = {
    **WAREHOUSES,
    ResourceRef("ConfigMap", "settings"): {"data": {"repoURL": GIT, "replicas": "3"}},
    ResourceRef("Secret", "slack"): {"data": {"token": _b64("s3cr3t")}},
    ResourceRef("Secret", "shared-generic", shared=True): {
        "metadata": {"labels": {"kargo.akuity.io/cred-type": "generic"}},
        "data": {"token": _b64("shared")},
    },
    ResourceRef("Secret", "shared-git", shared=True): {
        "metadata": {"labels": {"kargo.akuity.io/cred-type": "git"}},
        "data": {"password": _b64("nope")},
    },
    ResourceRef("Freight", "f-main"): {"status": {"metadata": {"category": "hotfix", "n": 1}}},
    ResourceRef("Stage", "test"): {"status": {"metadata": {"aws-region": "eu-west-1"}}},
}

OUTCOMES = [
    StepOutcome("clone", "Succeeded"),
    StepOutcome("flaky", "Errored", continue_on_error=True),
    StepOutcome("task-1::open-pr", "Failed"),
]


def _env(
    *,
    requests: list[dict[str, Any]] | None = REQUESTS,
    outcomes: list[StepOutcome] | None = None,
    alias: str = "",
) -> Any:
    context = FunctionContext(
        freight=FREIGHT,
        freight_requests=requests,
        reader=StaticResources(DATA),
        step_outcomes=outcomes,
        current_step_alias=alias,
    )
    variables = {
        "vars": {"image": IMAGE, "repo": GIT},
        "ctx": {"stage": "test", "targetFreight": {"name": "f-main"}},
    }
    return build_environment(variables, context)


FUNCTION_CASES: list[tuple[str, Any]] = [
    ("imageFrom(vars.image).Tag", "v1.2.3"),
    ("imageFrom(vars.image).Digest", "sha256:aaa"),
    ("imageFrom(vars.image).RepoURL", IMAGE),
    ("imageFrom(vars.image).Annotations['org.opencontainers.image.revision']", "abc123"),
    ("imageFrom(vars.image).Annotations['missing']", ""),
    ("imageFrom(vars.image, warehouse('other')).Tag", "v2.0.0"),
    ("imageFrom('ghcr.io/unknown/app')", None),
    ("imageFrom('ghcr.io/unknown/app')?.Tag ?? 'latest'", "latest"),
    ("commitFrom(vars.repo).ID", "abc123"),
    ("commitFrom('https://github.com/Example/repo/').ID", "abc123"),
    ("commitFrom(vars.repo, warehouse('main')).Message", "Fix things"),
    ("commitFrom(vars.repo, warehouse('other'))", None),
    ("chartFrom('oci://ghcr.io/example/charts/app').Version", "0.4.0"),
    (
        "chartFrom(vars.x ?? 'https://charts.example.com', 'app', warehouse('other')).Version",
        "9.9.9",
    ),
    ("warehouse('w').Name", "w"),
    ("warehouse('w').Kind", "Warehouse"),
    ("warehouse('w') == warehouse('w')", True),
    ("'Tag' in imageFrom(vars.image)", True),
    ("configMap('settings').repoURL", GIT),
    ("configMap('settings')['replicas']", "3"),
    ("configMap('settings').missing", ""),
    ("configMap('absent')", {}),
    ("secret('slack').token", "s3cr3t"),
    ("secret('absent').token", ""),
    ("sharedSecret('shared-generic').token", "shared"),
    ("sharedSecret('shared-git')", {}),
    ("freightMetadata(ctx.targetFreight.name).category", "hotfix"),
    ("freightMetadata('f-main', 'n')", 1),
    ("freightMetadata('absent')?.x ?? 'none'", "none"),
    ("freightStatus('f-main').metadata.category", "hotfix"),
    ("stageMetadata(ctx.stage)['aws-region']", "eu-west-1"),
    ("stageMetadata('absent')", None),
    ("semverParse('v1.2.3').Major()", 1),
    ("semverParse('1.2').Patch()", 0),
    ("semverParse('v1.2.3-rc.1+build.5').Prerelease()", "rc.1"),
    ("semverParse('v1.2.3-rc.1+build.5').Metadata()", "build.5"),
    ("semverParse('v1.2.3').IncMinor().String()", "1.3.0"),
    ("semverParse('1.2.3-rc.1').IncPatch().String()", "1.2.3"),
    ("semverParse('1.2.3').IncMajor().Original()", "2.0.0"),
    ("semverParse('v1.2.3').IncPatch().Original()", "v1.2.4"),
    ("semverParse('1.0.0-alpha').LessThan(semverParse('1.0.0'))", True),
    ("semverParse('1.0.0-alpha.2').Compare(semverParse('1.0.0-alpha.10'))", -1),
    ("semverDiff('1.2.3', '2.0.0')", "Major"),
    ("semverDiff('1.2.3', 'v1.3.0')", "Minor"),
    ("semverDiff('1.2.3', '1.2.4')", "Patch"),
    ("semverDiff('1.2.3+a', '1.2.3+b')", "Metadata"),
    ("semverDiff('1.2.3', '1.2.3')", "None"),
    ("semverDiff('1.2.3', 'banana')", "Incomparable"),
    ("semverDiff(imageFrom(vars.image).Tag, 'v1.9.0')", "Minor"),
]


@pytest.mark.parametrize(
    ("expression", "expected"), FUNCTION_CASES, ids=[c[0] for c in FUNCTION_CASES]
)
def test_function_value(expression: str, expected: Any) -> None:
    assert evaluate(expression, _env()) == expected


def test_records_render_with_kargo_json_names() -> None:
    env = _env()
    assert evaluate_template_string("${{ imageFrom(vars.image) }}", env) == {
        "repoURL": IMAGE,
        "tag": "v1.2.3",
        "digest": "sha256:aaa",
        "annotations": {"org.opencontainers.image.revision": "abc123"},
    }
    assert evaluate_template_string("${{ warehouse('w') }}", env) == {
        "kind": "Warehouse",
        "name": "w",
    }
    assert evaluate_template_string("${{ semverParse('v1.2.3') }}", env) == "1.2.3"
    commit = evaluate("commitFrom(vars.repo)", env)
    assert isinstance(commit, Record)
    assert to_plain(commit)["id"] == "abc123"


def test_kargo_doc_step_config() -> None:
    config = {
        "images": [{"image": "${{ vars.image }}", "tag": "${{ imageFrom(vars.image).Tag }}"}],
        "message": "Updated ${{ vars.image }} to ${{ quote(imageFrom(vars.image).Tag) }}",
        "revision": "${{ commitFrom(vars.repo, warehouse('main')).ID }}",
        "chart": "${{ chartFrom('oci://ghcr.io/example/charts/app').Version }}",
        "tagAsString": "${{ quote(imageFrom(vars.image).Tag) }}",
    }
    assert evaluate_template(config, _env()) == {
        "images": [{"image": IMAGE, "tag": "v1.2.3"}],
        "message": f'Updated {IMAGE} to "v1.2.3"',
        "revision": "abc123",
        "chart": "0.4.0",
        "tagAsString": "v1.2.3",
    }


def test_origin_is_ambiguous_without_a_warehouse() -> None:
    two = [*REQUESTS, {"origin": {"kind": "Warehouse", "name": "other"}}]
    with pytest.raises(ExpressionEvaluationError, match="disambiguate") as info:
        evaluate("imageFrom(vars.image).Tag", _env(requests=two))
    assert info.value.column == 1
    assert evaluate("imageFrom(vars.image, warehouse('other')).Tag", _env(requests=two)) == "v2.0.0"


def test_origin_resolved_from_freight_when_requests_are_unknown() -> None:
    env = _env(requests=None)
    assert evaluate("commitFrom(vars.repo).ID", env) == "abc123"
    with pytest.raises(ExpressionEvaluationError, match="disambiguate"):
        evaluate("imageFrom(vars.image)", env)


@pytest.mark.parametrize(
    ("expression", "fragment"),
    [
        ("chartFrom('oci://nowhere/chart')", "chart from repo oci://nowhere/chart not found"),
        ("imageFrom(vars.image, 'main')", "second argument must be FreightOrigin, got string"),
        ("imageFrom(1)", "first argument must be string, got int"),
        ("warehouse('')", "name must not be empty"),
        ("chartFrom('x', warehouse('a'), warehouse('b'))", "second must be a chart name"),
        ("semverParse('not-a-version')", "invalid semantic version"),
        ("semverParse('1.2.3-01')", "starts with 0"),
        ("imageFrom()", "imageFrom() takes 1 to 2 argument(s), got 0"),
        ("success(1)", "unknown function success()"),
    ],
)
def test_function_errors(expression: str, fragment: str) -> None:
    with pytest.raises(ExpressionEvaluationError) as info:
        evaluate(expression, _env())
    assert fragment in info.value.message


def test_missing_warehouse_is_an_error() -> None:
    requests = [{"origin": {"kind": "Warehouse", "name": "ghost"}}]
    with pytest.raises(ExpressionEvaluationError, match="Warehouse 'ghost' not found"):
        evaluate("imageFrom(vars.image)", _env(requests=requests))


@pytest.mark.parametrize(
    ("expression", "alias", "expected"),
    [
        ("success()", "", False),
        ("failure()", "", True),
        ("always()", "", True),
        ("status('clone')", "", "Succeeded"),
        ("status('open-pr')", "", ""),
        ("status('open-pr')", "task-1::merge", "Failed"),
        ("status('clone')", "task-1::merge", ""),
        ("success() && status('clone') == 'Succeeded'", "", False),
        ("failure() || always()", "", True),
    ],
)
def test_status_functions(expression: str, alias: str, expected: Any) -> None:
    assert evaluate(expression, _env(outcomes=OUTCOMES, alias=alias)) == expected


def test_success_ignores_continue_on_error_steps() -> None:
    outcomes = [StepOutcome("a", "Succeeded"), StepOutcome("b", "Failed", continue_on_error=True)]
    env = _env(outcomes=outcomes)
    assert evaluate("success()", env) is True
    assert evaluate_template_string("${{ success() && status('b') == 'Failed' }}", env) is True


@pytest.mark.parametrize(
    ("url", "normalized"),
    [
        ("https://github.com/Example/Repo.git", "https://github.com/example/repo"),
        ("https://user:pass@github.com/example/repo/", "https://github.com/example/repo"),
        ("git@github.com:example/repo.git", "ssh://git@github.com/example/repo"),
        ("ssh://git@github.com/example/repo.git", "ssh://git@github.com/example/repo"),
        ("https://github.com/example/repo?x=1", "https://github.com/example/repo?x=1"),
    ],
)
def test_normalize_git_url(url: str, normalized: str) -> None:
    assert normalize_git_url(url) == normalized


def test_semver_parsing_is_masterminds_compatible() -> None:
    assert parse_semver("v1").text() == "1.0.0"
    assert parse_semver("1.2.3-beta.1+exp.sha.5114f85").text() == "1.2.3-beta.1+exp.sha.5114f85"
    with pytest.raises(ExpressionEvaluationError):
        evaluate("semverParse('1.2.3.4')", _env())


async def test_lazy_resources_are_fetched_once_through_the_async_bridge() -> None:
    cache = ResourceCache()
    fetched: list[ResourceRef] = []

    async def fetch(ref: ResourceRef) -> Mapping[str, Any] | None:
        fetched.append(ref)
        return DATA.get(ref)

    context = FunctionContext(freight=FREIGHT, freight_requests=REQUESTS, reader=cache)
    config = {
        "token": "${{ secret('slack').token }}",
        "again": "${{ secret('slack').token }}",
        "repo": "${{ configMap('settings').repoURL }}",
        "tag": "${{ imageFrom(vars.image).Tag }}",
        "absent": "${{ configMap('absent') }}",
    }
    job = Job("template", config, {"vars": {"image": IMAGE}}, context)
    result = await sandbox.run(job, project="demo", fetch=fetch)
    assert result == {
        "token": "s3cr3t",
        "again": "s3cr3t",
        "repo": GIT,
        "tag": "v1.2.3",
        "absent": {},
    }
    assert fetched == [
        ResourceRef("Secret", "slack"),
        ResourceRef("ConfigMap", "settings"),
        ResourceRef("Warehouse", "main"),
        ResourceRef("ConfigMap", "absent"),
    ]
