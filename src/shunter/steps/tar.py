"""The ``tar`` step: pack a file or a directory of the work directory into a tar archive.

Config: ``inPath`` (a file, or a directory whose contents are archived with names relative to
it), ``outPath`` (the archive to write; parent folders are created, an existing file is
replaced), ``gzip`` (default false: compress the archive with gzip) and ``ignore``
(gitignore-syntax patterns, one per line, matched against names in the archive; ``.git`` is
always ignored). No outputs.

Entries are written in sorted order with their permission bits and modification times, owner
and group reset to ``0``/empty. Symbolic links are stored as links (never followed); sockets,
FIFOs and device files are skipped. The archive is written to a temporary file next to
``outPath`` and renamed when complete; it never contains itself. Files over 50 MiB, or more
than 100 MiB of files in all, are refused, as in Kargo.

Differences from Kargo: ``.git`` is ignored even when ``ignore`` is set; owner and group are
not recorded.
"""

from __future__ import annotations

import os
import stat
import tarfile
from datetime import timedelta
from pathlib import Path
from typing import IO, Any, ClassVar

import pathspec
from pydantic import Field

from shunter._internal.threads import checkpoint, run_in_thread
from shunter.api.v1alpha1.promotion import PromotionStepStatus
from shunter.promotion.effects import Effects
from shunter.promotion.registry import register
from shunter.promotion.step import (
    StepConfig,
    StepContext,
    StepError,
    StepResult,
    TerminalStepError,
)
from shunter.steps.untar import MAX_FILE_BYTES, MAX_TOTAL_BYTES
from shunter.steps_support.atomicwrite import atomic_file
from shunter.steps_support.glob import ignore_spec

__all__ = ["TarConfig", "TarStep", "create_archive"]


class TarConfig(StepConfig):
    """Config of ``tar``."""

    in_path: str = Field(min_length=1, description="File or directory to archive.")
    out_path: str = Field(min_length=1, description="The archive to write.")
    gzip: bool = Field(default=False, description="Compress the archive with gzip.")
    ignore: str | None = Field(
        default=None, min_length=1, description="gitignore-style patterns to leave out."
    )


class _Packer:
    def __init__(
        self,
        archive: tarfile.TarFile,
        spec: pathspec.GitIgnoreSpec,
        skip: set[Path],
        skip_files: set[tuple[int, int]],
    ) -> None:
        self.archive = archive
        self.spec = spec
        self.skip = skip
        #: ``(device, inode)`` of files never to archive (the archive being written).
        self.skip_files = skip_files
        self.total = 0

    def add(self, path: Path, name: str) -> None:
        checkpoint()
        if path in self.skip:
            return
        info = path.lstat()
        if (info.st_dev, info.st_ino) in self.skip_files:
            return
        mode = info.st_mode
        if stat.S_ISDIR(mode):
            if self.spec.match_file(name + "/"):
                return
            self._header(path, name)
            for child in sorted(path.iterdir(), key=lambda p: p.name):
                self.add(child, f"{name}/{child.name}")
        elif self.spec.match_file(name):
            return
        elif stat.S_ISREG(mode):
            if info.st_size > MAX_FILE_BYTES:
                raise TerminalStepError(f"file {name!r} is larger than {MAX_FILE_BYTES} bytes")
            self.total += info.st_size
            if self.total > MAX_TOTAL_BYTES:
                raise TerminalStepError(f"the files add up to more than {MAX_TOTAL_BYTES} bytes")
            with path.open("rb") as reader:
                self._header(path, name, reader)
        elif stat.S_ISLNK(mode):
            self._header(path, name)

    def _header(self, path: Path, name: str, reader: IO[bytes] | None = None) -> None:
        member = self.archive.gettarinfo(str(path), arcname=name)
        member.uid = member.gid = 0
        member.uname = member.gname = ""
        self.archive.addfile(member, reader)


def _open(raw: IO[bytes], compress: bool) -> tarfile.TarFile:
    if compress:
        return tarfile.open(fileobj=raw, mode="w:gz", format=tarfile.PAX_FORMAT)
    return tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT)


def create_archive(
    root: Path, src: Path, dest: Path, *, compress: bool, ignore: str | None
) -> None:
    """Write the archive of ``src`` (file or directory) to ``dest`` atomically (both inside the
    work directory ``root``; the archive never contains itself)."""
    spec = ignore_spec(ignore)
    with atomic_file(root, dest, mode=0o644) as raw, _open(raw, compress) as tar:
        written = os.fstat(raw.fileno())
        packer = _Packer(tar, spec, {dest}, {(written.st_dev, written.st_ino)})
        if src.is_dir():
            for child in sorted(src.iterdir(), key=lambda p: p.name):
                packer.add(child, child.name)
        else:
            packer.add(src, src.name)


def _run(ctx: StepContext, cfg: TarConfig) -> None:
    src = ctx.path(cfg.in_path, allow_root=True)
    dest = ctx.path(cfg.out_path)
    if not src.exists():
        raise StepError(f"inPath {cfg.in_path!r} does not exist")
    if not (src.is_dir() or src.is_file()):
        raise TerminalStepError(f"inPath {cfg.in_path!r} is not a file or directory")
    if dest.is_dir():
        raise TerminalStepError(f"outPath {cfg.out_path!r} is a directory")
    try:
        create_archive(ctx.work_dir, src, dest, compress=cfg.gzip, ignore=cfg.ignore)
    except OSError as exc:
        raise StepError(f"failed to create the archive {cfg.out_path!r}: {exc.strerror}") from None


@register
class TarStep:
    """Runner of ``tar``."""

    name: ClassVar[str] = "tar"
    config_model: ClassVar[type[StepConfig]] = TarConfig
    default_timeout: ClassVar[timedelta | None] = None
    default_error_threshold: ClassVar[int] = 1
    external_effects: ClassVar[Effects] = Effects.NONE

    async def run(self, ctx: StepContext, config: Any) -> StepResult:
        """Archive ``inPath`` into ``outPath``."""
        cfg = TarConfig.model_validate(config)
        await run_in_thread(_run, ctx, cfg)
        return StepResult(status=PromotionStepStatus.SUCCEEDED)
