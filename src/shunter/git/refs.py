"""Validation of branch names, tag names and commit ids before they reach a git command line.

The rules are git's ``check-ref-format`` rules (one-level names allowed) plus "must not start
with ``-``", so a value taken from a Promotion can never be read as an option by git.
"""

from __future__ import annotations

import re

from shunter.git.errors import InvalidRefError

__all__ = ["check_commit_id", "check_ref_name"]

_FORBIDDEN = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]|\.\.|@\{|//")
_COMMIT_ID = re.compile(r"[0-9a-fA-F]{4,64}")


def check_ref_name(name: str, kind: str = "branch") -> str:
    """Return ``name`` if it is a valid, option-safe branch or tag name; else raise.

    Raises:
        InvalidRefError: the name breaks one of git's ref-name rules or starts with ``-``.
    """
    problem = None
    if not name:
        problem = "is empty"
    elif name.startswith("-"):
        problem = "starts with '-'"
    elif name == "@":
        problem = "is '@'"
    elif _FORBIDDEN.search(name):
        problem = "contains a character or sequence git refuses"
    elif name.startswith("/") or name.endswith(("/", ".")):
        problem = "starts with '/' or ends with '/' or '.'"
    elif any(part.startswith(".") or part.endswith(".lock") for part in name.split("/")):
        problem = "has a component starting with '.' or ending with '.lock'"
    if problem is not None:
        raise InvalidRefError(f"invalid {kind} name {name!r}: it {problem}")
    return name


def check_commit_id(commit: str) -> str:
    """Return ``commit`` if it is a (possibly abbreviated) hexadecimal commit id; else raise."""
    if not _COMMIT_ID.fullmatch(commit):
        raise InvalidRefError(f"invalid commit id {commit!r}: expected 4 to 64 hex digits")
    return commit.lower()
