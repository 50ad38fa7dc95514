"""Hostile and malformed input: only the evaluator's errors come out, every operation is charged
by the size of what it touches, and only ASCII digits make numbers (issue 12)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest

from shunter.expressions import (
    ExpressionError,
    ExpressionEvaluationError,
    ExpressionLimitError,
    ExpressionSyntaxError,
    evaluate,
    evaluate_template,
    evaluate_template_string,
    render_template_string,
)
from shunter.expressions.gotime import GoTime
from shunter.expressions.limits import SizedList, deadline_scope, measure

# Each used to raise a Python exception (OverflowError, TypeError, ValueError, RecursionError).
WRONG_TYPE_REPRODUCERS = [
    "[1][1e400]",
    "'abc'[1e400:]",
    "1..1e400",
    "duration('1s') * 1e400",
    "now().AddDate(10000,0,0)",
    "now().AddDate(nil,0,0)",
    "date('9999-12-31T23:59:59Z').Add(duration('1h'))",
    "reduce(1..5000,[#acc],[])",
    "repeat('a', 1e400)",
    "int(repeat('1', 5000))",
    "duration(repeat('1', 5000) + 's')",
    "fromJSON(repeat('1', 5000))",
    "date('0001-01-01T00:00:00Z').In(timezone('America/New_York'))",
    "date('0001-01-01T00:00:00Z') - duration('1h')",
    "now().Add(1e400)",
    "take([1, 2], 1e400)",
    "split('a,b', ',', 1e400)",
    "bitshl(1, 1e400)",
    "get([1], 1e400)",
]


@pytest.mark.parametrize("expression", WRONG_TYPE_REPRODUCERS)
def test_only_the_evaluators_errors_come_out(expression: str) -> None:
    with contextlib.suppress(ExpressionError):
        evaluate(expression, {})


@pytest.mark.parametrize(
    ("expression", "fragment"),
    [
        ("[1][1e400]", "index out of range"),
        ("1..1e400", "mismatched types int and float"),
        ("1..2.5", "mismatched types int and float"),
        ("duration('1s') * 1e400", "overflows"),
        ("now().AddDate(10000,0,0)", "time out of range"),
        ("now().AddDate(nil,0,0)", "AddDate() expects integers, got nil"),
        ("date('9999-12-31T23:59:59Z').Add(duration('1h'))", "time out of range"),
        ("int(repeat('1', 5000))", "invalid operation: int("),
        ("fromJSON(repeat('1', 5000))", "too many digits"),
    ],
)
def test_wrong_input_is_reported_clearly(expression: str, fragment: str) -> None:
    with pytest.raises(ExpressionEvaluationError) as info:
        evaluate(expression, {})
    assert fragment in info.value.message


def test_results_for_valid_inputs_are_unchanged() -> None:
    assert evaluate("1..3", {}) == [1, 2, 3]
    assert evaluate("1.0..3", {}) == [1, 2, 3]
    assert evaluate("[1, 2, 3][1.9]", {}) == 2
    assert evaluate("'abcd'[1.0:3]", {}) == "bc"
    assert evaluate("duration('1s') * 1.5", {}).ns == 1_500_000_000
    assert evaluate("date('2024-01-31').AddDate(0, 1, 0).Format('2006-01-02')", {}) == (
        "2024-03-02"
    )


@pytest.mark.parametrize(
    "template",
    [
        "${{ repeat('0', 4400) }}1",
        "${{ repeat('9', 5000) }}",
        "${{ '[' + repeat('7', 5000) + ']' }}",
    ],
)
def test_template_coercion_of_long_digit_strings(template: str) -> None:
    value = evaluate_template_string(template, {})
    assert isinstance(value, (int, float, list, str))


def test_template_coercion_of_numbers() -> None:
    assert evaluate_template_string("${{ repeat('0', 4400) }}1", {}) == 1
    assert evaluate_template_string("${{ '-00042' }}", {}) == -42
    assert evaluate_template_string("${{ '9223372036854775807' }}", {}) == 9223372036854775807
    assert evaluate_template_string("${{ repeat('9', 25) }}", {}) == 1e25
    assert evaluate_template_string("${{ '[1, 99999999999999999999]' }}", {}) == [1, 1e20]


def test_reduce_building_deep_lists_is_a_limit_not_a_recursion_error() -> None:
    with pytest.raises(ExpressionLimitError, match="nested deeper than 100 levels"):
        evaluate("reduce(1..5000, [#acc], [])", {})
    assert len(evaluate("toJSON(reduce(1..90, [#acc], 0))", {})) > 90


# --- budgets: every operation is charged by the size of what it touches ---------------------


@pytest.fixture
def no_time_limit() -> Iterator[None]:
    """Step and size limits must answer, not the clock of a busy test machine."""
    with deadline_scope(600):
        yield


@pytest.mark.parametrize(
    "expression",
    [
        "let s = repeat('a', 900000); len(filter(1..100000, s matches 'a+b'))",
        "let s = repeat('a', 999999); let t = repeat('a', 999999); len(filter(1..9999, s == t))",
        "let s = repeat('a', 999999); len(filter(1..100000, s contains 'b'))",
        "let s = repeat('a', 999999); len(filter(1..100000, indexOf(s, 'b') > 0))",
        "let s = repeat('a', 999999); len(filter(1..100000, hasSuffix(s, s)))",
        "let s = repeat('a', 999999); len(filter(1..100000, s < s + 'b'))",
    ],
)
@pytest.mark.usefixtures("no_time_limit")
def test_string_scans_are_charged_by_length(expression: str) -> None:
    with pytest.raises(ExpressionLimitError, match=r"steps|memory budget"):
        evaluate(expression, {})


@pytest.mark.parametrize(
    ("expression", "fragment"),
    [
        # values shared exponentially: the logical size doubles at each step
        ("reduce(1..40, [#acc, #acc], 0)", "memory budget"),
        ("reduce(1..40, ({'a': #acc, 'b': #acc}), 0)", "memory budget"),
        ("let x = reduce(1..19, [#acc, #acc], 0); len(map(1..100, [x]))", "memory budget"),
        # quadratic membership and equality on big lists
        ("let L = 1..90000; len(filter(L, # in L))", "steps"),
        ("let L = 1..90000; len(filter(1..1000, L == L))", "steps"),
        ("let L = map(1..3000, [#]); len(uniq(L + L))", "mismatched types"),
        # slices copy what they take
        ("let L = 1..100000; len(map(1..3000, L[1:]))", "memory budget"),
        ("let s = repeat('x', 999999); len(map(1..3000, s[1:]))", "memory budget"),
        # rendering: toJSON, string(), template functions
        ("toJSON(reduce(1..18, [#acc, #acc], 0))", "exceeds 1000000"),
        ("string(reduce(1..19, [#acc, #acc], 0))", "exceeds 1000000"),
        ("let x = reduce(1..30, [#acc], 0); toJSON(map(1..100000, x))", "exceeds 1000000"),
        ("len(map(1..1000, toJSON(1..90000)))", "memory budget"),
        # walks over shared structure
        ("flatten(reduce(1..22, [#acc, #acc], []))", "memory budget"),
        ("max(reduce(1..19, [#acc, #acc], 0))", "steps"),
        # layouts
        ("now().Format(repeat('Monday', 150000))", "exceeds 1000000"),
        ("len(map(1..1000, now().Format(repeat('2006', 2000))))", "steps"),
    ],
)
def test_budgets_charge_what_operations_touch(expression: str, fragment: str) -> None:
    with deadline_scope(600), pytest.raises(ExpressionEvaluationError) as info:
        evaluate(expression, {})
    assert fragment in info.value.message


@pytest.mark.usefixtures("no_time_limit")
def test_templates_charge_rendering() -> None:
    with pytest.raises(ExpressionLimitError, match="exceeds 1000000"):
        evaluate_template_string("${{ reduce(1..19, [#acc, #acc], 0) }}", {})
    with pytest.raises(ExpressionLimitError, match="exceeds 1000000"):
        evaluate_template_string("${{ unsafeQuote(reduce(1..19, [#acc, #acc], 0)) }}", {})
    with pytest.raises(ExpressionLimitError, match="exceeds 1000000"):
        evaluate_template_string(
            "${{ let x = reduce(1..30, [#acc], 0); asJSON(map(1..100000, x)) }}", {}
        )
    with pytest.raises(ExpressionLimitError, match="JSON text exceeds"):
        evaluate_template_string(
            "${{ let x = reduce(1..90, [#acc], 0); asJSON(map(1..3000, x)) }}", {}
        )
    with pytest.raises(ExpressionLimitError, match="steps"):
        evaluate_template_string("${{ asYAML(map(1..30000, [#])) }}", {})


def test_a_deadline_stops_an_evaluation() -> None:
    with deadline_scope(0.0), pytest.raises(ExpressionLimitError, match="time limit"):
        evaluate("map(1..5000, #)", {})
    with deadline_scope(0.0), pytest.raises(ExpressionLimitError, match="time limit"):
        evaluate_template({"a": "${{ map(1..5000, #) }}"}, {})


def test_date_layouts_are_parsed_in_linear_time() -> None:
    # A backtracking regular expression needed hours for this one.
    with pytest.raises(ExpressionEvaluationError, match='cannot parse "x" as "2"'):
        evaluate("date(repeat('1', 60) + 'x', repeat('2', 40))", {})
    with pytest.raises(ExpressionEvaluationError):
        evaluate("date(repeat('1', 100000) + 'x', repeat('2', 100000))", {})


def test_results_are_plain_lists_and_maps() -> None:
    result = evaluate("[[1], {'a': [2]}]", {})
    assert type(result) is list
    assert type(result[0]) is list
    assert type(result[1]) is dict
    assert type(result[1]["a"]) is list
    shared = evaluate("let x = [1]; [x, x]", {})
    assert shared == [[1], [1]]


def test_logical_size() -> None:
    inner = SizedList([1, 2])
    inner.logical_size, inner.depth = 3, 1
    assert measure([inner, inner]) == 7
    assert measure({"ab": "cd"}) == 1 + 3 + 3
    assert measure(["", None, True, 1.5]) == 5


# --- only ASCII digits are digits ------------------------------------------------------------


ARABIC_123 = "\u0661\u0662\u0663"
FULLWIDTH_123 = "\uff11\uff12\uff13"
ARABIC_PI = "\u0663.\u0661\u0664"
DEVANAGARI_10 = "\u0967\u0966"
ARABIC_1 = "\u0661"


@pytest.mark.parametrize("text", [ARABIC_123, FULLWIDTH_123, ARABIC_PI, DEVANAGARI_10])
def test_other_scripts_digits_stay_strings_in_templates(text: str) -> None:
    assert evaluate_template_string("${{ vars.x }}", {"vars": {"x": text}}) == text
    assert evaluate_template_string(text + "${{ '' }}", {}) == text


@pytest.mark.parametrize(
    "expression",
    [
        f"int('{ARABIC_123}')",
        f"float('{ARABIC_123}')",
        f"float('{ARABIC_PI}')",
        f"duration('{ARABIC_1}s')",
        f"date('{ARABIC_1}{ARABIC_1}{ARABIC_1}{ARABIC_1}-01-02')",
        f"date('2024-0{ARABIC_1}-02', '2006-01-02')",
        f"semverParse('{ARABIC_1}.2.3')",
    ],
)
def test_other_scripts_digits_are_not_numbers(expression: str) -> None:
    with pytest.raises(ExpressionEvaluationError):
        evaluate(expression, {})


def test_other_scripts_digits_are_not_number_literals() -> None:
    with pytest.raises(ExpressionSyntaxError):
        evaluate(f"{ARABIC_123} + 1", {})


def test_render_keeps_unicode_digits() -> None:
    assert render_template_string(f"${{{{ '{ARABIC_123}' }}}}", {}) == ARABIC_123


# --- Go's time.Parse, one pass --------------------------------------------------------------


def _utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("date('2023-08-14')", _utc(2023, 8, 14)),
        ("date('2023-08-14T10:20:30.123456Z')", _utc(2023, 8, 14, 10, 20, 30, 123456)),
        (
            "date('2023-08-14T10:20:30+02:00')",
            datetime(2023, 8, 14, 10, 20, 30, tzinfo=timezone(timedelta(hours=2))),
        ),
        ("date('2023-08-14 10:20:30')", _utc(2023, 8, 14, 10, 20, 30)),
        ("date('Aug 14 2023 3:04PM', 'Jan 2 2006 3:04PM')", _utc(2023, 8, 14, 15, 4)),
        ("date('Aug 14 2023 12:04AM', 'Jan 2 2006 3:04PM')", _utc(2023, 8, 14, 0, 4)),
        ("date('august 14 2023', 'January 2 2006')", _utc(2023, 8, 14)),
        ("date('14/08/2023', '02/01/2006')", _utc(2023, 8, 14)),
        ("date(' 5 Aug 2023', '_2 Jan 2006')", _utc(2023, 8, 5)),
        ("date('2023-08-14 10:20:30.5', '2006-01-02 15:04:05')",
         _utc(2023, 8, 14, 10, 20, 30, 500000)),
        ("date('2023-08-14 10:20:30.250', '2006-01-02 15:04:05.000')",
         _utc(2023, 8, 14, 10, 20, 30, 250000)),
        ("date('2023-08-14 10:20:30', '2006-01-02 15:04:05.999')", _utc(2023, 8, 14, 10, 20, 30)),
        ("date('2023-045', '2006-002')", _utc(2023, 2, 14)),
        ("date('Mon, 14 Aug 2023 10:20:30 -0700', 'Mon, 02 Jan 2006 15:04:05 -0700')",
         datetime(2023, 8, 14, 10, 20, 30, tzinfo=timezone(timedelta(hours=-7)))),
        ("date('23-08-14', '06-01-02')", _utc(2023, 8, 14)),
        ("date('70-08-14', '06-01-02')", _utc(1970, 8, 14)),
        ("date('2023-08-14  10:20', '2006-01-02 15:04')", _utc(2023, 8, 14, 10, 20)),
    ],
)  # fmt: skip
def test_date_parsing_follows_go(expression: str, expected: datetime) -> None:
    result = evaluate(expression, {})
    assert isinstance(result, GoTime)
    assert result.moment == expected
    assert result.moment.utcoffset() == expected.utcoffset()


def test_date_in_a_location_and_zone_names() -> None:
    zurich = evaluate("date('2023-08-14', '2006-01-02', 'Europe/Zurich')", {})
    assert zurich.moment.utcoffset() == timedelta(hours=2)
    mst = evaluate("date('Mon, 02 Jan 2006 15:04:05 MST')", {})
    assert mst.moment.tzname() == "MST"
    assert evaluate("date('Mon, 02 Jan 2006 15:04:05 MST').Format('MST')", {}) == "MST"


@pytest.mark.parametrize(
    ("expression", "fragment"),
    [
        ("date('2023-02-30', '2006-01-02')", "day is out of range"),
        ("date('2023-13-01', '2006-01-02')", "month out of range"),
        ("date('2023-08-14 extra', '2006-01-02')", "extra text"),
        ("date('2023-8-14', '2006-01-02')", 'cannot parse "8-14" as "01"'),
        ("date('10:61', '15:04')", "minute out of range"),
        ("date('2023-400', '2006-002')", "day-of-year out of range"),
    ],
)
def test_date_parse_errors(expression: str, fragment: str) -> None:
    with pytest.raises(ExpressionEvaluationError) as info:
        evaluate(expression, {})
    assert fragment in info.value.message
