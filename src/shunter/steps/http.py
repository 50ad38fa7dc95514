"""The ``http`` step: send one HTTP request and judge the response with expressions.

Config (Kargo's keys): ``url``; ``method`` (``GET`` default; ``DELETE GET HEAD PATCH POST
PUT``); ``headers[] {name, value}``; ``queryParams[] {name, value}`` (added to the URL's query,
encoded and sorted by name as Go does); ``body`` or ``bodyFromFile`` (a work-directory file, at
most 2 MiB); ``insecureSkipTLSVerify``; ``proxy`` (``http(s)://``; otherwise the environment's
proxy settings); ``timeout`` (whole request, Go duration, default 10s); ``pollInterval``
(default 30s; the engine enforces its own floor); ``responseContentType``
(``application/json``, ``application/yaml`` or ``text/plain``; default from the response's
``Content-Type``, and a body that is not JSON under any other type is ignored);
``successExpression``, ``failureExpression``, ``errorExpression``; ``outputs[] {name,
fromExpression}``.

Expressions are raw expr-lang, evaluated through ``ctx.evaluate`` with the extra variable
``response``: ``status`` (int), ``headers`` (canonical name -> list of values), ``body`` (parsed
JSON/YAML, text, or ``{}`` when empty) and the method ``header(name)`` (first value or "").

Decision, in this order:

1. ``failureExpression`` true -> terminal **Failed**
   (``HTTP (<status>) response met failure criteria[: "<errorExpression result>"]``);
2. ``successExpression`` true -> **Succeeded** with the outputs;
3. neither expression set -> 2xx is **Succeeded** with the outputs, anything else a
   retryable failure (counted against the step's error threshold);
4. otherwise **Running**, polled again after ``pollInterval``.

Responses over 2 MiB are an error; connections to link-local addresses are refused
(:mod:`shunter.providers.safehttp`).
"""

from __future__ import annotations

import asyncio
import json
import urllib.parse
from datetime import date, datetime, timedelta
from typing import Any, ClassVar, Literal

import httpx
from pydantic import Field, field_validator, model_validator
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from shunter._internal.durations import parse_go_duration
from shunter._internal.threads import run_in_thread
from shunter.api.v1alpha1.promotion import PromotionStepStatus
from shunter.expressions import ExpressionError, ExpressionSyntaxError, to_plain
from shunter.expressions.functions.http import HTTPResponse, canonical_header_key
from shunter.expressions.values import go_quote
from shunter.promotion.effects import Effects
from shunter.promotion.registry import register
from shunter.promotion.step import (
    StepConfig,
    StepContext,
    StepError,
    StepResult,
    TerminalStepError,
)
from shunter.providers.safehttp import environment_proxy, safe_async_client
from shunter.steps_support.effects import shown_url, would
from shunter.steps_support.responses import read_capped_body

__all__ = [
    "DEFAULT_POLL_INTERVAL",
    "DEFAULT_TIMEOUT",
    "MAX_BODY_BYTES",
    "HTTPConfig",
    "HTTPHeader",
    "HTTPOutput",
    "HTTPQueryParam",
    "HTTPResponse",
    "HTTPStep",
    "canonical_header_key",
]

MAX_BODY_BYTES = 2 << 20
DEFAULT_TIMEOUT = timedelta(seconds=10)
DEFAULT_POLL_INTERVAL = timedelta(seconds=30)
_MAX_REDIRECTS = 10
_YAML_TYPES = ("application/yaml", "text/yaml", "application/x-yaml")


class HTTPHeader(StepConfig):
    """A request header."""

    name: str = Field(min_length=1)
    value: str = Field(min_length=1)


class HTTPQueryParam(StepConfig):
    """A query parameter."""

    name: str = Field(min_length=1)
    value: str = Field(min_length=1)


class HTTPOutput(StepConfig):
    """An output computed from the response."""

    name: str = Field(min_length=1)
    from_expression: str = Field(min_length=1)


