"""Keep step paths inside a promotion's working directory, at the moment each one is used.

Every path a step takes from its config is relative to the working directory (the *root*).
:func:`safe_join` turns a config path into a checked absolute path: it is refused when it is
absolute, climbs out with ``..``, or reaches outside through a symbolic link.

Checking a path once is not enough: a repository may commit ``evil -> /outside``, and a later
write to ``evil/x`` (a second checkout, an extracted archive, a copied tree) would land outside.
So every write goes through this module, which resolves the path *when it writes*, one
component at a time from an open descriptor of the root (``openat`` with ``O_NOFOLLOW``): each
directory is opened relative to its parent's descriptor, a symbolic link on the way is followed
only when where it leads is still inside the root (and refused otherwise), and the final open,
``mkdir``, ``rename`` or ``unlink`` happens relative to the descriptor of the folder reached,
so nothing can swap a component between the check and the use.

* :func:`open_dir` / :func:`open_parent`: descriptors to work relative to;
* :func:`open_file`, :func:`make_dirs`, :func:`remove`: the usual operations, confined;
* :func:`real_path`: where a path leads now (for programs that take a path, such as git);
* :func:`links_leaving`: the symbolic links under a tree that lead outside the root (to check
  what a program wrote).
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

__all__ = [
    "PathEscapeError",
    "links_leaving",
    "make_dirs",
    "open_dir",
    "open_file",
    "open_parent",
    "real_path",
    "remove",
    "safe_join",
]

#: How many symbolic links one path may pass through (Linux's limit).
_MAX_LINKS = 40
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


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


# -- the walk ------------------------------------------------------------------------------------


class _Walk:
    """Directories opened from the root, one descriptor per level (the last one is current)."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.fds = [os.open(self.root, _DIR_FLAGS)]
        self.names: list[str] = []
        self.links = 0

    def close(self) -> None:
        for fd in self.fds:
            os.close(fd)
        self.fds = []

    @property
    def fd(self) -> int:
        return self.fds[-1]

    @property
    def path(self) -> Path:
        return self.root.joinpath(*self.names)

    def shown(self, name: str = "") -> str:
        return "/".join([*self.names, name]).strip("/") or "."

    def up(self) -> None:
        if not self.names:
            raise PathEscapeError("the path leads outside the working directory (through '..')")
        os.close(self.fds.pop())
        self.names.pop()

    def restart(self) -> None:
        while self.names:
            self.up()

    def down(self, name: str, *, create: bool, mode: int) -> None:
        """Enter the directory ``name`` (created if asked); a symbolic link must be expanded."""
        try:
            fd = os.open(name, _DIR_FLAGS, dir_fd=self.fd)
        except FileNotFoundError:
            if not create:
                raise
            with contextlib.suppress(FileExistsError):
                os.mkdir(name, mode, dir_fd=self.fd)
            fd = os.open(name, _DIR_FLAGS, dir_fd=self.fd)
        self.fds.append(fd)
        self.names.append(name)

    def link_target(self, name: str) -> str | None:
        """The target of ``name`` in the current directory if it is a symbolic link, else None."""
        try:
            info = os.stat(name, dir_fd=self.fd, follow_symlinks=False)
        except FileNotFoundError:
            return None
        if not stat.S_ISLNK(info.st_mode):
            return None
        self.links += 1
        if self.links > _MAX_LINKS:
            raise PathEscapeError(f"too many symbolic links on the way to {self.shown(name)!r}")
        return os.readlink(name, dir_fd=self.fd)

    def expand(self, name: str, target: str) -> list[str]:
        """The components to walk instead of the link ``name`` (from where the walk now is)."""
        if "\x00" in target or not target:
            raise PathEscapeError(f"{self.shown(name)!r} is a broken symbolic link")
        if target.startswith("/"):
            absolute = Path(os.path.normpath(target))
            if absolute != self.root and not absolute.is_relative_to(self.root):
                raise PathEscapeError(
                    f"{self.shown(name)!r} is a symbolic link leading outside the working directory"
                )
            self.restart()
            return list(absolute.relative_to(self.root).parts)
        return list(PurePosixPath(target).parts)


def _parts(root: Path, path: Path) -> list[str]:
    """``path`` (absolute, lexically under ``root``) as components below ``root``."""
    resolved_root = root.resolve()
    for base in (resolved_root, root.absolute()):
        with contextlib.suppress(ValueError):
            return list(path.relative_to(base).parts)
    raise PathEscapeError(f"{path} is not inside the working directory")


def _walk_dirs(walk: _Walk, parts: list[str], *, create: bool, mode: int) -> None:
    """Walk ``parts`` as directories (following links that stay inside)."""
    todo = list(parts)
    while todo:
        name = todo.pop(0)
        if name in ("", "."):
            continue
        if name == "..":
            walk.up()
            continue
        try:
            walk.down(name, create=create, mode=mode)
            continue
        except OSError as exc:
            if exc.errno not in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK):
                raise
        target = walk.link_target(name)
        if target is None:
            raise NotADirectoryError(errno.ENOTDIR, "not a directory", walk.shown(name))
        todo[:0] = walk.expand(name, target)


