"""delete: literal paths and doublestar globs, links deleted as links, nothing outside."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from shunter.api.v1alpha1.promotion import PromotionStepStatus
from shunter.promotion.step import StepContext, StepError, TerminalStepError
from shunter.steps.delete import DeleteStep
from shunter.steps_support.glob import GlobPatternError, compile_glob, ignore_spec


def lexists(path: Path) -> bool:
    return os.path.lexists(path)


def files(root: Path) -> list[str]:
    return sorted(
        p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file() or p.is_symlink()
    )


@pytest.fixture
def populated(work_dir: Path) -> Path:
    for name in ["a/x.tmp", "a/b/y.tmp", "a/b/keep.yaml", "c/z.tmp", ".hidden.tmp", "top.yaml"]:
        path = work_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(name)
    return work_dir


def test_config_errors(config_error: Any) -> None:
    assert "exactly one of 'path' or 'paths'" in config_error(DeleteStep, {})
    assert "exactly one of 'path' or 'paths'" in config_error(
        DeleteStep, {"path": "a", "paths": ["b"]}
    )
    assert "config.paths" in config_error(DeleteStep, {"paths": []})
    assert 'unknown key "recursive"' in config_error(DeleteStep, {"path": "a", "recursive": True})
    assert "config.strict" in config_error(DeleteStep, {"path": "a", "strict": "maybe"})


async def test_literal_file_and_directory(populated: Path, ctx: StepContext, run_step: Any) -> None:
    result = await run_step(DeleteStep, ctx, {"paths": ["./top.yaml", "a/b"]})
    assert result.status is PromotionStepStatus.SUCCEEDED
    assert files(populated) == [".hidden.tmp", "a/x.tmp", "c/z.tmp"]


async def test_missing_path_is_fine_unless_strict(
    populated: Path, ctx: StepContext, run_step: Any
) -> None:
    await run_step(DeleteStep, ctx, {"path": "nope"})
    with pytest.raises(StepError, match="does not exist") as info:
        await run_step(DeleteStep, ctx, {"path": "nope", "strict": True})
    assert not isinstance(info.value, TerminalStepError)


async def test_globs(populated: Path, ctx: StepContext, run_step: Any) -> None:
    await run_step(DeleteStep, ctx, {"path": "**/*.tmp", "pathsAreGlobs": True})
    assert files(populated) == ["a/b/keep.yaml", "top.yaml"]


async def test_glob_alternatives_and_classes(
    populated: Path, ctx: StepContext, run_step: Any
) -> None:
    await run_step(DeleteStep, ctx, {"paths": ["{a,c}/[xz].tmp"], "pathsAreGlobs": True})
    assert files(populated) == [".hidden.tmp", "a/b/keep.yaml", "a/b/y.tmp", "top.yaml"]


async def test_glob_without_match_and_strict(
    populated: Path, ctx: StepContext, run_step: Any
) -> None:
    await run_step(DeleteStep, ctx, {"path": "*.nothing", "pathsAreGlobs": True})
    with pytest.raises(StepError, match="no paths matched"):
        await run_step(
            DeleteStep, ctx, {"path": "*.nothing", "pathsAreGlobs": True, "strict": True}
        )


async def test_bad_glob_is_terminal(ctx: StepContext, run_step: Any) -> None:
    with pytest.raises(TerminalStepError, match="unterminated character class"):
        await run_step(DeleteStep, ctx, {"path": "a/[bc", "pathsAreGlobs": True})


async def test_symlinks_are_deleted_as_links(
    populated: Path, outside: Path, ctx: StepContext, run_step: Any
) -> None:
    (populated / "to-outside").symlink_to(outside)
    (populated / "secret-link").symlink_to(outside / "secret.txt")
    await run_step(DeleteStep, ctx, {"paths": ["to-outside", "secret-link"]})
    assert not lexists(populated / "to-outside")
    assert not lexists(populated / "secret-link")
    assert (outside / "secret.txt").read_text() == "top secret\n"


async def test_globs_do_not_follow_links(
    populated: Path, outside: Path, ctx: StepContext, run_step: Any
) -> None:
    (populated / "to-outside").symlink_to(outside)
    await run_step(DeleteStep, ctx, {"path": "**/*.txt", "pathsAreGlobs": True})
    assert (outside / "secret.txt").read_text() == "top secret\n"
    await run_step(DeleteStep, ctx, {"path": "to-*", "pathsAreGlobs": True})
    assert not lexists(populated / "to-outside")
    assert (outside / "secret.txt").exists()


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ({"path": "../outside/secret.txt"}, "inside the working directory"),
        ({"path": "/etc/hostname"}, "relative"),
        ({"path": "link/secret.txt"}, "outside"),
        ({"path": "."}, "inside the working directory"),
        ({"path": "a/../.."}, "inside the working directory"),
        ({"path": "../outside/*", "pathsAreGlobs": True}, "inside the working directory"),
        ({"path": "/etc/*", "pathsAreGlobs": True}, "inside the working directory"),
    ],
)
async def test_outside_is_refused(
    raw: dict[str, Any],
    problem: str,
    *,
    work_dir: Path,
    outside: Path,
    ctx: StepContext,
    run_step: Any,
) -> None:
    (work_dir / "link").symlink_to(outside)
    with pytest.raises(TerminalStepError, match=problem):
        await run_step(DeleteStep, ctx, raw)
    assert (outside / "secret.txt").read_text() == "top secret\n"
    assert lexists(work_dir)


async def test_backtracking_patterns_match_in_linear_time(
    work_dir: Path, ctx: StepContext, run_step: Any
) -> None:
    """Issue 12, finding 6: with a backtracking matcher, this pattern against these names ran
    for minutes; RE2 (globs) and pathspec's RE2 backend (ignore lists) answer at once."""
    long_name = "a" * 200
    (work_dir / long_name).write_text("x")
    (work_dir / f"{long_name}b").write_text("x")
    await run_step(DeleteStep, ctx, {"path": "*a*a*a*a*a*a*a*a*b", "pathsAreGlobs": True})
    assert files(work_dir) == [long_name]
    assert not ignore_spec("*a*a*a*a*a*a*a*a*a*a*b").match_file("a" * 5000)
    assert compile_glob("**/*a*a*a*a*a*a*a*a*b").fullmatch("d/" + "a" * 5000 + "b")


def test_glob_translation() -> None:
    cases = {
        "*.yaml": (["a.yaml", ".h.yaml"], ["b/a.yaml"]),
        "**/*.yaml": (["a.yaml", "b/c/a.yaml"], ["b/a.txt"]),
        "a/**": (["a", "a/b", "a/b/c"], ["ab"]),
        "a/**/b": (["a/b", "a/x/b", "a/x/y/b"], ["ab", "a/xb"]),
        "{a,b/c}/*.txt": (["a/x.txt", "b/c/y.txt"], ["b/x.txt"]),
        "[!a]?": (["bc"], ["ab", "/c"]),
        "x\\*": (["x*"], ["xy"]),
    }
    for pattern, (good, bad) in cases.items():
        regex = compile_glob(pattern)
        assert all(regex.fullmatch(p) for p in good), pattern
        assert not any(regex.fullmatch(p) for p in bad), pattern
    for broken in ["{a,b", "[ab", "a\\"]:
        with pytest.raises(GlobPatternError):
            compile_glob(broken)
