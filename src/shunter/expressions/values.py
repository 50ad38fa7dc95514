"""The value model of the expression language and its Go-compatible renderings.

Owns what an expression can see and how values print:

* Plain values: ``None``, ``bool``, ``int``, ``float``, ``str``, lists/tuples, mappings.
* `ExprObject`: the only way a Python object exposes members or methods to expressions. The
  interpreter never calls ``getattr`` on values; it asks an `ExprObject` for a field or a method
  by name, and the object answers from an explicit table.
* `Record` / `RecordType`: an `ExprObject` with a fixed, declared field list (Go field names for
  member access, JSON names for rendering), used for `imageFrom()` results and friends.
* `StrMap`: a ``dict`` standing for Go's ``map[string]string``; a missing key reads as ``""``
  (not nil), as in expr-lang over Kargo's ``configMap()``/``secret()`` results.
* Go renderings used by Kargo's templates: `go_json` (``encoding/json`` compact or indented,
  sorted map keys, HTML-escaped), `go_sprint` (``fmt`` ``%v``), `go_quote` (``strconv.Quote``),
  Go float formatting, and `to_plain` (JSON-shaped Python data).
* Comparison helpers shared by operators and builtins: `equal`, `compare`, `type_name`,
  `wrap_int64`.
"""

from __future__ import annotations

import abc
import json
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from shunter.expressions.errors import FunctionError
from shunter.expressions.limits import BudgetExceeded, charge_scan, charge_steps

__all__ = [
    "Comparable",
    "ExprObject",
    "Record",
    "RecordField",
    "RecordType",
    "StrMap",
    "compare",
    "equal",
    "format_go_float_g",
    "format_go_float_json",
    "go_int",
    "go_json",
    "go_quote",
    "go_sprint",
    "is_list",
    "is_map",
    "is_number",
    "parse_go_bool",
    "parse_go_float",
    "to_plain",
    "type_name",
    "wrap_int64",
]

_INT64_MIN = -(2**63)
_INT64_RANGE = 2**64


def wrap_int64(value: int) -> int:
    """Wrap an integer to Go's 64-bit two's complement range (Go ``int`` overflow)."""
    if _INT64_MIN <= value < -_INT64_MIN:
        return value
    return (value - _INT64_MIN) % _INT64_RANGE + _INT64_MIN


def go_int(value: int | float) -> int:
    """Go's ``int(x)`` of a number: floats truncate; NaN, infinities and floats beyond int64
    give the minimum int64, as Go does on amd64 (an index or count that is then refused)."""
    if isinstance(value, int):
        return value
    if not math.isfinite(value) or not _INT64_MIN <= value < -_INT64_MIN:
        return _INT64_MIN
    return int(value)


class ExprObject(abc.ABC):
    """An object that exposes fields and methods to expressions through explicit tables."""

    __slots__ = ()

    @property
    @abc.abstractmethod
    def expr_type_name(self) -> str:
        """Name used in error messages and by the `type()` builtin."""

    def expr_field(self, name: str) -> Any:
        """Return field `name`; raise `KeyError` if there is no such field."""
        raise KeyError(name)

    def expr_has_field(self, name: str) -> bool:
        """Whether `name` is a field (used by the `in` operator)."""
        try:
            self.expr_field(name)
        except KeyError:
            return False
        return True

    def expr_method(self, name: str, args: Sequence[Any]) -> Any:
        """Call method `name`; raise `KeyError` if there is no such method."""
        raise KeyError(name)

    @abc.abstractmethod
    def expr_json(self) -> Any:
        """JSON-shaped value (plain data or another ExprObject) this object marshals to."""

    def expr_str(self) -> str:
        """Text of ``fmt.Sprintf("%v", x)`` for this object."""
        return go_sprint(self.expr_json())

    def expr_equal(self, other: Any) -> bool:
        """Equality used by ``==`` and ``in``."""
        return self is other


