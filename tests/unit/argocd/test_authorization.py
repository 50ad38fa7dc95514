"""The authorized-stage annotation: parsing and the refusal messages."""

from __future__ import annotations

from typing import Any

import pytest

from shunter.argocd import Application, AuthorizationError, StageRef, authorize
from shunter.argocd.authorization import parse_authorized_stages


def _app(annotations: dict[str, str] | None = None) -> Application:
    meta: dict[str, Any] = {"name": "guestbook", "namespace": "argocd"}
    if annotations is not None:
        meta["annotations"] = annotations
    return Application.from_object({"metadata": meta, "spec": {}})


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("demo:preprod", [StageRef("demo", "preprod")]),
        (" demo : preprod , demo:prod ", [StageRef("demo", "preprod"), StageRef("demo", "prod")]),
        ("demo:preprod,,", [StageRef("demo", "preprod")]),
        ("a:b:c", [StageRef("a", "b:c")]),
    ],
)
def test_parse(value: str, expected: list[StageRef]) -> None:
    assert parse_authorized_stages(value) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("demo", "expected <project>:<stage>"),
        (":preprod", "expected <project>:<stage>"),
        ("demo: ", "expected <project>:<stage>"),
        ("demo:*", "glob patterns are no longer supported"),
        ("*:preprod", "glob patterns are no longer supported"),
        ("demo:pre*", "glob patterns are no longer supported"),
        (" , ", "no authorized Stage found"),
        ("", "no authorized Stage found"),
    ],
)
def test_parse_rejects(value: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_authorized_stages(value)


def test_authorized() -> None:
    authorize(_app({"kargo.akuity.io/authorized-stage": "x:y, demo:preprod"}), "demo", "preprod")


def test_missing_annotation_says_what_to_add() -> None:
    with pytest.raises(AuthorizationError) as info:
        authorize(_app(), "demo", "preprod")
    assert str(info.value) == (
        "Argo CD Application 'guestbook' in namespace 'argocd' does not permit mutation by "
        "Kargo Stage 'preprod' of project 'demo': add the annotation "
        'kargo.akuity.io/authorized-stage: "demo:preprod" to the Application'
    )


def test_other_stage_says_what_to_add() -> None:
    with pytest.raises(AuthorizationError) as info:
        authorize(_app({"kargo.akuity.io/authorized-stage": "demo:prod"}), "demo", "preprod")
    assert str(info.value).endswith(
        ': its annotation kargo.akuity.io/authorized-stage is "demo:prod"; add "demo:preprod" '
        'to it, e.g. kargo.akuity.io/authorized-stage: "demo:prod,demo:preprod"'
    )


def test_same_stage_name_in_another_project_is_refused() -> None:
    with pytest.raises(AuthorizationError):
        authorize(_app({"kargo.akuity.io/authorized-stage": "other:preprod"}), "demo", "preprod")


def test_glob_is_refused_with_the_exact_fix() -> None:
    with pytest.raises(AuthorizationError) as info:
        authorize(_app({"kargo.akuity.io/authorized-stage": "demo:*"}), "demo", "preprod")
    message = str(info.value)
    assert "glob patterns are no longer supported" in message
    assert 'set it to "demo:preprod"' in message
