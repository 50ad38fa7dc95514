"""The UI's assets ship in the wheel and load nothing from elsewhere (works offline)."""

from __future__ import annotations

import re
import tomllib
from fnmatch import fnmatch
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
PACKAGE = ROOT / "src" / "shunter"
UI = PACKAGE / "ui"


def _assets() -> list[Path]:
    return [p for p in (UI / "templates").rglob("*") if p.is_file()] + [
        p for p in (UI / "static").rglob("*") if p.is_file()
    ]


def test_every_template_and_static_file_is_package_data() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]["shunter"]
    missing = [
        str(path.relative_to(PACKAGE))
        for path in _assets()
        if not any(fnmatch(str(path.relative_to(PACKAGE)), pattern) for pattern in patterns)
    ]
    assert missing == []


def test_pages_load_no_remote_scripts_styles_or_fonts() -> None:
    remote = re.compile(
        r"""(?:src|href)\s*=\s*["']?(?:https?:)?//|@import\s+url\(\s*["']?https?:"""
    )
    offenders = [
        str(path.relative_to(UI))
        for path in _assets()
        if path.suffix in (".html", ".css", ".js") and remote.search(path.read_text("utf-8"))
    ]
    assert offenders == []
