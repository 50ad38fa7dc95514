"""expr-lang semantics of raw expressions: operators, access, nil handling, builtins, errors.

Expected values were checked against expr-lang v1.17.8 (the version Kargo pins) where the
behaviours agree; deliberate differences are named in the test ids.
"""

from __future__ import annotations

from typing import Any

import pytest

from shunter.expressions import (
    ExpressionEvaluationError,
    ExpressionSyntaxError,
    compile_expression,
    evaluate,
)

ENV: dict[str, Any] = {
    "vars": {
        "x": "y",
        "repoURL": "https://github.com/example/repo.git",
        "envPath": "stages/test",
        "n": 3,
        "f": 2.5,
        "flag": True,
        "list": [1, 2, 3],
        "names": ["a", "b", "c"],
        "items": [{"name": "a", "size": 3}, {"name": "b", "size": 1}],
        "empty": None,
        "nested": {"a": {"b": [10, {"c": "deep"}]}},
    },
    "ctx": {
        "stage": "test",
        "project": "kargo-demo",
        "targetFreight": {"name": "abc123", "origin": {"name": "my-warehouse"}},
        "meta": {"promotion": {"actor": "admin", "rollback": False}},
    },
    "outputs": {
        "commit": {"commit": "deadbeef"},
        "open-pr": {"pr": {"id": 42, "url": "https://x/pr/42"}},
        "update-image": {"commitMessage": "Updated image"},
    },
    "task": {"outputs": {"update-image": {"commitMessage": "task message"}}},
}


