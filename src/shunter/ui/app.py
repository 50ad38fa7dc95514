"""The UI's aiohttp application: who is asking, the security middlewares, the routes.

Each request is served with the identity of the person asking: in ``kubeconfig`` mode the
kubeconfig's credentials (after the launch key), in ``token`` mode the bearer token of their
sign-in session or the ``Authorization`` header an authenticating proxy set. State-changing
requests need the anti-forgery token and a same-origin ``Origin``/``Referer``. Responses carry a
Content-Security-Policy that allows only the package's own scripts and styles.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import jinja2
from aiohttp import web

from shunter.ui import security
from shunter.ui.kubeapi import ApiError, Cluster, UserApi
from shunter.ui.previews import PreviewRunner
from shunter.ui.rendering import environment
from shunter.ui.watchcache import WatchHub

__all__ = [
    "Identity",
    "UiConfig",
    "UiState",
    "create_app",
    "render",
    "render_text",
    "state_of",
]

_LOG = logging.getLogger(__name__)
STATIC = Path(__file__).resolve().parent / "static"
_PUBLIC_PREFIXES = ("/static/", "/healthz", "/login")
_STATE: web.AppKey[UiState] = web.AppKey("state")
_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; style-src-attr 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'"
)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class UiConfig:
    """How the UI authenticates and presents itself."""

    auth: Literal["kubeconfig", "token"] = "kubeconfig"
    launch_key: str | None = None
    secure_cookies: bool = False
    page_size: int = 50
    idle_seconds: float = 120.0
    #: A preview still running after this long is stopped.
    preview_seconds: float = 120.0
    #: Previews running at once on this server.
    preview_workers: int = 2
    #: Previews hand repository credentials to plain ``http://`` URLs (test setups only).
    allow_credentials_over_http: bool = False


@dataclass(frozen=True)
class Identity:
    """Who is asking, and the API access that acts as them."""

    key: str
    api: UserApi
    username: str
    signed_in: bool


@dataclass
class _TokenClient:
    api: UserApi
    username: str | None = None
    last_used: float = field(default_factory=time.monotonic)


@dataclass
class UiState:
    """Everything the handlers share."""

    config: UiConfig
    cluster: Cluster
    templates: jinja2.Environment = field(default_factory=environment)
    hub: WatchHub = field(default_factory=WatchHub)
    sessions: security.Sessions = field(default_factory=security.Sessions)
    csrf: security.Csrf = field(default_factory=security.Csrf)
    own_username: str | None = None
    streams: set[asyncio.Task[Any]] = field(default_factory=set)
    _tokens: dict[str, _TokenClient] = field(default_factory=dict)
    previews: PreviewRunner = field(init=False)

    def __post_init__(self) -> None:
        self.hub.idle_seconds = self.config.idle_seconds
        self.previews = PreviewRunner(
            self.config.preview_seconds,
            self.config.preview_workers,
            allow_credentials_over_http=self.config.allow_credentials_over_http,
        )

    async def token_client(self, token: str) -> _TokenClient:
        """The API access of a bearer token (cached while it is in use)."""
        key = security.token_fingerprint(token)
        client = self._tokens.get(key)
        if client is None:
            client = _TokenClient(self.cluster.for_token(token))
            self._tokens[key] = client
        client.last_used = time.monotonic()
        if client.username is None:
            client.username = await client.api.whoami() or ""
        await self._evict()
        return client

    async def _evict(self) -> None:
        now = time.monotonic()
        for key, client in list(self._tokens.items()):
            identity = "token:" + key
            if now - client.last_used > 1800 and not self.sessions.in_use(identity):
                del self._tokens[key]
                await self.hub.forget(identity)
                await client.api.close()

    def end_streams(self) -> None:
        """End the live event streams (the server is stopping)."""
        for task in list(self.streams):
            task.cancel()

    async def close(self) -> None:
        """Stop the watches and the previews, and close every connection."""
        self.previews.close()
        await self.hub.close()
        for client in self._tokens.values():
            await client.api.close()
        self._tokens.clear()
        await self.cluster.close()


def state_of(request: web.Request) -> UiState:
    """The shared state of the app serving ``request``."""
    return request.app[_STATE]


def _bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


async def identify(request: web.Request) -> Identity | None:
    """The identity of the request, or None when it has none (not signed in)."""
    state = state_of(request)
    if state.config.auth == "kubeconfig":
        api = await state.cluster.own_identity()
        if state.own_username is None:
            try:
                state.own_username = await api.whoami() or ""
            except ApiError:
                state.own_username = ""
        return Identity("kubeconfig", api, state.own_username, signed_in=False)
    token = _bearer(request)
    signed_in = False
    if token is None:
        session = state.sessions.get(request.cookies.get(security.SESSION_COOKIE))
        if session is None:
            return None
        token, signed_in = session.token, True
    try:
        client = await state.token_client(token)
    except ApiError as exc:
        if exc.forbidden:
            return None
        raise
    return Identity(
        "token:" + security.token_fingerprint(token), client.api, client.username or "", signed_in
    )


def csrf_token(request: web.Request) -> str:
    """The anti-forgery token of this browser (its nonce cookie is set on the response)."""
    nonce = request.get("csrf_nonce") or request.cookies.get(security.CSRF_COOKIE)
    if not nonce:
        nonce = security.Csrf.new_nonce()
        request["csrf_nonce_new"] = nonce
    request["csrf_nonce"] = nonce
    return state_of(request).csrf.token_for(nonce)


def render_text(request: web.Request, template: str, **values: Any) -> str:
    """A template rendered with the common values (the anti-forgery token, who is asking)."""
    state = state_of(request)
    identity: Identity | None = request.get("identity")
    return state.templates.get_template(template).render(
        csrf_token=csrf_token(request),
        identity=identity,
        auth_mode=state.config.auth,
        server=state.cluster.server,
        **values,
    )


def render(request: web.Request, template: str, status: int = 200, **values: Any) -> web.Response:
    """A page (or fragment) as a response."""
    text = render_text(request, template, **values)
    return web.Response(text=text, status=status, content_type="text/html", charset="utf-8")


def _set_cookie(response: web.StreamResponse, request: web.Request, name: str, value: str) -> None:
    response.set_cookie(
        name,
        value,
        httponly=True,
        samesite="Strict",
        secure=state_of(request).config.secure_cookies or request.secure,
        path="/",
    )


@web.middleware
async def _headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    began = time.perf_counter()
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        response = exc
    if not response.prepared:
        elapsed = (time.perf_counter() - began) * 1000
        response.headers["Server-Timing"] = f"app;dur={elapsed:.1f}"
    response.headers.setdefault("Content-Security-Policy", _CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("X-Frame-Options", "DENY")
    if not request.path.startswith("/static/"):
        response.headers.setdefault("Cache-Control", "no-store")
    new_nonce = request.get("csrf_nonce_new")
    if new_nonce:
        _set_cookie(response, request, security.CSRF_COOKIE, new_nonce)
    if isinstance(response, web.HTTPException) and not response.prepared:
        raise response
    return response


def _is_public(path: str) -> bool:
    return any(path.startswith(p) for p in _PUBLIC_PREFIXES)


@web.middleware
async def _authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
    state = state_of(request)
    key = state.config.launch_key
    if state.config.auth == "kubeconfig" and key:
        offered = request.query.get("key")
        if offered is not None and secrets.compare_digest(offered, key):
            kept = [(k, v) for k, v in request.query.items() if k != "key"]
            target = request.rel_url.with_query(kept)
            response = web.HTTPSeeOther(str(target))
            _set_cookie(response, request, security.KEY_COOKIE, key)
            raise response
        cookie = request.cookies.get(security.KEY_COOKIE, "")
        if not request.path.startswith("/static/") and not secrets.compare_digest(cookie, key):
            return render(request, "locked.html", status=401)
    if _is_public(request.path):
        return await handler(request)
    try:
        identity = await identify(request)
    except ApiError as exc:
        return render(request, "error.html", status=502, title="API server", message=exc.message)
    if identity is None:
        if request.method == "GET" and request.headers.get("Accept", "").startswith("text/html"):
            raise web.HTTPSeeOther(f"/login?next={request.rel_url}")
        return render(request, "login.html", status=401, next_url="/", error="Sign in first.")
    request["identity"] = identity
    return await handler(request)


@web.middleware
async def _forgery(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return await handler(request)
    origin_ok = security.same_origin(
        request.host, request.headers.get("Origin"), request.headers.get("Referer")
    )
    token = request.headers.get(security.CSRF_HEADER)
    if token is None and request.content_type == "application/x-www-form-urlencoded":
        token = str((await request.post()).get(security.CSRF_FIELD) or "")
    nonce = request.cookies.get(security.CSRF_COOKIE)
    if not origin_ok or not state_of(request).csrf.valid(nonce, token):
        reason = (
            "it did not come from this UI's own pages"
            if not origin_ok
            else "its anti-forgery token is missing or wrong"
        )
        message = f"Refused: {reason}. Reload the page and try again."
        if _wants_json(request):
            return web.json_response({"ok": False, "message": message}, status=403)
        return render(request, "error.html", status=403, title="Refused", message=message)
    return await handler(request)


def _wants_json(request: web.Request) -> bool:
    return "application/json" in request.headers.get("Accept", "")


async def _healthz(_: web.Request) -> web.Response:
    return web.Response(text="ok")


def create_app(config: UiConfig, cluster: Cluster) -> web.Application:
    """The UI application (its ``on_cleanup`` closes the connections)."""
    from shunter.ui import live, pages, posts  # noqa: PLC0415 - handlers import this module

    app = web.Application(middlewares=[_headers, _authenticate, _forgery])
    state = UiState(config=config, cluster=cluster)
    for name in state.templates.list_templates():
        state.templates.get_template(name)  # compiled now, not on someone's first page
    app[_STATE] = state

    async def _cleanup(_: web.Application) -> None:
        with contextlib.suppress(Exception):
            await state.close()

    async def _shutdown(_: web.Application) -> None:
        state.end_streams()

    app.on_shutdown.append(_shutdown)
    app.on_cleanup.append(_cleanup)
    app.router.add_get("/healthz", _healthz)
    app.router.add_static("/static/", STATIC, append_version=False)
    pages.add_routes(app.router)
    posts.add_routes(app.router)
    live.add_routes(app.router)
    return app
