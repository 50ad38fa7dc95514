"""toml-update: tomlkit edits that change only the updated values' bytes."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

import pytest

from shunter.api.v1alpha1.promotion import PromotionStepStatus
from shunter.edit.toml import TomlUpdateError, set_toml_values, toml_value_text
from shunter.promotion.registry import DEFAULT_REGISTRY
from shunter.promotion.step import StepContext, StepError, TerminalStepError
from shunter.steps.toml_update import TOMLUpdateStep

CARGO = """\
# Release settings for the lms service.
[package]
name    = "lms"          # aligned on purpose
version = '1.0.0'        # bumped by Kargo
edition = "2021"

[image]
repository = "example/lms"
tag = "2026-11-20_0930-1f2e3d4"   # the deployed build
ports = [ 80,  443 ]

[[servers]]
host = "a.example.com"

[[servers]]
host = "b.example.com"
weights = { primary = 3, backup = 1 }

[features]
enabled = false
"""


def test_registered() -> None:
    assert DEFAULT_REGISTRY.get("toml-update") is TOMLUpdateStep


def test_config_errors_name_the_key(config_error: Any) -> None:
    assert "config.path: required" in config_error(TOMLUpdateStep, {"updates": []})
    assert "config.updates" in config_error(TOMLUpdateStep, {"path": "a.toml", "updates": []})
    raw = {"path": "a.toml", "updates": [{"key": "a", "value": 1}], "extra": True}
    assert 'unknown key "extra"' in config_error(TOMLUpdateStep, raw)
    raw = {"path": "a.toml", "updates": [{"value": 1}]}
    assert "config.updates[0].key: required" in config_error(TOMLUpdateStep, raw)
    raw = {"path": "a.toml", "updates": [{"key": "a", "value": None}]}
    assert "config.updates[0].value" in config_error(TOMLUpdateStep, raw)
    raw = {"path": "a.toml", "updates": [{"key": "a", "value": [1]}]}
    assert "config.updates[0].value" in config_error(TOMLUpdateStep, raw)


async def test_tag_update_changes_one_line(work_dir: Path, ctx: StepContext, run_step: Any) -> None:
    (work_dir / "release.toml").write_text(CARGO)
    result = await run_step(
        TOMLUpdateStep,
        ctx,
        {"path": "release.toml", "updates": [{"key": "image.tag", "value": "2026-11-26_1200"}]},
    )
    after = (work_dir / "release.toml").read_bytes()
    before = CARGO.encode()
    diff = [
        line
        for line in difflib.diff_bytes(
            difflib.unified_diff, before.splitlines(True), after.splitlines(True), n=0
        )
        if line[:1] in b"+-" and not line.startswith((b"+++", b"---"))
    ]
    assert diff == [
        b'-tag = "2026-11-20_0930-1f2e3d4"   # the deployed build\n',
        b'+tag = "2026-11-26_1200"   # the deployed build\n',
    ]
    assert result.status is PromotionStepStatus.SUCCEEDED
    assert result.output == {
        "commitMessage": "Updated release.toml\n\n- image.tag: '2026-11-26_1200'"
    }


async def test_types_arrays_and_tables(work_dir: Path, ctx: StepContext, run_step: Any) -> None:
    (work_dir / "release.toml").write_text(CARGO)
    updates = [
        {"key": "package.version", "value": "1.0.1"},
        {"key": "features.enabled", "value": True},
        {"key": "image.ports.1", "value": 8443},
        {"key": "servers.1.host", "value": "c.example.com"},
        {"key": "servers.1.weights.backup", "value": 0.5},
    ]
    result = await run_step(TOMLUpdateStep, ctx, {"path": "release.toml", "updates": updates})
    expected = (
        CARGO.replace("'1.0.0'", "'1.0.1'")
        .replace("enabled = false", "enabled = true")
        .replace("[ 80,  443 ]", "[ 80,  8443 ]")
        .replace('"b.example.com"', '"c.example.com"')
        .replace("backup = 1 }", "backup = 0.5 }")
    )
    assert (work_dir / "release.toml").read_text() == expected
    assert result.output["commitMessage"] == (
        "Updated release.toml\n\n- package.version: '1.0.1'\n- features.enabled: true\n"
        "- image.ports.1: 8443\n- servers.1.host: 'c.example.com'\n"
        "- servers.1.weights.backup: 0.5"
    )


def test_crlf_and_escaped_dots_survive() -> None:
    text = '[a]\r\n"b.c" = 1 # note\r\nd = "x"\r\n'
    assert set_toml_values(text, [("a.b\\.c", 2)]) == '[a]\r\n"b.c" = 2 # note\r\nd = "x"\r\n'


def test_value_text_follows_go_toml() -> None:
    assert toml_value_text("1.2.3") == "'1.2.3'"
    assert toml_value_text("it's") == '"it\'s"'
    assert toml_value_text("a\nb") == '"a\\nb"'
    assert toml_value_text(False) == "false"
    assert toml_value_text(100) == "100"
    assert toml_value_text(1.0) == "1.0"


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("package.nope", "key path not found"),
        ("package", "addresses a table"),
        ("image.ports", "addresses an array"),
        ("servers.7.host", "out of range"),
        ("package.name.x", "is a scalar"),
        ("image.ports.x", "not an index"),
        ("a..b", "empty key part"),
    ],
)
def test_bad_keys(key: str, message: str) -> None:
    with pytest.raises(TomlUpdateError, match=message):
        set_toml_values(CARGO, [(key, 1)])


async def test_errors_leave_the_file_alone(work_dir: Path, ctx: StepContext, run_step: Any) -> None:
    (work_dir / "release.toml").write_text(CARGO)
    updates = [{"key": "image.tag", "value": "x"}, {"key": "package.nope", "value": 1}]
    with pytest.raises(TerminalStepError, match="key path not found"):
        await run_step(TOMLUpdateStep, ctx, {"path": "release.toml", "updates": updates})
    assert (work_dir / "release.toml").read_text() == CARGO
    (work_dir / "bad.toml").write_text("a = [1\n")
    with pytest.raises(TerminalStepError, match="invalid TOML"):
        await run_step(TOMLUpdateStep, ctx, {"path": "bad.toml", "updates": updates})
    with pytest.raises(StepError, match="does not exist"):
        await run_step(TOMLUpdateStep, ctx, {"path": "missing.toml", "updates": updates})


@pytest.mark.parametrize("path", ["../outside/secret.txt", "/etc/hostname", "link/secret.txt"])
async def test_paths_stay_in_the_work_dir(
    work_dir: Path, outside: Path, ctx: StepContext, run_step: Any, path: str
) -> None:
    (work_dir / "link").symlink_to(outside)
    raw = {"path": path, "updates": [{"key": "a", "value": 1}]}
    with pytest.raises(TerminalStepError):
        await run_step(TOMLUpdateStep, ctx, raw)
    assert (outside / "secret.txt").read_text() == "top secret\n"