def _duration(value: str | None) -> str | None:
    if value is not None:
        try:
            parsed = parse_go_duration(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a duration such as 30s or 1m30s") from None
        if parsed <= timedelta(0):
            raise ValueError("must be positive")
    return value


class HTTPConfig(StepConfig):
    """Config of ``http``."""

    url: str = Field(min_length=1)
    method: Literal["DELETE", "GET", "HEAD", "PATCH", "POST", "PUT"] | None = None
    headers: list[HTTPHeader] | None = None
    query_params: list[HTTPQueryParam] | None = None
    body: str | None = None
    body_from_file: str | None = Field(default=None, min_length=1)
    insecure_skip_tls_verify: bool = Field(default=False, alias="insecureSkipTLSVerify")
    proxy: str | None = Field(default=None, pattern=r"^https?://.*$")
    timeout: str | None = None
    poll_interval: str | None = None
    response_content_type: Literal["application/json", "application/yaml", "text/plain"] | None = (
        None
    )
    success_expression: str | None = None
    failure_expression: str | None = None
    error_expression: str | None = None
    outputs: list[HTTPOutput] | None = None

    _check_timeout = field_validator("timeout", "poll_interval")(_duration)

    @model_validator(mode="after")
    def _one_body(self) -> HTTPConfig:
        if self.body and self.body_from_file:
            raise ValueError("'body' and 'bodyFromFile' are mutually exclusive")
        return self


def _with_query(url: str, params: list[HTTPQueryParam]) -> str:
    if not params:
        return url
    parts = urllib.parse.urlsplit(url)
    pairs = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    pairs += [(p.name, p.value) for p in params]
    pairs.sort(key=lambda kv: kv[0])
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(pairs)))


