"""The ``response`` value of Kargo's ``http`` step expressions: `HTTPResponse`.

Owns `HTTPResponse` (``response.status``, ``response.headers``, ``response.body`` and
``response.header(name)``) and `canonical_header_key`, Go's header-name canonicalisation. It
lives with the expression functions, not the step, so an evaluation worker can receive it
without importing the step machinery.
"""

from __future__ import annotations

from typing import Any

from shunter.expressions.errors import FunctionError
from shunter.expressions.values import ExprObject

__all__ = ["HTTPResponse", "canonical_header_key"]


def canonical_header_key(name: str) -> str:
    """Go's ``textproto.CanonicalMIMEHeaderKey`` (``content-type`` -> ``Content-Type``)."""
    if not name or any(not (c.isascii() and (c.isalnum() or c in "!#$%&'*+-.^_`|~")) for c in name):
        return name
    return "-".join(part[:1].upper() + part[1:].lower() for part in name.split("-"))


class HTTPResponse(ExprObject):
    """``response`` in the step's expressions."""

    __slots__ = ("body", "headers", "status")

    def __init__(self, status: int, headers: dict[str, list[str]], body: Any) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    @property
    def expr_type_name(self) -> str:
        return "http.Response"

    def expr_field(self, name: str) -> Any:
        if name == "status":
            return self.status
        if name == "headers":
            return self.headers
        if name == "body":
            return self.body
        raise KeyError(name)

    def expr_method(self, name: str, args: Any) -> Any:
        if name != "header":
            raise KeyError(name)
        if len(args) != 1 or not isinstance(args[0], str):
            raise FunctionError("header() takes one string argument")
        values = self.headers.get(canonical_header_key(args[0]))
        return values[0] if values else ""

    def expr_json(self) -> Any:
        return {"status": self.status, "headers": self.headers, "body": self.body}
