"""Kargo's utility functions: ``semverParse(v)`` and ``semverDiff(a, b)``.

Owns `SemVer`, a Semantic Versioning 2.0 value parsed the way Masterminds/semver v3's
``NewVersion`` does (the library Kargo uses): an optional ``v`` prefix, missing minor/patch
coerced to 0 (``1.2`` is ``1.2.0``), prerelease and build metadata validated (numeric
prerelease identifiers without leading zeros), at most 256 characters.

`SemVer` exposes the methods Kargo documents - ``Major() Minor() Patch() Prerelease()
Metadata() IncMajor() IncMinor() IncPatch() String()`` - plus ``Original() Compare(o)
LessThan(o) GreaterThan(o) Equal(o)``. It renders as its ``String()`` in JSON and text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from shunter.expressions.errors import FunctionError
from shunter.expressions.registry import ExprFunction
from shunter.expressions.values import ExprObject, type_name

__all__ = ["SemVer", "parse_semver", "semver_diff", "utility_functions"]

_LOOSE = re.compile(
    r"^v?([0-9]+)(\.[0-9]+)?(\.[0-9]+)?"
    r"(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?"
    r"(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?$"
)
_MAX_LENGTH = 256
_UINT64_MAX = 2**64 - 1


def _validate_identifiers(text: str, *, prerelease: bool) -> None:
    for part in text.split("."):
        if not part:
            raise FunctionError("invalid prerelease string" if prerelease else "invalid metadata")
        if prerelease and part.isdigit() and len(part) > 1 and part[0] == "0":
            raise FunctionError("version segment starts with 0")


class SemVer(ExprObject):
    """A parsed semantic version (immutable)."""

    __slots__ = ("major", "metadata", "minor", "original", "patch", "prerelease")

    def __init__(
        self,
        major: int,
        minor: int,
        patch: int,
        *,
        prerelease: str = "",
        metadata: str = "",
        original: str = "",
    ) -> None:
        self.major = major
        self.minor = minor
        self.patch = patch
        self.prerelease = prerelease
        self.metadata = metadata
        self.original = original or self.text()

    @property
    def expr_type_name(self) -> str:
        return "*semver.Version"

    def text(self) -> str:
        out = f"{self.major}.{self.minor}.{self.patch}"
        if self.prerelease:
            out += f"-{self.prerelease}"
        if self.metadata:
            out += f"+{self.metadata}"
        return out

    def _v_prefix(self) -> str:
        return "v" if self.original.startswith("v") else ""

    def _next(self, major: int, minor: int, patch: int) -> SemVer:
        bumped = SemVer(major, minor, patch)
        bumped.original = self._v_prefix() + bumped.text()
        return bumped

    def inc_patch(self) -> SemVer:
        if self.prerelease:
            return self._next(self.major, self.minor, self.patch)
        return self._next(self.major, self.minor, self.patch + 1)

    def inc_minor(self) -> SemVer:
        return self._next(self.major, self.minor + 1, 0)

    def inc_major(self) -> SemVer:
        return self._next(self.major + 1, 0, 0)

    def compare(self, other: SemVer) -> int:
        mine = (self.major, self.minor, self.patch)
        theirs = (other.major, other.minor, other.patch)
        if mine != theirs:
            return -1 if mine < theirs else 1
        return _compare_prerelease(self.prerelease, other.prerelease)

    def expr_method(self, name: str, args: Sequence[Any]) -> Any:
        no_args = {
            "Major": lambda: self.major,
            "Minor": lambda: self.minor,
            "Patch": lambda: self.patch,
            "Prerelease": lambda: self.prerelease,
            "Metadata": lambda: self.metadata,
            "Original": lambda: self.original,
            "String": self.text,
            "IncMajor": self.inc_major,
            "IncMinor": self.inc_minor,
            "IncPatch": self.inc_patch,
        }
        if name in no_args:
            if args:
                raise FunctionError(f"{name}() takes no arguments ({len(args)} given)")
            return no_args[name]()
        if name in ("Compare", "LessThan", "GreaterThan", "Equal"):
            if len(args) != 1 or not isinstance(args[0], SemVer):
                raise FunctionError(f"{name}() expects one version from semverParse()")
            result = self.compare(args[0])
            return {
                "Compare": result,
                "LessThan": result < 0,
                "GreaterThan": result > 0,
                "Equal": result == 0,
            }[name]
        raise KeyError(name)

    def expr_json(self) -> Any:
        return self.text()

    def expr_str(self) -> str:
        return self.text()

    def expr_equal(self, other: Any) -> bool:
        return isinstance(other, SemVer) and self.text() == other.text()

    def __repr__(self) -> str:
        return f"SemVer({self.text()!r})"


def _compare_prerelease(mine: str, theirs: str) -> int:
    if mine == theirs:
        return 0
    if not mine:
        return 1
    if not theirs:
        return -1
    left, right = mine.split("."), theirs.split(".")
    for index in range(max(len(left), len(right))):
        a = left[index] if index < len(left) else ""
        b = right[index] if index < len(right) else ""
        if a == b:
            continue
        if not a:
            return -1
        if not b:
            return 1
        a_num, b_num = a.isdigit(), b.isdigit()
        if a_num and b_num:
            return -1 if int(a) < int(b) else 1
        if a_num:
            return -1
        if b_num:
            return 1
        return -1 if a < b else 1
    return 0


def parse_semver(text: str) -> SemVer:
    """Parse like Masterminds/semver ``NewVersion``; raise FunctionError when invalid."""
    if len(text) > _MAX_LENGTH:
        raise FunctionError(f"version string is too long (max {_MAX_LENGTH} bytes)")
    match = _LOOSE.match(text)
    if match is None:
        raise FunctionError("invalid semantic version")
    numbers = [int(match.group(1)), 0, 0]
    for index, group in ((1, match.group(2)), (2, match.group(3))):
        if group:
            numbers[index] = int(group[1:])
    if any(number > _UINT64_MAX for number in numbers):
        raise FunctionError("error parsing version segment: value out of range")
    prerelease = match.group(5) or ""
    metadata = match.group(8) or ""
    if prerelease:
        _validate_identifiers(prerelease, prerelease=True)
    if metadata:
        _validate_identifiers(metadata, prerelease=False)
    return SemVer(
        numbers[0], numbers[1], numbers[2], prerelease=prerelease, metadata=metadata, original=text
    )


def semver_diff(first: Any, second: Any) -> str:
    """``semverDiff(a, b)``: Major, Minor, Patch, Metadata, None or Incomparable."""
    for position, value in (("first", first), ("second", second)):
        if not isinstance(value, str):
            raise FunctionError(
                f"semverDiff(): {position} argument must be string, got {type_name(value)}"
            )
    try:
        a, b = parse_semver(first), parse_semver(second)
    except FunctionError:
        return "Incomparable"
    if a.major != b.major:
        return "Major"
    if a.minor != b.minor:
        return "Minor"
    if a.patch != b.patch:
        return "Patch"
    if a.metadata != b.metadata:
        return "Metadata"
    return "None"


def _semver_parse(text: Any) -> SemVer:
    if not isinstance(text, str):
        raise FunctionError(f"semverParse(): argument must be string, got {type_name(text)}")
    try:
        return parse_semver(text)
    except FunctionError as exc:
        raise FunctionError(f"invalid semantic version: {exc}") from None


def utility_functions() -> dict[str, ExprFunction]:
    """semverParse and semverDiff."""
    return {
        "semverParse": ExprFunction("semverParse", _semver_parse, 1, 1),
        "semverDiff": ExprFunction("semverDiff", semver_diff, 2, 2),
    }
