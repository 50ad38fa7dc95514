"""``make demo`` non-interactively, then ``shunter promote`` promotes prod in that environment.

The demo's new tag reaches the Warehouse through the webhook receiver (the registry notifies
it), not through a refresh annotation or the Warehouse's 5-minute poll."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from shunter.cli import main as shunter
from shunter_devenv.demo import PROJECT, REPO, Demo, run_demo
from shunter_devenv.waiting import wait_for


def test_demo_then_promote_prod(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    seen: dict[str, Any] = {}

    def promote_prod(demo: Demo, freight: dict[str, Any]) -> None:
        out = capsys.readouterr().out
        assert "To promote prod, run:" in out
        assert f"Open the web UI (pipeline, Freight, promote prod):\n  {demo.ui.url}" in out
        assert demo.ui.url.startswith("http://127.0.0.1:")
        assert "?key=" in demo.ui.url
        assert f"webhook receiver\n  {demo.receiver_url}\n" in out
        assert "receiver registry of project sandbox-example (generic): 200" in demo.operator.log()
        assert f"--freight {freight['alias']}" in out
        tag = freight["images"][0]["tag"]
        preprod = demo.git.read_file(REPO, "master", "preprod/values.yaml").decode()
        assert f'lmsImageTag: "{tag}"' in preprod  # the file's quoting is kept
        code = shunter(
            [
                "--kubeconfig", str(demo.work / "kubeconfig"),
                "promote", "--project", PROJECT, "--stage", "prod",
                "--freight", freight["alias"],
            ]
        )  # fmt: skip
        assert code == 0
        demo.wait_in_stage("prod", freight["metadata"]["name"])
        prod = demo.git.read_file(REPO, "master", "prod/values.yaml").decode()
        assert f'lmsImageTag: "{tag}"' in prod
        seen["plane"] = demo.plane
        seen["operator"] = demo.operator
        seen["ui"] = demo.ui

    assert run_demo(tmp_path / "demo", wait=False, on_ready=promote_prod) == 0
    assert "plane" in seen, "the demo never got to the prod promotion"
    # Nothing is left running.
    wait_for(lambda: not seen["operator"].running(), what="the operator to stop")
    wait_for(lambda: not seen["ui"].running(), what="the UI to stop")
    assert not seen["plane"].pids or all(
        not Path(f"/proc/{pid}").exists() for pid in seen["plane"].pids.values()
    )
