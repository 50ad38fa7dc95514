"""yaml-update: in-place edits that leave every other byte of the file alone."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from shunter.api.v1alpha1.promotion import PromotionStepStatus
from shunter.edit.yaml import YamlUpdateError, set_yaml_values
from shunter.edit.yaml_tree import Indentation, detect_indentation
from shunter.promotion.step import StepContext, StepError, TerminalStepError
from shunter.steps.yaml_update import YAMLUpdateStep
from shunter.steps_support.messages import update_commit_message

FIXTURE = Path(__file__).parents[2] / "data" / "values" / "realistic-values.yaml"
NEW_TAG = "2026-11-26_1200-abc1234"


def load(text: str) -> Any:
    return YAML(typ="safe", pure=True).load(text)


def changed_lines(before: bytes, after: bytes) -> list[tuple[int, bytes, bytes]]:
    old, new = before.splitlines(keepends=True), after.splitlines(keepends=True)
    assert len(old) == len(new), "line count changed"
    return [(i, a, b) for i, (a, b) in enumerate(zip(old, new, strict=True)) if a != b]


# -- config ---------------------------------------------------------------------------------


def test_config_unknown_key_is_named(config_error: Any) -> None:
    message = config_error(YAMLUpdateStep, {"path": "v.yaml", "updates": [], "bogus": 1})
    assert 'unknown key "bogus"' in message


def test_config_unknown_key_in_update_is_named(config_error: Any) -> None:
    raw = {"path": "v.yaml", "updates": [{"key": "a", "value": 1, "vaule": 2}]}
    assert 'config.updates[0]: unknown key "vaule"' in config_error(YAMLUpdateStep, raw)


def test_config_missing_keys_are_named(config_error: Any) -> None:
    assert "config.path: required" in config_error(YAMLUpdateStep, {"updates": []})
    message = config_error(YAMLUpdateStep, {"path": "v.yaml", "updates": [{"key": "a"}]})
    assert "config.updates[0].value: required" in message


def test_config_needs_one_update_and_scalar_values(config_error: Any) -> None:
    assert "config.updates" in config_error(YAMLUpdateStep, {"path": "v.yaml", "updates": []})
    raw = {"path": "v.yaml", "updates": [{"key": "a", "value": {"b": 1}}]}
    assert "config.updates[0].value" in config_error(YAMLUpdateStep, raw)


# -- the seed's update on a realistic values file -------------------------------------------


async def test_realistic_values_file_changes_exactly_one_line(
    work_dir: Path, ctx: StepContext, run_step: Any
) -> None:
    target = work_dir / "src" / "preprod" / "values.yaml"
    target.parent.mkdir(parents=True)
    shutil.copyfile(FIXTURE, target)
    before = target.read_bytes()

    result = await run_step(
        YAMLUpdateStep,
        ctx,
        {
            "path": "./src/preprod/values.yaml",
            "updates": [{"key": "general.lmsImageTag", "value": NEW_TAG}],
        },
    )

    after = target.read_bytes()
    assert changed_lines(before, after) == [
        (10, b"  lmsImageTag: 2026-11-20_0930-1f2e3d4\n", f"  lmsImageTag: {NEW_TAG}\n".encode())
    ]
    assert result.status is PromotionStepStatus.SUCCEEDED
    assert result.output == {
        "commitMessage": f"Updated ./src/preprod/values.yaml\n\n- general.lmsImageTag: {NEW_TAG}"
    }
    assert load(after.decode())["general"]["lmsImageTag"] == NEW_TAG


def test_realistic_values_file_many_edits_touch_only_their_lines() -> None:
    text = FIXTURE.read_text()
    updates: list[tuple[str, Any]] = [
        ("general.environment", "prod"),  # single-quoted, stays single-quoted
        ("general.timezone", "UTC"),  # double-quoted, stays double-quoted
        ("general.replicaCount", 3),
        ("general.debug", True),
        ("worker.queues.1", "mail"),
        ("worker.resources", "none"),  # an alias at the key is replaced, the anchor kept
        ("ingress.annotations.nginx\\.ingress\\.kubernetes\\.io/proxy-body-size", "128m"),
        ("env.0.value", "postgres://other"),
        ("version", "1.11"),  # a string that looks like a float gets quoted
        ("enabledYes", "no"),  # a YAML 1.1 boolean word gets quoted
    ]
    after = set_yaml_values(text, updates)
    changes = changed_lines(text.encode(), after.encode())
    assert len(changes) == len(updates)
    new = {i: b.decode() for i, _, b in changes}
    assert new[14] == "  environment: 'prod'\n"
    assert new[16] == '  timezone: "UTC"\n'
    assert new[33] == '    - "mail"\n'
    assert new[29] == "  resources: none\n"
    assert new[73] == 'version: "1.11"\n'
    assert new[75] == 'enabledYes: "no"\n'
    data = load(after)
    assert data["resources"]["limits"]["cpu"] == "500m"  # the anchored mapping is untouched
    assert data["worker"]["global"]["imageRegistry"] == "us-east1-docker.pkg.dev"
    assert data["version"] == "1.11"
    assert data["enabledYes"] == "no"


# -- editing rules --------------------------------------------------------------------------


def test_value_types_are_kept() -> None:
    text = "a: x\nb: x\nc: x\nd: x\ne: x\n"
    after = set_yaml_values(text, [("a", 1), ("b", 1.5), ("c", False), ("d", None), ("e", "1e3")])
    assert after == 'a: 1\nb: 1.5\nc: false\nd: null\ne: "1e3"\n'
    assert load(after) == {"a": 1, "b": 1.5, "c": False, "d": None, "e": "1e3"}


def test_quoted_strings_keep_their_quotes_and_comments_stay() -> None:
    text = "a: 'x'  # one\nb: \"y\" # two\nc: z # three\n"
    after = set_yaml_values(text, [("a", "it's"), ("b", 'say "hi"'), ("c", "w")])
    assert after == "a: 'it''s'  # one\nb: \"say \\\"hi\\\"\" # two\nc: w # three\n"


def test_missing_keys_are_created_with_the_file_indentation() -> None:
    text = "# top\nroot:\n    child:\n        leaf: 1\n\nother: 2\n"
    after = set_yaml_values(text, [("root.child.new", "v"), ("root.extra.deep.key", 7)])
    assert after == (
        "# top\nroot:\n    child:\n        leaf: 1\n        new: v\n"
        "    extra:\n        deep:\n            key: 7\n\nother: 2\n"
    )


def test_null_values_become_mappings() -> None:
    text = "a:\nb: ~ # keep me\nc: 1\n"
    after = set_yaml_values(text, [("a.x", 1), ("b.y.z", "w"), ("c2.y", 1)])
    assert (
        after == 'a:\n  x: 1\nb: # keep me\n  "y":\n    z: w\nc: 1\nc2:\n  "y": 1\n'
    )  # y is a YAML 1.1 bool


def test_list_items_by_index_and_append() -> None:
    text = "l:\n  - a\n  - b\nm:\n- name: x\n"
    after = set_yaml_values(text, [("l.0", "A"), ("l.-1", "c"), ("m.1.name", "q")])
    assert after == "l:\n  - A\n  - b\n  - c\nm:\n- name: x\n- name: q\n"


def test_flow_collections_are_extended_in_flow_style() -> None:
    text = "f: {a: 1}\ng: []\nh: [x]\n"
    after = set_yaml_values(text, [("f.b", "two words"), ("g.0", 1), ("h.1", "z")])
    assert after == "f: {a: 1, b: two words}\ng: [1]\nh: [x, z]\n"


def test_escaped_dots_and_colon_prefix() -> None:
    text = "a.b: 1\nm:\n  '0': x\n"
    assert set_yaml_values(text, [("a\\.b", 2), ("m.:0", "z")]) == "a.b: 2\nm:\n  '0': z\n"


def test_merge_key_inherited_leaf_is_overridden_locally() -> None:
    text = "base: &b\n  x: 1\nchild:\n  <<: *b\n  y: 2\n"
    after = set_yaml_values(text, [("child.x", 5)])
    assert after == "base: &b\n  x: 1\nchild:\n  <<: *b\n  y: 2\n  x: 5\n"
    assert load(after)["base"]["x"] == 1


def test_updating_the_anchor_keeps_the_anchor() -> None:
    text = "a: &t v1\nb: *t\n"
    assert set_yaml_values(text, [("a", "v2")]) == "a: &t v2\nb: *t\n"


def test_block_scalar_replaced_by_multiline_value() -> None:
    text = "s: |\n  one\n  two\nt: 1\n"
    after = set_yaml_values(text, [("s", "three\nfour\n")])
    assert after == "s: |\n  three\n  four\nt: 1\n"


def test_only_the_first_document_is_updated() -> None:
    text = "---\na: 1\n---\na: 2\n"
    assert set_yaml_values(text, [("a", 9)]) == "---\na: 9\n---\na: 2\n"


def test_crlf_and_bom_survive(work_dir: Path) -> None:
    text = "a:\r\n  b: 1\r\n"
    assert set_yaml_values(text, [("a.c", "x")]) == "a:\r\n  b: 1\r\n  c: x\r\n"


async def test_bom_is_kept(work_dir: Path, ctx: StepContext, run_step: Any) -> None:
    (work_dir / "v.yaml").write_bytes(b"\xef\xbb\xbfa: 1\n")
    await run_step(YAMLUpdateStep, ctx, {"path": "v.yaml", "updates": [{"key": "a", "value": 2}]})
    assert (work_dir / "v.yaml").read_bytes() == b"\xef\xbb\xbfa: 2\n"


@pytest.mark.parametrize(
    ("text", "key", "problem"),
    [
        ("a:\n  b: 1\n", "a", "addresses a mapping"),
        ("a: [1]\n", "a", "addresses a list"),
        ("a: 1\n", "a.b", "is a scalar"),
        ("a: [1]\n", "a.x", "not an index"),
        ("a: [1]\n", "a.5", "out of range"),
        ("x: &m {k: 1}\na: *m\n", "a.k", "is an alias"),
        ("base: &b\n  s: {t: 1}\nc:\n  <<: *b\n", "c.s.t", "merge key"),
        ("", "a", "no YAML document"),
        ("a: [\n", "a", "invalid YAML"),
        ("a: 1\n", "a..b", "empty key part"),
        ("a: !custom x\n", "a", "custom tag"),
    ],
)
def test_refused_updates(text: str, key: str, problem: str) -> None:
    with pytest.raises(YamlUpdateError, match=problem):
        set_yaml_values(text, [(key, "v")])


def test_indentation_detection() -> None:
    assert detect_indentation("a:\n  b:\n    c: 1\nl:\n- x\n") == Indentation(2, 2, 0)
    assert detect_indentation("a:\n    b: 1\nl:\n    - x\n") == Indentation(4, 6, 4)
    assert detect_indentation("a:\n  b: 1\nl:\n  - x\n") == Indentation(2, 4, 2)
    assert detect_indentation("a: 1\n") == Indentation()


# -- step behaviour: errors and path safety -------------------------------------------------


async def test_missing_file_is_a_retryable_error(ctx: StepContext, run_step: Any) -> None:
    with pytest.raises(StepError, match="does not exist") as info:
        await run_step(
            YAMLUpdateStep, ctx, {"path": "nope.yaml", "updates": [{"key": "a", "value": 1}]}
        )
    assert not isinstance(info.value, TerminalStepError)


async def test_bad_key_is_terminal_and_file_untouched(
    work_dir: Path, ctx: StepContext, run_step: Any
) -> None:
    (work_dir / "v.yaml").write_text("a:\n  b: 1\n")
    with pytest.raises(TerminalStepError, match="addresses a mapping"):
        await run_step(
            YAMLUpdateStep, ctx, {"path": "v.yaml", "updates": [{"key": "a", "value": 1}]}
        )
    assert (work_dir / "v.yaml").read_text() == "a:\n  b: 1\n"


@pytest.mark.parametrize(
    "path", ["../outside/secret.txt", "/etc/hostname", "link/secret.txt", "filelink"]
)
async def test_paths_outside_the_work_dir_are_refused(
    path: str, work_dir: Path, outside: Path, ctx: StepContext, run_step: Any
) -> None:
    (work_dir / "link").symlink_to(outside)
    (work_dir / "filelink").symlink_to(outside / "secret.txt")
    with pytest.raises(TerminalStepError, match=r"outside|relative"):
        await run_step(YAMLUpdateStep, ctx, {"path": path, "updates": [{"key": "a", "value": 1}]})
    assert (outside / "secret.txt").read_text() == "top secret\n"


def test_commit_message_quotes_like_kargo() -> None:
    message = update_commit_message(
        "values.yaml",
        [("a", "1.0"), ("b", "true"), ("c", "plain"), ("d", 3), ("e", False), ("f", '{"x":1}')],
        style="yaml",
    )
    assert message == (
        'Updated values.yaml\n\n- a: "1.0"\n- b: "true"\n- c: plain\n- d: 3\n- e: false\n'
        '- f: "{\\"x\\":1}"'
    )


def _leaf_paths(
    data: Any, prefix: tuple[str, ...] = (), seen: set[int] | None = None
) -> list[tuple[str, ...]]:
    seen = set() if seen is None else seen
    if isinstance(data, (dict, list)):
        if id(data) in seen:  # reached again through an alias
            return []
        seen.add(id(data))
        items = data.items() if isinstance(data, dict) else enumerate(data)
        out: list[tuple[str, ...]] = []
        for key, value in items:
            out.extend(_leaf_paths(value, (*prefix, str(key)), seen))
        return out
    return [prefix]


@pytest.mark.parametrize("path", _leaf_paths(load(FIXTURE.read_text())), ids=".".join)
def test_every_leaf_of_the_realistic_file_can_be_set(path: tuple[str, ...]) -> None:
    text = FIXTURE.read_text()
    key = ".".join(part.replace(".", "\\.") for part in path)
    after = set_yaml_values(text, [(key, "new value #1")])
    expected = copy.deepcopy(load(text))
    node = expected
    for part in path[:-1]:
        node = node[int(part)] if isinstance(node, list) else node[part]
    node[int(path[-1]) if isinstance(node, list) else path[-1]] = "new value #1"
    assert load(after) == expected
    old_lines, new_lines = text.splitlines(), after.splitlines()
    differing = [i for i, (a, b) in enumerate(zip(old_lines, new_lines, strict=False)) if a != b]
    assert len(differing) <= 1 or len(old_lines) != len(new_lines)