@dataclass(frozen=True, slots=True)
class RecordField:
    """One declared field of a `RecordType`: Go name, JSON name, ``omitempty`` flag."""

    name: str
    json_name: str
    omit_empty: bool = True


class RecordType:
    """A named, fixed set of fields; instances are `Record` values."""

    __slots__ = ("_by_name", "fields", "name")

    def __init__(self, name: str, fields: Sequence[RecordField]) -> None:
        self.name = name
        self.fields = tuple(fields)
        self._by_name = {f.name: f for f in self.fields}
        if len(self._by_name) != len(self.fields):
            raise ValueError(f"duplicate field in record type {name}")

    def has_field(self, name: str) -> bool:
        return name in self._by_name

    def __call__(self, **values: Any) -> Record:
        unknown = set(values) - set(self._by_name)
        if unknown:
            raise TypeError(f"{self.name} has no field(s) {sorted(unknown)}")
        return Record(self, values)

    def __repr__(self) -> str:
        return f"RecordType({self.name!r})"


def _zero_for(value: Any) -> Any:
    if isinstance(value, str):
        return ""
    return None


class Record(ExprObject):
    """A struct-like value with the declared fields of its `RecordType` and nothing else."""

    __slots__ = ("_type", "_values")

    def __init__(self, record_type: RecordType, values: Mapping[str, Any]) -> None:
        self._type = record_type
        self._values = dict(values)

    @property
    def record_type(self) -> RecordType:
        return self._type

    @property
    def expr_type_name(self) -> str:
        return self._type.name

    def __getitem__(self, name: str) -> Any:
        """Python-side access to a field (missing declared fields read as ``None``)."""
        if not self._type.has_field(name):
            raise KeyError(name)
        return self._values.get(name)

    def expr_field(self, name: str) -> Any:
        if not self._type.has_field(name):
            raise KeyError(name)
        return self._values.get(name)

    def expr_has_field(self, name: str) -> bool:
        return self._type.has_field(name)

    def items(self) -> Iterator[tuple[str, Any]]:
        """(Go field name, value) pairs in declaration order."""
        for field in self._type.fields:
            yield field.name, self._values.get(field.name)

    def expr_json(self) -> Any:
        return _JSONObject(
            (f.json_name, self._values.get(f.name))
            for f in self._type.fields
            if not (f.omit_empty and _is_empty(self._values.get(f.name)))
        )

    def expr_str(self) -> str:
        parts = []
        for field in self._type.fields:
            value = self._values.get(field.name)
            if value is None and field.omit_empty:
                value = ""
            parts.append(go_sprint(value))
        return "{" + " ".join(parts) + "}"

    def expr_equal(self, other: Any) -> bool:
        if not isinstance(other, Record) or other._type is not self._type:
            return False
        return all(equal(v, other._values.get(k)) for k, v in self.items())

    def __eq__(self, other: object) -> bool:
        return self.expr_equal(other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self.items() if v is not None)
        return f"{self._type.name}({inner})"


class _JSONObject(tuple[tuple[str, Any], ...]):
    """Ordered key/value pairs rendered as a JSON object without sorting (Go struct order)."""

    __slots__ = ()

    def __new__(cls, pairs: Any) -> _JSONObject:
        return super().__new__(cls, tuple(pairs))


class StrMap(dict[str, str]):
    """A ``dict`` playing Go's ``map[string]string``: missing keys read as ``""``."""

    __slots__ = ()


def _is_empty(value: Any) -> bool:
    if value is None or value is False:
        return True
    if isinstance(value, (str, list, tuple, dict)):
        return len(value) == 0
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value == 0
    return False


