"""Glob patterns in the ``doublestar`` syntax Kargo's ``delete`` step uses.

Owns :func:`compile_glob` and :func:`glob_workdir`. Syntax: ``*`` (any characters but ``/``),
``?`` (one character but ``/``), ``**`` as a whole path segment (any number of segments,
including none), ``[abc]`` / ``[a-z]`` / ``[!abc]`` / ``[^abc]``, ``{alt1,alt2}`` (nestable)
and ``\\`` escapes. Dot-files are matched like any other name. The walk never follows
symbolic links, so a pattern can only ever match paths inside the work directory (a link
itself can match, and is then deleted as a link).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

__all__ = ["GlobPatternError", "compile_glob", "glob_workdir", "literal_prefix"]

_META = set("*?[{\\")


class GlobPatternError(ValueError):
    """A malformed glob pattern."""


def _class(pattern: str, pos: int) -> tuple[str, int]:
    """Translate ``[...]`` starting at ``pos``; return (regex, index after it)."""
    end = pos + 1
    if end < len(pattern) and pattern[end] in "!^":
        end += 1
    if end < len(pattern) and pattern[end] == "]":
        end += 1
    while end < len(pattern) and pattern[end] != "]":
        end += 2 if pattern[end] == "\\" else 1
    if end >= len(pattern):
        raise GlobPatternError(f"unclosed '[' in pattern {pattern!r}")
    body = pattern[pos + 1 : end]
    negate = body[:1] in ("!", "^")
    if negate:
        body = body[1:]
    chars = []
    i = 0
    while i < len(body):
        char = body[i]
        if char == "\\" and i + 1 < len(body):
            chars.append(re.escape(body[i + 1]))
            i += 2
            continue
        chars.append("-" if char == "-" else re.escape(char))
        i += 1
    inner = "".join(chars)
    return ("[^/" + inner + "]" if negate else "(?!/)[" + inner + "]"), end + 1


def _translate(pattern: str) -> str:
    out: list[str] = []
    depth = 0
    i = 0
    while i < len(pattern):
        char = pattern[i]
        at_segment_start = i == 0 or pattern[i - 1] == "/"
        if char == "*" and pattern.startswith("**", i):
            after = i + 2
            whole_segment = at_segment_start and (after == len(pattern) or pattern[after] == "/")
            if whole_segment:
                if after == len(pattern):
                    if out and out[-1] == "/":
                        out.pop()
                        out.append("(?:/.*)?")
                    else:
                        out.append(".*")
                    i = after
                else:
                    out.append("(?:[^/]+/)*")
                    i = after + 1
                continue
            out.append("[^/]*")
            i = after
        elif char == "*":
            out.append("[^/]*")
            i += 1
        elif char == "?":
            out.append("[^/]")
            i += 1
        elif char == "[":
            regex, i = _class(pattern, i)
            out.append(regex)
        elif char == "{":
            depth += 1
            out.append("(?:")
            i += 1
        elif char == "}" and depth:
            depth -= 1
            out.append(")")
            i += 1
        elif char == "," and depth:
            out.append("|")
            i += 1
        elif char == "\\":
            if i + 1 >= len(pattern):
                raise GlobPatternError(f"pattern {pattern!r} ends with a lone backslash")
            out.append(re.escape(pattern[i + 1]))
            i += 2
        elif char == "/":
            out.append("/")
            i += 1
        else:
            out.append(re.escape(char))
            i += 1
    if depth:
        raise GlobPatternError(f"unclosed '{{' in pattern {pattern!r}")
    return "".join(out)


def compile_glob(pattern: str) -> re.Pattern[str]:
    """A regex that full-matches the relative POSIX paths ``pattern`` matches."""
    try:
        return re.compile(_translate(pattern))
    except re.error as exc:
        raise GlobPatternError(f"invalid pattern {pattern!r}: {exc}") from None


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
            path = here / name
            if regex.fullmatch(path.relative_to(root).as_posix()):
                matches.append(path)
    return sorted(set(matches))
