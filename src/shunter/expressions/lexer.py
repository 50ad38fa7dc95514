"""Tokenizer for expr-lang syntax.

Owns turning expression text into `Token`s: numbers (decimal, ``0x``, ``0o``, ``0b``, floats,
``_`` separators), strings (``'...'``, ``"..."`` with Go escapes, raw backtick strings),
identifiers (letters, digits, ``_``, ``$``), word operators (``in``, ``and``, ``not``,
``matches``...), punctuation operators, brackets, and comments (``//``, ``/* */``).
Bytes literals (``b"..."``) are not supported. Every token records its 0-based offset so
errors can point at the problem.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from shunter.expressions.errors import ExpressionSyntaxError

__all__ = ["Token", "TokenKind", "tokenize"]

_INT64_MAX = 2**63 - 1


class TokenKind(enum.Enum):
    NUMBER = "number"
    STRING = "string"
    IDENT = "identifier"
    OPERATOR = "operator"
    BRACKET = "bracket"
    EOF = "end of expression"


@dataclass(frozen=True, slots=True)
class Token:
    kind: TokenKind
    value: str
    offset: int
    literal: int | float | str | None = None

    def is_op(self, *values: str) -> bool:
        return self.kind is TokenKind.OPERATOR and (not values or self.value in values)

    def is_bracket(self, value: str) -> bool:
        return self.kind is TokenKind.BRACKET and self.value == value

    def describe(self) -> str:
        if self.kind is TokenKind.EOF:
            return "end of expression"
        if self.kind is TokenKind.STRING:
            return f"string {self.value!r}"
        return f"{self.kind.value} {self.value!r}"


WORD_OPERATORS = frozenset(
    {"in", "or", "and", "not", "matches", "contains", "startsWith", "endsWith", "let", "if", "else"}
)

_TWO_CHAR_OPERATORS = frozenset({"==", "!=", "<=", ">=", "&&", "||", "**", "??", "?.", "..", "::"})
_ONE_CHAR_OPERATORS = frozenset("+-*/%^<>=!,;:|?.#")

_SIMPLE_ESCAPES = {
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    "\\": "\\",
    "'": "'",
    '"': '"',
}


def _is_digit(char: str) -> bool:
    """An ASCII digit (``str.isdigit`` also accepts other scripts' digits)."""
    return len(char) == 1 and "0" <= char <= "9"


def _is_ident_start(char: str) -> bool:
    return char in "_$" or char.isalpha()


def _is_ident_char(char: str) -> bool:
    return char in "_$" or char.isalnum()


class _Lexer:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.tokens: list[Token] = []

    def error(self, message: str, offset: int) -> ExpressionSyntaxError:
        return ExpressionSyntaxError(message, expression=self.text, offset=offset)

    def run(self) -> list[Token]:
        text = self.text
        length = len(text)
        while True:
            self._skip_space_and_comments()
            if self.pos >= length:
                self.tokens.append(Token(TokenKind.EOF, "", length))
                return self.tokens
            start = self.pos
            char = text[start]
            nxt = text[start + 1] if start + 1 < length else ""
            if char in "'\"":
                self._string(char)
            elif char == "`":
                self._raw_string()
            elif _is_digit(char) or (char == "." and _is_digit(nxt)):
                self._number()
            elif _is_ident_start(char):
                self._identifier()
            elif char in "([{)]}":
                self.pos += 1
                self.tokens.append(Token(TokenKind.BRACKET, char, start))
            else:
                self._operator(char, nxt)

    def _skip_space_and_comments(self) -> None:
        text = self.text
        length = len(text)
        while self.pos < length:
            char = text[self.pos]
            if char.isspace():
                self.pos += 1
            elif text.startswith("//", self.pos):
                end = text.find("\n", self.pos)
                self.pos = length if end < 0 else end + 1
            elif text.startswith("/*", self.pos):
                end = text.find("*/", self.pos + 2)
                if end < 0:
                    raise self.error("unclosed comment", self.pos)
                self.pos = end + 2
            else:
                return

    def _operator(self, char: str, nxt: str) -> None:
        start = self.pos
        pair = char + nxt
        if pair in _TWO_CHAR_OPERATORS:
            # `a ? .5 : 1` is a ternary with a float, not optional chaining.
            after = self.text[start + 2] if start + 2 < len(self.text) else ""
            if pair == "?." and _is_digit(after):
                pair = "?"
            else:
                self.pos += 2
                self.tokens.append(Token(TokenKind.OPERATOR, pair, start))
                return
        if char in _ONE_CHAR_OPERATORS:
            self.pos += 1
            self.tokens.append(Token(TokenKind.OPERATOR, char, start))
            if char == "#":
                self._pointer_name()
            return
        raise self.error(f"unrecognized character {char!r}", start)

    def _pointer_name(self) -> None:
        start = self.pos
        text = self.text
        while self.pos < len(text) and _is_ident_char(text[self.pos]):
            self.pos += 1
        if self.pos > start:
            self.tokens.append(Token(TokenKind.IDENT, text[start : self.pos], start))

    def _identifier(self) -> None:
        start = self.pos
        text = self.text
        while self.pos < len(text) and _is_ident_char(text[self.pos]):
            self.pos += 1
        word = text[start : self.pos]
        kind = TokenKind.OPERATOR if word in WORD_OPERATORS else TokenKind.IDENT
        self.tokens.append(Token(kind, word, start))

    def _number(self) -> None:
        text = self.text
        start = self.pos
        length = len(text)
        digits = "0123456789_"
        base = 10
        if text.startswith(("0x", "0X"), start):
            digits, base = "0123456789abcdefABCDEF_", 16
            self.pos += 2
        elif text.startswith(("0o", "0O"), start):
            digits, base = "01234567_", 8
            self.pos += 2
        elif text.startswith(("0b", "0B"), start):
            digits, base = "01_", 2
            self.pos += 2
        while self.pos < length and text[self.pos] in digits:
            self.pos += 1
        is_float = False
        if base == 10 and self.pos < length and text[self.pos] == ".":
            if self.pos + 1 < length and text[self.pos + 1] == ".":
                pass  # `1..3`: a range, the number ends here
            else:
                is_float = True
                self.pos += 1
                while self.pos < length and text[self.pos] in digits:
                    self.pos += 1
        if base == 10 and self.pos < length and text[self.pos] in "eE":
            is_float = True
            self.pos += 1
            if self.pos < length and text[self.pos] in "+-":
                self.pos += 1
            while self.pos < length and text[self.pos] in digits:
                self.pos += 1
        raw = text[start : self.pos]
        if self.pos < length and _is_ident_char(text[self.pos]):
            raise self.error(f"bad number syntax {text[start : self.pos + 1]!r}", start)
        cleaned = raw.replace("_", "")
        value: int | float
        try:
            if is_float:
                value = float(cleaned)
            elif base == 10:
                value = int(cleaned, 10)
            else:
                value = int(cleaned[2:], base)
        except ValueError:
            raise self.error(f"bad number syntax {raw!r}", start) from None
        if isinstance(value, int) and value > _INT64_MAX:
            raise self.error("integer literal is too large", start)
        self.tokens.append(Token(TokenKind.NUMBER, raw, start, value))

    def _string(self, quote: str) -> None:
        text = self.text
        start = self.pos
        self.pos += 1
        out: list[str] = []
        while True:
            if self.pos >= len(text):
                raise self.error("literal not terminated", start)
            char = text[self.pos]
            if char == quote:
                self.pos += 1
                break
            if char == "\n":
                raise self.error("literal not terminated", start)
            if char == "\\":
                out.append(self._escape())
                continue
            out.append(char)
            self.pos += 1
        value = "".join(out)
        self.tokens.append(Token(TokenKind.STRING, value, start, value))

    def _escape(self) -> str:
        text = self.text
        start = self.pos
        if self.pos + 1 >= len(text):
            raise self.error("literal not terminated", start)
        code = text[self.pos + 1]
        self.pos += 2
        simple = _SIMPLE_ESCAPES.get(code)
        if simple is not None:
            return simple
        widths = {"x": 2, "u": 4, "U": 8}
        if code in widths:
            width = widths[code]
            digits = text[self.pos : self.pos + width]
            if len(digits) != width or any(c not in "0123456789abcdefABCDEF" for c in digits):
                raise self.error("invalid escape sequence", start)
            self.pos += width
            number = int(digits, 16)
            if number > 0x10FFFF or 0xD800 <= number <= 0xDFFF:
                raise self.error("escape sequence is invalid Unicode code point", start)
            return chr(number)
        if code in "01234567":
            digits = text[self.pos - 1 : self.pos + 2]
            if len(digits) != 3 or any(c not in "01234567" for c in digits):
                raise self.error("invalid escape sequence", start)
            self.pos += 2
            number = int(digits, 8)
            if number > 255:
                raise self.error("octal escape value > 255", start)
            return chr(number)
        raise self.error("invalid escape sequence", start)

    def _raw_string(self) -> None:
        text = self.text
        start = self.pos
        end = text.find("`", start + 1)
        if end < 0:
            raise self.error("literal not terminated", start)
        value = text[start + 1 : end]
        self.pos = end + 1
        self.tokens.append(Token(TokenKind.STRING, value, start, value))


def tokenize(text: str) -> list[Token]:
    """Split `text` into tokens, ending with an EOF token; raise ExpressionSyntaxError."""
    return _Lexer(text).run()
