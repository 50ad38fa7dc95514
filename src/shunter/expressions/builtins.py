"""expr-lang's builtin functions, implemented over plain Python values.

Owns `BUILTINS`, the frozen `FunctionRegistry` every environment starts from, and the
implementations of the predicate builtins (``filter``, ``map``, ``all``...), which the
interpreter calls with a Python callable standing for the closure.

Semantics follow expr-lang v1.17 with these documented differences:

* Strings are indexed, sliced and measured in code points (Go indexes bytes in ``s[i]``,
  ``indexOf`` and slices; ``len`` counts code points in both).
* ``fromJSON`` keeps integers as ``int`` (Go decodes every number to float64).
* ``keys``/``values``/``toPairs`` keep the map's insertion order (Go's order is random).
* ``split(s, sep, 0)`` returns ``[]`` (Go: nil); ``type()`` of a record is its type name.
* Predicates of ``filter``/``all``/``count``... must return a bool (Go panics otherwise).
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Callable, Mapping
from functools import cmp_to_key
from typing import Any

from shunter.expressions import gotime
from shunter.expressions.errors import FunctionError
from shunter.expressions.limits import (
    MAX_COLLECTION_LENGTH,
    MAX_STRING_LENGTH,
    charge_output,
    charge_scan,
    charge_steps,
    check_collection_length,
    check_string_length,
    measure,
)
from shunter.expressions.registry import FunctionRegistry
from shunter.expressions.values import (
    ExprObject,
    StrMap,
    compare,
    equal,
    go_int,
    go_json,
    go_sprint,
    is_list,
    is_number,
    parse_go_float,
    type_name,
    wrap_int64,
)

__all__ = ["BUILTINS", "PREDICATE_IMPLEMENTATIONS", "get_item", "make_range"]

Predicate = Callable[..., Any]

# Go's unicode.IsSpace set, for trim().
_GO_SPACE = (
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1


def _str(fn: str, value: Any, what: str = "argument") -> str:
    if not isinstance(value, str):
        raise FunctionError(f"{fn}() expects a string {what}, got {type_name(value)}")
    return value


def _int(fn: str, value: Any, what: str = "argument") -> int:
    if isinstance(value, bool) or not is_number(value):
        raise FunctionError(f"{fn}() expects an integer {what}, got {type_name(value)}")
    return go_int(value)


def _list(fn: str, value: Any) -> list[Any] | tuple[Any, ...]:
    if not is_list(value):
        raise FunctionError(f"{fn}() expects an array, got {type_name(value)}")
    result: list[Any] | tuple[Any, ...] = value
    return result


def _map(fn: str, value: Any) -> Mapping[Any, Any]:
    if not isinstance(value, Mapping):
        raise FunctionError(f"{fn}() expects a map, got {type_name(value)}")
    return value


def _out_list(items: list[Any]) -> list[Any]:
    check_collection_length(len(items))
    return items


# --- misc -----------------------------------------------------------------------------------


def len_(value: Any) -> int:
    if isinstance(value, (str, list, tuple, Mapping)):
        return len(value)
    raise FunctionError(f"invalid argument for len (type {type_name(value)})")


def type_(value: Any) -> str:
    return type_name(value)


def get_item(container: Any, key: Any) -> Any:
    """``get(v, key)``: like ``v[key]`` but nil instead of an error when absent."""
    if container is None:
        return None
    if is_list(container) or isinstance(container, str):
        if isinstance(key, bool) or not is_number(key):
            return None
        index = go_int(key)
        if index < 0:
            index += len(container)
        if 0 <= index < len(container):
            return container[index]
        return None
    if isinstance(container, Mapping):
        if isinstance(container, StrMap):
            return container.get(key, "") if isinstance(key, str) else None
        try:
            return container.get(key)
        except TypeError:
            return None
    if isinstance(container, ExprObject) and isinstance(key, str):
        try:
            return container.expr_field(key)
        except KeyError:
            return None
    return None


# --- numbers --------------------------------------------------------------------------------


def abs_(value: Any) -> Any:
    if isinstance(value, bool) or not is_number(value):
        raise FunctionError(f"invalid argument for abs (type {type_name(value)})")
    return wrap_int64(abs(value)) if isinstance(value, int) else abs(value)


def _rounding(name: str, op: Callable[[float], float]) -> Callable[[Any], float]:
    def apply(value: Any) -> float:
        if isinstance(value, bool) or not is_number(value):
            raise FunctionError(f"invalid argument for {name} (type {type_name(value)})")
        if isinstance(value, int):
            return float(value)
        return op(value) if math.isfinite(value) else value

    return apply


def _round_half_away(value: float) -> float:
    return float(math.floor(value + 0.5)) if value >= 0 else -float(math.floor(-value + 0.5))


def int_(value: Any) -> int:
    if isinstance(value, bool):
        raise FunctionError("invalid operation: int(bool)")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return go_int(value)  # out of range: what Go yields on amd64
    if isinstance(value, str):
        text = value[1:] if value[:1] in "+-" else value
        # ASCII digits only, and few enough of them for int64 (Python's int() accepts other
        # scripts' digits and refuses more than 4300 digits with a ValueError).
        if not text.isascii() or not text.isdigit() or len(text.lstrip("0")) > 19:
            raise FunctionError(f"invalid operation: int({value})")
        result = int(value)
        if not _INT64_MIN <= result <= _INT64_MAX:
            raise FunctionError(f"invalid operation: int({value})")
        return result
    raise FunctionError(f"invalid operation: int({type_name(value)})")


def float_(value: Any) -> float:
    if isinstance(value, bool):
        raise FunctionError("invalid operation: float(bool)")
    if is_number(value):
        return float(value)
    if isinstance(value, str):
        result = parse_go_float(value)
        if result is None:
            raise FunctionError(f"invalid operation: float({value})")
        return result
    raise FunctionError(f"invalid operation: float({type_name(value)})")


def string_(value: Any) -> str:
    charge_output(value, "string()")
    text = go_sprint(value)
    check_string_length(len(text))
    return text


def _numbers(fn: str, args: tuple[Any, ...], out: list[Any], depth: int = 0) -> None:
    if depth > 100:
        raise FunctionError(f"{fn}(): arrays nested too deeply")
    if depth == 0:
        charge_steps(sum(measure(arg) for arg in args))
    for arg in args:
        if is_list(arg):
            _numbers(fn, tuple(arg), out, depth + 1)
        elif is_number(arg):
            out.append(arg)
        else:
            raise FunctionError(f"invalid argument for {fn} (type {type_name(arg)})")


def _min_max(fn: str, pick: Callable[[Any, Any], bool]) -> Callable[..., Any]:
    def apply(*args: Any) -> Any:
        if not args:
            raise FunctionError(f"not enough arguments to call {fn}")
        values: list[Any] = []
        _numbers(fn, args, values)
        best: Any = None
        for value in values:
            if best is None or pick(value, best):
                best = value
        return best

    return apply


def mean(*args: Any) -> float:
    values: list[Any] = []
    _numbers("mean", args, values)
    return sum(float(v) for v in values) / len(values) if values else 0.0


def median(*args: Any) -> float:
    values: list[Any] = []
    _numbers("median", args, values)
    if not values:
        return 0.0
    charge_steps(len(values) * max(1, len(values).bit_length()))
    ordered = sorted(float(v) for v in values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def make_range(start: Any, end: Any) -> list[int]:
    """``a..b``: inclusive integer range."""
    if (
        isinstance(start, bool)
        or isinstance(end, bool)
        or not (is_number(start) and is_number(end))
    ):
        raise FunctionError(
            f"invalid operation: .. (mismatched types {type_name(start)} and {type_name(end)})"
        )
    bounds = []
    for bound in (start, end):
        if isinstance(bound, float) and not (math.isfinite(bound) and bound.is_integer()):
            raise FunctionError(
                f"invalid operation: .. (mismatched types {type_name(start)} and {type_name(end)})"
            )
        bounds.append(int(bound))
    low, high = bounds
    size = high - low + 1
    if size <= 0:
        return []
    check_collection_length(size)
    return list(range(low, high + 1))


# --- strings --------------------------------------------------------------------------------


def trim(value: Any, cutset: Any = None) -> str:
    text = _str("trim", value)
    if cutset is None:
        return text.strip(_GO_SPACE)
    return text.strip(_str("trim", cutset, "cutset"))


def trim_prefix(value: Any, prefix: Any = " ") -> str:
    text = _str("trimPrefix", value)
    prefix = _str("trimPrefix", prefix, "prefix")
    return text[len(prefix) :] if prefix and text.startswith(prefix) else text


def trim_suffix(value: Any, suffix: Any = " ") -> str:
    text = _str("trimSuffix", value)
    suffix = _str("trimSuffix", suffix, "suffix")
    return text[: -len(suffix)] if suffix and text.endswith(suffix) else text


def upper(value: Any) -> str:
    return _str("upper", value).upper()


def lower(value: Any) -> str:
    return _str("lower", value).lower()


def _split(fn: str, value: Any, sep: Any, limit: Any, *, keep: bool) -> list[str]:
    text = _str(fn, value)
    separator = _str(fn, sep, "separator")
    charge_scan(text, separator)
    count = -1 if limit is None else _int(fn, limit, "count")
    if count == 0:
        return []
    if separator == "":
        if count < 0 or count > MAX_COLLECTION_LENGTH:
            check_collection_length(len(text))
        pieces = list(text)
        if 0 < count < len(pieces):
            pieces = [*pieces[: count - 1], "".join(pieces[count - 1 :])]
        return _out_list(pieces)
    raw = text.split(separator, count - 1) if count > 0 else text.split(separator)
    if keep:
        raw = [piece + separator for piece in raw[:-1]] + raw[-1:]
    return _out_list(raw)


def split(value: Any, sep: Any, limit: Any = None) -> list[str]:
    return _split("split", value, sep, limit, keep=False)


def split_after(value: Any, sep: Any, limit: Any = None) -> list[str]:
    return _split("splitAfter", value, sep, limit, keep=True)


def replace(value: Any, old: Any, new: Any, limit: Any = None) -> str:
    text = _str("replace", value)
    old = _str("replace", old, "old")
    new = _str("replace", new, "new")
    count = -1 if limit is None else _int("replace", limit, "count")
    charge_scan(text, text, old)  # counted, then replaced
    occurrences = (len(text) + 1) if old == "" else text.count(old)
    if count >= 0:
        occurrences = min(occurrences, count)
    check_string_length(len(text) + occurrences * (len(new) - len(old)))
    return text.replace(old, new, count)


def repeat(value: Any, times: Any) -> str:
    text = _str("repeat", value)
    count = _int("repeat", times, "count")
    if count < 0:
        raise FunctionError(f"invalid argument for repeat (expected positive integer, got {count})")
    check_string_length(len(text) * count)
    return text * count


def join(items: Any, sep: Any = "") -> str:
    values = _list("join", items)
    separator = _str("join", sep, "separator")
    for item in values:
        if not isinstance(item, str):
            raise FunctionError(f"join() expects an array of strings, found {type_name(item)}")
    total = sum(len(item) for item in values) + len(separator) * max(len(values) - 1, 0)
    check_string_length(total)
    return separator.join(values)


def index_of(value: Any, sub: Any) -> int:
    text, needle = _str("indexOf", value), _str("indexOf", sub, "substring")
    charge_scan(text, needle)
    return text.find(needle)


def last_index_of(value: Any, sub: Any) -> int:
    text, needle = _str("lastIndexOf", value), _str("lastIndexOf", sub, "substring")
    charge_scan(text, needle)
    return text.rfind(needle)


def has_prefix(value: Any, prefix: Any) -> bool:
    text, start = _str("hasPrefix", value), _str("hasPrefix", prefix, "prefix")
    charge_scan(start)
    return text.startswith(start)


def has_suffix(value: Any, suffix: Any) -> bool:
    text, end = _str("hasSuffix", value), _str("hasSuffix", suffix, "suffix")
    charge_scan(end)
    return text.endswith(end)


# --- encoding -------------------------------------------------------------------------------


def to_json(value: Any) -> str:
    charge_output(value, "toJSON()")
    text = go_json(value, indent="  ", limit=MAX_STRING_LENGTH)
    check_string_length(len(text))
    return text


def _reject_constant(name: str) -> Any:
    raise FunctionError(f"invalid character {name[:1]!r} looking for beginning of value")


def from_json(value: Any) -> Any:
    text = _str("fromJSON", value)
    charge_steps(len(text))
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise FunctionError(f"fromJSON(): {exc.msg} at offset {exc.pos}") from None
    except ValueError:  # an integer of more digits than Python converts (4300)
        raise FunctionError("fromJSON(): a number has too many digits") from None


def to_base64(value: Any) -> str:
    encoded = base64.b64encode(_str("toBase64", value).encode()).decode("ascii")
    check_string_length(len(encoded))
    return encoded


def from_base64(value: Any) -> str:
    text = _str("fromBase64", value)
    try:
        return base64.b64decode(text, validate=True).decode("utf-8", errors="replace")
    except (binascii.Error, ValueError):
        raise FunctionError("fromBase64(): illegal base64 data") from None


# --- arrays and maps ------------------------------------------------------------------------


def first(value: Any) -> Any:
    if is_list(value) and value:
        return value[0]
    return None


def last(value: Any) -> Any:
    if is_list(value) and value:
        return value[-1]
    return None


def take(value: Any, count: Any) -> list[Any]:
    items = _list("take", value)
    amount = _int("take", count, "count")
    if amount < 0:
        raise FunctionError(f"take(): cannot take {amount} elements")
    return list(items[:amount])


def keys(value: Any) -> list[Any]:
    return list(_map("keys", value).keys())


def values(value: Any) -> list[Any]:
    return list(_map("values", value).values())


def to_pairs(value: Any) -> list[list[Any]]:
    return [[k, v] for k, v in _map("toPairs", value).items()]


def from_pairs(value: Any) -> dict[Any, Any]:
    result: dict[Any, Any] = {}
    for pair in _list("fromPairs", value):
        if not is_list(pair) or len(pair) != 2:
            raise FunctionError(f"fromPairs(): invalid pair {go_sprint(pair)}")
        key = pair[0]
        if not isinstance(key, (str, int, float, bool)) and key is not None:
            raise FunctionError(f"fromPairs(): invalid key type {type_name(key)}")
        result[key] = pair[1]
    return result


def reverse(value: Any) -> list[Any]:
    return list(reversed(_list("reverse", value)))


def _uniq_key(value: Any) -> Any:
    if value is None:
        return ("nil",)
    if isinstance(value, bool):
        return ("bool", value)
    if is_number(value):
        return ("number", value)
    if isinstance(value, str):
        return ("string", value)
    return None


def uniq(value: Any) -> list[Any]:
    items = _list("uniq", value)
    seen: set[Any] = set()
    complex_seen: list[Any] = []
    result: list[Any] = []
    for item in items:
        key = _uniq_key(item)
        if key is not None:
            if key in seen:
                continue
            seen.add(key)
        else:
            charge_steps(len(complex_seen) + 1)
            if any(equal(item, other) for other in complex_seen):
                continue
            complex_seen.append(item)
        result.append(item)
    return result


def concat(*arrays: Any) -> list[Any]:
    if not arrays:
        raise FunctionError("invalid number of arguments (expected at least 1, got 0)")
    lists = [_list("concat", array) for array in arrays]
    check_collection_length(sum(len(items) for items in lists))
    result: list[Any] = []
    for items in lists:
        result.extend(items)
    return result


def flatten(value: Any) -> list[Any]:
    charge_steps(measure(value))  # the walk visits every element, shared ones every time
    result: list[Any] = []

    def walk(items: Any, depth: int) -> None:
        if depth > 100:
            raise FunctionError("flatten(): arrays nested too deeply")
        for item in items:
            if is_list(item):
                walk(item, depth + 1)
            else:
                result.append(item)
                if len(result) > 100_000:
                    check_collection_length(len(result))

    walk(_list("flatten", value), 0)
    return _out_list(result)


def _descending(fn: str, order: Any) -> bool:
    if order is None:
        return False
    if not isinstance(order, str):
        raise FunctionError(f"{fn}(): sort order must be a string, got {type_name(order)}")
    if order not in ("asc", "desc"):
        raise FunctionError(f"invalid order {order}, expected asc or desc")
    return order == "desc"


def _sort_values(fn: str, items: list[Any], order: Any) -> list[Any]:
    descending = _descending(fn, order)
    charge_steps(len(items) * max(1, len(items).bit_length()))
    return sorted(items, key=cmp_to_key(compare), reverse=descending)


def sort(value: Any, order: Any = None) -> list[Any]:
    return _sort_values("sort", list(_list("sort", value)), order)


def _bits(name: str, op: Callable[[int, int], int]) -> Callable[[Any, Any], int]:
    def apply(left: Any, right: Any) -> int:
        return wrap_int64(op(_int(name, left), _int(name, right)))

    return apply


def _shift(name: str, op: Callable[[int, int], int]) -> Callable[[Any, Any], int]:
    def apply(left: Any, right: Any) -> int:
        value, amount = _int(name, left), _int(name, right)
        if amount < 0:
            raise FunctionError(f"invalid operation: negative shift count {amount} (type int)")
        return wrap_int64(op(value, min(amount, 64)))

    return apply


def bitnot(value: Any) -> int:
    return wrap_int64(~_int("bitnot", value))


# --- predicate builtins ---------------------------------------------------------------------


def _bool_result(fn: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise FunctionError(f"{fn}(): the predicate must return a bool, got {type_name(value)}")
    return value


def _each(fn: str, value: Any) -> list[Any] | tuple[Any, ...]:
    items = _list(fn, value)
    charge_steps(len(items))
    return items


def p_all(items: Any, pred: Predicate) -> bool:
    return all(_bool_result("all", pred(x, i)) for i, x in enumerate(_each("all", items)))


def p_any(items: Any, pred: Predicate) -> bool:
    return any(_bool_result("any", pred(x, i)) for i, x in enumerate(_each("any", items)))


def p_none(items: Any, pred: Predicate) -> bool:
    return not any(_bool_result("none", pred(x, i)) for i, x in enumerate(_each("none", items)))


def p_one(items: Any, pred: Predicate) -> bool:
    found = 0
    for i, x in enumerate(_each("one", items)):
        if _bool_result("one", pred(x, i)):
            found += 1
            if found > 1:
                return False
    return found == 1


def p_filter(items: Any, pred: Predicate) -> list[Any]:
    return [x for i, x in enumerate(_each("filter", items)) if _bool_result("filter", pred(x, i))]


def p_map(items: Any, pred: Predicate) -> list[Any]:
    return [pred(x, i) for i, x in enumerate(_each("map", items))]


def p_find(items: Any, pred: Predicate) -> Any:
    for i, x in enumerate(_each("find", items)):
        if _bool_result("find", pred(x, i)):
            return x
    return None


def p_find_index(items: Any, pred: Predicate) -> int | None:
    for i, x in enumerate(_each("findIndex", items)):
        if _bool_result("findIndex", pred(x, i)):
            return i
    return None


def p_find_last(items: Any, pred: Predicate) -> Any:
    values_ = _each("findLast", items)
    for i in range(len(values_) - 1, -1, -1):
        if _bool_result("findLast", pred(values_[i], i)):
            return values_[i]
    return None


def p_find_last_index(items: Any, pred: Predicate) -> int | None:
    values_ = _each("findLastIndex", items)
    for i in range(len(values_) - 1, -1, -1):
        if _bool_result("findLastIndex", pred(values_[i], i)):
            return i
    return None


def p_count(items: Any, pred: Predicate | None = None) -> int:
    values_ = _each("count", items)
    if pred is None:
        return sum(1 for x in values_ if _bool_result("count", x))
    return sum(1 for i, x in enumerate(values_) if _bool_result("count", pred(x, i)))


def p_sum(items: Any, pred: Predicate | None = None) -> Any:
    values_ = _each("sum", items)
    mapped = list(values_) if pred is None else [pred(x, i) for i, x in enumerate(values_)]
    total: Any = 0
    for value in mapped:
        if isinstance(value, bool) or not is_number(value):
            raise FunctionError(f"invalid argument for sum (type {type_name(value)})")
        total += value
    return wrap_int64(total) if isinstance(total, int) else total


def p_group_by(items: Any, pred: Predicate) -> dict[Any, list[Any]]:
    groups: dict[Any, list[Any]] = {}
    for i, x in enumerate(_each("groupBy", items)):
        key = pred(x, i)
        if not isinstance(key, (str, int, float, bool)) and key is not None:
            raise FunctionError(f"groupBy(): cannot group by a {type_name(key)}")
        groups.setdefault(key, []).append(x)
    return groups


def p_sort_by(items: Any, pred: Predicate, order: Any = None) -> list[Any]:
    values_ = _each("sortBy", items)
    descending = _descending("sortBy", order)
    keyed: list[tuple[Any, Any]] = [(pred(x, i), x) for i, x in enumerate(values_)]
    charge_steps(len(keyed) * max(1, len(keyed).bit_length()))

    def by_key(a: tuple[Any, Any], b: tuple[Any, Any]) -> int:
        return compare(a[0], b[0])

    keyed.sort(key=cmp_to_key(by_key), reverse=descending)
    return [x for _, x in keyed]


_NO_INITIAL = object()


def p_reduce(items: Any, pred: Predicate, initial: Any = _NO_INITIAL) -> Any:
    values_ = _each("reduce", items)
    start = 0
    if initial is _NO_INITIAL:
        if not values_:
            raise FunctionError("reduce of empty array with no initial value")
        accumulator = values_[0]
        start = 1
    else:
        accumulator = initial
    for i in range(start, len(values_)):
        accumulator = pred(values_[i], i, accumulator)
    return accumulator


PREDICATE_IMPLEMENTATIONS: dict[str, Callable[..., Any]] = {
    "all": p_all,
    "any": p_any,
    "none": p_none,
    "one": p_one,
    "filter": p_filter,
    "map": p_map,
    "find": p_find,
    "findIndex": p_find_index,
    "findLast": p_find_last,
    "findLastIndex": p_find_last_index,
    "count": p_count,
    "sum": p_sum,
    "groupBy": p_group_by,
    "sortBy": p_sort_by,
    "reduce": p_reduce,
}


def _build() -> FunctionRegistry:
    registry = FunctionRegistry()
    register = registry.register
    register("len", len_)
    register("type", type_)
    register("get", get_item)
    register("abs", abs_)
    register("ceil", _rounding("ceil", math.ceil), min_args=1, max_args=1)
    register("floor", _rounding("floor", math.floor), min_args=1, max_args=1)
    register("round", _rounding("round", _round_half_away), min_args=1, max_args=1)
    register("int", int_)
    register("float", float_)
    register("string", string_)
    register("max", _min_max("max", lambda a, b: a > b), min_args=1, max_args=None)
    register("min", _min_max("min", lambda a, b: a < b), min_args=1, max_args=None)
    register("mean", mean, min_args=1)
    register("median", median, min_args=1)
    register("trim", trim)
    register("trimPrefix", trim_prefix)
    register("trimSuffix", trim_suffix)
    register("upper", upper)
    register("lower", lower)
    register("split", split)
    register("splitAfter", split_after)
    register("replace", replace)
    register("repeat", repeat)
    register("join", join)
    register("indexOf", index_of)
    register("lastIndexOf", last_index_of)
    register("hasPrefix", has_prefix)
    register("hasSuffix", has_suffix)
    register("toJSON", to_json)
    register("fromJSON", from_json)
    register("toBase64", to_base64)
    register("fromBase64", from_base64)
    register("first", first)
    register("last", last)
    register("take", take)
    register("keys", keys)
    register("values", values)
    register("toPairs", to_pairs)
    register("fromPairs", from_pairs)
    register("reverse", reverse)
    register("uniq", uniq)
    register("concat", concat, min_args=1, max_args=None)
    register("flatten", flatten)
    register("sort", sort)
    register("now", gotime.now, min_args=0, max_args=1)
    register("duration", gotime.duration)
    register("date", gotime.date, min_args=1, max_args=4)
    register("timezone", gotime.timezone_)
    register("bitand", _bits("bitand", lambda a, b: a & b))
    register("bitor", _bits("bitor", lambda a, b: a | b))
    register("bitxor", _bits("bitxor", lambda a, b: a ^ b))
    register("bitnand", _bits("bitnand", lambda a, b: a & ~b))
    register("bitshl", _shift("bitshl", lambda a, b: a << b))
    register("bitshr", _shift("bitshr", lambda a, b: a >> b))
    register("bitushr", _shift("bitushr", lambda a, b: (a % 2**64) >> b))
    register("bitnot", bitnot)
    return registry.freeze()


BUILTINS: FunctionRegistry = _build()
"""expr-lang's builtins; frozen. Use ``BUILTINS.child()`` to add functions."""
