"""Semantic versions and constraints with the rules of Masterminds/semver v3 (what Kargo uses).

Kargo selects image tags, git tags and chart versions with Masterminds' parser and constraint
language; users' constraints must mean the same thing here. This module re-implements (never
copies) that behaviour:

* :func:`parse_version` (``semver.NewVersion``, coercing): ``v`` prefix allowed, minor/patch
  optional (``1`` = ``1.0.0``), leading zeros tolerated in major/minor/patch, prerelease and
  build metadata validated (numeric prerelease parts without leading zeros).
* :func:`parse_strict_version` (``semver.StrictNewVersion``): exactly ``X.Y.Z[-pre][+meta]``,
  no ``v``, no leading zeros.
* :func:`parse_tag` (Kargo's ``semver.Parse(tag, strict)``): coercing parse, plus with ``strict``
  the tag minus one leading ``v`` must be a strict version.
* :class:`Constraint` (``semver.NewConstraint``): comparisons ``=``, ``!=``, ``>``, ``<``, ``>=``
  (``=>``), ``<=`` (``=<``), tilde ``~``/``~>``, caret ``^``; wildcards ``x``/``X``/``*`` and
  missing parts (``1.2`` = ``1.2.x``); hyphen ranges ``1.2 - 1.4.5``; AND with spaces or commas;
  OR with ``||``. Prereleases only satisfy an OR-group that itself mentions a prerelease.
* Ordering: :meth:`Version.compare` (build metadata ignored); :func:`sort_descending` breaks
  ties by the original string, descending, so ``1.0.0`` sorts before ``1.0``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

from shunter.registries.errors import InvalidSubscriptionError

__all__ = [
    "Constraint",
    "InvalidConstraintError",
    "Version",
    "parse_strict_version",
    "parse_tag",
    "parse_version",
    "sort_descending",
    "subscription_constraint",
]

_T = TypeVar("_T")
_UINT64_MAX = 2**64 - 1
_MAX_CONSTRAINT_LENGTH = 1024
_WS = r"[\t\n\f\r ]"  # Go's \s
_NUM = frozenset("0123456789")
_ALLOWED = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-0123456789")

_LOOSE = re.compile(
    r"v?([0-9]+)(\.[0-9]+)?(\.[0-9]+)?"
    r"(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?"
    r"(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?\Z"
)
_CV = (
    r"v?([0-9|x|X|\*]+)(\.[0-9|x|X|\*]+)?(\.[0-9|x|X|\*]+)?"
    r"(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?"
    r"(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?"
)
_OPS = r"=||!=|>|<|>=|=>|<=|=<|~|~>|\^"
_CONSTRAINT = re.compile(rf"{_WS}*({_OPS}){_WS}*({_CV}){_WS}*\Z")
_RANGE = re.compile(rf"{_WS}*({_CV}){_WS}+-{_WS}+({_CV}){_WS}*")
_FIND = re.compile(rf"({_OPS}){_WS}*({_CV})")
_VALID = re.compile(
    rf"({_WS}*({_OPS}){_WS}*({_CV}){_WS}*)((?:{_WS}+|,{_WS}*)({_OPS}){_WS}*({_CV}){_WS}*)*\Z"
)


def _parse_uint(text: str) -> int | None:
    """Go's ``strconv.ParseUint(text, 10, 64)``; ``None`` on error."""
    if not text or not set(text) <= _NUM:
        return None
    value = int(text)
    return value if value <= _UINT64_MAX else None


def _valid_prerelease(pre: str) -> bool:
    for part in pre.split("."):
        if not part:
            return False
        if set(part) <= _NUM:
            if len(part) > 1 and part[0] == "0":
                return False
        elif not set(part) <= _ALLOWED:
            return False
    return True


def _valid_metadata(meta: str) -> bool:
    return all(part and set(part) <= _ALLOWED for part in meta.split("."))


@dataclass(frozen=True)
class Version:
    """A parsed semantic version; ``original`` is the text it was parsed from."""

    major: int
    minor: int
    patch: int
    prerelease: str = ""
    metadata: str = ""
    original: str = ""

    def __str__(self) -> str:
        text = f"{self.major}.{self.minor}.{self.patch}"
        if self.prerelease:
            text += f"-{self.prerelease}"
        if self.metadata:
            text += f"+{self.metadata}"
        return text

    def compare(self, other: Version) -> int:
        """-1, 0 or 1; build metadata is ignored, a prerelease sorts before its release."""
        for mine, theirs in (
            (self.major, other.major),
            (self.minor, other.minor),
            (self.patch, other.patch),
        ):
            if mine != theirs:
                return -1 if mine < theirs else 1
        if not self.prerelease and not other.prerelease:
            return 0
        if not self.prerelease:
            return 1
        if not other.prerelease:
            return -1
        return _compare_prerelease(self.prerelease, other.prerelease)


