"""What ships: the wheel's packages, per pyproject.toml, hold the operator and nothing else."""

from __future__ import annotations

import tomllib
from pathlib import Path

from setuptools import find_namespace_packages, find_packages

ROOT = Path(__file__).resolve().parents[2]


def _wheel_packages() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    find = config["tool"]["setuptools"]["packages"]["find"]
    finder = find_namespace_packages if find.get("namespaces", True) else find_packages
    return finder(
        where=str(ROOT / find["where"][0]),
        include=find.get("include", ["*"]),
        exclude=find.get("exclude", []),
    )


def test_wheel_holds_the_operator_only() -> None:
    packages = _wheel_packages()
    assert "shunter" in packages
    assert "shunter.steps" in packages
    assert all(name == "shunter" or name.startswith("shunter.") for name in packages), packages
    assert not [name for name in packages if "devenv" in name]


def test_development_environment_is_importable_from_the_checkout() -> None:
    import shunter_devenv  # noqa: PLC0415 - the point is that this import works here

    assert Path(shunter_devenv.__file__).parent == ROOT / "src" / "shunter_devenv"


def test_image_build_context_leaves_out_the_development_environment() -> None:
    lines = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    assert lines.index("src/shunter_devenv/") > lines.index("!src/")
