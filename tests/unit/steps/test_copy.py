"""copy: files and trees inside the work directory, gitignore-style ignores, no link escapes."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest

from shunter.api.v1alpha1.promotion import PromotionStepStatus
from shunter.promotion.step import StepContext, StepError, TerminalStepError
from shunter.steps.copy import CopyStep


def lexists(path: Path) -> bool:
    return os.path.lexists(path)


def names(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def tree(root: Path) -> dict[str, str]:
    """Relative path -> contents of every regular file under ``root``."""
    return {
        p.relative_to(root).as_posix(): p.read_text()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


@pytest.fixture
def source(work_dir: Path) -> Path:
    src = work_dir / "src" / "base"
    (src / "charts" / "app").mkdir(parents=True)
    (src / ".git").mkdir()
    (src / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (src / "values.yaml").write_text("a: 1\n")
    (src / "notes.tmp").write_text("tmp\n")
    (src / "keep.tmp").write_text("keep\n")
    (src / "charts" / "app" / "Chart.yaml").write_text("name: app\n")
    (src / "charts" / "app" / "debug.log").write_text("log\n")
    (src / "build").mkdir()
    (src / "build" / "out.bin").write_text("bin\n")
    script = src / "run.sh"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o750)
    return src


def test_config_errors_name_the_key(config_error: Any) -> None:
    assert "config.outPath: required" in config_error(CopyStep, {"inPath": "a"})
    assert "config.inPath: required" in config_error(CopyStep, {"outPath": "a"})
    assert 'unknown key "in_paht"' in config_error(CopyStep, {"in_paht": "a", "outPath": "b"})
    assert "config.ignore" in config_error(CopyStep, {"inPath": "a", "outPath": "b", "ignore": ""})


async def test_directory_copy_with_ignores(
    source: Path, work_dir: Path, ctx: StepContext, run_step: Any
) -> None:
    result = await run_step(
        CopyStep,
        ctx,
        {
            "inPath": "./src/base",
            "outPath": "./out/preprod",
            "ignore": "# scratch files\n*.tmp\n!keep.tmp\nbuild/\n/charts/**/*.log\n",
        },
    )
    assert result.status is PromotionStepStatus.SUCCEEDED
    out = work_dir / "out" / "preprod"
    assert tree(out) == {
        "charts/app/Chart.yaml": "name: app\n",
        "keep.tmp": "keep\n",
        "run.sh": "#!/bin/sh\n",
        "values.yaml": "a: 1\n",
    }
    assert not (out / ".git").exists()
    assert stat.S_IMODE((out / "run.sh").stat().st_mode) == 0o750


async def test_directory_copy_merges_into_existing(
    source: Path, work_dir: Path, ctx: StepContext, run_step: Any
) -> None:
    out = work_dir / "out"
    out.mkdir()
    (out / "values.yaml").write_text("old\n")
    (out / "other.yaml").write_text("stays\n")
    await run_step(CopyStep, ctx, {"inPath": "src/base", "outPath": "out"})
    assert (out / "values.yaml").read_text() == "a: 1\n"
    assert (out / "other.yaml").read_text() == "stays\n"


async def test_file_copy_creates_parents(
    source: Path, work_dir: Path, ctx: StepContext, run_step: Any
) -> None:
    await run_step(CopyStep, ctx, {"inPath": "src/base/values.yaml", "outPath": "a/b/v.yaml"})
    assert (work_dir / "a" / "b" / "v.yaml").read_text() == "a: 1\n"


async def test_symlinks_in_the_tree_are_skipped(
    source: Path, outside: Path, work_dir: Path, ctx: StepContext, run_step: Any
) -> None:
    (source / "escape").symlink_to(outside)
    (source / "secret-link.txt").symlink_to(outside / "secret.txt")
    (source / "inner-link.yaml").symlink_to(source / "values.yaml")
    await run_step(CopyStep, ctx, {"inPath": "src/base", "outPath": "out"})
    out = work_dir / "out"
    assert not lexists(out / "escape")
    assert not lexists(out / "secret-link.txt")
    assert not lexists(out / "inner-link.yaml")
    assert "top secret\n" not in tree(out).values()


async def test_symlink_in_the_destination_is_not_written_through(
    source: Path, outside: Path, work_dir: Path, ctx: StepContext, run_step: Any
) -> None:
    out = work_dir / "out"
    out.mkdir()
    (out / "values.yaml").symlink_to(outside / "secret.txt")
    with pytest.raises(TerminalStepError, match="symbolic link"):
        await run_step(CopyStep, ctx, {"inPath": "src/base", "outPath": "out"})
    assert (outside / "secret.txt").read_text() == "top secret\n"


@pytest.mark.parametrize(
    ("in_path", "out_path"),
    [
        ("../outside", "stolen"),
        ("/etc", "stolen"),
        ("link", "stolen"),
        ("src/base", "../outside/dropped"),
        ("src/base", "/tmp/dropped"),
        ("src/base", "link/dropped"),
    ],
)
async def test_paths_outside_are_refused(
    in_path: str,
    out_path: str,
    *,
    source: Path,
    outside: Path,
    work_dir: Path,
    ctx: StepContext,
    run_step: Any,
) -> None:
    (work_dir / "link").symlink_to(outside)
    with pytest.raises(TerminalStepError):
        await run_step(CopyStep, ctx, {"inPath": in_path, "outPath": out_path})
    assert not (work_dir / "stolen").exists()
    assert names(outside) == ["secret.txt"]


async def test_copy_into_itself_is_refused(source: Path, ctx: StepContext, run_step: Any) -> None:
    with pytest.raises(TerminalStepError, match="into itself"):
        await run_step(CopyStep, ctx, {"inPath": "src", "outPath": "src/base/again"})


async def test_missing_source_is_an_error(ctx: StepContext, run_step: Any) -> None:
    with pytest.raises(StepError, match="does not exist"):
        await run_step(CopyStep, ctx, {"inPath": "nope", "outPath": "out"})