def _compare_pre_part(mine: str, theirs: str) -> int:
    if mine == theirs:
        return 0
    if not mine:
        return -1
    if not theirs:
        return 1
    mine_num, theirs_num = _parse_uint(mine), _parse_uint(theirs)
    if mine_num is None and theirs_num is None:
        return 1 if mine > theirs else -1
    if theirs_num is None:
        return -1
    if mine_num is None:
        return 1
    return 1 if mine_num > theirs_num else -1


def _compare_prerelease(mine: str, theirs: str) -> int:
    mine_parts, their_parts = mine.split("."), theirs.split(".")
    for index in range(max(len(mine_parts), len(their_parts))):
        a = mine_parts[index] if index < len(mine_parts) else ""
        b = their_parts[index] if index < len(their_parts) else ""
        result = _compare_pre_part(a, b)
        if result:
            return result
    return 0


def parse_version(text: str) -> Version | None:
    """Masterminds' ``NewVersion`` (coercing); ``None`` if ``text`` is not a version."""
    match = _LOOSE.match(text)
    if match is None:
        return None
    major = _parse_uint(match.group(1))
    minor = _parse_uint((match.group(2) or ".0")[1:])
    patch = _parse_uint((match.group(3) or ".0")[1:])
    if major is None or minor is None or patch is None:
        return None
    pre = match.group(5) or ""
    meta = match.group(8) or ""
    if pre and not _valid_prerelease(pre):
        return None
    if meta and not _valid_metadata(meta):
        return None
    return Version(major, minor, patch, pre, meta, text)


def parse_strict_version(text: str) -> Version | None:
    """Masterminds' ``StrictNewVersion``: exactly ``X.Y.Z[-pre][+meta]``."""
    if not text:
        return None
    parts = text.split(".", 2)
    if len(parts) != 3:
        return None
    meta = pre = ""
    if "+" in parts[2]:
        parts[2], meta = parts[2].split("+", 1)
        if not _valid_metadata(meta):
            return None
    if "-" in parts[2]:
        parts[2], pre = parts[2].split("-", 1)
        if not _valid_prerelease(pre):
            return None
    numbers: list[int] = []
    for part in parts:
        if not set(part) <= _NUM or (len(part) > 1 and part[0] == "0"):
            return None
        value = _parse_uint(part)
        if value is None:
            return None
        numbers.append(value)
    return Version(numbers[0], numbers[1], numbers[2], pre, meta, text)


def parse_tag(tag: str, strict: bool) -> Version | None:
    """Kargo's tag parser: coercing parse; with ``strict``, ``tag`` minus ``v`` must be strict."""
    version = parse_version(tag)
    if version is None:
        return None
    if strict and parse_strict_version(tag.removeprefix("v")) is None:
        return None
    return version


def sort_descending(items: Iterable[_T], version_of: Callable[[_T], Version]) -> list[_T]:
    """``items`` newest version first; equal versions by original text, descending."""

    def order(a: _T, b: _T) -> int:
        va, vb = version_of(a), version_of(b)
        result = vb.compare(va)
        if result:
            return result
        if va.original == vb.original:
            return 0
        return 1 if vb.original > va.original else -1

    return sorted(items, key=functools.cmp_to_key(order))


class InvalidConstraintError(ValueError):
    """A semver constraint that Masterminds would refuse."""


def _is_x(text: str) -> bool:
    return text in ("x", "X", "*")


@dataclass(frozen=True)
class _Term:
    op: str
    version: Version
    text: str
    minor_dirty: bool
    patch_dirty: bool
    dirty: bool

    def check(self, v: Version, include_pre: bool) -> bool:
        if v.prerelease and not include_pre:
            return False
        return _CHECKS[self.op](self, v, include_pre)


def _not_equal(c: _Term, v: Version, _pre: bool) -> bool:
    if c.dirty:
        if c.version.major != v.major:
            return True
        if c.version.minor != v.minor and not c.minor_dirty:
            return True
        if c.minor_dirty:
            return False
        if c.version.patch != v.patch and not c.patch_dirty:
            return True
        if c.patch_dirty:
            if v.prerelease or c.version.prerelease:
                return _compare_prerelease(v.prerelease, c.version.prerelease) != 0
            return False
    return v.compare(c.version) != 0


def _greater(c: _Term, v: Version, _pre: bool) -> bool:
    if not c.dirty:
        return v.compare(c.version) == 1
    if v.major != c.version.major:
        return v.major > c.version.major
    if c.minor_dirty:
        return False
    if c.patch_dirty:
        return v.minor > c.version.minor
    return v.compare(c.version) == 1


