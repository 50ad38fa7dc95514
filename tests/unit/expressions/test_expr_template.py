"""Kargo's ``${{ }}`` templating: coercion of results, mixed text, configs, quoting, errors."""

from __future__ import annotations

from typing import Any

import pytest

from shunter.expressions import (
    Environment,
    ExpressionEvaluationError,
    ExpressionSyntaxError,
    TemplateError,
    coerce_template_text,
    evaluate,
    evaluate_template,
    evaluate_template_string,
    render_template_string,
)

ENV: dict[str, Any] = {
    "vars": {
        "repoURL": "https://github.com/example/repo.git",
        "envPath": "stages/test",
        "image": "ghcr.io/example/app",
        "num": "42",
        "boolish": "true",
        "jsonish": '{"a": [1, 2]}',
        "quoted": '"keep"',
        "count": 3,
        "obj": {"b": 1, "a": [1, 2.5]},
        "nl": "text\n",
    },
    "ctx": {"stage": "test", "targetFreight": {"name": "f-1"}},
    "outputs": {"commit": {"commit": "abc123"}, "open-pr": {"pr": {"id": 7}}},
}

TEMPLATES: list[tuple[str, Any]] = [
    ("${{ vars.repoURL }}", "https://github.com/example/repo.git"),
    ("./src/${{ vars.envPath }}/values.yaml", "./src/stages/test/values.yaml"),
    ("stage/${{ ctx.stage }}", "stage/test"),
    ("${{ outputs.commit.commit }}", "abc123"),
    ("${{ outputs['open-pr'].pr.id }}", 7),
    ("${{ ctx.stage == 'test' ? 'a' : 'b' }}", "a"),
    ("${{ filter(['a','b'], # != 'a') }}", ["b"]),
    ("${{ len(ctx.targetFreight.name) }}", 3),
    ("no expression 42", "no expression 42"),
    ("42", "42"),
    ("true", "true"),
    ("${{ 40 + 2 }}", 42),
    ("${{ quote(40 + 2) }}", "42"),
    ("${{ quote('string') }}", "string"),
    ("${{ unsafeQuote('string') }}", '"string"'),
    ("${{ unsafeQuote(40 + 2) }}", "42"),
    ("${{ quote(true) }}", "true"),
    ("${{ quote({'a': 1}) }}", '{"a":1}'),
    ("${{ quote('a\"b') }}", 'a\\"b'),
    ("x ${{ quote('y') }}", 'x "y"'),
    ("${{ true }}", True),
    ("${{ 't' }}", True),
    ("${{ 'False' }}", False),
    ("${{ 1 }}", 1),
    ("${{ 0 }}", 0),
    ("${{ 1.5 }}", 1.5),
    ("${{ 7 / 2 * 2 }}", 7),
    ("${{ 1.0 }}", 1),
    ("${{ 1 / 3 }}", 0.3333333333333333),
    ("${{ vars.num }}", 42),
    ("${{ vars.boolish }}", True),
    ("${{ vars.jsonish }}", {"a": [1, 2]}),
    ("${{ vars.quoted }}", "keep"),
    ("${{ vars.obj }}", {"a": [1, 2.5], "b": 1}),
    ("${{ [1, 'a', nil] }}", [1, "a", None]),
    ("${{ nil }}", None),
    ("${{ vars.missing }}", None),
    ("${{ 'null' }}", None),
    ("${{ '[1, 2' }}", "[1, 2"),
    ("${{ ' 42' }}", 42),
    ("${{ '1_000' }}", 1000),
    ("${{ '.5' }}", 0.5),
    ("${{ '0x10' }}", "0x10"),
    ("${{ 'nan' }}", "nan"),
    ("${{ '1e400' }}", "1e400"),
    ("${{ 4 }}${{ 2 }}", 42),
    ("v${{ 1 }}.${{ 2 }}", "v1.2"),
    ("${{ 1 }}.${{ 5 }}", 1.5),
    ("${{ true }} and ${{ false }}", "true and false"),
    ("${{ vars.count }} items", "3 items"),
    ("obj=${{ vars.obj }}", 'obj={"a":[1,2.5],"b":1}'),
    ("${{ 'a' }}\n", "a\n"),
    ("${{ '\"a\"' }}\n", "a\n"),
    ("${{ vars.nl }}", "text\n"),
    ("${{ '\"' }}", '"'),
    ("${{ '\"\"' }}", ""),
    ("${% {'labels': {'app': 'nginx'}} %}", {"labels": {"app": "nginx"}}),
    ("${{ '${{' }}", "${{"),
    ("a ${% '}}' %} b", "a }} b"),
    ("${{ 1e21 }}", 1e21),
    ("${{ 0.000001 }}", 0.000001),
    ("${{ asJSON({'b': 1, 'a': [true]}) }}", '{\n  "a": [\n    true\n  ],\n  "b": 1\n}\n'),
    ("${{ toJSON('<&>') }}", "\\u003c\\u0026\\u003e"),
    ("${{ '<&>' }}", "<&>"),
    ("${{ {'h': '<b>'} }}", {"h": "<b>"}),
]


