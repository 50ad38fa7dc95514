"""Matching tags and paths the way Kargo does: Go (RE2) regexes, doublestar globs, path prefixes.

* :class:`GoRegexp`: a user-supplied regular expression in Go's ``regexp`` syntax, compiled with
  RE2 (``google-re2``), so it means the same as in Kargo and cannot backtrack forever. Matching
  is "search" (unanchored), like Go's ``MatchString``.
* :class:`TagFilter`: ``ignoreTagsRegexes`` (any match drops a tag) then ``allowTagsRegexes``
  (when given, a tag must match one), plus the deprecated ``allowTags`` (one regex, added to the
  allow list) and ``ignoreTags`` (exact names).
* :func:`parse_path_selector`: git ``includePaths``/``excludePaths`` entries: ``glob:<pattern>``
  (doublestar: ``*``, ``?``, ``[...]``, ``{a,b}``, ``**`` as whole path segments), ``regex:`` or
  ``regexp:<re2>`` (unanchored), or a plain path that matches itself and everything below it
  (Go's ``filepath.Rel`` must not need ``..``, a quirk kept from Kargo).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

import re2  # type: ignore[import-untyped]

__all__ = [
    "BadPatternError",
    "BaseDirMatcher",
    "GlobMatcher",
    "GoRegexp",
    "PathMatcher",
    "RegexpMatcher",
    "TagFilter",
    "glob_to_regex",
    "go_rel",
    "parse_path_selector",
    "parse_path_selectors",
]


class BadPatternError(ValueError):
    """A regex or glob that cannot be compiled."""


def _re2_options() -> object:
    options = re2.Options()
    options.log_errors = False
    return options


_OPTIONS = _re2_options()


class GoRegexp:
    """A Go/RE2 regular expression; :meth:`search` reports an unanchored match."""

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        try:
            self._compiled = re2.compile(pattern, _OPTIONS)
        except re2.error as error:
            detail = error.args[0] if error.args else error
            if isinstance(detail, bytes):
                detail = detail.decode("utf-8", "replace")
            raise BadPatternError(f"invalid regular expression {pattern!r}: {detail}") from None

    def __repr__(self) -> str:
        return f"GoRegexp({self.pattern!r})"

    def search(self, text: str) -> bool:
        return self._compiled.search(text) is not None

    def fullmatch(self, text: str) -> bool:
        return self._compiled.fullmatch(text) is not None


@dataclass(frozen=True)
class TagFilter:
    """Which tags a tag-based strategy considers at all."""

    allow: tuple[GoRegexp, ...] = ()
    ignore: tuple[GoRegexp, ...] = ()
    ignore_exact: frozenset[str] = frozenset()

    @classmethod
    def build(
        cls,
        allow_regexes: Sequence[str] | None = None,
        ignore_regexes: Sequence[str] | None = None,
        legacy_allow: str | None = None,
        legacy_ignore: Sequence[str] | None = None,
    ) -> TagFilter:
        """Compile the subscription fields (raises :class:`BadPatternError`)."""
        allow = [GoRegexp(p) for p in allow_regexes or ()]
        if legacy_allow:
            allow.append(GoRegexp(legacy_allow))
        return cls(
            allow=tuple(allow),
            ignore=tuple(GoRegexp(p) for p in ignore_regexes or ()),
            ignore_exact=frozenset(legacy_ignore or ()),
        )

    @property
    def constrained(self) -> bool:
        return bool(self.allow or self.ignore or self.ignore_exact)

    def matches(self, tag: str) -> bool:
        if tag in self.ignore_exact or any(r.search(tag) for r in self.ignore):
            return False
        return not self.allow or any(r.search(tag) for r in self.allow)

    def filter(self, tags: Iterable[str]) -> list[str]:
        return [tag for tag in tags if self.matches(tag)]


# -- paths -------------------------------------------------------------------------------------


class PathMatcher(Protocol):
    """Something that says whether a repository path is selected."""

    def matches(self, path: str) -> bool: ...


_REGEX_SPECIAL = frozenset("\\.+*?()|[]{}^$")


def _literal(char: str) -> str:
    return "\\" + char if char in _REGEX_SPECIAL else char


def _class_regex(items: list[tuple[int, int]], negated: bool) -> str:
    slash = ord("/")
    if negated:
        body = "".join(f"\\x{{{lo:x}}}-\\x{{{hi:x}}}" for lo, hi in items)
        return f"[^{body}/]"
    pieces: list[tuple[int, int]] = []
    for lo, hi in items:
        if lo <= slash <= hi:
            if lo < slash:
                pieces.append((lo, slash - 1))
            if slash < hi:
                pieces.append((slash + 1, hi))
        else:
            pieces.append((lo, hi))
    if not pieces:
        return "[^\\x{0}-\\x{10ffff}]"
    return "[" + "".join(f"\\x{{{lo:x}}}-\\x{{{hi:x}}}" for lo, hi in pieces) + "]"


def _parse_class(pattern: str, start: int) -> tuple[str, int]:
    """Translate the ``[...]`` starting at ``start``; returns (regex, index after ``]``)."""
    index = start + 1
    negated = index < len(pattern) and pattern[index] in "^!"
    if negated:
        index += 1
    items: list[tuple[int, int]] = []
    first = True
    while True:
        if index >= len(pattern):
            raise BadPatternError("unterminated character class")
        char = pattern[index]
        if char == "]" and not first:
            return _class_regex(items, negated), index + 1
        if char == "]":
            raise BadPatternError("empty character class")
        first = False
        if char == "\\":
            index += 1
            if index >= len(pattern):
                raise BadPatternError("trailing backslash")
            char = pattern[index]
        low = ord(char)
        index += 1
        if index + 1 < len(pattern) and pattern[index] == "-" and pattern[index + 1] != "]":
            index += 1
            high_char = pattern[index]
            if high_char == "\\":
                index += 1
                if index >= len(pattern):
                    raise BadPatternError("trailing backslash")
                high_char = pattern[index]
            index += 1
            high = ord(high_char)
            if high < low:
                raise BadPatternError("invalid character range")
            items.append((low, high))
        else:
            items.append((low, low))


def glob_to_regex(pattern: str) -> str:
    """A doublestar glob as an anchored-by-caller RE2 regex (raises :class:`BadPatternError`)."""
    out: list[str] = []
    depth = 0
    index = 0
    length = len(pattern)
    while index < length:
        char = pattern[index]
        at_segment_start = index == 0 or pattern[index - 1] == "/"
        if char == "*" and pattern.startswith("**", index) and at_segment_start:
            after = index + 2
            if after == length:
                out.append(".*")
                index = after
                continue
            if after < length and pattern[after] == "/":
                out.append("(?:.*/)?")
                index = after + 1
                continue
        if char == "/" and pattern.startswith("/**", index):
            after = index + 3
            if after == length or (after == length - 1 and pattern[after] == "/"):
                out.append("(?:/.*)?")  # "a/**" and "a/**/" also match "a" itself
                index = length
                continue
            if pattern[after] == "/":
                out.append("/(?:.*/)?")
                index = after + 1
                continue
        if char == "*":
            while index + 1 < length and pattern[index + 1] == "*":
                index += 1
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[":
            regex, index = _parse_class(pattern, index)
            out.append(regex)
            continue
        elif char == "{":
            depth += 1
            out.append("(?:")
        elif char == "," and depth > 0:
            out.append("|")
        elif char == "}" and depth > 0:
            depth -= 1
            out.append(")")
        elif char == "\\":
            index += 1
            if index >= length:
                raise BadPatternError("trailing backslash")
            out.append(_literal(pattern[index]))
        else:
            out.append(_literal(char))
        index += 1
    if depth:
        raise BadPatternError("unterminated {alternatives}")
    # (?s): a file name may hold a newline, and "**" must match across it too.
    return "(?s:" + "".join(out) + ")"


class GlobMatcher:
    """A ``glob:`` path selector (doublestar syntax, whole-path match)."""

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self._regex = GoRegexp(glob_to_regex(pattern))

    def matches(self, path: str) -> bool:
        return self._regex.fullmatch(path)


class RegexpMatcher:
    """A ``regex:``/``regexp:`` path selector (unanchored RE2 search)."""

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self._regex = GoRegexp(pattern)

    def matches(self, path: str) -> bool:
        return self._regex.search(path)


def _clean(path: str) -> str:
    # Go's filepath.Clean on Unix is path.Clean.
    rooted = path.startswith("/")
    parts: list[str] = []
    for element in path.split("/"):
        if element in ("", "."):
            continue
        if element == "..":
            if parts and parts[-1] != "..":
                parts.pop()
            elif not rooted:
                parts.append("..")
            continue
        parts.append(element)
    cleaned = "/".join(parts)
    if rooted:
        return "/" + cleaned
    return cleaned or "."


def go_rel(base_path: str, target_path: str) -> str | None:
    """Go's ``filepath.Rel`` on Unix; ``None`` where Go returns an error."""
    base, target = _clean(base_path), _clean(target_path)
    if base == target:
        return "."
    if base == ".":
        base = ""
    if base.startswith("/") != target.startswith("/"):
        return None
    base_parts = base.split("/") if base else []
    target_parts = target.split("/") if target else []
    if base.startswith("/"):
        base_parts, target_parts = base_parts[1:], target_parts[1:]
    common = 0
    while (
        common < len(base_parts)
        and common < len(target_parts)
        and base_parts[common] == target_parts[common]
    ):
        common += 1
    rest_base = base_parts[common:]
    if rest_base and rest_base[0] == "..":
        return None
    rel = [".."] * len(rest_base) + target_parts[common:]
    return _clean("/".join(rel)) if rest_base else "/".join(target_parts[common:])


class BaseDirMatcher:
    """A plain path selector: the path itself or anything below it."""

    def __init__(self, base_path: str) -> None:
        self.pattern = base_path

    def matches(self, path: str) -> bool:
        rel = go_rel(self.pattern, path)
        return rel is not None and ".." not in rel


def parse_path_selector(selector: str) -> PathMatcher:
    """One ``includePaths``/``excludePaths`` entry (raises :class:`BadPatternError`)."""
    if selector.startswith("glob:"):
        return GlobMatcher(selector.removeprefix("glob:"))
    if selector.startswith("regex:"):
        return RegexpMatcher(selector.removeprefix("regex:"))
    if selector.startswith("regexp:"):
        return RegexpMatcher(selector.removeprefix("regexp:"))
    return BaseDirMatcher(selector)


def parse_path_selectors(selectors: Sequence[str] | None) -> tuple[PathMatcher, ...] | None:
    """``None`` for no selectors (no constraint), else the compiled matchers."""
    if not selectors:
        return None
    return tuple(parse_path_selector(s) for s in selectors)