def _less(c: _Term, v: Version, _pre: bool) -> bool:
    return v.compare(c.version) < 0


def _greater_equal(c: _Term, v: Version, _pre: bool) -> bool:
    return v.compare(c.version) >= 0


def _less_equal(c: _Term, v: Version, _pre: bool) -> bool:
    if not c.dirty:
        return v.compare(c.version) <= 0
    if v.major > c.version.major:
        return False
    return not (v.major == c.version.major and v.minor > c.version.minor and not c.minor_dirty)


def _tilde(c: _Term, v: Version, _pre: bool) -> bool:
    if v.compare(c.version) < 0:
        return False
    con = c.version
    if (con.major, con.minor, con.patch) == (0, 0, 0) and not (c.minor_dirty or c.patch_dirty):
        return True
    if v.major != con.major:
        return False
    return not (v.minor != con.minor and not c.minor_dirty)


def _tilde_or_equal(c: _Term, v: Version, pre: bool) -> bool:
    if c.dirty:
        return _tilde(c, v, pre)
    return v.compare(c.version) == 0


def _caret(c: _Term, v: Version, _pre: bool) -> bool:
    con = c.version
    if v.compare(con) < 0:
        return False
    if con.major > 0 or c.minor_dirty:
        return v.major == con.major
    if v.major > 0:
        return False
    if con.minor > 0 or c.patch_dirty:
        return v.minor == con.minor
    if v.minor > 0:
        return False
    return con.patch == v.patch


_CHECKS: dict[str, Callable[[_Term, Version, bool], bool]] = {
    "": _tilde_or_equal,
    "=": _tilde_or_equal,
    "!=": _not_equal,
    ">": _greater,
    "<": _less,
    ">=": _greater_equal,
    "=>": _greater_equal,
    "<=": _less_equal,
    "=<": _less_equal,
    "~": _tilde,
    "~>": _tilde,
    "^": _caret,
}


def _parse_term(text: str) -> _Term:
    match = _CONSTRAINT.match(text)
    if match is None:
        raise InvalidConstraintError(f"improper constraint: {text!r}")
    op, whole = match.group(1), match.group(2)
    major, minor, patch = match.group(3), match.group(4) or "", match.group(5) or ""
    pre = match.group(6) or ""
    minor_dirty = patch_dirty = dirty = False
    version_text = whole
    if _is_x(major):
        version_text, dirty = f"0.0.0{pre}", True
    elif _is_x(minor.removeprefix(".")) or not minor:
        version_text, minor_dirty, dirty = f"{major}.0.0{pre}", True, True
    elif _is_x(patch.removeprefix(".")) or not patch:
        version_text, patch_dirty, dirty = f"{major}{minor}.0{pre}", True, True
    version = parse_version(version_text)
    if version is None:
        raise InvalidConstraintError(f"improper constraint: {text!r}")
    return _Term(op, version, whole, minor_dirty, patch_dirty, dirty)


def _rewrite_ranges(text: str) -> str:
    for match in list(_RANGE.finditer(text)):
        text = text.replace(match.group(0), f">= {match.group(1)}, <= {match.group(11)} ", 1)
    return text


class Constraint:
    """A parsed constraint such as ``^1.2``, ``>=1.0.0 <2.0.0 || 3.x`` or ``1.2 - 1.4``."""

    def __init__(self, text: str) -> None:
        if len(text) > _MAX_CONSTRAINT_LENGTH:
            raise InvalidConstraintError("constraint is too long")
        self.text = text
        groups: list[tuple[tuple[_Term, ...], bool]] = []
        for alternative in _rewrite_ranges(text).split("||"):
            if not _VALID.match(alternative):
                raise InvalidConstraintError(f"improper constraint: {alternative!r}")
            found = [m.group(0) for m in _FIND.finditer(alternative)] or [alternative]
            terms = tuple(_parse_term(item) for item in found)
            groups.append((terms, any(term.version.prerelease for term in terms)))
        self._groups = tuple(groups)

    def __repr__(self) -> str:
        return f"Constraint({self.text!r})"

    def check(self, version: Version) -> bool:
        """Whether ``version`` satisfies any OR-group (all of that group's terms)."""
        return any(
            all(term.check(version, has_pre) for term in terms) for terms, has_pre in self._groups
        )


def subscription_constraint(text: str | None, field: str) -> Constraint | None:
    """A subscription's constraint field parsed (``None`` when empty); a bad one raises
    :class:`~shunter.registries.errors.InvalidSubscriptionError` naming ``field``."""
    if not text:
        return None
    try:
        return Constraint(text)
    except InvalidConstraintError as error:
        raise InvalidSubscriptionError(f"invalid {field} {text!r}: {error}") from None