@pytest.mark.parametrize(("template", "expected"), TEMPLATES, ids=[t[0] for t in TEMPLATES])
def test_template_value(template: str, expected: Any) -> None:
    result = evaluate_template_string(template, ENV)
    assert result == expected
    assert type(result) is type(expected)


COERCIONS: list[tuple[str, Any]] = [
    ("42", 42),
    ("-7", -7),
    ("+5", 5),
    ("5.", 5),
    ("1e3", 1000),
    ("2.50", 2.5),
    ("0x1p4", 16),
    ("123456789012345678901234567890", 1.2345678901234568e29),
    ("1", 1),
    ("T", True),
    ("FALSE", False),
    ("yes", "yes"),
    ('"quoted"', "quoted"),
    ('"', '"'),
    ("null", None),
    ("[]", []),
    ("{}", {}),
    ('{"x": 1.0}', {"x": 1}),
    ("Infinity", "Infinity"),
    ("plain\n", "plain\n"),
    ("42\n", 42),
]


@pytest.mark.parametrize(("text", "expected"), COERCIONS, ids=[c[0] for c in COERCIONS])
def test_coercion_rules(text: str, expected: Any) -> None:
    result = coerce_template_text(text)
    assert result == expected
    assert type(result) is type(expected)


def test_config_is_evaluated_recursively_values_only() -> None:
    config = {
        "repoURL": "${{ vars.repoURL }}",
        "checkout": [
            {"fromFreight": True, "path": "./src"},
            {"branch": "stage/${{ ctx.stage }}", "create": True, "path": "./out"},
        ],
        "${{ ctx.stage }}": "key is not evaluated",
        "replicas": "${{ vars.count }}",
        "nested": {"deeper": [["${{ outputs.commit.commit }}"]], "n": 1, "none": None},
    }
    result = evaluate_template(config, ENV)
    assert result == {
        "repoURL": "https://github.com/example/repo.git",
        "checkout": [
            {"fromFreight": True, "path": "./src"},
            {"branch": "stage/test", "create": True, "path": "./out"},
        ],
        "${{ ctx.stage }}": "key is not evaluated",
        "replicas": 3,
        "nested": {"deeper": [["abc123"]], "n": 1, "none": None},
    }
    assert config["replicas"] == "${{ vars.count }}"  # the input is not modified


def test_render_template_string_returns_text() -> None:
    assert render_template_string("${{ quote('x') }}", ENV) == "x"
    assert render_template_string("${{ 40 + 2 }}", ENV) == "42"
    assert render_template_string("${{ vars.obj }}", ENV) == '{"a":[1,2.5],"b":1}'
    with pytest.raises(ExpressionEvaluationError, match="must evaluate to a string, got int"):
        render_template_string("${{ 40 + 2 }}", ENV, require_string=True)


def test_as_yaml_uses_four_space_indentation_and_sorted_keys() -> None:
    result = evaluate_template_string("${{ asYAML({'b': [1, {'x': true}], 'a': 'text'}) }}", ENV)
    assert result == "a: text\nb:\n    - 1\n    - x: true\n"


@pytest.mark.parametrize(
    ("template", "fragment"),
    [
        ("${{ vars.repoURL", "unclosed expression: expected '}}'"),
        ("a ${% 1 + 1", "unclosed expression: expected '%}'"),
        ("${{ {'a': {'b': 1}} }}", "expected ','"),
    ],
)
def test_malformed_templates(template: str, fragment: str) -> None:
    with pytest.raises((TemplateError, ExpressionSyntaxError)) as info:
        evaluate_template_string(template, ENV)
    assert fragment in str(info.value)
    assert info.value.template == template


def test_errors_inside_templates_locate_the_expression() -> None:
    template = "prefix ${{ vars.missing.field }} suffix"
    with pytest.raises(ExpressionEvaluationError) as info:
        evaluate_template_string(template, ENV)
    error = info.value
    assert error.expression == " vars.missing.field "
    assert error.template == template
    assert error.template_offset == template.index("${{") + 3
    assert "cannot fetch field from nil" in str(error)


def test_unrenderable_value_is_an_error() -> None:
    with pytest.raises(ExpressionEvaluationError, match="unsupported value"):
        evaluate_template_string("${{ float('NaN') }}", ENV)


def test_template_functions_are_only_available_in_templates() -> None:
    with pytest.raises(ExpressionEvaluationError, match="unknown function quote"):
        evaluate("quote('x')", ENV)
    env = Environment(variables=ENV)
    assert evaluate_template_string("${{ quote(1) }}", env) == "1"
