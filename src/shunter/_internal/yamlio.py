"""Read Kubernetes manifests the way kubectl does.

Manifests copied from web pages often carry trailing tabs after a value (the seed's
``path: ./src<TAB><TAB>``). kubectl's YAML parser accepts them; ruamel.yaml refuses a tab
that "cannot start any token". :func:`load_manifests` drops trailing tabs and spaces at line
ends outside block scalars' content so both agree.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

__all__ = ["dump_yaml", "load_manifest_files", "load_manifests"]

_TRAILING_TABS = re.compile(r"[ \t]*\t[ \t]*$", re.MULTILINE)


def load_manifests(text: str) -> list[dict[str, Any]]:
    """Every non-empty YAML document in ``text``, as plain dicts and lists."""
    yaml = YAML(typ="safe", pure=True)
    docs = yaml.load_all(_TRAILING_TABS.sub("", text))
    return [d for d in docs if d]


def load_manifest_files(*paths: Path) -> list[dict[str, Any]]:
    """Every document of every ``*.yaml``/``*.yml`` file, folders expanded in name order."""
    out: list[dict[str, Any]] = []
    for path in paths:
        files = (
            sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml"))
            if path.is_dir()
            else [path]
        )
        for f in files:
            out.extend(load_manifests(f.read_text(encoding="utf-8")))
    return out


def dump_yaml(docs: list[dict[str, Any]]) -> str:
    """YAML text for documents (block style, keys in insertion order)."""
    yaml = YAML()
    yaml.default_flow_style = False
    yaml.width = 4096
    buf = io.StringIO()
    yaml.dump_all(docs, buf)
    return buf.getvalue()
