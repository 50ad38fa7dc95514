"""Rollouts' ``web`` metric provider: one HTTP request per measurement, judged by conditions.

Owns :func:`measure_web`. The request uses the metric's ``method`` (``GET`` by default), ``url``,
``headers`` (each replaces an earlier header of the same name), and ``body`` or ``jsonBody``
(the latter sent as compact JSON with ``Content-Type: application/json``); a body with ``GET``,
or both bodies at once, is an ``Error``. ``timeoutSeconds`` (default 10) bounds the whole
request; ``insecure`` skips TLS verification; redirects are followed (at most 10); the
environment's proxy settings apply except to loopback hosts.

A non-2xx status is an ``Error`` measurement (``received non 2xx response code: <code>``), not a
failure. A JSON body becomes ``result`` through ``jsonPath`` (default ``{$}``, the whole body;
numbers are floats, as Go decodes them) and the measurement's ``value`` is the selection as
Go's compact JSON; a body that is not JSON is ``result`` (and ``value``) as text. Bodies over
10 MiB are an ``Error``.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import urllib.parse
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx

from shunter.expressions import go_json
from shunter.verification.conditions import evaluate_result
from shunter.verification.jsonpath import JSONPathError, select
from shunter.verification.phases import AnalysisPhase
from shunter.verification.status import Measurement
from shunter.verification.templates import Metric, WebMetric

__all__ = ["MAX_RESPONSE_BYTES", "measure_web"]

MAX_RESPONSE_BYTES = 10 * 1024 * 1024
_MAX_REDIRECTS = 10


class _MeasurementError(Exception):
    """Ends the measurement in ``Error`` with this message."""


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _decode_json(body: bytes) -> tuple[bool, Any]:
    """``(True, value)`` when the body is JSON (Go's rules: no NaN/Infinity), else ``(False,
    None)``."""
    try:
        return True, json.loads(body, parse_int=float, parse_constant=_reject_constant)
    except ValueError:
        return False, None


def _request_parts(web: WebMetric) -> tuple[str, dict[bytes, bytes], bytes | None]:
    method = web.method or "GET"
    if web.body and web.json_body is not None:
        raise _MeasurementError(
            "use either Body or JSONBody; both cannot exists for WebMetric payload"
        )
    if (web.body or web.json_body is not None) and method == "GET":
        raise _MeasurementError(
            "Body/JSONBody can only be used with POST or PUT WebMetric Method types"
        )
    headers: dict[str, tuple[bytes, bytes]] = {}
    for header in web.headers:  # values as UTF-8 bytes: Go sends them as they are
        headers[header.key.lower()] = (header.key.encode(), header.value.encode())
    content: bytes | None = None
    if web.body:
        content = web.body.encode()
    elif web.json_body is not None:
        content = json.dumps(web.json_body, separators=(",", ":"), ensure_ascii=False).encode()
        headers["content-type"] = (b"Content-Type", b"application/json")
    return method, dict(headers.values()), content


def _go_method(method: str) -> str:
    return method[:1].upper() + method[1:].lower()


def _is_loopback(url: str) -> bool:
    host = (urllib.parse.urlsplit(url).hostname or "").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def _fetch(web: WebMetric) -> bytes:
    method, headers, content = _request_parts(web)
    try:
        async with (
            asyncio.timeout(float(web.timeout_seconds)),  # the whole request, as Go's client
            httpx.AsyncClient(
                # proxies from the environment, except for loopback hosts (Go's rule)
                trust_env=not _is_loopback(web.url),
                verify=not web.insecure,
                timeout=httpx.Timeout(float(web.timeout_seconds)),
                follow_redirects=True,
                max_redirects=_MAX_REDIRECTS,
            ) as client,
            client.stream(method, web.url, headers=headers, content=content) as response,
        ):
            if not 200 <= response.status_code < 300:
                raise _MeasurementError(f"received non 2xx response code: {response.status_code}")
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > MAX_RESPONSE_BYTES:
                    raise _MeasurementError(
                        f"response body exceeds {MAX_RESPONSE_BYTES // (1024 * 1024)} MiB"
                    )
                chunks.append(chunk)
            return b"".join(chunks)
    except (httpx.TimeoutException, TimeoutError):
        raise _MeasurementError(
            f'{_go_method(method)} "{web.url}": timed out after {web.timeout_seconds}s'
        ) from None
    except (httpx.HTTPError, httpx.InvalidURL, ValueError) as exc:
        detail = str(exc) or type(exc).__name__
        raise _MeasurementError(f'{_go_method(method)} "{web.url}": {detail}') from None


async def _evaluate(
    metric: Metric, web: WebMetric, body: bytes, project: str
) -> tuple[str, AnalysisPhase, str]:
    """``(value, phase, error message)`` for a response body."""
    is_json, data = _decode_json(body)
    if not is_json:
        text = body.decode("utf-8", errors="replace")
        phase, message = await evaluate_result(text, metric, project=project)
        return text, phase, message
    try:
        values = select(data, web.json_path)
    except JSONPathError as exc:
        return "", AnalysisPhase.ERROR, f"Could not find JSONPath in body: {exc}"
    if not values:
        return "", AnalysisPhase.ERROR, "result of web metric produced no value"
    value = values[0]
    phase, message = await evaluate_result(value, metric, project=project)
    return go_json(value), phase, message


async def measure_web(
    metric: Metric, clock: Callable[[], datetime], *, project: str = ""
) -> Measurement:
    """Take one measurement of a ``web`` metric (never raises; problems are ``Error``).
    ``project``: the AnalysisRun's namespace (conditions are evaluated fairly by Project)."""
    measurement = Measurement(phase=AnalysisPhase.ERROR, started_at=clock())
    web = metric.web
    if web is None:
        measurement.message = f"metric {metric.name!r} has no web provider"
    else:
        try:
            body = await _fetch(web)
        except _MeasurementError as exc:
            measurement.message = str(exc)
        else:
            value, phase, message = await _evaluate(metric, web, body, project)
            measurement.phase = phase
            if phase is AnalysisPhase.ERROR:
                measurement.message = message
            else:
                measurement.value = value
    measurement.finished_at = clock()
    return measurement
