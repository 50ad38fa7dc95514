"""Shared plumbing of the rendering steps (``kustomize-build``, ``helm-template``).

Owns: splitting a rendered multi-document stream into its objects, reading an object's
identity, checking generated file names, writing output files without following a symlink out
of the work directory, refusing trees holding such symlinks, and turning a failed program run
into a step error whose text does not reveal the work directory's absolute path.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from shunter._internal.paths import PathEscapeError, links_leaving, open_file
from shunter._internal.programs import (
    ProgramError,
    ProgramNotFoundError,
    ProgramResult,
)
from shunter.promotion.step import StepError, TerminalStepError

__all__ = [
    "ObjectMeta",
    "check_tree_inside",
    "decode_output",
    "is_yaml_file_path",
    "object_meta",
    "program_error",
    "program_failure",
    "split_documents",
    "validate_file_name",
    "write_inside",
]

_STDERR_TAIL = 2000


@dataclass(frozen=True)
class ObjectMeta:
    """Identity of one rendered object (empty strings when absent)."""

    api_version: str
    kind: str
    namespace: str
    name: str

    @property
    def group(self) -> str:
        """The API group (``""`` for the core group)."""
        return self.api_version.rpartition("/")[0]

    @property
    def version(self) -> str:
        """The API version without its group."""
        return self.api_version.rpartition("/")[2]


def is_yaml_file_path(out_path: str) -> bool:
    """Whether ``outPath`` names one file (``.yaml``/``.yml``) rather than a directory."""
    return out_path.endswith((".yaml", ".yml"))


def split_documents(text: str) -> list[str]:
    """The non-empty documents of a YAML stream, split on ``---`` lines at column 0."""
    docs: list[str] = []
    current: list[str] = []
    for line in text.splitlines(keepends=True):
        if line.rstrip("\r\n") == "---" or line.startswith("--- "):
            docs.append("".join(current))
            current = []
            continue
        current.append(line)
    docs.append("".join(current))
    return [d.strip() + "\n" for d in docs if _has_content(d)]


def _has_content(doc: str) -> bool:
    return any(
        line.strip() and not line.lstrip().startswith("#") and line.strip() != "..."
        for line in doc.splitlines()
    )


def object_meta(doc: str) -> ObjectMeta:
    """The ``apiVersion``, ``kind``, namespace and name of one document (blank if unreadable)."""
    try:
        data: Any = YAML(typ="safe", pure=True).load(doc)
    except YAMLError:
        return ObjectMeta("", "", "", "")
    if not isinstance(data, dict):
        return ObjectMeta("", "", "", "")
    meta = data.get("metadata")
    meta = meta if isinstance(meta, dict) else {}

    def text(value: object) -> str:
        return value if isinstance(value, str) else ""

    return ObjectMeta(
        text(data.get("apiVersion")),
        text(data.get("kind")),
        text(meta.get("namespace")),
        text(meta.get("name")),
    )


def validate_file_name(name: str) -> str:
    """``name`` if it is a plain file name, else a TerminalStepError (names come from objects)."""
    if not name or name in {".", ".."} or "/" in name or "\\" in name or "\x00" in name:
        raise TerminalStepError(f"refusing generated file name {name!r}")
    return name


def write_inside(work_dir: Path, target: Path, data: str) -> None:
    """Write ``data`` to ``target`` (parents created), refusing a route out of ``work_dir``."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    try:
        fd = open_file(work_dir, target, flags, 0o644, create_parents=True)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data.encode("utf-8"))
    except PathEscapeError:
        raise TerminalStepError(
            f"refusing to write {target.name!r}: it leads outside the work directory"
        ) from None
    except OSError as exc:
        raise StepError(f"cannot write {target.name!r}: {exc.strerror}") from None


def decode_output(step: str, raw: bytes) -> str:
    """A program's stdout as text (a TerminalStepError when it is not UTF-8)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise TerminalStepError(f"{step}: the rendered output is not UTF-8 text") from None


def check_tree_inside(work_dir: Path, tree: Path, shown: str) -> None:
    """Refuse ``tree`` when a symlink under it points outside ``work_dir``."""
    for path in links_leaving(work_dir, tree)[:1]:
        rel = path.relative_to(tree).as_posix() if path != tree else "."
        raise TerminalStepError(f"{shown}: {rel} is a symlink leading outside the work directory")


def _scrub(text: str, work_dir: Path) -> str:
    for root in {str(work_dir.resolve()), str(work_dir)}:
        text = text.replace(root + os.sep, "").replace(root, ".")
    return text


def program_failure(step: str, tool: str, result: ProgramResult, work_dir: Path) -> StepError:
    """A step error for a run that exited non-zero, with the end of its stderr."""
    stderr = _scrub(result.stderr.decode("utf-8", "replace").strip(), work_dir)
    if len(stderr) > _STDERR_TAIL:
        stderr = "..." + stderr[-_STDERR_TAIL:]
    return StepError(f"{step}: {tool} failed (exit code {result.returncode}): {stderr}")


def program_error(step: str, exc: ProgramError) -> StepError:
    """A step error for a program that could not be found or run to completion."""
    if isinstance(exc, ProgramNotFoundError):
        return TerminalStepError(f"{step}: {exc}")
    return StepError(f"{step}: {exc}")