CASES: list[tuple[str, Any]] = [
    # variables and member access
    ("vars.x", "y"),
    ("vars.repoURL", "https://github.com/example/repo.git"),
    ("ctx.stage", "test"),
    ("ctx.targetFreight.name", "abc123"),
    ("ctx.targetFreight.origin.name", "my-warehouse"),
    ("ctx.meta.promotion.rollback", False),
    ("outputs.commit.commit", "deadbeef"),
    ("outputs['open-pr'].pr.id", 42),
    ("outputs['update-image'].commitMessage", "Updated image"),
    ("task.outputs['update-image'].commitMessage", "task message"),
    ("vars['x']", "y"),
    ("vars.list[0]", 1),
    ("vars.list[-1]", 3),
    ("vars.nested.a.b[1].c", "deep"),
    ("vars.missing", None),
    ("unknownVariable", None),
    ("vars.empty?.field", None),
    ("vars.empty?.a.b.c", None),
    ("vars.empty?.[0]", None),
    ("vars.nested?.a.b[0]", 10),
    ("vars.missing ?? 'default'", "default"),
    ("vars.x ?? 'default'", "y"),
    ("false ?? true", False),
    ("nil ?? nil ?? 3", 3),
    ("1 + (nil ?? 2)", 3),
    ("$env.ctx.stage", "test"),
    ("'vars' in $env", True),
    # arithmetic
    ("1 + 2 * 3", 7),
    ("(1 + 2) * 3", 9),
    ("10 - 2 - 3", 5),
    ("7 / 2", 3.5),
    ("4 / 2", 2.0),
    ("7 % 3", 1),
    ("-7 % 3", -1),
    ("2 ** 10", 1024.0),
    ("2 ^ 3 ** 2", 512.0),
    ("-2 ** 2", -4.0),
    ("vars.n + vars.f", 5.5),
    ("-vars.n", -3),
    ("+vars.n", 3),
    ("9223372036854775807 + 1", -9223372036854775808),
    ("0x1F + 0o17 + 0b11", 49),
    ("1_000 + .5", 1000.5),
    ("1e3", 1000.0),
    # strings
    ("'stage/' + ctx.stage", "stage/test"),
    ("\"a\" + 'b' + `c`", "abc"),
    ("'\\u00e9\\x41\\101\\t'", "éAA\t"),
    ("'abc' contains 'b'", True),
    ("'abc' startsWith 'a'", True),
    ("'abc' endsWith 'a'", False),
    ("'abc' not endsWith 'a'", True),
    ("'v1.2.3' matches '^v\\\\d+\\\\.\\\\d+\\\\.\\\\d+$'", True),
    ("'ABC' matches '(?i)abc'", True),
    ("'hello'[1:3]", "el"),
    ("'héllo'[1]", "é"),
    # comparison and logic
    ("vars.x == 'y' ? 'a' : 'b'", "a"),
    ("vars.x != 'y' ? 'a' : 'b'", "b"),
    ("true ? 1 : false ? 2 : 3", 1),
    ("false ? 1 : false ? 2 : 3", 3),
    ("false ?: 'elvis'", "elvis"),
    ("1 == 1.0", True),
    ("'1' == 1", False),
    ("nil == nil", True),
    ("[1, 'a'] == [1.0, 'a']", True),
    ("{a: [1]} == {a: [1]}", True),
    ("1 < 2 < 3", True),
    ("3 > 2 > 2", False),
    ("'a' < 'b'", True),
    ("true and false or true", True),
    ("true || false && false", True),
    ("not true or true", True),
    ("!vars.flag", False),
    ("not (1 in [1])", False),
    ("1 not in [2]", True),
    ("'b' in vars.names", True),
    ("'x' in vars", True),
    ("'zzz' in vars", False),
    ("2 in vars.missing", False),
    # literals and ranges
    ("[1, 2, 3][0:2]", [1, 2]),
    ("[1, 2, 3][:-1]", [1, 2]),
    ("[1, 2, 3][5:]", []),
    ("1..3", [1, 2, 3]),
    ("3..1", []),
    ("{a: 1, 'b-c': 2, 3: 'x'}", {"a": 1, "b-c": 2, "3": "x"}),
    ("{('k' + '1'): true}", {"k1": True}),
    ("[1, 2,]", [1, 2]),
    # let, if, sequences, comments, pipes
    ("let x = 2; let y = x + 1; x * y", 6),
    ("if vars.flag { 'on' } else { 'off' }", "on"),
    ("1; 2; 3", 3),
    ("/* c */ 1 // trailing", 1),
    ("vars.list | map(# * 2) | sum()", 12),
    ("ctx.stage | upper()", "TEST"),
    # closures
    ("filter(['a','b'], # != 'a')", ["b"]),
    ("filter(vars.list, # > 1)", [2, 3]),
    ("map(vars.items, .name)", ["a", "b"]),
    ("map(vars.items, #.size * 2)", [6, 2]),
    ("map(1..3, # * #index)", [0, 2, 6]),
    ("filter(vars.items, {.size > 1})", [{"name": "a", "size": 3}]),
    ("all(vars.list, # > 0)", True),
    ("any(vars.list, # > 2)", True),
    ("none(vars.list, # > 5)", True),
    ("one(vars.list, # > 2)", True),
    ("find(vars.list, # > 1)", 2),
    ("findIndex(vars.list, # > 1)", 1),
    ("findLast(vars.list, # < 3)", 2),
    ("findLastIndex(vars.list, # < 3)", 1),
    ("count(vars.list, # % 2 == 1)", 2),
    ("count([true, false, true])", 2),
    ("sum(vars.items, .size)", 4),
    ("reduce(1..4, #acc + #)", 10),
    ("reduce(1..4, #acc + #, 10)", 20),
    ("sortBy(vars.items, .size)[0].name", "b"),
    ("sortBy(vars.items, .size, 'desc')[0].name", "a"),
    ("groupBy([1, 2, 3], # % 2 == 0)[true]", [2]),
    ("filter(vars.items, { let it = #; any(vars.names, # == it.name) }) | len()", 2),
    # builtins
    ("len(ctx.targetFreight.name)", 6),
    ("len('héllo')", 5),
    ("len(vars.list)", 3),
    ("len(vars)", 11),
    ("lower('ABC') + upper('def')", "abcDEF"),
    ("trim('  a b  ')", "a b"),
    ("trim('__a__', '_')", "a"),
    ("trimPrefix('HelloWorld', 'Hello')", "World"),
    ("trimSuffix('HelloWorld', 'World')", "Hello"),
    ("split('a,b,c', ',')", ["a", "b", "c"]),
    ("split('a,b,c', ',', 2)", ["a", "b,c"]),
    ("splitAfter('a,b,c', ',')", ["a,", "b,", "c"]),
    ("replace('aaa', 'a', 'b', 2)", "bba"),
    ("repeat('ab', 3)", "ababab"),
    ("indexOf('apple pie', 'pie')", 6),
    ("lastIndexOf('apple pie apple', 'apple')", 10),
    ("hasPrefix('abc', 'ab') && hasSuffix('abc', 'bc')", True),
    ("join(vars.names, '-')", "a-b-c"),
    ("join(['x', 'y'])", "xy"),
    ("keys({a: 1, b: 2})", ["a", "b"]),
    ("values({a: 1, b: 2})", [1, 2]),
    ("toPairs({a: 1})", [["a", 1]]),
    ("fromPairs([['a', 1]])", {"a": 1}),
    ("first(vars.list)", 1),
    ("last(vars.list)", 3),
    ("first([])", None),
    ("take(vars.list, 2)", [1, 2]),
    ("reverse(vars.list)", [3, 2, 1]),
    ("sort([3, 1.5, 2])", [1.5, 2, 3]),
    ("sort(['b', 'a'], 'desc')", ["b", "a"]),
    ("uniq([1, 1.0, '1', 2])", [1, "1", 2]),
    ("concat([1], [2, 3])", [1, 2, 3]),
    ("flatten([1, [2, [3]]])", [1, 2, 3]),
    ("get(vars.list, 10)", None),
    ("get(vars, 'x')", "y"),
    ("abs(-3) + ceil(1.2) + floor(-1.5) + round(2.5)", 6.0),
    ("max(1, 2.5, [3, 4])", 4),
    ("min(3, 1, 2)", 1),
    ("mean([1, 2])", 1.5),
    ("median([3, 1, 2, 4])", 2.5),
    ("int('12') + int(3.9)", 15),
    ("float('1.5') * 2", 3.0),
    ("string(1e6) + ' ' + string(123456.0) + ' ' + string(0.5)", "1e+06 123456 0.5"),
    ("string([1, 'a', nil])", "[1 a <nil>]"),
    ("string({b: 1, a: true})", "map[a:true b:1]"),
    (
        "type(1) + type(1.0) + type('') + type(nil) + type([]) + type({})",
        "intfloatstringnilarraymap",
    ),
    (
        "toJSON({b: 1, a: [1, 2.5, '<']})",
        '{\n  "a": [\n    1,\n    2.5,\n    "\\u003c"\n  ],\n  "b": 1\n}',
    ),
    ("fromJSON('{\"a\": [1, 2.5, null]}')", {"a": [1, 2.5, None]}),
    ("toBase64('Hello World')", "SGVsbG8gV29ybGQ="),
    ("fromBase64('SGVsbG8gV29ybGQ=')", "Hello World"),
    ("bitand(12, 10) + bitor(12, 10) + bitshl(1, 3)", 30),
    ("duration('1h30m').Minutes()", 90.0),
    ("string(duration('90m'))", "1h30m0s"),
    ("date('2023-08-14').Year()", 2023),
    ("date('2023-08-14T10:20:30Z').Format('2006-01-02 15:04')", "2023-08-14 10:20"),
    ("date('2023-08-15') > date('2023-08-14')", True),
    ("string(date('2023-08-14T10:20:30Z') - date('2023-08-14T10:00:00Z'))", "20m30s"),
    ("now() > date('2020-01-01')", True),
]


