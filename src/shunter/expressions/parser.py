"""Parser for expr-lang syntax: tokens in, `nodes` AST out.

Owns the grammar and operator precedence of expr-lang (lowest to highest): ``|`` (pipe),
``or ||``, ``and &&``, ``== != < > <= >= in matches contains startsWith endsWith`` (with
``not in`` etc.), ``..``, ``+ -``, ``* / %``, unary ``not ! - +``, ``** ^`` (right
associative), ``??``; then postfix member access ``.x ?.x [i] [a:b] .M()``. Also: ternary
``c ? a : b`` and ``a ?: b``, ``let x = ...; body``, ``if c { } else { }``, comparison chains
(``1 < x < 3``), sequences ``a; b``, array and map literals, closures for predicate builtins
(``#``, ``#index``, ``#acc``, ``.field``) and the rule that ``??`` cannot be mixed with other
binary operators without parentheses.

Bounds: expressions longer than `MAX_EXPRESSION_LENGTH` characters, nested deeper than
`MAX_NESTING`, or whose tree is deeper than `MAX_AST_DEPTH` are rejected with
`ExpressionSyntaxError`, so evaluation never overflows Python's stack.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from shunter.expressions import nodes as n
from shunter.expressions.errors import ExpressionSyntaxError
from shunter.expressions.lexer import Token, TokenKind, tokenize

__all__ = ["MAX_AST_DEPTH", "MAX_EXPRESSION_LENGTH", "MAX_NESTING", "parse"]

MAX_EXPRESSION_LENGTH = 10_000
MAX_NESTING = 64
MAX_AST_DEPTH = 200


@dataclass(frozen=True, slots=True)
class _Op:
    precedence: int
    right: bool = False


_BINARY: dict[str, _Op] = {
    "|": _Op(0),
    "or": _Op(10),
    "||": _Op(10),
    "and": _Op(15),
    "&&": _Op(15),
    "==": _Op(20),
    "!=": _Op(20),
    "<": _Op(20),
    ">": _Op(20),
    ">=": _Op(20),
    "<=": _Op(20),
    "in": _Op(20),
    "matches": _Op(20),
    "contains": _Op(20),
    "startsWith": _Op(20),
    "endsWith": _Op(20),
    "..": _Op(25),
    "+": _Op(30),
    "-": _Op(30),
    "*": _Op(60),
    "/": _Op(60),
    "%": _Op(60),
    "**": _Op(100, right=True),
    "^": _Op(100, right=True),
    "??": _Op(500),
}
_UNARY = {"not": 50, "!": 50, "-": 90, "+": 90}
_COMPARISONS = frozenset({"<", ">", "<=", ">="})
_NEGATABLE = frozenset({"in", "matches", "contains", "startsWith", "endsWith"})
_CANONICAL = {"||": "or", "&&": "and", "!": "not", "^": "**"}
_POINTER_NAMES = frozenset({"", "index", "acc"})


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.index = 0
        self.current: Token = self.tokens[0]
        self.nesting = 0
        self.closure_depth = 0

    # -- helpers ---------------------------------------------------------------------------

    def error(self, message: str, token: Token | None = None) -> ExpressionSyntaxError:
        at = token if token is not None else self.current
        return ExpressionSyntaxError(message, expression=self.text, offset=at.offset)

    def unexpected(self, token: Token | None = None) -> ExpressionSyntaxError:
        at = token if token is not None else self.current
        return self.error(f"unexpected {at.describe()}", at)

    def advance(self) -> Token:
        token = self.current
        if self.index < len(self.tokens) - 1:
            self.index += 1
            self.current = self.tokens[self.index]
        return token

    def peek(self) -> Token:
        return self.tokens[min(self.index + 1, len(self.tokens) - 1)]

    def expect_op(self, value: str) -> Token:
        if not self.current.is_op(value):
            raise self.error(f"expected {value!r} but found {self.current.describe()}")
        return self.advance()

    def expect_bracket(self, value: str) -> Token:
        if not self.current.is_bracket(value):
            raise self.error(f"expected {value!r} but found {self.current.describe()}")
        return self.advance()

    def enter(self) -> None:
        self.nesting += 1
        if self.nesting > MAX_NESTING:
            raise self.error(f"expression is nested too deeply (limit {MAX_NESTING})")

    # -- grammar ---------------------------------------------------------------------------

    def parse(self) -> n.Node:
        node = self.parse_sequence()
        if self.current.kind is not TokenKind.EOF:
            raise self.unexpected()
        return node

    def parse_sequence(self) -> n.Node:
        start = self.current
        nodes = [self.parse_expression(0)]
        while self.current.is_op(";"):
            self.advance()
            if self.current.kind is TokenKind.EOF:
                break
            nodes.append(self.parse_expression(0))
        if len(nodes) == 1:
            return nodes[0]
        return n.Sequence(start.offset, tuple(nodes))

    def parse_expression(self, precedence: int) -> n.Node:
        self.enter()
        try:
            return self._parse_expression(precedence)
        finally:
            self.nesting -= 1

    def _parse_expression(self, precedence: int) -> n.Node:
        if precedence == 0 and self.current.is_op("let"):
            return self.parse_let()
        if precedence == 0 and self.current.is_op("if"):
            return self.parse_if()
        left = self.parse_primary()
        previous = ""
        while self.current.kind is TokenKind.OPERATOR:
            op_token = self.current
            negate = op_token.is_op("not")
            if negate:
                following = self.peek()
                if not (following.is_op() and following.value in _NEGATABLE):
                    raise self.unexpected(following)
                if _BINARY[following.value].precedence < precedence:
                    break
                self.advance()
                op_token = self.current
            info = _BINARY.get(op_token.value)
            if info is None or info.precedence < precedence:
                break
            self.advance()
            op = op_token.value
            if op == "|":
                name = self.current
                if name.kind is not TokenKind.IDENT:
                    raise self.error(
                        f"expected a function name after '|' but found {name.describe()}"
                    )
                self.advance()
                left = self.parse_call(name, [left])
                previous = op
                continue
            if previous == "??" and op != "??":
                raise self.error(
                    f"operator {op!r} and coalesce expressions (??) cannot be mixed; "
                    "wrap either in parentheses",
                    op_token,
                )
            if op in _COMPARISONS:
                left = self.parse_comparison(left, op_token, info.precedence)
                previous = op
                continue
            right = self.parse_expression(info.precedence if info.right else info.precedence + 1)
            left = n.Binary(op_token.offset, _CANONICAL.get(op, op), left, right)
            if negate:
                left = n.Unary(op_token.offset, "not", left)
            previous = op
        if precedence == 0:
            left = self.parse_conditional(left)
        return left

    def parse_comparison(self, left: n.Node, op_token: Token, precedence: int) -> n.Node:
        root: n.Node | None = None
        while True:
            right = self.parse_expression(precedence + 1)
            comparison = n.Binary(op_token.offset, op_token.value, left, right)
            root = (
                comparison if root is None else n.Binary(op_token.offset, "and", root, comparison)
            )
            left = right
            op_token = self.current
            if not (op_token.is_op() and op_token.value in _COMPARISONS):
                return root
            self.advance()

    def parse_conditional(self, node: n.Node) -> n.Node:
        while self.current.is_op("?"):
            question = self.advance()
            if self.current.is_op(":"):
                self.advance()
                then, otherwise = node, self.parse_expression(0)
            else:
                then = self.parse_expression(0)
                self.expect_op(":")
                otherwise = self.parse_expression(0)
            node = n.Conditional(question.offset, node, then, otherwise)
        return node

    def parse_let(self) -> n.Node:
        self.expect_op("let")
        name = self.current
        if name.kind is not TokenKind.IDENT:
            raise self.error(f"expected a variable name but found {name.describe()}")
        self.advance()
        self.expect_op("=")
        value = self.parse_expression(0)
        self.expect_op(";")
        body = self.parse_sequence()
        return n.Let(name.offset, name.value, value, body)

    def parse_if(self) -> n.Node:
        start = self.expect_op("if")
        cond = self.parse_expression(0)
        self.expect_bracket("{")
        then = self.parse_sequence()
        self.expect_bracket("}")
        self.expect_op("else")
        if self.current.is_op("if"):
            otherwise = self.parse_if()
        else:
            self.expect_bracket("{")
            otherwise = self.parse_sequence()
            self.expect_bracket("}")
        return n.Conditional(start.offset, cond, then, otherwise)

    def parse_primary(self) -> n.Node:
        token = self.current
        if token.kind is TokenKind.OPERATOR and token.value in _UNARY:
            self.advance()
            operand = self.parse_expression(_UNARY[token.value])
            return self.parse_postfix(
                n.Unary(token.offset, _CANONICAL.get(token.value, token.value), operand)
            )
        if token.is_bracket("("):
            self.advance()
            self.enter()
            try:
                inner = self.parse_sequence()
            finally:
                self.nesting -= 1
            self.expect_bracket(")")
            return self.parse_postfix(inner)
        if self.closure_depth > 0 and token.is_op("#", "."):
            name = ""
            if token.is_op("#"):
                self.advance()
                following = self.current
                if following.kind is TokenKind.IDENT and following.offset == token.offset + 1:
                    name = following.value
                    self.advance()
                if name not in _POINTER_NAMES:
                    raise self.error(f"unknown pointer #{name}", token)
            return self.parse_postfix(n.Pointer(token.offset, name))
        if token.is_op("#", "."):
            raise self.error(f"{token.value!r} is only allowed inside a predicate", token)
        return self.parse_secondary()

    def parse_secondary(self) -> n.Node:
        token = self.current
        node: n.Node
        if token.kind is TokenKind.IDENT:
            self.advance()
            if token.value == "true":
                node = n.Literal(token.offset, True)
            elif token.value == "false":
                node = n.Literal(token.offset, False)
            elif token.value == "nil":
                node = n.Literal(token.offset, None)
            elif self.current.is_bracket("("):
                node = self.parse_call(token, [])
            else:
                node = n.Identifier(token.offset, token.value)
        elif token.kind in (TokenKind.NUMBER, TokenKind.STRING):
            self.advance()
            node = n.Literal(token.offset, token.literal)
        elif token.is_bracket("["):
            node = self.parse_array()
        elif token.is_bracket("{"):
            node = self.parse_map()
        else:
            raise self.unexpected()
        return self.parse_postfix(node)

    def parse_call(self, name_token: Token, pre_args: list[n.Node]) -> n.Node:
        name = name_token.value
        spec = n.PREDICATE_BUILTINS.get(name)
        if spec is None:
            args = self.parse_arguments(pre_args)
            return n.Call(name_token.offset, name, tuple(args))
        remaining = spec[len(pre_args) :]
        required = sum(1 for kind in spec if not kind.endswith("?"))
        self.expect_bracket("(")
        args = list(pre_args)
        for position, kind in enumerate(remaining):
            if self.current.is_bracket(")"):
                if kind.endswith("?"):
                    break
                raise self.error(f"{name}() expects at least {required} arguments")
            if position > 0:
                self.expect_op(",")
            if kind.startswith("p"):
                args.append(self.parse_closure())
            else:
                args.append(self.parse_expression(0))
        if self.current.is_op(","):
            self.advance()
        if not self.current.is_bracket(")"):
            raise self.error(
                f"{name}() takes at most {len(spec)} arguments; "
                f"unexpected {self.current.describe()}"
            )
        self.advance()
        return n.PredicateCall(name_token.offset, name, tuple(args))

    def parse_closure(self) -> n.Node:
        start = self.current
        braces = start.is_bracket("{")
        if braces:
            self.advance()
        self.closure_depth += 1
        try:
            if braces:
                body = self.parse_sequence()
            else:
                body = self.parse_expression(0)
                if self.current.is_op(";"):
                    raise self.error("wrap the predicate in braces { and } to use ';'")
        finally:
            self.closure_depth -= 1
        if braces:
            self.expect_bracket("}")
        return n.Closure(start.offset, body)

    def parse_arguments(self, pre_args: list[n.Node]) -> list[n.Node]:
        args = list(pre_args)
        first = len(args)
        self.expect_bracket("(")
        while not self.current.is_bracket(")"):
            if len(args) > first:
                self.expect_op(",")
                if self.current.is_bracket(")"):
                    break
            if self.current.kind is TokenKind.EOF:
                raise self.error("unclosed '(' in function call")
            args.append(self.parse_expression(0))
        self.expect_bracket(")")
        return args

    def parse_array(self) -> n.Node:
        start = self.expect_bracket("[")
        items: list[n.Node] = []
        while not self.current.is_bracket("]"):
            if items:
                self.expect_op(",")
                if self.current.is_bracket("]"):
                    break
            if self.current.kind is TokenKind.EOF:
                raise self.error("unclosed '[' in array literal", start)
            items.append(self.parse_expression(0))
        self.expect_bracket("]")
        return n.ArrayLit(start.offset, tuple(items))

    def parse_map(self) -> n.Node:
        start = self.expect_bracket("{")
        pairs: list[tuple[n.Node, n.Node]] = []
        while not self.current.is_bracket("}"):
            if pairs:
                self.expect_op(",")
                if self.current.is_bracket("}"):
                    break
            token = self.current
            key: n.Node
            if token.kind in (TokenKind.NUMBER, TokenKind.STRING, TokenKind.IDENT):
                text = token.literal if token.kind is TokenKind.STRING else token.value
                key = n.Literal(token.offset, text)
                self.advance()
            elif token.is_bracket("("):
                key = self.parse_expression(0)
            elif token.kind is TokenKind.EOF:
                raise self.error("unclosed '{' in map literal", start)
            else:
                raise self.error(
                    "a map key must be a quoted string, a number, an identifier, or an "
                    f"expression in parentheses (found {token.describe()})"
                )
            self.expect_op(":")
            pairs.append((key, self.parse_expression(0)))
        self.expect_bracket("}")
        return n.MapLit(start.offset, tuple(pairs))

    def parse_postfix(self, node: n.Node) -> n.Node:
        in_chain = False
        while True:
            token = self.current
            optional = token.is_op("?.")
            if optional or token.is_op("."):
                self.advance()
                if optional:
                    in_chain = True
                if optional and self.current.is_bracket("["):
                    node = self.parse_index(node, optional=True)
                    continue
                prop = self.current
                if prop.kind is TokenKind.IDENT or (
                    prop.kind is TokenKind.OPERATOR and prop.value.isidentifier()
                ):
                    self.advance()
                else:
                    raise self.error(f"expected a field name but found {prop.describe()}")
                if self.current.is_bracket("("):
                    args = self.parse_arguments([])
                    node = n.MethodCall(prop.offset, node, prop.value, tuple(args), optional)
                else:
                    node = n.Member(prop.offset, node, n.Literal(prop.offset, prop.value), optional)
            elif token.is_bracket("["):
                node = self.parse_index(node, optional=False)
            else:
                break
        return n.Chain(node.pos, node) if in_chain else node

    def parse_index(self, node: n.Node, *, optional: bool) -> n.Node:
        bracket = self.expect_bracket("[")
        if self.current.is_op(":"):
            self.advance()
            end = None if self.current.is_bracket("]") else self.parse_expression(0)
            self.expect_bracket("]")
            return n.Slice(bracket.offset, node, None, end)
        start = self.parse_expression(0)
        if self.current.is_op(":"):
            self.advance()
            end = None if self.current.is_bracket("]") else self.parse_expression(0)
            self.expect_bracket("]")
            return n.Slice(bracket.offset, node, start, end)
        self.expect_bracket("]")
        return n.Member(bracket.offset, node, start, optional)


def _children(node: n.Node) -> list[n.Node]:
    out: list[n.Node] = []
    for field in fields(node):
        value = getattr(node, field.name)
        if isinstance(value, n.Node):
            out.append(value)
        elif isinstance(value, tuple):
            for item in value:
                if isinstance(item, n.Node):
                    out.append(item)
                elif isinstance(item, tuple):
                    out.extend(x for x in item if isinstance(x, n.Node))
    return out


def _check_depth(text: str, root: n.Node) -> None:
    stack: list[tuple[n.Node, int]] = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_AST_DEPTH:
            raise ExpressionSyntaxError(
                f"expression is too deeply nested (limit {MAX_AST_DEPTH} levels)",
                expression=text,
                offset=node.pos,
            )
        stack.extend((child, depth + 1) for child in _children(node))


def parse(text: str) -> n.Node:
    """Parse one expression; raise `ExpressionSyntaxError` with the position on failure."""
    if len(text) > MAX_EXPRESSION_LENGTH:
        raise ExpressionSyntaxError(
            f"expression is too long ({len(text)} characters; limit {MAX_EXPRESSION_LENGTH})",
            expression=text[:200],
        )
    if not text.strip():
        raise ExpressionSyntaxError("empty expression", expression=text, offset=0)
    parser = _Parser(text)
    root = parser.parse()
    _check_depth(text, root)
    return root
