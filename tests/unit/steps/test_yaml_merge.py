"""yaml-merge: later files win, maps merge recursively, lists are replaced, writes are atomic."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from shunter.api.v1alpha1.promotion import PromotionStepStatus
from shunter.promotion.step import StepContext, StepError, TerminalStepError
from shunter.steps.yaml_merge import YAMLMergeStep

BASE = """\
character:
  name: Vader # the villain
  ability: Force
  affiliation: Empire
vehicles:
- Star Destroyer
retired: true
"""

OVERLAY = """\
character:
  name: Luke # the hero
  affiliation: Rebel Alliance
  siblings:
  - Leia
vehicles: # replaced, not appended
- Millennium Falcon
retired: null
"""


def _names(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def _load(path: Path) -> Any:
    return YAML(typ="safe", pure=True).load(path.read_text())


def test_config_errors_name_the_key(config_error: Any) -> None:
    assert "config.inFiles: required" in config_error(YAMLMergeStep, {"outFile": "o.yaml"})
    assert "config.outFile: required" in config_error(YAMLMergeStep, {"inFiles": ["a.yaml"]})
    assert "config.inFiles" in config_error(YAMLMergeStep, {"inFiles": [], "outFile": "o.yaml"})
    raw = {"inFiles": ["a.yaml"], "outFile": "o.yaml", "extra": 1}
    assert 'unknown key "extra"' in config_error(YAMLMergeStep, raw)


async def test_later_files_win(work_dir: Path, ctx: StepContext, run_step: Any) -> None:
    (work_dir / "empty.yaml").write_text("")
    (work_dir / "base.yaml").write_text(BASE)
    (work_dir / "overlay.yaml").write_text(OVERLAY)
    result = await run_step(
        YAMLMergeStep,
        ctx,
        {"inFiles": ["empty.yaml", "base.yaml", "overlay.yaml"], "outFile": "out/merged.yaml"},
    )
    assert result.status is PromotionStepStatus.SUCCEEDED
    out = work_dir / "out" / "merged.yaml"
    assert _load(out) == {
        "character": {
            "name": "Luke",
            "ability": "Force",
            "affiliation": "Rebel Alliance",
            "siblings": ["Leia"],
        },
        "vehicles": ["Millennium Falcon"],
    }
    text = out.read_text()
    assert "# the hero" in text
    assert "# the villain" not in text
    assert result.output == {
        "commitMessage": "Merged 3 YAML files to out/merged.yaml\n"
        "- empty.yaml\n- base.yaml\n- overlay.yaml"
    }
    assert _names(out.parent) == ["merged.yaml"]


async def test_single_file_and_missing_files(
    work_dir: Path, ctx: StepContext, run_step: Any
) -> None:
    (work_dir / "base.yaml").write_text(BASE)
    raw = {"inFiles": ["nope.yaml", "base.yaml"], "outFile": "merged.yaml"}
    with pytest.raises(StepError, match=r"'nope\.yaml' not found"):
        await run_step(YAMLMergeStep, ctx, raw)
    assert not (work_dir / "merged.yaml").exists()
    result = await run_step(YAMLMergeStep, ctx, {**raw, "ignoreMissingFiles": True})
    assert result.output == {"commitMessage": "Wrote base.yaml to merged.yaml"}
    assert _load(work_dir / "merged.yaml")["vehicles"] == ["Star Destroyer"]
    result = await run_step(
        YAMLMergeStep,
        ctx,
        {"inFiles": ["nope.yaml"], "outFile": "empty.yaml", "ignoreMissingFiles": True},
    )
    assert result.output == {}
    assert (work_dir / "empty.yaml").read_bytes() == b""


async def test_existing_output_is_replaced_keeping_its_mode(
    work_dir: Path, ctx: StepContext, run_step: Any
) -> None:
    (work_dir / "base.yaml").write_text(BASE)
    out = work_dir / "merged.yaml"
    out.write_text("old: true\n")
    out.chmod(0o644)
    await run_step(YAMLMergeStep, ctx, {"inFiles": ["base.yaml"], "outFile": "merged.yaml"})
    assert "old" not in _load(out)
    assert out.stat().st_mode & 0o777 == 0o644


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("a: [1\n", "could not parse"),
        ("- 1\n- 2\n", "must be a mapping"),
        ("a: 1\n---\nb: 2\n", "several documents"),
    ],
)
async def test_bad_inputs_are_terminal(
    work_dir: Path, ctx: StepContext, run_step: Any, content: str, message: str
) -> None:
    (work_dir / "bad.yaml").write_text(content)
    with pytest.raises(TerminalStepError, match=message):
        await run_step(YAMLMergeStep, ctx, {"inFiles": ["bad.yaml"], "outFile": "o.yaml"})
    assert not (work_dir / "o.yaml").exists()


@pytest.mark.parametrize(
    "raw",
    [
        {"inFiles": ["../outside/secret.txt"], "outFile": "o.yaml"},
        {"inFiles": ["/etc/hostname"], "outFile": "o.yaml"},
        {"inFiles": ["base.yaml"], "outFile": "../outside/secret.txt"},
        {"inFiles": ["base.yaml"], "outFile": "link/secret.txt"},
    ],
)
async def test_paths_stay_in_the_work_dir(
    work_dir: Path, outside: Path, ctx: StepContext, run_step: Any, raw: dict[str, Any]
) -> None:
    (work_dir / "base.yaml").write_text(BASE)
    (work_dir / "link").symlink_to(outside)
    with pytest.raises(TerminalStepError):
        await run_step(YAMLMergeStep, ctx, raw)
    assert (outside / "secret.txt").read_text() == "top secret\n"
    assert _names(outside) == ["secret.txt"]
