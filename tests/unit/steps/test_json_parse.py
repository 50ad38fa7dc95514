"""json-parse: real files, the real expression language."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from shunter.api.v1alpha1.promotion import PromotionStepStatus
from shunter.promotion.registry import DEFAULT_REGISTRY
from shunter.promotion.step import StepContext, StepError, TerminalStepError
from shunter.steps.json_parse import JSONParseStep

DOC = """\
{
  "image": {"repository": "example/app", "tag": "1.2.3"},
  "replicas": 3,
  "released": "2024-05-01",
  "hosts": ["a.example.com", "b.example.com"]
}
"""


def test_registered() -> None:
    assert DEFAULT_REGISTRY.get("json-parse") is JSONParseStep


@pytest.mark.parametrize(
    ("raw", "named"),
    [
        ({"outputs": [{"name": "a", "fromExpression": "x"}]}, "path"),
        ({"path": "f.json"}, "outputs"),
        ({"path": "f.json", "outputs": []}, "outputs"),
        ({"path": "", "outputs": [{"name": "a", "fromExpression": "x"}]}, "path"),
        ({"path": "f.json", "outputs": [{"fromExpression": "x"}]}, "name"),
        ({"path": "f.json", "outputs": [{"name": "a"}]}, "fromExpression"),
        ({"path": "f.json", "outputs": [{"name": "a", "fromExpression": ""}]}, "fromExpression"),
        ({"path": "f.json", "outputs": [{"name": "a", "fromExpression": "x"}], "x": 1}, "x"),
    ],
)
def test_config_errors_name_the_key(config_error: Any, raw: dict[str, object], named: str) -> None:
    assert named in config_error(JSONParseStep, raw)


async def test_outputs(run_step: Any, ctx: StepContext, work_dir: Path) -> None:
    (work_dir / "values.json").write_text(DOC)
    result = await run_step(
        JSONParseStep,
        ctx,
        {
            "path": "./values.json",
            "outputs": [
                {"name": "tag", "fromExpression": "image.tag"},
                {"name": "ref", "fromExpression": "image.repository + ':' + image.tag"},
                {"name": "doubled", "fromExpression": "replicas * 2"},
                {"name": "image", "fromExpression": "image"},
                {"name": "second", "fromExpression": "hosts[1]"},
                {"name": "date", "fromExpression": "released"},
            ],
        },
    )
    assert result.status is PromotionStepStatus.SUCCEEDED
    assert result.output == {
        "tag": "1.2.3",
        "ref": "example/app:1.2.3",
        "doubled": 6,
        "image": {"repository": "example/app", "tag": "1.2.3"},
        "second": "b.example.com",
        "date": "2024-05-01",
    }


async def test_missing_file(run_step: Any, ctx: StepContext) -> None:
    with pytest.raises(StepError, match="does not exist"):
        await run_step(
            JSONParseStep,
            ctx,
            {"path": "nope.json", "outputs": [{"name": "a", "fromExpression": "a"}]},
        )


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("", "empty"),
        ('{"a": [1, 2', "could not parse JSON"),
        ("[1, 2]", "must be an object"),
    ],
)
async def test_bad_documents(
    run_step: Any, ctx: StepContext, work_dir: Path, content: str, match: str
) -> None:
    (work_dir / "f.json").write_text(content)
    with pytest.raises(TerminalStepError, match=match):
        await run_step(
            JSONParseStep,
            ctx,
            {"path": "f.json", "outputs": [{"name": "a", "fromExpression": "1"}]},
        )


async def test_expression_errors(run_step: Any, ctx: StepContext, work_dir: Path) -> None:
    (work_dir / "f.json").write_text(DOC)
    with pytest.raises(TerminalStepError, match="error compiling expression"):
        await run_step(
            JSONParseStep,
            ctx,
            {"path": "f.json", "outputs": [{"name": "a", "fromExpression": "1 +"}]},
        )
    with pytest.raises(StepError, match="'a'"):
        await run_step(
            JSONParseStep,
            ctx,
            {"path": "f.json", "outputs": [{"name": "a", "fromExpression": "image.tag.nope.x"}]},
        )


@pytest.mark.parametrize("path", ["../outside/secret.txt", "/etc/passwd"])
async def test_path_traversal_refused(
    run_step: Any, ctx: StepContext, outside: Path, path: str
) -> None:
    with pytest.raises(TerminalStepError):
        await run_step(
            JSONParseStep, ctx, {"path": path, "outputs": [{"name": "a", "fromExpression": "1"}]}
        )


async def test_symlink_out_of_work_dir_refused(
    run_step: Any, ctx: StepContext, work_dir: Path, outside: Path
) -> None:
    (outside / "doc.json").write_text('{"a": 1}')
    (work_dir / "link.json").symlink_to(outside / "doc.json")
    with pytest.raises(TerminalStepError):
        await run_step(
            JSONParseStep,
            ctx,
            {"path": "link.json", "outputs": [{"name": "a", "fromExpression": "a"}]},
        )
