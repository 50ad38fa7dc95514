"""The UI's state-changing requests: the actions, and signing in and out.

Every POST has passed the anti-forgery check (see :mod:`shunter.ui.app`). Pages call the
actions with ``fetch`` and ``Accept: application/json`` and get ``{ok, message}``; a plain form
post (no script) gets a page with the same message. A refusal keeps the API server's status:
403 for "forbidden", 409 when the action cannot work (e.g. the Freight is not available).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from shunter.ui import actions, security
from shunter.ui.app import Identity, render, state_of
from shunter.ui.kubeapi import ApiError

__all__ = ["add_routes"]

Action = Callable[[Identity, str, web.Request, dict[str, str]], Awaitable[str]]


def _answer(request: web.Request, ok: bool, message: str, status: int) -> web.Response:
    if "application/json" in request.headers.get("Accept", ""):
        return web.json_response({"ok": ok, "message": message}, status=status)
    back = request.headers.get("Referer", "/")
    return render(
        request,
        "result.html",
        status=status,
        ok=ok,
        message=message,
        back=back if security.same_origin(request.host, back, None) else "/",
    )


def _form_field(form: dict[str, str], name: str) -> str:
    value = form.get(name, "").strip()
    if not value:
        raise actions.ActionError(f"the request names no {name}", 400)
    return value


async def _promote(
    identity: Identity, project: str, request: web.Request, form: dict[str, str]
) -> str:
    return await actions.promote(
        identity.api,
        project,
        request.match_info["stage"],
        _form_field(form, "freight"),
        identity.username,
    )


async def _approve(
    identity: Identity, project: str, request: web.Request, form: dict[str, str]
) -> str:
    return await actions.approve(
        identity.api, project, request.match_info["stage"], _form_field(form, "freight")
    )


async def _reverify(
    identity: Identity, project: str, request: web.Request, _: dict[str, str]
) -> str:
    return await actions.reverify(
        identity.api, project, request.match_info["stage"], identity.username
    )


async def _refresh(
    identity: Identity, project: str, request: web.Request, _: dict[str, str]
) -> str:
    return await actions.refresh_warehouse(identity.api, project, request.match_info["warehouse"])


async def _abort(identity: Identity, project: str, request: web.Request, _: dict[str, str]) -> str:
    return await actions.abort_promotion(identity.api, project, request.match_info["promotion"])


def _handler(action: Action) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handle(request: web.Request) -> web.Response:
        identity: Identity = request["identity"]
        project = request.match_info["project"]
        form = {k: str(v) for k, v in (await request.post()).items()}
        try:
            message = await action(identity, project, request, form)
        except actions.ActionError as exc:
            return _answer(request, False, exc.message, exc.status)
        return _answer(request, True, message, 200)

    return handle


async def login(request: web.Request) -> web.Response:
    """Sign in with a bearer token: checked with the API server, then kept server-side."""
    state = state_of(request)
    if state.config.auth != "token":
        raise web.HTTPSeeOther("/")
    form = await request.post()
    token = str(form.get("token") or "").strip()
    next_url = str(form.get("next") or "/")
    if not next_url.startswith("/") or next_url.startswith("//"):
        next_url = "/"
    if not token:
        return render(request, "login.html", status=400, next_url=next_url, error="Enter a token.")
    api = state.cluster.for_token(token)
    try:
        username = await api.whoami()
    except ApiError as exc:
        message = (
            "The API server did not accept this token."
            if exc.forbidden
            else f"The API server could not check the token: {exc.message}"
        )
        return render(request, "login.html", status=401, next_url=next_url, error=message)
    finally:
        await api.close()
    sid = state.sessions.create(token, username or "")
    response = web.HTTPSeeOther(next_url)
    response.set_cookie(
        security.SESSION_COOKIE,
        sid,
        httponly=True,
        samesite="Strict",
        secure=state.config.secure_cookies or request.secure,
        path="/",
    )
    raise response


async def logout(request: web.Request) -> web.Response:
    """Sign out: the session and the user's caches are forgotten."""
    state = state_of(request)
    session = state.sessions.drop(request.cookies.get(security.SESSION_COOKIE))
    if session is not None and not state.sessions.in_use(session.identity):
        await state.hub.forget(session.identity)
    response = web.HTTPSeeOther("/login" if state.config.auth == "token" else "/")
    response.del_cookie(security.SESSION_COOKIE, path="/")
    raise response


def add_routes(router: web.UrlDispatcher) -> None:
    """Register the POST endpoints."""
    router.add_post("/login", login)
    router.add_post("/logout", logout)
    base = "/projects/{project}"
    router.add_post(base + "/stages/{stage}/promote", _handler(_promote))
    router.add_post(base + "/stages/{stage}/approve", _handler(_approve))
    router.add_post(base + "/stages/{stage}/reverify", _handler(_reverify))
    router.add_post(base + "/warehouses/{warehouse}/refresh", _handler(_refresh))
    router.add_post(base + "/promotions/{promotion}/abort", _handler(_abort))
