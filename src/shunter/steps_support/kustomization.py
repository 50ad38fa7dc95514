"""Checking a kustomization tree before kustomize reads it.

Owns :func:`check_kustomization`: it walks the kustomization at a path and every local
kustomization it references, and refuses any referenced path that resolves (symlinks followed)
outside the work directory, and any resource that is not a local file or folder (kustomize would
fetch it from the network). It also reports whether Helm charts are inflated and refuses charts
pulled from a repository. kustomize's own ``LoadRestrictionsRootOnly`` still applies on top.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from shunter.promotion.step import TerminalStepError
from shunter.steps_support.render import check_tree_inside

__all__ = ["KustomizationInfo", "check_kustomization", "kustomization_file"]

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
#: Keys listing paths that may be kustomization folders (followed) or files.
_TREE_KEYS = ("resources", "bases", "components", "generators", "transformers", "validators")
#: Keys listing files.
_FILE_LIST_KEYS = ("crds", "configurations", "patchesStrategicMerge")


@dataclass
class KustomizationInfo:
    """What the check learned about a kustomization tree."""

    uses_helm: bool = False


def kustomization_file(folder: Path) -> Path | None:
    """The kustomization file in ``folder``, if any."""
    for name in KUSTOMIZATION_FILES:
        candidate = folder / name
        if candidate.is_file():
            return candidate
    return None


class _Walker:
    def __init__(self, work_dir: Path) -> None:
        self.root = work_dir.resolve()
        self.info = KustomizationInfo()
        self.seen: set[Path] = set()

    def shown(self, path: Path) -> str:
        return str(path.relative_to(self.root)) if path.is_relative_to(self.root) else "?"

    def resolve(self, base: Path, entry: str, where: Path) -> Path:
        if entry.startswith(("/", "~")):
            raise TerminalStepError(
                f"kustomize-build: {self.shown(where)} references absolute path {entry!r}"
            )
        resolved = (base / entry).resolve()
        if resolved != self.root and not resolved.is_relative_to(self.root):
            raise TerminalStepError(
                f"kustomize-build: {self.shown(where)} references {entry!r}, "
                "which leads outside the work directory"
            )
        return resolved

    def walk(self, folder: Path) -> None:
        folder = folder.resolve()
        if folder in self.seen:
            return
        self.seen.add(folder)
        file = kustomization_file(folder)
        if file is None:
            raise TerminalStepError(
                f"kustomize-build: no kustomization file in {self.shown(folder) or '.'}"
            )
        file = self.resolve(folder, file.name, folder)
        try:
            data: Any = YAML(typ="safe", pure=True).load(file.read_text(encoding="utf-8"))
        except (YAMLError, UnicodeDecodeError) as exc:
            raise TerminalStepError(
                f"kustomize-build: cannot parse {self.shown(file)}: {exc}"
            ) from None
        if data is None:
            return
        if not isinstance(data, dict):
            raise TerminalStepError(f"kustomize-build: {self.shown(file)} is not a mapping")
        self.check(folder, file, data)

    def paths(self, value: Any) -> list[str]:
        if not isinstance(value, list):
            return []
        # Multi-line strings are inline YAML (patches, generator configs), not paths.
        return [v for v in value if isinstance(v, str) and v.strip() and "\n" not in v]

    def check(self, folder: Path, file: Path, data: dict[str, Any]) -> None:
        for key in _TREE_KEYS:
            for entry in self.paths(data.get(key)):
                path = self.resolve(folder, entry, file)
                if path.is_dir():
                    self.walk(path)
                elif not path.is_file():
                    raise TerminalStepError(
                        f"kustomize-build: {self.shown(file)} {key} entry {entry!r} is not a "
                        "file or folder in the work directory (remote resources are not supported)"
                    )
        for key in _FILE_LIST_KEYS:
            for entry in self.paths(data.get(key)):
                self.resolve(folder, entry, file)
        for key in ("patches", "patchesJson6902", "replacements"):
            for item in data.get(key) or []:
                if isinstance(item, dict) and isinstance(item.get("path"), str):
                    self.resolve(folder, item["path"], file)
        openapi = data.get("openapi")
        if isinstance(openapi, dict) and isinstance(openapi.get("path"), str):
            self.resolve(folder, openapi["path"], file)
        for key in ("configMapGenerator", "secretGenerator"):
            for gen in data.get(key) or []:
                if not isinstance(gen, dict):
                    continue
                for entry in self.paths(gen.get("files")):
                    self.resolve(folder, entry.rpartition("=")[2], file)
                for entry in self.paths(gen.get("envs")):
                    self.resolve(folder, entry, file)
                if isinstance(gen.get("env"), str):
                    self.resolve(folder, gen["env"], file)
        self.check_helm(folder, file, data)

    def check_helm(self, folder: Path, file: Path, data: dict[str, Any]) -> None:
        charts = data.get("helmCharts") or []
        globals_ = data.get("helmGlobals")
        home = "charts"
        if isinstance(globals_, dict) and isinstance(globals_.get("chartHome"), str):
            home = globals_["chartHome"]
        chart_home = self.resolve(folder, home, file)
        if not charts:
            return
        self.info.uses_helm = True
        check_tree_inside(self.root, chart_home, f"kustomize-build: chart home {home!r}")
        for chart in charts:
            if not isinstance(chart, dict):
                continue
            if chart.get("repo"):
                raise TerminalStepError(
                    f"kustomize-build: {self.shown(file)} inflates chart {chart.get('name')!r} "
                    f"from {chart['repo']!r}; pulling charts is not supported, vendor the chart "
                    "under helmGlobals.chartHome (default: charts/) instead"
                )
            for entry in [chart.get("valuesFile"), *self.paths(chart.get("additionalValuesFiles"))]:
                if isinstance(entry, str) and entry:
                    self.resolve(folder, entry, file)


def check_kustomization(work_dir: Path, folder: Path) -> KustomizationInfo:
    """Check the kustomization in ``folder`` and all it references (TerminalStepError if not)."""
    walker = _Walker(work_dir)
    walker.walk(folder)
    return walker.info
