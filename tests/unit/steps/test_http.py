"""http: real requests to a real local HTTP(S) server; expressions decide the outcome."""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from shunter.api.v1alpha1.promotion import PromotionStepStatus
from shunter.promotion.step import StepContext, StepError, TerminalStepError
from shunter.steps.http import HTTPStep, canonical_header_key
from shunter_devenv.localhttp import LocalHTTPServer, QuietHandler
from shunter_devenv.selfsigned import server_ssl_context, write_server_tls


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    wait: bool = False


@dataclass
class Recorder:
    """What the server answers (by path) and what it was sent."""

    routes: dict[str, Reply] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)


def json_reply(data: Any, status: int = 200, *extra: tuple[str, str]) -> Reply:
    return Reply(status, json.dumps(data).encode(), [("Content-Type", "application/json"), *extra])


class Handler(QuietHandler):
    def _serve(self) -> None:
        app = self.app
        assert isinstance(app, Recorder)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        app.requests.append(
            {
                "method": self.command,
                "target": self.path,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "header_list": self.headers.get_all("X-Multi") or [],
                "body": body,
            }
        )
        reply = app.routes.get(urllib.parse.urlsplit(self.path).path, Reply(404, b"not found"))
        if reply.wait:
            app.release.wait(30)
        self.send_response(reply.status)
        for name, value in reply.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(reply.body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _serve  # noqa: N815


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def server(recorder: Recorder) -> Iterator[LocalHTTPServer]:
    http = LocalHTTPServer(Handler, recorder, name="http-step-test")
    http.start()
    yield http
    recorder.release.set()
    http.stop()


@pytest.fixture
def tls_server(recorder: Recorder, tmp_path: Path) -> Iterator[LocalHTTPServer]:
    files = write_server_tls(tmp_path / "tls", "http-step-test")
    https = LocalHTTPServer(Handler, recorder, ssl_context=server_ssl_context(files))
    https.start()
    yield https
    recorder.release.set()
    https.stop()


Run = Callable[..., Any]


@pytest.fixture
def call(server: LocalHTTPServer, ctx: StepContext, run_step: Any) -> Run:
    """``await call(path, **config)``: run the step against the test server."""

    async def run(path: str, **config: Any) -> Any:
        return await run_step(HTTPStep, ctx, {"url": server.base_url + path, **config})

    return run


# -- config ---------------------------------------------------------------------------------


def test_config_errors(config_error: Any) -> None:
    assert "config.url: required" in config_error(HTTPStep, {})
    assert "config.method" in config_error(HTTPStep, {"url": "http://x", "method": "TRACE"})
    assert "mutually exclusive" in config_error(
        HTTPStep, {"url": "http://x", "body": "a", "bodyFromFile": "b"}
    )
    assert "config.timeout" in config_error(HTTPStep, {"url": "http://x", "timeout": "soon"})
    assert "config.pollInterval" in config_error(HTTPStep, {"url": "http://x", "pollInterval": "5"})
    assert "config.proxy" in config_error(HTTPStep, {"url": "http://x", "proxy": "socks5://p"})
    assert "config.headers[0].value" in config_error(
        HTTPStep, {"url": "http://x", "headers": [{"name": "A", "value": ""}]}
    )
    assert 'unknown key "insecureSkipTlsVerify"' in config_error(
        HTTPStep, {"url": "http://x", "insecureSkipTlsVerify": True}
    )
    assert "config.responseContentType" in config_error(
        HTTPStep, {"url": "http://x", "responseContentType": "text/html"}
    )


# -- decisions ------------------------------------------------------------------------------


async def test_2xx_without_expressions_succeeds_with_outputs(recorder: Recorder, call: Run) -> None:
    recorder.routes["/build"] = json_reply(
        {"items": [{"id": 42}], "state": "done"},
        200,
        ("X-Request-Id", "r-1"),
        ("X-Multi", "a"),
        ("X-Multi", "b"),
    )
    result = await call(
        "/build",
        outputs=[
            {"name": "id", "fromExpression": "response.body.items[0].id"},
            {"name": "requestId", "fromExpression": "response.header('x-request-id')"},
            {"name": "multi", "fromExpression": "response.headers['X-Multi']"},
            {"name": "status", "fromExpression": "response.status"},
        ],
    )
    assert result.status is PromotionStepStatus.SUCCEEDED
    assert result.output == {"id": 42, "requestId": "r-1", "multi": ["a", "b"], "status": 200}


async def test_non_2xx_without_expressions_is_a_retryable_failure(
    recorder: Recorder, call: Run
) -> None:
    recorder.routes["/down"] = Reply(503, b"busy")
    with pytest.raises(StepError, match="503") as info:
        await call("/down")
    assert info.value.failed
    assert not isinstance(info.value, TerminalStepError)


async def test_success_expression(recorder: Recorder, call: Run) -> None:
    recorder.routes["/job"] = json_reply({"state": "done", "url": "https://ci/1"})
    result = await call(
        "/job",
        successExpression="response.status == 200 && response.body.state == 'done'",
        failureExpression="response.body.state == 'failed'",
        outputs=[{"name": "url", "fromExpression": "response.body.url"}],
    )
    assert result.status is PromotionStepStatus.SUCCEEDED
    assert result.output == {"url": "https://ci/1"}


async def test_neither_criterion_met_keeps_polling(recorder: Recorder, call: Run) -> None:
    recorder.routes["/job"] = json_reply({"state": "running"})
    result = await call("/job", successExpression="response.body.state == 'done'")
    assert result.status is PromotionStepStatus.RUNNING
    assert result.retry_after == timedelta(seconds=30)
    assert result.output == {}
    result = await call(
        "/job", failureExpression="response.body.state == 'failed'", pollInterval="15s"
    )
    assert result.status is PromotionStepStatus.RUNNING
    assert result.retry_after == timedelta(seconds=15)


async def test_failure_expression_is_terminal_with_error_message(
    recorder: Recorder, call: Run
) -> None:
    recorder.routes["/job"] = json_reply({"state": "failed", "error": "tests are red"}, 500)
    with pytest.raises(TerminalStepError) as info:
        await call(
            "/job",
            successExpression="response.body.state == 'done'",
            failureExpression="response.body.state == 'failed'",
            errorExpression="response.body.error",
        )
    assert str(info.value) == 'HTTP (500) response met failure criteria: "tests are red"'
    assert info.value.failed


async def test_error_expression_that_fails_is_ignored(recorder: Recorder, call: Run) -> None:
    recorder.routes["/job"] = json_reply({"state": "failed"}, 500)
    with pytest.raises(TerminalStepError) as info:
        await call(
            "/job",
            failureExpression="response.status >= 500",
            errorExpression="response.body.missing.deeper",
        )
    assert str(info.value) == "HTTP (500) response met failure criteria"


async def test_expression_problems(recorder: Recorder, call: Run) -> None:
    recorder.routes["/ok"] = json_reply({"n": 1})
    with pytest.raises(TerminalStepError, match="compiling success expression"):
        await call("/ok", successExpression="response.status ==")
    with pytest.raises(StepError, match="did not evaluate to a boolean"):
        await call("/ok", successExpression="response.body.n")


# -- the request ----------------------------------------------------------------------------


async def test_method_headers_query_and_body_are_sent(recorder: Recorder, call: Run) -> None:
    recorder.routes["/hook"] = Reply(204)
    result = await call(
        "/hook?b=2&a=1",
        method="POST",
        headers=[
            {"name": "Authorization", "value": "Bearer s3cret"},
            {"name": "X-Multi", "value": "1"},
            {"name": "X-Multi", "value": "2"},
        ],
        queryParams=[{"name": "z", "value": "a b&c"}, {"name": "a", "value": "0"}],
        body='{"text": "promoted"}',
    )
    assert result.status is PromotionStepStatus.SUCCEEDED
    request = recorder.requests[-1]
    assert request["method"] == "POST"
    assert request["target"] == "/hook?a=1&a=0&b=2&z=a+b%26c"
    assert request["headers"]["authorization"] == "Bearer s3cret"
    assert request["header_list"] == ["1", "2"]
    assert request["body"] == b'{"text": "promoted"}'


async def test_body_from_file(recorder: Recorder, work_dir: Path, call: Run) -> None:
    recorder.routes["/upload"] = Reply(200)
    (work_dir / "payload.json").write_bytes(b'{"from": "file"}')
    await call("/upload", method="PUT", bodyFromFile="payload.json")
    assert recorder.requests[-1]["body"] == b'{"from": "file"}'


@pytest.mark.parametrize("path", ["../outside/secret.txt", "/etc/hostname", "link/secret.txt"])
async def test_body_from_file_outside_is_refused(
    path: str, recorder: Recorder, work_dir: Path, outside: Path, call: Run
) -> None:
    (work_dir / "link").symlink_to(outside)
    with pytest.raises(TerminalStepError):
        await call("/upload", method="POST", bodyFromFile=path)
    assert recorder.requests == []


# -- the response ---------------------------------------------------------------------------


async def test_response_content_types(recorder: Recorder, call: Run) -> None:
    recorder.routes["/yaml"] = Reply(
        200, b"state: done\nlist: [1, 2]\n", [("Content-Type", "application/x-yaml")]
    )
    recorder.routes["/text"] = Reply(
        200, b'{"looks": "like json"}', [("Content-Type", "text/plain; charset=utf-8")]
    )
    recorder.routes["/html"] = Reply(200, b"<html></html>", [("Content-Type", "text/html")])
    recorder.routes["/unlabelled-json"] = Reply(
        200, b'{"a": 1}', [("Content-Type", "application/octet-stream")]
    )
    recorder.routes["/empty"] = Reply(200)
    out = [{"name": "body", "fromExpression": "response.body"}]
    assert (await call("/yaml", outputs=out)).output == {"body": {"state": "done", "list": [1, 2]}}
    assert (await call("/text", outputs=out)).output == {"body": '{"looks": "like json"}'}
    assert (await call("/html", outputs=out)).output == {"body": {}}
    assert (await call("/unlabelled-json", outputs=out)).output == {"body": {"a": 1}}
    assert (await call("/empty", outputs=out)).output == {"body": {}}
    forced = await call("/html", outputs=out, responseContentType="text/plain")
    assert forced.output == {"body": "<html></html>"}


async def test_invalid_json_is_an_error(recorder: Recorder, call: Run) -> None:
    recorder.routes["/bad"] = Reply(200, b"{nope", [("Content-Type", "application/json")])
    with pytest.raises(StepError, match="failed to parse JSON"):
        await call("/bad")


async def test_large_responses_are_refused(recorder: Recorder, call: Run) -> None:
    recorder.routes["/big"] = Reply(200, b"x" * ((2 << 20) + 1), [("Content-Type", "text/plain")])
    with pytest.raises(StepError, match="exceeds limit"):
        await call("/big")


async def test_timeout(recorder: Recorder, call: Run) -> None:
    recorder.routes["/slow"] = Reply(200, wait=True)
    with pytest.raises(StepError, match=r"timed out after 0\.2s") as info:
        await call("/slow", timeout="200ms")
    assert not isinstance(info.value, TerminalStepError)


async def test_link_local_addresses_are_refused(ctx: StepContext, run_step: Any) -> None:
    with pytest.raises(StepError, match="link-local"):
        await run_step(HTTPStep, ctx, {"url": "http://169.254.169.254/latest/meta-data/"})


async def test_non_http_urls_are_refused(ctx: StepContext, run_step: Any) -> None:
    with pytest.raises(TerminalStepError, match="http"):
        await run_step(HTTPStep, ctx, {"url": "file:///etc/passwd"})


async def test_explicit_proxy_is_used(
    recorder: Recorder, server: LocalHTTPServer, ctx: StepContext, run_step: Any
) -> None:
    recorder.routes["/through-proxy"] = json_reply({"ok": True})
    result = await run_step(
        HTTPStep,
        ctx,
        {"url": "http://service.invalid/through-proxy", "proxy": server.base_url},
    )
    assert result.status is PromotionStepStatus.SUCCEEDED
    assert recorder.requests[-1]["target"] == "http://service.invalid/through-proxy"


async def test_tls_verification(
    recorder: Recorder, tls_server: LocalHTTPServer, ctx: StepContext, run_step: Any
) -> None:
    recorder.routes["/secure"] = json_reply({"ok": True})
    url = tls_server.base_url + "/secure"
    with pytest.raises(StepError, match=r"CERTIFICATE_VERIFY_FAILED|certificate"):
        await run_step(HTTPStep, ctx, {"url": url})
    result = await run_step(HTTPStep, ctx, {"url": url, "insecureSkipTLSVerify": True})
    assert result.status is PromotionStepStatus.SUCCEEDED


def test_canonical_header_keys() -> None:
    assert canonical_header_key("content-type") == "Content-Type"
    assert canonical_header_key("X-REQUEST-ID") == "X-Request-Id"
    assert canonical_header_key("bad header") == "bad header"
