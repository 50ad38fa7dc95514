"""The chart's copy of the CRDs (charts/shunter/files/crds) is the generated crds/*.yaml."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
SOURCE = ROOT / "crds"
COPY = ROOT / "charts" / "shunter" / "files" / "crds"
FIX = "run tools/sync-chart-crds.sh (after make crds) to refresh the chart's copy"


def test_the_chart_holds_exactly_the_generated_files() -> None:
    source = sorted(p.name for p in SOURCE.glob("*.yaml"))
    copy = sorted(p.name for p in COPY.glob("*.yaml"))
    assert source, "crds/ holds no YAML file"
    assert copy == source, FIX


def test_every_copied_file_is_byte_for_byte_current() -> None:
    stale = [
        p.name
        for p in sorted(SOURCE.glob("*.yaml"))
        if (COPY / p.name).read_bytes() != p.read_bytes()
    ]
    assert stale == [], FIX


def test_the_sync_script_agrees() -> None:
    result = subprocess.run(
        ["bash", str(ROOT / "tools" / "sync-chart-crds.sh"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