def _shown(url: str) -> str:
    """The URL without credentials and query, for messages."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    return urllib.parse.urlunsplit((parts.scheme, host, parts.path, "", ""))


def _jsonish(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonish(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonish(v) for v in value]
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


def _parse_body(raw: bytes, content_type: str) -> Any:
    if not raw:
        return {}
    kind = content_type.lower()
    if kind in _YAML_TYPES:
        try:
            return _jsonish(YAML(typ="safe", pure=True).load(raw.decode("utf-8")))
        except (YAMLError, UnicodeDecodeError) as exc:
            raise StepError(f"failed to parse YAML response: {exc}") from None
    if kind == "text/plain":
        return raw.decode("utf-8", "replace")
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        if kind == "application/json":
            raise StepError(f"failed to parse JSON response: {exc}") from None
        return {}


class _Evaluator:
    def __init__(self, ctx: StepContext, response: HTTPResponse) -> None:
        if ctx.evaluate is None:
            raise TerminalStepError("the http step needs an expression evaluator")
        self._evaluate = ctx.evaluate
        self._vars = {"response": response}

    async def __call__(self, what: str, expression: str) -> Any:
        try:
            return await self._evaluate(expression, self._vars)
        except ExpressionSyntaxError as exc:
            raise TerminalStepError(f"error compiling {what} {expression!r}: {exc}") from None
        except ExpressionError as exc:
            raise StepError(f"error evaluating {what} {expression!r}: {exc}") from None

    async def criterion(self, what: str, expression: str | None) -> bool | None:
        if not expression:
            return None
        result = await self(what, expression)
        if not isinstance(result, bool):
            raise StepError(
                f"{what} {expression!r} did not evaluate to a boolean (got {type(result).__name__})"
            )
        return result

    async def message(self, expression: str | None) -> str:
        if not expression:
            return ""
        try:
            result = await self._evaluate(expression, self._vars)
        except ExpressionSyntaxError as exc:
            raise TerminalStepError(
                f"error compiling error expression {expression!r}: {exc}"
            ) from None
        except ExpressionError:
            return ""
        return result if isinstance(result, str) else ""

    async def outputs(self, outputs: list[HTTPOutput] | None) -> dict[str, Any]:
        return {
            o.name: to_plain(await self(f"output expression {o.name!r}", o.from_expression))
            for o in outputs or []
        }


def _request_body(ctx: StepContext, cfg: HTTPConfig) -> bytes:
    if not cfg.body_from_file:
        return (cfg.body or "").encode("utf-8")
    path = ctx.path(cfg.body_from_file)
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_BODY_BYTES + 1)
    except OSError as exc:
        raise StepError(
            f"could not read bodyFromFile {cfg.body_from_file!r}: {exc.strerror}"
        ) from None
    if len(data) > MAX_BODY_BYTES:
        raise StepError(f"bodyFromFile {cfg.body_from_file!r} exceeds {MAX_BODY_BYTES} bytes")
    return data


async def _exchange(ctx: StepContext, cfg: HTTPConfig) -> HTTPResponse:
    url = _with_query(cfg.url, cfg.query_params or [])
    try:
        target = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise TerminalStepError(f"invalid URL: {exc}") from None
    if target.scheme not in ("http", "https") or not target.host:
        raise TerminalStepError(f"URL {_shown(cfg.url)!r} must be an http(s) URL with a host")
    body = await run_in_thread(_request_body, ctx, cfg)
    timeout = parse_go_duration(cfg.timeout) if cfg.timeout else DEFAULT_TIMEOUT
    seconds = timeout.total_seconds()
    proxy = cfg.proxy or environment_proxy(target)
    headers = [(h.name, h.value) for h in cfg.headers or []]
    client = safe_async_client(
        verify=not cfg.insecure_skip_tls_verify,
        proxy=proxy,
        timeout=seconds,
        max_redirects=_MAX_REDIRECTS,
    )
    try:
        async with client, asyncio.timeout(seconds):
            request = client.build_request(
                cfg.method or "GET", target, headers=headers, content=body or None
            )
            response = await client.send(request, stream=True)
            try:
                raw = await read_capped_body(response, MAX_BODY_BYTES, "response body")
            finally:
                await response.aclose()
    except (TimeoutError, httpx.TimeoutException):
        raise StepError(f"HTTP request to {_shown(cfg.url)} timed out after {seconds:g}s") from None
    except httpx.HTTPError as exc:
        raise StepError(f"error sending HTTP request to {_shown(cfg.url)}: {exc}") from None
    content_type = cfg.response_content_type or (
        response.headers.get("content-type", "").split(";", 1)[0].strip()
    )
    headers_out: dict[str, list[str]] = {}
    for key, value in response.headers.raw:
        headers_out.setdefault(canonical_header_key(key.decode("latin-1")), []).append(
            value.decode("latin-1")
        )
    return HTTPResponse(response.status_code, headers_out, _parse_body(raw, content_type))


@register
class HTTPStep:
    """Runner of ``http``."""

    name: ClassVar[str] = "http"
    config_model: ClassVar[type[StepConfig]] = HTTPConfig
    default_timeout: ClassVar[timedelta | None] = None
    default_error_threshold: ClassVar[int] = 1
    external_effects: ClassVar[Effects] = Effects.WRITES

    async def preview(self, ctx: StepContext, config: Any) -> StepResult:
        """GET and HEAD requests run (they only read); others are reported."""
        method = (config.method or "GET") if isinstance(config, HTTPConfig) else "GET"
        if method in ("GET", "HEAD"):
            return await self.run(ctx, config)
        return would(f"would send {method} {shown_url(config.url)}")

    async def run(self, ctx: StepContext, config: Any) -> StepResult:
        """Send the request and decide the step's status from the response."""
        cfg = HTTPConfig.model_validate(config)
        if ctx.evaluate is None:
            raise TerminalStepError("the http step needs an expression evaluator")
        response = await _exchange(ctx, cfg)
        evaluate = _Evaluator(ctx, response)
        success = await evaluate.criterion("success expression", cfg.success_expression)
        failure = await evaluate.criterion("failure expression", cfg.failure_expression)
        if failure:
            message = f"HTTP ({response.status}) response met failure criteria"
            detail = await evaluate.message(cfg.error_expression)
            if detail:
                message += f": {go_quote(detail)}"
            raise TerminalStepError(message, failed=True)
        if success or (success is None and failure is None and 200 <= response.status < 300):
            return StepResult(
                status=PromotionStepStatus.SUCCEEDED, output=await evaluate.outputs(cfg.outputs)
            )
        if success is None and failure is None:
            raise StepError(f"HTTP ({response.status}) response was not a 2xx", failed=True)
        interval = (
            parse_go_duration(cfg.poll_interval) if cfg.poll_interval else DEFAULT_POLL_INTERVAL
        )
        return StepResult(
            status=PromotionStepStatus.RUNNING,
            message=f"HTTP ({response.status}) response met neither success nor failure criteria",
            retry_after=interval,
        )
