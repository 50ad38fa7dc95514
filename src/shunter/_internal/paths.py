"""Keep step paths inside a promotion's working directory.

Every path a step takes from its config is relative to the working directory. A path is
refused when it is absolute, climbs out with ``..``, or reaches outside through a symlink
(checked on the resolved path, so a link planted by an earlier step cannot be used either).
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

__all__ = ["PathEscapeError", "safe_join"]


class PathEscapeError(ValueError):
    """A path leads outside the working directory."""


def safe_join(root: Path, relative: str, *, allow_root: bool = False) -> Path:
    """``root / relative``, resolved, refusing anything that leaves ``root``.

    Args:
        root: the working directory (must exist).
        relative: a path from a step's config, e.g. ``./src/preprod/values.yaml``.
        allow_root: whether ``relative`` may name the working directory itself (``.``).

    Raises:
        PathEscapeError: the path is empty, absolute, or resolves outside ``root``.
    """
    if not relative or not relative.strip():
        raise PathEscapeError("path must not be empty")
    if "\x00" in relative:
        raise PathEscapeError(f"path {relative!r} contains a NUL byte")
    pure = PurePosixPath(relative)
    if pure.is_absolute() or relative.startswith("~"):
        raise PathEscapeError(f"path {relative!r} must be relative to the working directory")
    base = root.resolve()
    candidate = (base / pure).resolve()
    if candidate == base and not allow_root:
        raise PathEscapeError(f"path {relative!r} names the working directory itself")
    if candidate != base and not candidate.is_relative_to(base):
        raise PathEscapeError(f"path {relative!r} leads outside the working directory")
    return candidate
