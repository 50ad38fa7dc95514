"""Glob patterns of the file steps, matched in linear time.

Owns :func:`compile_glob` and :func:`glob_workdir` (the ``delete`` step's doublestar patterns)
and :func:`ignore_spec` (the gitignore-syntax ``ignore`` of ``copy``, ``tar`` and ``untar``).

Doublestar syntax, as in Kargo: ``*`` (any characters but ``/``), ``?`` (one character but
``/``), ``**`` as a whole path segment (any number of segments, including none), ``[abc]`` /
``[a-z]`` / ``[!abc]`` / ``[^abc]``, ``{alt1,alt2}`` (nestable) and ``\\`` escapes. Dot-files
are matched like any other name. The translation is the one Warehouse path filters use
(:func:`shunter.registries.patterns.glob_to_regex`), compiled with RE2, and gitignore patterns
use pathspec's RE2 backend: matching never backtracks, so a pattern such as
``*a*a*a*a*a*a*a*a*b`` costs time linear in the path, not exponential.

The walk never follows symbolic links, so a pattern can only ever match paths inside the work
directory (a link itself can match, and is then deleted as a link). It checks for cancellation
between entries (:func:`shunter._internal.threads.checkpoint`), so a step that ran out of time
stops walking a huge tree.
"""

from __future__ import annotations

import os
from pathlib import Path

import pathspec

from shunter._internal.threads import checkpoint
from shunter.registries.patterns import BadPatternError, GoRegexp, glob_to_regex

__all__ = ["GlobPatternError", "compile_glob", "glob_workdir", "ignore_spec", "literal_prefix"]

_META = set("*?[{\\")


class GlobPatternError(ValueError):
    """A malformed glob pattern."""


def compile_glob(pattern: str) -> GoRegexp:
    """An RE2 regex whose ``fullmatch`` says whether a relative POSIX path matches ``pattern``."""
    try:
        return GoRegexp(glob_to_regex(pattern))
    except BadPatternError as exc:
        raise GlobPatternError(f"invalid glob pattern {pattern!r}: {exc}") from None


def literal_prefix(pattern: str) -> list[str]:
    """The leading path segments of ``pattern`` that hold no glob syntax."""
    segments = pattern.split("/")
    out: list[str] = []
    for segment in segments[:-1]:
        if _META & set(segment):
            break
        out.append(segment)
    return out


def glob_workdir(root: Path, pattern: str) -> list[Path]:
    """Paths under ``root`` (resolved) that ``pattern`` matches, parents before children."""
    if pattern.startswith("/") or ".." in pattern.split("/"):
        raise GlobPatternError(f"pattern {pattern!r} must stay inside the working directory")
    regex = compile_glob(pattern)
    base = root
    for segment in literal_prefix(pattern):
        if segment in ("", "."):
            continue
        base = base / segment
        if base.is_symlink() or not base.is_dir():
            return []
    matches: list[Path] = []
    if base != root and regex.fullmatch(base.relative_to(root).as_posix()):
        matches.append(base)
    for current, dirs, files in os.walk(base, followlinks=False):
        here = Path(current)
        dirs.sort()
        for name in sorted(dirs) + sorted(files):
            checkpoint()
            path = here / name
            if regex.fullmatch(path.relative_to(root).as_posix()):
                matches.append(path)
    return sorted(set(matches))


def ignore_spec(ignore: str | None) -> pathspec.GitIgnoreSpec:
    """``.git`` plus the non-comment lines of ``ignore``, as a gitignore matcher (RE2)."""
    lines = [".git"]
    for line in (ignore or "").splitlines():
        if line.strip() and not line.startswith("#"):
            lines.append(line)
    return pathspec.GitIgnoreSpec.from_lines(lines, backend="re2")
