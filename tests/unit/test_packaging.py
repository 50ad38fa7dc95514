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


def _contract_layers() -> list[set[str]]:
    text = (ROOT / ".importlinter").read_text(encoding="utf-8")
    block = text.split("[importlinter:contract:layers]", 1)[1].split("\n[", 1)[0]
    lines = block.split("layers =", 1)[1].splitlines()
    return [
        {name.strip(" ()").removeprefix("shunter.") for name in line.split("|")}
        for line in lines
        if line.startswith("    ") and line.strip()
    ]


def _documented_layers() -> list[set[str]]:
    text = (ROOT / "docs" / "development.md").read_text(encoding="utf-8")
    table = text.split("| Layer | Package | Owns |", 1)[1].split("\n\n", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("| ") and "---" not in line]
    return [{name.strip(" `") for name in row.split("|")[2].split("&#124;")} for row in rows]


def test_package_map_in_the_docs_matches_the_import_contract() -> None:
    assert _documented_layers() == _contract_layers()


def test_every_package_has_a_layer() -> None:
    placed = set().union(*_contract_layers())
    source = ROOT / "src" / "shunter"
    packages = {p.name for p in source.iterdir() if (p / "__init__.py").is_file()}
    modules = {p.stem for p in source.glob("*.py") if not p.stem.startswith("__")}
    assert (packages | modules) - placed == set()
