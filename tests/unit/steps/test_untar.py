"""untar: real archives, including malicious ones built by hand with tarfile."""

from __future__ import annotations

import gzip
import io
import tarfile
from pathlib import Path
from typing import Any

import pytest

from shunter.api.v1alpha1.promotion import PromotionStepStatus
from shunter.promotion.registry import DEFAULT_REGISTRY
from shunter.promotion.step import StepContext, StepError, TerminalStepError
from shunter.steps import untar
from shunter.steps.untar import UntarStep

Entry = tuple[str, str, Any]  # (kind, name, data or link target)


def make_tar(path: Path, entries: list[Entry], *, compress: bool = False) -> Path:
    """A tar archive with exactly ``entries``: ``("file", name, bytes)``, ``("dir", name,
    None)``, ``("sym", name, target)``, ``("hard", name, target)``, ``("fifo", name, None)``."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for kind, name, data in entries:
            info = tarfile.TarInfo(name)
            if kind == "file":
                info.size = len(data)
                info.mode = 0o644
                tar.addfile(info, io.BytesIO(data))
                continue
            if kind == "dir":
                info.type, info.mode = tarfile.DIRTYPE, 0o755
            elif kind == "sym":
                info.type, info.linkname = tarfile.SYMTYPE, data
            elif kind == "hard":
                info.type, info.linkname = tarfile.LNKTYPE, data
            elif kind == "fifo":
                info.type = tarfile.FIFOTYPE
            tar.addfile(info)
    raw = buffer.getvalue()
    path.write_bytes(gzip.compress(raw) if compress else raw)
    return path


def tree(root: Path) -> dict[str, str]:
    """Every path under ``root``: file contents, ``->target`` for links, ``/`` for folders."""
    found: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        name = path.relative_to(root).as_posix()
        if path.is_symlink():
            found[name] = "->" + str(path.readlink())
        elif path.is_dir():
            found[name] = "/"
        else:
            found[name] = path.read_text()
    return found


def names(folder: Path) -> list[str]:
    """The sorted names in ``folder``."""
    return sorted(p.name for p in folder.iterdir())


def test_registered() -> None:
    assert DEFAULT_REGISTRY.get("untar") is UntarStep


@pytest.mark.parametrize(
    ("raw", "named"),
    [
        ({"outPath": "o"}, "inPath"),
        ({"inPath": "a.tar"}, "outPath"),
        ({"inPath": "", "outPath": "o"}, "inPath"),
        ({"inPath": "a.tar", "outPath": "o", "stripComponents": -1}, "stripComponents"),
        ({"inPath": "a.tar", "outPath": "o", "ignore": ""}, "ignore"),
        ({"inPath": "a.tar", "outPath": "o", "gzip": True}, "gzip"),
    ],
)
def test_config_errors_name_the_key(config_error: Any, raw: dict[str, Any], named: str) -> None:
    assert named in config_error(UntarStep, raw)


@pytest.mark.parametrize("compress", [False, True])
async def test_extracts_into_out_path(
    run_step: Any, ctx: StepContext, work_dir: Path, compress: bool
) -> None:
    make_tar(
        work_dir / "a.tar",
        [
            ("dir", "./", None),
            ("file", "./a.txt", b"A"),
            ("dir", "sub", None),
            ("file", "sub/b.txt", b"B"),
            ("sym", "sub/link", "b.txt"),
            ("hard", "sub/copy", "sub/b.txt"),
            ("fifo", "pipe", None),
            ("file", ".git/config", b"x"),
        ],
        compress=compress,
    )
    out = work_dir / "out"
    out.mkdir()
    (out / "keep.txt").write_text("kept")
    (out / "a.txt").write_text("old")
    result = await run_step(UntarStep, ctx, {"inPath": "a.tar", "outPath": "out"})
    assert result.status is PromotionStepStatus.SUCCEEDED
    assert tree(out) == {
        "a.txt": "A",
        "keep.txt": "kept",
        "sub": "/",
        "sub/b.txt": "B",
        "sub/copy": "B",
        "sub/link": "->b.txt",
    }
    assert not [n for n in names(work_dir) if n.startswith(".untar-")]


async def test_strip_components_and_ignore(run_step: Any, ctx: StepContext, work_dir: Path) -> None:
    make_tar(
        work_dir / "a.tar",
        [
            ("file", "top.txt", b"T"),
            ("file", "pkg/chart/values.yaml", b"V"),
            ("file", "pkg/chart/README.md", b"R"),
            ("file", "pkg/chart/tests/t.yaml", b"X"),
            ("file", "pkg/Chart.yaml", b"C"),
        ],
    )
    await run_step(
        UntarStep,
        ctx,
        {
            "inPath": "a.tar",
            "outPath": "out/deep",
            "stripComponents": 1,
            "ignore": "# docs\n*.md\ntests/\n",
        },
    )
    assert tree(work_dir / "out" / "deep") == {
        "Chart.yaml": "C",
        "chart": "/",
        "chart/values.yaml": "V",
    }


async def test_into_work_dir_root(run_step: Any, ctx: StepContext, work_dir: Path) -> None:
    make_tar(work_dir / "a.tar", [("file", "x.txt", b"X")])
    await run_step(UntarStep, ctx, {"inPath": "a.tar", "outPath": "."})
    assert (work_dir / "x.txt").read_text() == "X"


@pytest.mark.parametrize(
    ("entries", "match"),
    [
        ([("file", "/etc/evil", b"x")], "absolute"),
        ([("file", "../evil", b"x")], r"'\.\.'"),
        ([("file", "a/../../evil", b"x")], r"'\.\.'"),
        ([("file", "a\\..\\evil", b"x")], "backslash"),
        ([("sym", "link", "/etc/passwd")], "outside the archive"),
        ([("sym", "link", "../outside")], r"'\.\.'"),
        ([("sym", "link", "a/../../outside")], r"'\.\.'"),
        ([("sym", "d", "."), ("sym", "e", "d/..")], r"'\.\.'"),
        ([("sym", "link", "sub"), ("file", "link/x", b"x")], "through a symbolic link"),
        ([("hard", "h", "../outside/secret.txt")], r"'\.\.'"),
        ([("hard", "h", "/etc/passwd")], "absolute"),
        ([("hard", "h", "missing")], "not extracted before"),
        ([("sym", "s", "x"), ("hard", "h", "s")], "not a regular file"),
        ([("file", "f", b"x"), ("file", "f/g", b"y")], "to be a directory"),
        ([("dir", "d", None), ("file", "d", b"x")], "replace a directory"),
    ],
)
async def test_malicious_archives_are_refused(
    *,
    run_step: Any,
    ctx: StepContext,
    work_dir: Path,
    outside: Path,
    entries: list[Entry],
    match: str,
) -> None:
    make_tar(work_dir / "evil.tar", [("file", "first.txt", b"1"), *entries])
    with pytest.raises(TerminalStepError, match=match):
        await run_step(UntarStep, ctx, {"inPath": "evil.tar", "outPath": "out"})
    assert not (work_dir / "out").exists()  # nothing half-extracted
    assert names(work_dir) == ["evil.tar"]
    assert names(outside) == ["secret.txt"]
    assert (outside / "secret.txt").read_text() == "top secret\n"


async def test_existing_link_in_out_path_is_replaced_not_followed(
    run_step: Any, ctx: StepContext, work_dir: Path, outside: Path
) -> None:
    (work_dir / "out").mkdir()
    (work_dir / "out" / "sub").symlink_to(outside)
    (work_dir / "out" / "secret.txt").symlink_to(outside / "secret.txt")
    make_tar(work_dir / "a.tar", [("file", "sub/new.txt", b"N"), ("file", "secret.txt", b"S")])
    await run_step(UntarStep, ctx, {"inPath": "a.tar", "outPath": "out"})
    assert tree(work_dir / "out") == {"secret.txt": "S", "sub": "/", "sub/new.txt": "N"}
    assert names(outside) == ["secret.txt"]
    assert (outside / "secret.txt").read_text() == "top secret\n"


async def test_size_and_entry_caps(
    run_step: Any, ctx: StepContext, work_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(untar, "MAX_FILE_BYTES", 10)
    monkeypatch.setattr(untar, "MAX_TOTAL_BYTES", 25)
    monkeypatch.setattr(untar, "MAX_ENTRIES", 5)
    make_tar(work_dir / "big.tar", [("file", "big", b"x" * 11)], compress=True)
    with pytest.raises(TerminalStepError, match="larger than 10 bytes"):
        await run_step(UntarStep, ctx, {"inPath": "big.tar", "outPath": "out"})
    make_tar(work_dir / "sum.tar", [("file", f"f{i}", b"x" * 9) for i in range(3)])
    with pytest.raises(TerminalStepError, match="more than 25 bytes"):
        await run_step(UntarStep, ctx, {"inPath": "sum.tar", "outPath": "out"})
    make_tar(work_dir / "ign.tar", [("file", f"f{i}.md", b"x" * 9) for i in range(3)])
    with pytest.raises(TerminalStepError, match="more than 25 bytes"):
        await run_step(UntarStep, ctx, {"inPath": "ign.tar", "outPath": "out", "ignore": "*.md"})
    make_tar(work_dir / "many.tar", [("dir", f"d{i}", None) for i in range(6)])
    with pytest.raises(TerminalStepError, match="more than 5 entries"):
        await run_step(UntarStep, ctx, {"inPath": "many.tar", "outPath": "out"})
    assert not (work_dir / "out").exists()


async def test_gzip_bomb_is_stopped_by_the_caps(
    run_step: Any, ctx: StepContext, work_dir: Path
) -> None:
    # 60 MiB of zeros compresses to ~60 KiB; the header's size is checked before any write.
    buffer = io.BytesIO()
    size = 60 << 20
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo("zeros")
        info.size = size

        class Zeros(io.RawIOBase):
            left = size

            def readable(self) -> bool:
                return True

            def readinto(self, b: Any) -> int:
                n = min(len(b), self.left)
                b[:n] = bytes(n)
                self.left -= n
                return n

        tar.addfile(info, io.BufferedReader(Zeros()))
    (work_dir / "bomb.tgz").write_bytes(buffer.getvalue())
    with pytest.raises(TerminalStepError, match="larger than"):
        await run_step(UntarStep, ctx, {"inPath": "bomb.tgz", "outPath": "out"})
    assert not (work_dir / "out").exists()


async def test_bad_inputs(run_step: Any, ctx: StepContext, work_dir: Path, outside: Path) -> None:
    with pytest.raises(StepError, match="not an existing file"):
        await run_step(UntarStep, ctx, {"inPath": "missing.tar", "outPath": "out"})
    (work_dir / "junk.tar").write_bytes(b"this is not a tar archive" * 40)
    with pytest.raises(TerminalStepError, match="not a valid tar archive"):
        await run_step(UntarStep, ctx, {"inPath": "junk.tar", "outPath": "out"})
    (work_dir / "junk.tgz").write_bytes(b"\x1f\x8b" + b"garbage" * 20)
    with pytest.raises(TerminalStepError, match="not a valid tar archive"):
        await run_step(UntarStep, ctx, {"inPath": "junk.tgz", "outPath": "out"})
    make_tar(work_dir / "ok.tar", [("file", "x", b"x")])
    (work_dir / "file").write_text("f")
    with pytest.raises(TerminalStepError, match="not a directory"):
        await run_step(UntarStep, ctx, {"inPath": "ok.tar", "outPath": "file"})
    for bad in ("../outside", "/tmp"):
        with pytest.raises(TerminalStepError):
            await run_step(UntarStep, ctx, {"inPath": "ok.tar", "outPath": bad})
    make_tar(outside / "o.tar", [("file", "x", b"x")])
    with pytest.raises(TerminalStepError):
        await run_step(UntarStep, ctx, {"inPath": "../outside/o.tar", "outPath": "out"})
    assert names(outside) == ["o.tar", "secret.txt"]
