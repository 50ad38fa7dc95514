"""tar: archives read back with tarfile and round-tripped through untar."""

from __future__ import annotations

import tarfile
from pathlib import Path
from typing import Any

import pytest

from shunter.api.v1alpha1.promotion import PromotionStepStatus
from shunter.promotion.registry import DEFAULT_REGISTRY
from shunter.promotion.step import StepContext, StepError, TerminalStepError
from shunter.steps import tar as tar_step
from shunter.steps.tar import TarStep
from shunter.steps.untar import UntarStep


def listing(archive: Path) -> dict[str, str]:
    """Entry name -> file contents, ``->target`` for links, ``/`` for folders."""
    found: dict[str, str] = {}
    with tarfile.open(archive) as tar:
        for member in tar:
            if member.isdir():
                found[member.name] = "/"
            elif member.issym():
                found[member.name] = "->" + member.linkname
            else:
                reader = tar.extractfile(member)
                assert reader is not None
                found[member.name] = reader.read().decode()
            assert member.uid == 0
            assert member.uname == ""
    return found


def names(folder: Path) -> list[str]:
    """The sorted names in ``folder``."""
    return sorted(p.name for p in folder.iterdir())


def test_registered() -> None:
    assert DEFAULT_REGISTRY.get("tar") is TarStep


@pytest.mark.parametrize(
    ("raw", "named"),
    [
        ({"outPath": "o.tar"}, "inPath"),
        ({"inPath": "src"}, "outPath"),
        ({"inPath": "src", "outPath": ""}, "outPath"),
        ({"inPath": "src", "outPath": "o.tar", "gzip": "maybe"}, "gzip"),
        ({"inPath": "src", "outPath": "o.tar", "ignore": ""}, "ignore"),
        ({"inPath": "src", "outPath": "o.tar", "stripComponents": 1}, "stripComponents"),
    ],
)
def test_config_errors_name_the_key(config_error: Any, raw: dict[str, Any], named: str) -> None:
    assert named in config_error(TarStep, raw)


@pytest.fixture
def src(work_dir: Path, outside: Path) -> Path:
    folder = work_dir / "src"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("A")
    (folder / "sub" / "b.md").write_text("B")
    (folder / "sub" / "c.txt").write_text("C")
    (folder / ".git").mkdir()
    (folder / ".git" / "HEAD").write_text("ref")
    (folder / "link").symlink_to("a.txt")
    (folder / "escape").symlink_to(outside / "secret.txt")
    return folder


@pytest.mark.parametrize("gzip", [False, True])
async def test_archives_a_directory(
    run_step: Any, ctx: StepContext, work_dir: Path, src: Path, gzip: bool
) -> None:
    result = await run_step(
        TarStep, ctx, {"inPath": "src", "outPath": "out/src.tar", "gzip": gzip, "ignore": "*.md"}
    )
    assert result.status is PromotionStepStatus.SUCCEEDED
    archive = work_dir / "out" / "src.tar"
    assert (archive.read_bytes()[:2] == b"\x1f\x8b") is gzip
    assert listing(archive) == {
        "a.txt": "A",
        "escape": "->" + str(work_dir.parent / "outside" / "secret.txt"),
        "link": "->a.txt",
        "sub": "/",
        "sub/c.txt": "C",
    }
    assert [p.name for p in (work_dir / "out").iterdir()] == ["src.tar"]


async def test_archives_a_file_and_replaces_the_output(
    run_step: Any, ctx: StepContext, work_dir: Path, src: Path
) -> None:
    (work_dir / "one.tar").write_text("old")
    await run_step(TarStep, ctx, {"inPath": "src/a.txt", "outPath": "one.tar"})
    assert listing(work_dir / "one.tar") == {"a.txt": "A"}


async def test_archive_inside_its_input_is_left_out(
    run_step: Any, ctx: StepContext, work_dir: Path, src: Path
) -> None:
    await run_step(TarStep, ctx, {"inPath": "src", "outPath": "src/self.tar"})
    await run_step(TarStep, ctx, {"inPath": "src", "outPath": "src/self.tar"})
    names = set(listing(src / "self.tar"))
    assert "self.tar" not in names
    assert not [n for n in names if n.endswith(".tmp")]


async def test_round_trip_with_untar(
    run_step: Any, ctx: StepContext, work_dir: Path, src: Path
) -> None:
    (src / "escape").unlink()
    await run_step(TarStep, ctx, {"inPath": "src", "outPath": "src.tgz", "gzip": True})
    await run_step(UntarStep, ctx, {"inPath": "src.tgz", "outPath": "copy"})
    copy = work_dir / "copy"
    assert (copy / "a.txt").read_text() == "A"
    assert (copy / "sub" / "b.md").read_text() == "B"
    assert (copy / "link").readlink() == Path("a.txt")
    assert not (copy / ".git").exists()


async def test_caps(
    run_step: Any,
    ctx: StepContext,
    work_dir: Path,
    src: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(tar_step, "MAX_FILE_BYTES", 3)
    (src / "big.txt").write_text("1234")
    with pytest.raises(TerminalStepError, match="larger than 3 bytes"):
        await run_step(TarStep, ctx, {"inPath": "src", "outPath": "o.tar"})
    monkeypatch.setattr(tar_step, "MAX_FILE_BYTES", 10)
    monkeypatch.setattr(tar_step, "MAX_TOTAL_BYTES", 5)
    with pytest.raises(TerminalStepError, match="more than 5 bytes"):
        await run_step(TarStep, ctx, {"inPath": "src", "outPath": "o.tar"})
    assert not (work_dir / "o.tar").exists()
    assert not [n for n in names(work_dir) if n.endswith(".tmp")]


async def test_bad_paths(
    run_step: Any, ctx: StepContext, work_dir: Path, src: Path, outside: Path
) -> None:
    with pytest.raises(StepError, match="does not exist"):
        await run_step(TarStep, ctx, {"inPath": "missing", "outPath": "o.tar"})
    with pytest.raises(TerminalStepError, match="is a directory"):
        await run_step(TarStep, ctx, {"inPath": "src", "outPath": "src/sub"})
    for raw in (
        {"inPath": "../outside", "outPath": "o.tar"},
        {"inPath": "src", "outPath": "../outside/o.tar"},
        {"inPath": "src/escape", "outPath": "o.tar"},
        {"inPath": "src", "outPath": "/tmp/o.tar"},
    ):
        with pytest.raises(TerminalStepError):
            await run_step(TarStep, ctx, raw)
    assert names(outside) == ["secret.txt"]
