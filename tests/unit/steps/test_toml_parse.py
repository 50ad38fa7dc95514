"""toml-parse: real files, the real expression language."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from shunter.api.v1alpha1.promotion import PromotionStepStatus
from shunter.promotion.registry import DEFAULT_REGISTRY
from shunter.promotion.step import StepContext, StepError, TerminalStepError
from shunter.steps.toml_parse import TOMLParseStep

DOC = """\
replicas = 3
released = 2026-11-26T12:00:00Z
hosts = ["a.example.com", "b.example.com"]

[image]
repository = "example/app"
tag = "1.2.3"
"""


def test_registered() -> None:
    assert DEFAULT_REGISTRY.get("toml-parse") is TOMLParseStep


@pytest.mark.parametrize(
    ("raw", "named"),
    [
        ({"outputs": [{"name": "a", "fromExpression": "x"}]}, "path"),
        ({"path": "f.toml"}, "outputs"),
        ({"path": "f.toml", "outputs": []}, "outputs"),
        ({"path": "f.toml", "outputs": [{"fromExpression": "x"}]}, "name"),
        ({"path": "f.toml", "outputs": [{"name": "a"}]}, "fromExpression"),
        ({"path": "f.toml", "outputs": [{"name": "a", "fromExpression": "x"}], "x": 1}, "x"),
    ],
)
def test_config_errors_name_the_key(config_error: Any, raw: dict[str, object], named: str) -> None:
    assert named in config_error(TOMLParseStep, raw)


async def test_outputs(run_step: Any, ctx: StepContext, work_dir: Path) -> None:
    (work_dir / "values.toml").write_text(DOC)
    outputs = [
        {"name": "tag", "fromExpression": "image.tag"},
        {"name": "ref", "fromExpression": 'image.repository + ":" + image.tag'},
        {"name": "double", "fromExpression": "replicas * 2"},
        {"name": "second", "fromExpression": "hosts[1]"},
        {"name": "released", "fromExpression": "released"},
        {"name": "image", "fromExpression": "image"},
    ]
    result = await run_step(TOMLParseStep, ctx, {"path": "values.toml", "outputs": outputs})
    assert result.status is PromotionStepStatus.SUCCEEDED
    assert result.output == {
        "tag": "1.2.3",
        "ref": "example/app:1.2.3",
        "double": 6,
        "second": "b.example.com",
        "released": "2026-11-26T12:00:00+00:00",
        "image": {"repository": "example/app", "tag": "1.2.3"},
    }


async def test_bad_files(run_step: Any, ctx: StepContext, work_dir: Path) -> None:
    outputs = [{"name": "a", "fromExpression": "a"}]
    with pytest.raises(StepError, match="does not exist"):
        await run_step(TOMLParseStep, ctx, {"path": "missing.toml", "outputs": outputs})
    (work_dir / "bad.toml").write_text("a = [1\n")
    with pytest.raises(TerminalStepError, match="could not parse TOML"):
        await run_step(TOMLParseStep, ctx, {"path": "bad.toml", "outputs": outputs})
    (work_dir / "ok.toml").write_text("a = 1\n")
    bad = [{"name": "a", "fromExpression": "a +"}]
    with pytest.raises(TerminalStepError, match="error compiling"):
        await run_step(TOMLParseStep, ctx, {"path": "ok.toml", "outputs": bad})


@pytest.mark.parametrize("path", ["../outside/secret.txt", "/etc/hostname", "link/secret.txt"])
async def test_paths_stay_in_the_work_dir(
    run_step: Any, ctx: StepContext, work_dir: Path, outside: Path, path: str
) -> None:
    (work_dir / "link").symlink_to(outside)
    raw = {"path": path, "outputs": [{"name": "a", "fromExpression": "a"}]}
    with pytest.raises(TerminalStepError):
        await run_step(TOMLParseStep, ctx, raw)