@pytest.mark.parametrize(("expression", "expected"), CASES, ids=[c[0] for c in CASES])
def test_expression_value(expression: str, expected: Any) -> None:
    result = evaluate(expression, ENV)
    assert result == expected
    assert type(result) is type(expected)


ERRORS: list[tuple[str, str, int]] = [
    # (expression, message fragment, 1-based column of the problem)
    ("vars.empty.field", "cannot fetch field from nil", 12),
    ("unknownVariable.field", "cannot fetch field from nil", 17),
    ("vars.list[5]", "index out of range: 5 (array length is 3)", 10),
    ("vars.list['a']", "array elements can only be selected using an integer", 10),
    ("1 / 0", "division by zero", 3),
    ("1 % 0", "integer divide by zero", 3),
    ("1.5 % 2", "mismatched types float and int", 5),
    ("'a' + 1", "mismatched types string and int", 5),
    ("1 < 'a'", "invalid operation: int < string", 3),
    ("!'x'", "invalid operation: !", 1),
    ("vars.x && true", "bool expected", 8),
    ("1 ? 2 : 3", "non-bool expression (type int) used as condition", 3),
    ("nosuch(1)", "unknown function nosuch()", 1),
    ("vars(1)", "vars is not a function", 1),
    ("len()", "len() takes 1 argument(s), got 0", 1),
    ("upper('a', 'b')", "upper() takes 1 argument(s), got 2", 1),
    ("len(1)", "invalid argument for len (type int)", 1),
    ("'abc' matches '('", "error parsing regexp", 7),
    ("'a' in 'abc'", 'operator "in" not defined on string', 5),
    ("filter(vars.x, # > 1)", "filter() expects an array, got string", 1),
    ("filter(vars.list, #)", "the predicate must return a bool", 1),
    ("reduce([], #acc + #)", "reduce of empty array with no initial value", 1),
    ("vars.x.Foo()", "type string has no method Foo()", 8),
    ("int('1.5')", "invalid operation: int(1.5)", 1),
    ("repeat('a', -1)", "invalid argument for repeat", 1),
    ("fromJSON('{')", "fromJSON()", 1),
    ("{(1): 2}", "map keys must be strings", 3),
]


