"""The confined file operations of _internal.paths: links inside are followed, links out never."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from shunter._internal.paths import (
    PathEscapeError,
    links_leaving,
    make_dirs,
    open_dir,
    open_file,
    real_path,
    remove,
    safe_join,
)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    path = tmp_path / "work"
    (path / "src" / "env").mkdir(parents=True)
    (path / "common").mkdir()
    (path / "common" / "values.yaml").write_text("a: 1\n")
    return path


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    path = tmp_path / "outside"
    path.mkdir()
    (path / "secret.txt").write_text("top secret\n")
    return path


def write(root: Path, path: Path, data: bytes, **kwargs: object) -> None:
    fd = open_file(root, path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, **kwargs)  # type: ignore[arg-type]
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


class TestLinksInside:
    def test_a_link_inside_is_followed(self, root: Path) -> None:
        (root / "src" / "env" / "common").symlink_to("../../common")
        write(root, root / "src" / "env" / "common" / "values.yaml", b"a: 2\n")
        assert (root / "common" / "values.yaml").read_text() == "a: 2\n"

    def test_a_last_component_link_inside_is_followed(self, root: Path) -> None:
        (root / "src" / "values.yaml").symlink_to("../common/values.yaml")
        write(root, root / "src" / "values.yaml", b"a: 3\n")
        assert (root / "common" / "values.yaml").read_text() == "a: 3\n"
        assert (root / "src" / "values.yaml").is_symlink()

    def test_an_absolute_link_inside_is_followed(self, root: Path) -> None:
        (root / "abs").symlink_to(root.resolve() / "common")
        assert (
            real_path(root, root / "abs" / "values.yaml") == root.resolve() / "common/values.yaml"
        )

    def test_real_path_and_make_dirs(self, root: Path) -> None:
        (root / "link").symlink_to("src")
        made = make_dirs(root, root / "link" / "a" / "b")
        assert made == root.resolve() / "src" / "a" / "b"
        assert made.is_dir()
        target = real_path(root, root / "link" / "c" / "d", create_parents=True)
        assert target == root.resolve() / "src" / "c" / "d"
        assert (root / "src" / "c").is_dir()
        assert not target.exists()


class TestLinksOutside:
    @pytest.mark.parametrize("target", ["{outside}", "../../outside", "../../../../..{outside}"])
    def test_a_link_out_is_refused_on_the_way(self, root: Path, outside: Path, target: str) -> None:
        (root / "src" / "evil").symlink_to(target.format(outside=outside))
        with pytest.raises(PathEscapeError, match="outside the working directory"):
            write(root, root / "src" / "evil" / "pwned", b"x", create_parents=True)
        with pytest.raises(PathEscapeError):
            make_dirs(root, root / "src" / "evil" / "pwned")
        with pytest.raises(PathEscapeError):
            real_path(root, root / "src" / "evil" / "pwned", create_parents=True)
        assert [p.name for p in outside.iterdir()] == ["secret.txt"]

    def test_a_last_component_link_out_is_refused(self, root: Path, outside: Path) -> None:
        (root / "values.yaml").symlink_to(outside / "secret.txt")
        with pytest.raises(PathEscapeError):
            write(root, root / "values.yaml", b"pwned")
        with pytest.raises(OSError, match="Too many levels of symbolic links"):
            write(root, root / "values.yaml", b"pwned", follow=False)
        assert (outside / "secret.txt").read_text() == "top secret\n"

    def test_link_chains_and_loops(self, root: Path, outside: Path) -> None:
        (root / "a").symlink_to("b")
        (root / "b").symlink_to("c")
        (root / "c").symlink_to(str(outside))
        with pytest.raises(PathEscapeError):
            make_dirs(root, root / "a" / "x")
        (root / "loop").symlink_to("loop")
        with pytest.raises(PathEscapeError, match="too many symbolic links"):
            make_dirs(root, root / "loop" / "x")

    def test_a_path_outside_the_root(self, root: Path, outside: Path) -> None:
        with pytest.raises(PathEscapeError):
            make_dirs(root, outside / "x")


class TestRemove:
    def test_a_link_is_removed_not_what_it_points_to(self, root: Path, outside: Path) -> None:
        (root / "to-outside").symlink_to(outside)
        assert remove(root, root / "to-outside")
        assert (outside / "secret.txt").exists()
        assert not remove(root, root / "to-outside")

    def test_a_tree_is_removed_without_following_links(self, root: Path, outside: Path) -> None:
        (root / "src" / "env" / "out").symlink_to(outside)
        assert remove(root, root / "src")
        assert not (root / "src").exists()
        assert (outside / "secret.txt").exists()

    def test_through_a_link_out(self, root: Path, outside: Path) -> None:
        (root / "evil").symlink_to(outside)
        with pytest.raises(PathEscapeError):
            remove(root, root / "evil" / "secret.txt")
        assert (outside / "secret.txt").exists()


def test_open_dir_and_links_leaving(root: Path, outside: Path) -> None:
    with open_dir(root, root / "src", create=True) as fd:
        os.mkdir("made", dir_fd=fd)
    assert (root / "src" / "made").is_dir()
    (root / "src" / "ok").symlink_to("../common")
    (root / "src" / "made" / "bad").symlink_to(outside)
    assert links_leaving(root, root / "src") == [root / "src" / "made" / "bad"]
    assert links_leaving(root, root / "common") == []


def test_safe_join_is_unchanged(root: Path, outside: Path) -> None:
    (root / "evil").symlink_to(outside)
    assert safe_join(root, "./src/env") == root.resolve() / "src" / "env"
    for bad in ("../x", "/etc", "evil/secret.txt", "~/x", ""):
        with pytest.raises(PathEscapeError):
            safe_join(root, bad)