def is_number(value: Any) -> bool:
    """int or float, but not bool."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def is_list(value: Any) -> bool:
    return isinstance(value, (list, tuple)) and not isinstance(value, _JSONObject)


def is_map(value: Any) -> bool:
    return isinstance(value, Mapping)


def type_name(value: Any) -> str:
    """Type name as the `type()` builtin reports it (expr-lang's names for plain values)."""
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if is_list(value):
        return "array"
    if isinstance(value, Mapping):
        return "map"
    if isinstance(value, ExprObject):
        return value.expr_type_name
    return "unknown"


def equal(a: Any, b: Any) -> bool:
    """Equality of ``==``: numbers across int/float, deep for lists and maps, bool apart."""
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a is b
    if is_number(a) and is_number(b):
        return bool(a == b)
    if isinstance(a, str) or isinstance(b, str):
        if not (isinstance(a, str) and isinstance(b, str)):
            return False
        if len(a) == len(b) and a is not b:
            charge_scan(a)
        return a == b
    if isinstance(a, ExprObject):
        return a.expr_equal(b)
    if isinstance(b, ExprObject):
        return b.expr_equal(a)
    if is_list(a) and is_list(b):
        if len(a) != len(b):
            return False
        charge_steps(len(a))
        return all(equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        if len(a) != len(b):
            return False
        charge_steps(len(a))
        return all(key in b and equal(value, b[key]) for key, value in a.items())
    return False


class Comparable(abc.ABC):
    """An ExprObject-like value ordered by ``<``; implemented by time and duration values."""

    @abc.abstractmethod
    def compare_to(self, other: Any) -> int | None:
        """-1/0/1, or None when `other` is not comparable with self."""


def compare(a: Any, b: Any) -> int:
    """Order two values for ``<``, ``sort()``...; raise `FunctionError` when not comparable."""
    if isinstance(a, str) and isinstance(b, str):
        charge_scan(a, b)
        return int(a > b) - int(a < b)
    if is_number(a) and is_number(b):
        return int(a > b) - int(a < b)
    if isinstance(a, Comparable):
        result = a.compare_to(b)
        if result is not None:
            return result
    raise FunctionError(f"invalid operation: {type_name(a)} < {type_name(b)}")


# --- Go number formatting -------------------------------------------------------------------


def _shortest_digits(value: float) -> tuple[str, int]:
    """Shortest round-trip decimal digits of abs(value) and the decimal exponent (d.ddd x 10^e)."""
    dec = Decimal(repr(abs(value))).normalize()
    _, digits, exponent = dec.as_tuple()
    exponent = int(exponent)
    text = "".join(str(d) for d in digits)
    # value = 0.text * 10^(len(text) + exponent) = text[0].text[1:] * 10^(len+exp-1)
    return text, len(text) + exponent - 1


def _format_e(value: float) -> str:
    digits, exp = _shortest_digits(value)
    mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    sign = "-" if math.copysign(1.0, value) < 0 else ""
    exp_sign = "-" if exp < 0 else "+"
    return f"{sign}{mantissa}e{exp_sign}{abs(exp):02d}"


def _format_f(value: float) -> str:
    dec = Decimal(repr(value)).normalize()
    text = format(dec, "f")
    if text in ("0", "-0") and math.copysign(1.0, value) < 0:
        return "-0"
    return text


def format_go_float_json(value: float) -> str:
    """A float64 as Go's ``encoding/json`` writes it (``1e+21``, ``1e-7``, ``100``)."""
    if not math.isfinite(value):
        raise FunctionError(f"json: unsupported value: {format_go_float_g(value)}")
    magnitude = abs(value)
    if magnitude != 0 and (magnitude < 1e-6 or magnitude >= 1e21):
        text = _format_e(value)
        # Go cleans e-07 to e-7 (but keeps e+21).
        head, _, tail = text.partition("e")
        if tail.startswith("-0"):
            tail = "-" + tail[2:]
        return f"{head}e{tail}"
    return _format_f(value)


def format_go_float_g(value: float) -> str:
    """A float64 as ``fmt.Sprint`` / ``strconv.FormatFloat(f, 'g', -1, 64)`` writes it."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    _, exp = _shortest_digits(value)
    # strconv's 'g' with the shortest precision switches to %e when exp < -4 or exp >= 6.
    if exp < -4 or exp >= 6:
        return _format_e(value)
    return _format_f(value)


# --- Go string quoting ----------------------------------------------------------------------

_GO_SIMPLE_ESCAPES = {
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
    "\\": "\\\\",
    '"': '\\"',
}


def go_quote(text: str) -> str:
    """``strconv.Quote``: a double-quoted Go string literal with Go's escapes."""
    out = ['"']
    for char in text:
        escaped = _GO_SIMPLE_ESCAPES.get(char)
        if escaped is not None:
            out.append(escaped)
            continue
        code = ord(char)
        if char.isprintable():
            out.append(char)
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02x}")
        elif 0xD800 <= code <= 0xDFFF:
            out.append("\\ufffd")
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    out.append('"')
    return "".join(out)


# --- Go encoding/json -----------------------------------------------------------------------

_HTML_ESCAPES = str.maketrans(
    {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
)


def _json_string(text: str) -> str:
    return json.dumps(text, ensure_ascii=False).translate(_HTML_ESCAPES)


def _json_key(key: Any) -> str:
    if isinstance(key, str):
        return key
    if isinstance(key, bool) or key is None:
        raise FunctionError(f"json: unsupported map key type {type_name(key)}")
    if isinstance(key, int):
        return str(key)
    raise FunctionError(f"json: unsupported map key type {type_name(key)}")


def go_json(value: Any, *, indent: str | None = None, limit: int | None = None) -> str:
    """Marshal like Go's ``json.Marshal`` (or ``MarshalIndent(v, "", indent)``).

    With `limit`, stop with `BudgetExceeded` as soon as the text grows past `limit` characters
    (indentation can make the text far longer than the value's logical size).
    """
    out = _JSONWriter(limit)
    _encode(value, out, indent, "")
    out.grew()
    return "".join(out.parts)


class _JSONWriter:
    __slots__ = ("append", "counted", "length", "limit", "parts")

    def __init__(self, limit: int | None) -> None:
        self.parts: list[str] = []
        self.append = self.parts.append
        self.length = 0
        self.counted = 0
        self.limit = limit

    def grew(self) -> None:
        """Called after each element of a container: enforce the limit (counting only the
        parts written since the last call, so the whole check stays linear)."""
        if self.limit is None:
            return
        parts = self.parts
        for index in range(self.counted, len(parts)):
            self.length += len(parts[index])
        self.counted = len(parts)
        if self.length > self.limit:
            raise BudgetExceeded(f"JSON text exceeds {self.limit} characters")


def _encode(value: Any, out: _JSONWriter, indent: str | None, prefix: str) -> None:
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        out.append(str(value))
    elif isinstance(value, float):
        out.append(format_go_float_json(value))
    elif isinstance(value, str):
        out.append(_json_string(value))
    elif isinstance(value, ExprObject):
        _encode(value.expr_json(), out, indent, prefix)
    elif isinstance(value, _JSONObject):
        _encode_pairs(list(value), out, indent, prefix)
    elif isinstance(value, Mapping):
        pairs = sorted(((_json_key(k), v) for k, v in value.items()), key=lambda kv: kv[0])
        _encode_pairs(pairs, out, indent, prefix)
    elif isinstance(value, (list, tuple)):
        if not value:
            out.append("[]")
            return
        out.append("[")
        inner = prefix + indent if indent is not None else prefix
        for index, item in enumerate(value):
            if index:
                out.append(",")
            if indent is not None:
                out.append("\n" + inner)
            _encode(item, out, indent, inner)
            out.grew()
        if indent is not None:
            out.append("\n" + prefix)
        out.append("]")
    else:
        raise FunctionError(f"json: unsupported type {type(value).__name__}")


def _encode_pairs(
    pairs: list[tuple[str, Any]], out: _JSONWriter, indent: str | None, prefix: str
) -> None:
    if not pairs:
        out.append("{}")
        return
    out.append("{")
    inner = prefix + indent if indent is not None else prefix
    for index, (key, item) in enumerate(pairs):
        if index:
            out.append(",")
        if indent is not None:
            out.append("\n" + inner)
        out.append(_json_string(key))
        out.append(": " if indent is not None else ":")
        _encode(item, out, indent, inner)
        out.grew()
    if indent is not None:
        out.append("\n" + prefix)
    out.append("}")


# --- Go fmt %v ------------------------------------------------------------------------------


def go_sprint(value: Any) -> str:
    """``fmt.Sprintf("%v", value)`` for expression values (used by `string()`)."""
    if value is None:
        return "<nil>"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return format_go_float_g(value)
    if isinstance(value, str):
        return value
    if isinstance(value, ExprObject):
        return value.expr_str()
    if isinstance(value, _JSONObject):
        return "{" + " ".join(go_sprint(v) for _, v in value) + "}"
    if isinstance(value, Mapping):
        items = sorted(value.items(), key=lambda kv: go_sprint(kv[0]))
        return "map[" + " ".join(f"{go_sprint(k)}:{go_sprint(v)}" for k, v in items) + "]"
    if isinstance(value, (list, tuple)):
        return "[" + " ".join(go_sprint(v) for v in value) + "]"
    return f"<{type(value).__name__}>"


def to_plain(value: Any) -> Any:
    """Convert a result to JSON-shaped Python data (records become dicts by JSON name)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, ExprObject):
        return to_plain(value.expr_json())
    if isinstance(value, _JSONObject):
        return {k: to_plain(v) for k, v in value}
    if isinstance(value, Mapping):
        return {_plain_key(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    raise FunctionError(f"cannot convert {type(value).__name__} to plain data")


def _plain_key(key: Any) -> str:
    return key if isinstance(key, str) else go_sprint(key)


# --- Go strconv parsing ---------------------------------------------------------------------

# ASCII digits only: Python's \d and float() also accept other scripts' digits ('١٢٣').
_GO_DECIMAL_FLOAT = re.compile(
    r"[+-]?(?:\d+(?:_\d+)*(?:\.(?:\d+(?:_\d+)*)?)?|\.\d+(?:_\d+)*)(?:[eE][+-]?\d+(?:_\d+)*)?",
    re.ASCII,
)
_GO_HEX_FLOAT = re.compile(
    r"[+-]?0[xX](?:_?[0-9a-fA-F])*(?:\.[0-9a-fA-F]*)?[pP][+-]?\d+",
    re.ASCII,
)
_GO_SPECIAL_FLOAT = re.compile(r"([+-]?)(inf|infinity)|nan", re.IGNORECASE)
_GO_BOOLS = {
    "1": True,
    "t": True,
    "T": True,
    "TRUE": True,
    "true": True,
    "True": True,
    "0": False,
    "f": False,
    "F": False,
    "FALSE": False,
    "false": False,
    "False": False,
}


def parse_go_float(text: str) -> float | None:
    """``strconv.ParseFloat(text, 64)``; None when Go would return an error."""
    if _GO_DECIMAL_FLOAT.fullmatch(text):
        value = float(text.replace("_", ""))
    elif _GO_HEX_FLOAT.fullmatch(text):
        try:
            value = float.fromhex(text.replace("_", ""))
        except (ValueError, OverflowError):
            return None
    else:
        special = _GO_SPECIAL_FLOAT.fullmatch(text)
        if special is None:
            return None
        if special.group(2) is None:
            return math.nan
        return -math.inf if special.group(1) == "-" else math.inf
    if math.isinf(value):
        return None  # out of range: Go reports ErrRange
    return value


def parse_go_bool(text: str) -> bool | None:
    """``strconv.ParseBool(text)``; None when Go would return an error."""
    return _GO_BOOLS.get(text)
