"""The ``http-download`` step: download a URL to a file in the work directory.

Config (Kargo's keys): ``url`` (``http``/``https``); ``outPath`` (work-directory path; missing
parent directories are created); ``allowOverwrite`` (default false: an existing file at
``outPath`` is a terminal error); ``headers[] {name, value}``; ``queryParams[] {name, value}``
(added to the URL's query, encoded and sorted by name as Go does); ``insecureSkipTLSVerify``;
``timeout`` (whole download, Go duration, default 5m). No outputs.

Behaviour: one ``GET`` through the link-local-refusing transport of
:mod:`shunter.providers.safehttp` (the environment's proxy settings apply, up to 10 redirects);
a non-2xx status is a failure that may be retried; a body over 100 MiB is refused (at once when
``Content-Length`` says so, terminal; otherwise when the limit is crossed); the body is streamed
to a temporary file next to ``outPath`` and renamed over it only when complete, so a failed
download leaves no partial file. Messages show the URL without credentials and query, and
header values (which may carry tokens) never appear in them.

Differences from Kargo: the existence check for ``outPath`` also refuses a directory even when
``allowOverwrite`` is true; an existing file keeps its permission bits (new files get 0600).
"""

from __future__ import annotations

import asyncio
import urllib.parse
from datetime import timedelta
from pathlib import Path
from typing import Any, ClassVar

import httpx
from pydantic import Field, field_validator

from shunter._internal.durations import parse_go_duration
from shunter._internal.threads import run_in_thread
from shunter.api.v1alpha1.promotion import PromotionStepStatus
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
from shunter.steps.http import HTTPHeader, HTTPQueryParam
from shunter.steps_support.atomicwrite import atomic_file

__all__ = [
    "DEFAULT_DOWNLOAD_TIMEOUT",
    "MAX_DOWNLOAD_BYTES",
    "HTTPDownloadConfig",
    "HTTPDownloadStep",
]

MAX_DOWNLOAD_BYTES = 100 << 20
DEFAULT_DOWNLOAD_TIMEOUT = timedelta(minutes=5)
_MAX_REDIRECTS = 10


class HTTPDownloadConfig(StepConfig):
    """Config of ``http-download``."""

    url: str = Field(min_length=1, description="The URL to download.")
    out_path: str = Field(min_length=1, description="Where to save the file (work directory).")
    allow_overwrite: bool = Field(default=False, description="Replace an existing file.")
    headers: list[HTTPHeader] | None = None
    query_params: list[HTTPQueryParam] | None = None
    insecure_skip_tls_verify: bool = Field(default=False, alias="insecureSkipTLSVerify")
    timeout: str | None = Field(default=None, description="Go duration; default 5m.")

    @field_validator("timeout")
    @classmethod
    def _check_timeout(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                parsed = parse_go_duration(value)
            except ValueError:
                raise ValueError(f"{value!r} is not a duration such as 30s or 1m30s") from None
            if parsed <= timedelta(0):
                raise ValueError("must be positive")
        return value


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


def _prepare_target(ctx: StepContext, cfg: HTTPDownloadConfig) -> Path:
    target = ctx.path(cfg.out_path)
    if target.is_dir():
        raise TerminalStepError(f"outPath {cfg.out_path!r} is a directory")
    if target.exists() and not cfg.allow_overwrite:
        raise TerminalStepError(
            f"file already exists at {cfg.out_path!r} and overwrite is not allowed"
        )
    return target


async def _download(
    ctx: StepContext, cfg: HTTPDownloadConfig, target: Path, url: httpx.URL, max_bytes: int
) -> int:
    timeout = parse_go_duration(cfg.timeout) if cfg.timeout else DEFAULT_DOWNLOAD_TIMEOUT
    seconds = timeout.total_seconds()
    shown = _shown(cfg.url)
    client = safe_async_client(
        verify=not cfg.insecure_skip_tls_verify,
        proxy=environment_proxy(url),
        timeout=seconds,
        max_redirects=_MAX_REDIRECTS,
    )
    headers = [(h.name, h.value) for h in cfg.headers or []]
    total = 0
    try:
        async with client, asyncio.timeout(seconds):
            request = client.build_request("GET", url, headers=headers)
            response = await client.send(request, stream=True)
            try:
                if not 200 <= response.status_code < 300:
                    raise StepError(
                        f"HTTP request to {shown} failed with status {response.status_code}",
                        failed=True,
                    )
                length = response.headers.get("content-length", "")
                if length.isascii() and length.isdigit() and int(length) > max_bytes:
                    raise TerminalStepError(
                        f"download of {shown} exceeds the limit of {max_bytes} bytes"
                    )
                with atomic_file(ctx.work_dir, target) as handle:
                    async for chunk in response.aiter_bytes():
                        total += len(chunk)
                        if total > max_bytes:
                            raise StepError(
                                f"download of {shown} exceeds the limit of {max_bytes} bytes"
                            )
                        handle.write(chunk)
            finally:
                await response.aclose()
    except (TimeoutError, httpx.TimeoutException):
        raise StepError(f"download of {shown} timed out after {seconds:g}s") from None
    except httpx.HTTPError as exc:
        raise StepError(f"error downloading {shown}: {exc}") from None
    except OSError as exc:
        raise StepError(f"cannot write {cfg.out_path!r}: {exc.strerror}") from None
    return total


@register
class HTTPDownloadStep:
    """Runner of ``http-download``."""

    name: ClassVar[str] = "http-download"
    config_model: ClassVar[type[StepConfig]] = HTTPDownloadConfig
    default_timeout: ClassVar[timedelta | None] = None
    default_error_threshold: ClassVar[int] = 1
    external_effects: ClassVar[Effects] = Effects.NONE
    #: Largest body accepted.
    max_bytes: ClassVar[int] = MAX_DOWNLOAD_BYTES

    async def run(self, ctx: StepContext, config: Any) -> StepResult:
        """Download ``url`` to ``outPath``."""
        cfg = HTTPDownloadConfig.model_validate(config)
        try:
            url = httpx.URL(_with_query(cfg.url, cfg.query_params or []))
        except httpx.InvalidURL as exc:
            raise TerminalStepError(f"invalid URL: {exc}") from None
        if url.scheme not in ("http", "https") or not url.host:
            raise TerminalStepError(f"URL {_shown(cfg.url)!r} must be an http(s) URL with a host")
        target = await run_in_thread(_prepare_target, ctx, cfg)
        size = await _download(ctx, cfg, target, url, self.max_bytes)
        return StepResult(
            status=PromotionStepStatus.SUCCEEDED,
            message=f"downloaded {size} bytes to {cfg.out_path}",
        )
