"""file-write: safe modes, no overwrite by default, no .git, no links, nothing outside."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import pytest

from shunter.api.v1alpha1.promotion import PromotionStepStatus
from shunter.promotion.step import StepContext, TerminalStepError
from shunter.steps.file_write import FileWriteStep


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_config_errors(config_error: Any) -> None:
    assert "config.contents: required" in config_error(FileWriteStep, {"path": "a"})
    assert "config.path: required" in config_error(FileWriteStep, {"contents": ""})
    assert "config.permissions" in config_error(
        FileWriteStep, {"path": "a", "contents": "", "permissions": "644"}
    )
    assert "config.permissions" in config_error(
        FileWriteStep, {"path": "a", "contents": "", "permissions": "04755"}
    )
    assert 'unknown key "mode"' in config_error(
        FileWriteStep, {"path": "a", "contents": "", "mode": "0600"}
    )


async def test_writes_with_default_mode_and_parents(
    work_dir: Path, ctx: StepContext, run_step: Any
) -> None:
    result = await run_step(
        FileWriteStep, ctx, {"path": "out/deep/notes.txt", "contents": "héllo\n"}
    )
    target = work_dir / "out" / "deep" / "notes.txt"
    assert result.status is PromotionStepStatus.SUCCEEDED
    assert target.read_text(encoding="utf-8") == "héllo\n"
    assert mode(target) == 0o600
    assert mode(work_dir / "out" / "deep") == 0o700


async def test_empty_contents_and_explicit_mode(
    work_dir: Path, ctx: StepContext, run_step: Any
) -> None:
    await run_step(FileWriteStep, ctx, {"path": "empty", "contents": "", "permissions": "0644"})
    assert (work_dir / "empty").read_bytes() == b""
    assert mode(work_dir / "empty") == 0o644


@pytest.mark.parametrize(
    ("permissions", "problem"),
    [("0755", "executable"), ("0646", "world-writable"), ("0700", "executable")],
)
async def test_unsafe_modes_fail(
    permissions: str, problem: str, work_dir: Path, ctx: StepContext, run_step: Any
) -> None:
    with pytest.raises(TerminalStepError, match=problem) as info:
        await run_step(
            FileWriteStep, ctx, {"path": "x", "contents": "", "permissions": permissions}
        )
    assert info.value.failed
    assert not (work_dir / "x").exists()


async def test_overwrite(work_dir: Path, ctx: StepContext, run_step: Any) -> None:
    (work_dir / "f").write_text("old")
    with pytest.raises(TerminalStepError, match="already exists") as info:
        await run_step(FileWriteStep, ctx, {"path": "f", "contents": "new"})
    assert info.value.failed
    assert (work_dir / "f").read_text() == "old"
    await run_step(FileWriteStep, ctx, {"path": "f", "contents": "new", "overwrite": True})
    assert (work_dir / "f").read_text() == "new"


@pytest.mark.parametrize(
    ("path", "problem"),
    [
        (".git/config", r"\.git"),
        ("src/.git/hooks/pre-commit", r"\.git"),
        ("./.git", r"\.git"),
        ("../outside/secret.txt", "traverse"),
        ("a/../../outside/x", "traverse"),
        ("/etc/passwd", "relative"),
        ("link/secret.txt", "symlinks are forbidden|outside"),
        ("inner/file", "symlinks are forbidden"),
        ("secret-link", "symlinks are forbidden|outside"),
    ],
)
async def test_refused_paths(
    path: str, problem: str, *, work_dir: Path, outside: Path, ctx: StepContext, run_step: Any
) -> None:
    (work_dir / "link").symlink_to(outside)
    (work_dir / "real").mkdir()
    (work_dir / "inner").symlink_to(work_dir / "real")
    (work_dir / "secret-link").symlink_to(outside / "secret.txt")
    with pytest.raises(TerminalStepError, match=problem) as info:
        await run_step(FileWriteStep, ctx, {"path": path, "contents": "pwned", "overwrite": True})
    assert info.value.failed
    assert (outside / "secret.txt").read_text() == "top secret\n"
    assert list((work_dir / "real").iterdir()) == []