@pytest.mark.parametrize(("expression", "fragment", "column"), ERRORS, ids=[e[0] for e in ERRORS])
def test_evaluation_errors_name_problem_and_position(
    expression: str, fragment: str, column: int
) -> None:
    with pytest.raises(ExpressionEvaluationError) as info:
        evaluate(expression, ENV)
    error = info.value
    assert fragment in error.message
    assert error.expression == expression
    assert error.column == column
    assert expression in str(error)


MALFORMED: list[tuple[str, str, int]] = [
    ("1 +", "unexpected end of expression", 4),
    ("(1 + 2", "expected ')'", 7),
    ("[1, 2", "expected ','", 6),
    ("{a: 1", "expected ','", 6),
    ("{a 1}", "expected ':'", 4),
    ("'unterminated", "literal not terminated", 1),
    ('"line\nbreak"', "literal not terminated", 1),
    ("1 ? 2", "expected ':'", 6),
    ("vars.", "expected a field name", 6),
    ("a b", "unexpected identifier 'b'", 3),
    ("1 === 2", "unexpected operator '='", 5),
    ("a ?? b + 1", "cannot be mixed", 8),
    ("filter([1])", "filter() expects at least 2 arguments", 11),
    ("# > 1", "only allowed inside a predicate", 1),
    ("map([1], #foo)", "unknown pointer #foo", 10),
    ("1 @ 2", "unrecognized character '@'", 3),
    ("12abc", "bad number syntax", 1),
    ("'\\q'", "invalid escape sequence", 2),
    ("let = 1; 2", "expected a variable name", 5),
    ("/* open", "unclosed comment", 1),
    ("a not b", "unexpected identifier 'b'", 7),
    ("f(1,,2)", "unexpected operator ','", 5),
    ("x | 1", "expected a function name after '|'", 5),
    ("  ", "empty expression", 1),
    ("99999999999999999999", "integer literal is too large", 1),
]


@pytest.mark.parametrize(
    ("expression", "fragment", "column"), MALFORMED, ids=[m[0] for m in MALFORMED]
)
def test_malformed_expressions_name_problem_and_position(
    expression: str, fragment: str, column: int
) -> None:
    with pytest.raises(ExpressionSyntaxError) as info:
        compile_expression(expression)
    error = info.value
    assert fragment in error.message
    assert error.column == column
    assert error.expression == expression


def test_multiline_position_reports_line_and_column() -> None:
    with pytest.raises(ExpressionEvaluationError) as info:
        evaluate("1 +\n  vars.empty.x", ENV)
    assert (info.value.line, info.value.column) == (2, 14)
    assert "^" in info.value.snippet()


def test_compiled_expressions_are_cached_and_reusable() -> None:
    first = compile_expression("vars.n * 2")
    assert compile_expression("vars.n * 2") is first
    assert first.evaluate(ENV) == 6
    assert first.evaluate({"vars": {"n": 5}}) == 10


def test_int_arithmetic_wraps_like_go() -> None:
    assert evaluate("9223372036854775807 * 2", {}) == -2
    assert evaluate("-9223372036854775807 - 2", {}) == 9223372036854775807
