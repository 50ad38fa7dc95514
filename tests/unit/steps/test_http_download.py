"""http-download: real downloads from a real local HTTP(S) server (stdlib, 127.0.0.1)."""

from __future__ import annotations

import threading
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import pytest

from shunter.api.v1alpha1.promotion import PromotionStepStatus
from shunter.promotion.registry import DEFAULT_REGISTRY
from shunter.promotion.step import StepContext, StepError, TerminalStepError
from shunter.steps.http_download import HTTPDownloadStep
from shunter_devenv.localhttp import LocalHTTPServer, QuietHandler, write_chunk, write_last_chunk
from shunter_devenv.selfsigned import server_ssl_context, write_server_tls

PAYLOAD = bytes(range(256)) * 64  # 16 KiB of binary data


@dataclass
class Site:
    """What the server was sent; ``release`` lets a slow reply finish."""

    requests: list[dict[str, Any]] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)


class Handler(QuietHandler):
    def do_GET(self) -> None:  # noqa: N802 - BaseHTTPRequestHandler's naming
        site = self.app
        assert isinstance(site, Site)
        site.requests.append(
            {"target": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}}
        )
        path = urllib.parse.urlsplit(self.path).path
        if path == "/file":
            self._reply(200, PAYLOAD)
        elif path == "/moved":
            self.send_response(302)
            self.send_header("Location", "/file")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif path == "/stream":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for _ in range(8):
                write_chunk(self.wfile, PAYLOAD)
            write_last_chunk(self.wfile)
        elif path == "/slow":
            site.release.wait(30)
            self._reply(200, b"late")
        else:
            self._reply(404, b"not found")

    def _reply(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class SmallCapDownload(HTTPDownloadStep):
    """The real step with a lower size limit (8 KiB)."""

    max_bytes: ClassVar[int] = 8 << 10


@pytest.fixture
def site() -> Site:
    return Site()


@pytest.fixture
def server(site: Site) -> Iterator[LocalHTTPServer]:
    http = LocalHTTPServer(Handler, site, name="http-download-test")
    http.start()
    yield http
    site.release.set()
    http.stop()


def _names(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def test_registered() -> None:
    assert DEFAULT_REGISTRY.get("http-download") is HTTPDownloadStep


def test_config_errors_name_the_key(config_error: Any) -> None:
    assert "config.url: required" in config_error(HTTPDownloadStep, {"outPath": "a"})
    assert "config.outPath: required" in config_error(HTTPDownloadStep, {"url": "http://x"})
    raw = {"url": "http://x", "outPath": "a", "timeout": "soon"}
    assert "config.timeout" in config_error(HTTPDownloadStep, raw)
    raw = {"url": "http://x", "outPath": "a", "headers": [{"name": "A", "value": ""}]}
    assert "config.headers[0].value" in config_error(HTTPDownloadStep, raw)
    raw = {"url": "http://x", "outPath": "a", "queryParams": [{"value": "v"}]}
    assert "config.queryParams[0].name: required" in config_error(HTTPDownloadStep, raw)
    raw = {"url": "http://x", "outPath": "a", "method": "POST"}
    assert 'unknown key "method"' in config_error(HTTPDownloadStep, raw)


async def test_download_with_headers_and_query(
    server: LocalHTTPServer, site: Site, ctx: StepContext, work_dir: Path, run_step: Any
) -> None:
    raw = {
        "url": server.base_url + "/file?b=2",
        "outPath": "downloads/data.bin",
        "headers": [{"name": "Authorization", "value": "Bearer t0ken"}],
        "queryParams": [{"name": "a", "value": "x y"}],
    }
    result = await run_step(HTTPDownloadStep, ctx, raw)
    assert result.status is PromotionStepStatus.SUCCEEDED
    assert result.output == {}
    assert (work_dir / "downloads" / "data.bin").read_bytes() == PAYLOAD
    assert _names(work_dir / "downloads") == ["data.bin"]
    assert site.requests[0]["target"] == "/file?a=x+y&b=2"
    assert site.requests[0]["headers"]["authorization"] == "Bearer t0ken"


async def test_overwrite_needs_permission(
    server: LocalHTTPServer, ctx: StepContext, work_dir: Path, run_step: Any
) -> None:
    (work_dir / "data.bin").write_bytes(b"old")
    raw = {"url": server.base_url + "/file", "outPath": "data.bin"}
    with pytest.raises(TerminalStepError, match="overwrite is not allowed"):
        await run_step(HTTPDownloadStep, ctx, raw)
    assert (work_dir / "data.bin").read_bytes() == b"old"
    await run_step(HTTPDownloadStep, ctx, {**raw, "allowOverwrite": True})
    assert (work_dir / "data.bin").read_bytes() == PAYLOAD


async def test_redirects_are_followed(
    server: LocalHTTPServer, ctx: StepContext, work_dir: Path, run_step: Any
) -> None:
    await run_step(HTTPDownloadStep, ctx, {"url": server.base_url + "/moved", "outPath": "f"})
    assert (work_dir / "f").read_bytes() == PAYLOAD


async def test_failures_leave_no_file(
    server: LocalHTTPServer, site: Site, ctx: StepContext, work_dir: Path, run_step: Any
) -> None:
    with pytest.raises(StepError, match="failed with status 404") as caught:
        await run_step(
            HTTPDownloadStep,
            ctx,
            {"url": server.base_url + "/nope?token=s3cret", "outPath": "f"},
        )
    assert caught.value.failed
    assert "s3cret" not in str(caught.value)
    with pytest.raises(TerminalStepError, match="exceeds the limit of 8192 bytes"):
        await run_step(SmallCapDownload, ctx, {"url": server.base_url + "/file", "outPath": "f"})
    with pytest.raises(StepError, match="exceeds the limit of 8192 bytes"):
        await run_step(SmallCapDownload, ctx, {"url": server.base_url + "/stream", "outPath": "f"})
    with pytest.raises(StepError, match="timed out"):
        await run_step(
            HTTPDownloadStep,
            ctx,
            {"url": server.base_url + "/slow", "outPath": "f", "timeout": "200ms"},
        )
    site.release.set()
    assert _names(work_dir) == []


async def test_streamed_body_under_the_cap(
    server: LocalHTTPServer, ctx: StepContext, work_dir: Path, run_step: Any
) -> None:
    await run_step(HTTPDownloadStep, ctx, {"url": server.base_url + "/stream", "outPath": "s"})
    assert (work_dir / "s").read_bytes() == PAYLOAD * 8


async def test_tls(
    site: Site, tmp_path: Path, ctx: StepContext, work_dir: Path, run_step: Any
) -> None:
    files = write_server_tls(tmp_path / "tls", "http-download-test")
    https = LocalHTTPServer(Handler, site, ssl_context=server_ssl_context(files))
    https.start()
    try:
        raw = {"url": https.base_url + "/file", "outPath": "f"}
        with pytest.raises(StepError, match="error downloading"):
            await run_step(HTTPDownloadStep, ctx, raw)
        await run_step(HTTPDownloadStep, ctx, {**raw, "insecureSkipTLSVerify": True})
        assert (work_dir / "f").read_bytes() == PAYLOAD
    finally:
        https.stop()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://127.0.0.1/x", "must be an http"),
        ("http://169.254.169.254/latest/meta-data", "link-local"),
    ],
)
async def test_refused_urls(ctx: StepContext, run_step: Any, url: str, message: str) -> None:
    with pytest.raises(StepError, match=message):
        await run_step(HTTPDownloadStep, ctx, {"url": url, "outPath": "f"})


@pytest.mark.parametrize("out_path", ["../outside/new.bin", "/tmp/new.bin", "link/new.bin"])
async def test_out_path_stays_in_the_work_dir(
    *,
    server: LocalHTTPServer,
    ctx: StepContext,
    work_dir: Path,
    outside: Path,
    run_step: Any,
    out_path: str,
) -> None:
    (work_dir / "link").symlink_to(outside)
    raw = {"url": server.base_url + "/file", "outPath": out_path, "allowOverwrite": True}
    with pytest.raises(TerminalStepError):
        await run_step(HTTPDownloadStep, ctx, raw)
    assert _names(outside) == ["secret.txt"]
