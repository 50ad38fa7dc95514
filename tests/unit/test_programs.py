"""shunter._internal.programs: finding programs, environment, time and output limits."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from shunter._internal.programs import (
    ProgramNotFoundError,
    ProgramOutputTooLargeError,
    ProgramTimeoutError,
    binary_env_var,
    find_program,
    minimal_env,
    run_program,
)
from shunter_devenv.waiting import wait_for_async


def test_binary_env_var() -> None:
    assert binary_env_var("kubectl") == "SHUNTER_KUBECTL_BINARY"
    assert binary_env_var("kube-apiserver") == "SHUNTER_KUBE_APISERVER_BINARY"


def test_find_program_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    on_path = tmp_path / "bin" / "tool"
    on_path.parent.mkdir()
    on_path.write_text("#!/bin/sh\n")
    on_path.chmod(0o755)
    monkeypatch.setenv("PATH", str(on_path.parent))
    monkeypatch.delenv("SHUNTER_TOOL_BINARY", raising=False)
    assert find_program("tool") == on_path
    monkeypatch.setenv("SHUNTER_TOOL_BINARY", sys.executable)
    assert find_program("tool") == Path(sys.executable)
    monkeypatch.setenv("SHUNTER_TOOL_BINARY", str(tmp_path / "nope"))
    with pytest.raises(ProgramNotFoundError, match=r"SHUNTER_TOOL_BINARY=.*not an executable"):
        find_program("tool")
    monkeypatch.delenv("SHUNTER_TOOL_BINARY")
    with pytest.raises(ProgramNotFoundError, match=r"'other' not found.*SHUNTER_OTHER_BINARY"):
        find_program("other")


def _gone(pid: int) -> bool:
    """Whether ``pid`` has exited (a zombie awaiting its reaper counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state in {"Z", "X"}


async def test_run_captures_output_and_exit_code(tmp_path: Path) -> None:
    code = "import os, sys; print(sorted(os.environ)); sys.stderr.write('bad'); sys.exit(3)"
    result = await run_program(
        [sys.executable, "-c", code], cwd=tmp_path, env=minimal_env({"X_ONLY": "1"})
    )
    assert result.returncode == 3
    assert not result.ok
    assert result.stderr == b"bad"
    names = result.stdout.decode()
    assert "X_ONLY" in names
    assert "HOME" not in names


async def test_timeout_kills_the_process_group(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    code = (
        "import subprocess, sys, time;"
        "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']);"
        f"open({str(pid_file)!r}, 'w').write(str(p.pid));"
        "time.sleep(60)"
    )
    started = time.monotonic()
    with pytest.raises(ProgramTimeoutError, match="did not finish within 1s"):
        await run_program([sys.executable, "-c", code], cwd=tmp_path, time_limit=1.0)
    assert time.monotonic() - started < 10
    child = int(pid_file.read_text())
    await wait_for_async(
        lambda: _gone(child), within=10, interval=0.05, what="the grandchild to die"
    )


async def test_output_cap(tmp_path: Path) -> None:
    code = "import sys; sys.stdout.write('x' * 100000)"
    with pytest.raises(ProgramOutputTooLargeError, match="more than 1000 bytes"):
        await run_program([sys.executable, "-c", code], cwd=tmp_path, max_output=1000)