@contextlib.contextmanager
def _walked(root: Path, parts: list[str], *, create: bool, mode: int) -> Iterator[_Walk]:
    walk = _Walk(root)
    try:
        _walk_dirs(walk, parts, create=create, mode=mode)
        yield walk
    finally:
        walk.close()


@contextlib.contextmanager
def open_dir(root: Path, path: Path, *, create: bool = False, mode: int = 0o755) -> Iterator[int]:
    """A descriptor of the directory ``path`` (created with its parents when ``create``).

    Raises:
        PathEscapeError: the path leads outside ``root``.
        FileNotFoundError, NotADirectoryError: as the system reports them.
    """
    with _walked(root, _parts(root, path), create=create, mode=mode) as walk:
        yield walk.fd


@contextlib.contextmanager
def _located(
    root: Path, path: Path, *, create: bool, mode: int, follow: bool
) -> Iterator[tuple[_Walk, str]]:
    """The walk to the folder holding the last component of ``path``, and that component."""
    parts = _parts(root, path)
    if not parts or parts[-1] in (".", ".."):
        raise PathEscapeError(f"{path} names no file inside the working directory")
    walk = _Walk(root)
    try:
        _walk_dirs(walk, parts[:-1], create=create, mode=mode)
        name = parts[-1]
        while follow:
            target = walk.link_target(name)
            if target is None:
                break
            expanded = walk.expand(name, target)
            while expanded and expanded[-1] in ("", "."):
                expanded.pop()
            if not expanded or expanded[-1] == "..":
                raise PathEscapeError(f"{walk.shown(name)!r} is a link to a directory")
            _walk_dirs(walk, expanded[:-1], create=create, mode=mode)
            name = expanded[-1]
        yield walk, name
    finally:
        walk.close()


@contextlib.contextmanager
def open_parent(
    root: Path, path: Path, *, create: bool = False, mode: int = 0o755, follow: bool = True
) -> Iterator[tuple[int, str]]:
    """``(descriptor of the folder holding the last component, its name)``.

    With ``follow``, a last component that is a symbolic link is followed (when it stays
    inside the root), so the name is never a link; without, the name may be a link, and what
    the caller does with it (unlink, rename over it) acts on the link itself.
    """
    with _located(root, path, create=create, mode=mode, follow=follow) as (walk, name):
        yield walk.fd, name


def real_path(root: Path, path: Path, *, create_parents: bool = False) -> Path:
    """Where ``path`` leads now, inside ``root``; links on the way resolved (the last one too).

    For handing a path to a program (git, helm) right before it runs: the result holds no
    symbolic link, and the folders up to it were created when ``create_parents``.
    """
    if not _parts(root, path):
        return root.resolve()
    with _located(root, path, create=create_parents, mode=0o755, follow=True) as (walk, name):
        return walk.path / name


def make_dirs(root: Path, path: Path, *, mode: int = 0o755) -> Path:
    """Create the directory ``path`` and its parents inside ``root``; return where it is."""
    with _walked(root, _parts(root, path), create=True, mode=mode) as walk:
        return walk.path


def open_file(
    root: Path,
    path: Path,
    flags: int,
    mode: int = 0o600,
    *,
    create_parents: bool = False,
    dir_mode: int = 0o755,
    follow: bool = True,
) -> int:
    """``os.open`` of ``path`` inside ``root`` (the last component opened with ``O_NOFOLLOW``).

    ``create_parents``: missing folders are created (with ``dir_mode``). ``follow``: a last
    component that is a symbolic link leading inside is followed; without it, a link there
    makes the open fail (``ELOOP``), as ``O_NOFOLLOW`` does.
    """
    with open_parent(root, path, create=create_parents, mode=dir_mode, follow=follow) as (
        fd,
        name,
    ):
        return os.open(name, flags | os.O_NOFOLLOW | os.O_CLOEXEC, mode, dir_fd=fd)


def remove(root: Path, path: Path) -> bool:
    """Delete ``path`` (a file, a link - not what it points to - or a whole tree).

    Returns False when there was nothing to delete. The root itself cannot be deleted.
    """
    with open_parent(root, path, follow=False) as (fd, name):
        try:
            info = os.stat(name, dir_fd=fd, follow_symlinks=False)
        except FileNotFoundError:
            return False
        if stat.S_ISDIR(info.st_mode):
            shutil.rmtree(name, dir_fd=fd)
        else:
            os.unlink(name, dir_fd=fd)
        return True


def links_leaving(root: Path, tree: Path) -> list[Path]:
    """The symbolic links under ``tree`` (itself included) that lead outside ``root``."""
    base = root.resolve()
    found: list[Path] = []

    def leaves(link: Path) -> bool:
        target = link.resolve()
        return target != base and not target.is_relative_to(base)

    if tree.is_symlink() and leaves(tree):
        return [tree]
    if not tree.is_dir():
        return []
    for folder, dirs, files in os.walk(tree):
        for entry in (*dirs, *files):
            path = Path(folder) / entry
            if path.is_symlink() and leaves(path):
                found.append(path)
    return found
