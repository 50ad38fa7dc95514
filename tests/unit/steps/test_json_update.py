"""json-update: in-place edits that keep indentation, key order and every other byte."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from shunter.api.v1alpha1.promotion import PromotionStepStatus
from shunter.edit.json import JsonUpdateError, set_json_values
from shunter.promotion.step import StepContext, StepError, TerminalStepError
from shunter.steps.json_update import JSONUpdateStep
from shunter.steps_support.messages import update_commit_message

PRETTY = """{
  "name": "lms",
  "image": {
    "repository": "example/app",
    "tag": "2026-11-20_0930-1f2e3d4"
  },
  "replicas": 2,
  "ports": [80, 443],
  "labels": {},
  "escaped": "caf\\u00e9 \\/ \\"q\\"",
  "ratio": 1.50
}
"""


def test_config_errors_name_the_key(config_error: Any) -> None:
    assert "config.path: required" in config_error(JSONUpdateStep, {"updates": []})
    raw = {"path": "a.json", "updates": [{"key": "a", "value": 1}], "extra": True}
    assert 'unknown key "extra"' in config_error(JSONUpdateStep, raw)
    raw = {"path": "a.json", "updates": [{"value": 1}]}
    assert "config.updates[0].key: required" in config_error(JSONUpdateStep, raw)
    raw = {"path": "a.json", "updates": [{"key": "a", "value": [1]}]}
    assert "config.updates[0].value" in config_error(JSONUpdateStep, raw)


async def test_tag_update_changes_one_line(work_dir: Path, ctx: StepContext, run_step: Any) -> None:
    (work_dir / "app.json").write_text(PRETTY)
    result = await run_step(
        JSONUpdateStep,
        ctx,
        {"path": "app.json", "updates": [{"key": "image.tag", "value": "2026-11-26_1200-abc1234"}]},
    )
    after = (work_dir / "app.json").read_text()
    assert after == PRETTY.replace("2026-11-20_0930-1f2e3d4", "2026-11-26_1200-abc1234")
    assert result.status is PromotionStepStatus.SUCCEEDED
    assert result.output == {
        "commitMessage": 'Updated app.json\n\n- image.tag: "2026-11-26_1200-abc1234"'
    }


def test_types_new_keys_and_appends_follow_the_layout() -> None:
    after = set_json_values(
        PRETTY,
        [
            ("replicas", 3),
            ("image.pullPolicy", "Always"),
            ("ports.-1", 8080),
            ("labels.team", "web"),
            ("deep.a.b", True),
            ("ratio", 0.25),
        ],
    )
    assert (
        after
        == """{
  "name": "lms",
  "image": {
    "repository": "example/app",
    "tag": "2026-11-20_0930-1f2e3d4",
    "pullPolicy": "Always"
  },
  "replicas": 3,
  "ports": [80, 443, 8080],
  "labels": {
    "team": "web"
  },
  "escaped": "caf\\u00e9 \\/ \\"q\\"",
  "ratio": 0.25,
  "deep": {
    "a": {
      "b": true
    }
  }
}
"""
    )
    assert list(json.loads(after)) == [
        "name",
        "image",
        "replicas",
        "ports",
        "labels",
        "escaped",
        "ratio",
        "deep",
    ]


def test_compact_json_stays_compact() -> None:
    text = '{"a":1,"b":{"c":"x"}}'
    assert set_json_values(text, [("b.d", None), ("e", "f")]) == (
        '{"a":1,"b":{"c":"x","d":null},"e":"f"}'
    )


def test_tabs_are_kept() -> None:
    text = '{\n\t"a": {\n\t\t"b": 1\n\t}\n}\n'
    assert set_json_values(text, [("a.c", 2)]) == '{\n\t"a": {\n\t\t"b": 1,\n\t\t"c": 2\n\t}\n}\n'


def test_escaped_dot_and_forced_key() -> None:
    text = '{"a.b": 1, "m": {"0": "x"}}'
    assert set_json_values(text, [("a\\.b", 2), ("m.:0", "y")]) == '{"a.b": 2, "m": {"0": "y"}}'


@pytest.mark.parametrize(
    ("text", "key", "problem"),
    [
        ('{"a": {"b": 1}}', "a", "addresses an object"),
        ('{"a": [1]}', "a", "addresses an array"),
        ('{"a": 1}', "a.b", "is a scalar"),
        ('{"a": [1]}', "a.x", "not an index"),
        ('{"a": [1]}', "a.3", "out of range"),
        ('{"a": 1, "a": 2}', "a", "duplicate key"),
        ('{"a": NaN}', "a", "NaN"),
        ('{"a": ', "a", "invalid JSON"),
    ],
)
def test_refused_updates(text: str, key: str, problem: str) -> None:
    with pytest.raises(JsonUpdateError, match=problem):
        set_json_values(text, [(key, 1)])


def test_non_finite_numbers_are_refused() -> None:
    with pytest.raises(JsonUpdateError, match="cannot be written"):
        set_json_values('{"a": 1}', [("a", float("inf"))])


async def test_bad_key_is_terminal(work_dir: Path, ctx: StepContext, run_step: Any) -> None:
    (work_dir / "a.json").write_text('{"a": {"b": 1}}')
    with pytest.raises(TerminalStepError, match="addresses an object"):
        await run_step(
            JSONUpdateStep, ctx, {"path": "a.json", "updates": [{"key": "a", "value": 1}]}
        )


async def test_missing_file_is_retryable(ctx: StepContext, run_step: Any) -> None:
    with pytest.raises(StepError) as info:
        await run_step(
            JSONUpdateStep, ctx, {"path": "a.json", "updates": [{"key": "a", "value": 1}]}
        )
    assert not isinstance(info.value, TerminalStepError)


@pytest.mark.parametrize("path", ["../outside/secret.txt", "/etc/hostname", "link/secret.txt"])
async def test_paths_outside_are_refused(
    path: str, work_dir: Path, outside: Path, ctx: StepContext, run_step: Any
) -> None:
    (work_dir / "link").symlink_to(outside)
    with pytest.raises(TerminalStepError):
        await run_step(JSONUpdateStep, ctx, {"path": path, "updates": [{"key": "a", "value": 1}]})
    assert (outside / "secret.txt").read_text() == "top secret\n"


def test_commit_message_formats_values_like_go() -> None:
    message = update_commit_message(
        "a.json", [("s", 'x"y'), ("i", 3), ("f", 2.5), ("b", True), ("n", None)], style="json"
    )
    assert message == 'Updated a.json\n\n- s: "x\\"y"\n- i: 3\n- f: 2.5\n- b: true\n- n: <nil>'
