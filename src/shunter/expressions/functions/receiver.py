"""What a generic webhook receiver's expressions see: ``request`` and the URL normalisations.

Owns `receiver_environment(variables)`. The variables are plain data (so that an evaluation
can run in a worker process): ``request`` is ``{"body": <JSON or None>, "headers": {lower-case
name: [values]}, "query": {name: [values]}}``, turned here into a `RequestView` offering

* ``request.body`` - the JSON body (nil without one);
* ``request.header(name)`` - the first value of a header, any case, ``""`` when absent;
* ``request.headers(name)`` - every value of a header (an empty list when absent);
* ``request.params(name)`` - the first value of a query parameter, ``""`` when absent;

and the functions ``normalizeGit``, ``normalizeImage`` and ``normalizeChart`` (Kargo's URL
normalisations, the ones Freight IDs and the ``subscribedURLs`` index use) beside the
builtins.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from shunter.expressions.builtins import BUILTINS
from shunter.expressions.errors import FunctionError
from shunter.expressions.interpreter import Environment
from shunter.expressions.registry import FunctionRegistry
from shunter.expressions.values import ExprObject
from shunter.freight.urls import normalize_chart_url, normalize_git_url, normalize_image_url

__all__ = ["RECEIVER_FUNCTIONS", "RequestView", "receiver_environment"]


def _string_function(name: str, fn: Callable[[str], str]) -> Callable[[Any], str]:
    def call(value: Any) -> str:
        if not isinstance(value, str):
            raise FunctionError(f"{name}() expects a string")
        return fn(value)

    return call


def _registry() -> FunctionRegistry:
    registry = BUILTINS.child()
    registry.register("normalizeGit", _string_function("normalizeGit", normalize_git_url))
    registry.register("normalizeImage", _string_function("normalizeImage", normalize_image_url))
    registry.register("normalizeChart", _string_function("normalizeChart", normalize_chart_url))
    return registry.freeze()


#: The builtins plus the URL normalisations.
RECEIVER_FUNCTIONS = _registry()


def _values(table: Any, key: str) -> list[str]:
    values = table.get(key) if isinstance(table, Mapping) else None
    return [v for v in values if isinstance(v, str)] if isinstance(values, Sequence) else []


class RequestView(ExprObject):
    """``request`` in a generic receiver's expressions, over the request as plain data."""

    __slots__ = ("_request",)

    def __init__(self, request: Mapping[str, Any]) -> None:
        self._request = request

    @property
    def expr_type_name(self) -> str:
        return "request"

    def expr_field(self, name: str) -> Any:
        if name == "body":
            return self._request.get("body")
        raise KeyError(name)

    def expr_method(self, name: str, args: Sequence[Any]) -> Any:
        if name not in ("header", "headers", "params"):
            raise KeyError(name)
        if len(args) != 1 or not isinstance(args[0], str):
            raise FunctionError(f"{name}() takes one string argument")
        if name == "params":
            return next(iter(_values(self._request.get("query"), args[0])), "")
        values = _values(self._request.get("headers"), args[0].lower())
        return values if name == "headers" else next(iter(values), "")

    def expr_json(self) -> Any:
        return {"body": self._request.get("body")}


def receiver_environment(variables: Mapping[str, Any]) -> Environment:
    """The environment of a generic receiver's expression (``request`` made a `RequestView`)."""
    request = variables.get("request")
    view = RequestView(request if isinstance(request, Mapping) else {})
    return Environment(variables={**variables, "request": view}, functions=RECEIVER_FUNCTIONS)
