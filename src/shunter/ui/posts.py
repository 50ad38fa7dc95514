"""The UI's state-changing requests: the actions, and signing in and out.

Every POST has passed the anti-forgery check (see :mod:`shunter.ui.app`). Pages call the
actions with ``fetch`` and ``Accept: application/json`` and get ``{ok, message}``; a plain form
post (no script) gets a page with the same message. A refusal keeps the API server's status:
403 for "forbidden", 409 when the action cannot work (e.g. the Freight is not available).

Preview is a POST too (it runs the steps, as the user, see :mod:`shunter.ui.previews`) but
changes nothing; it answers with the report as HTML.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from shunter.preview import PreviewError
from shunter.ui import actions, security
from shunter.ui.app import Identity, render, state_of
from shunter.ui.kubeapi import ApiError
from shunter.ui.previews import PreviewBusy, report_view

__all__ = ["add_routes"]

_LOG = logging.getLogger(__name__)
#: Header the page's script sets to get the preview report alone (else a whole page).
FRAGMENT_HEADER = "X-Shunter-Fragment"
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


async def _preview_values(request: web.Request) -> tuple[int, dict[str, Any]]:
    identity: Identity = request["identity"]
    state = state_of(request)
    project, stage = request.match_info["project"], request.match_info["stage"]
    freight = str((await request.post()).get("freight") or "").strip()
    values: dict[str, Any] = {"project": project, "stage": stage, "freight": freight}
    if not freight:
        return 400, values | {"problem": "The request names no freight."}
    seconds = state.previews.seconds
    try:
        report = await state.previews.run(
            identity.key,
            identity.api,
            username=identity.username,
            project=project,
            stage=stage,
            freight=freight,
        )
    except PreviewError as exc:
        return 409, values | {"problem": f"Cannot preview: {exc}"}
    except PreviewBusy as exc:
        return 429, values | {"problem": f"Not now: {exc}."}
    except TimeoutError:
        message = (
            f"The preview did not finish within {seconds:.0f} seconds and was stopped. "
            "Nothing was changed."
        )
        return 504, values | {"problem": message}
    except ApiError as exc:
        return exc.status or 502, values | {"problem": f"The API server said: {exc.message}"}
    except Exception as exc:  # a bug in a step must not take the page down with it
        _LOG.exception("preview of %s into %s/%s failed", freight, project, stage)
        return 500, values | {"problem": f"The preview failed: {type(exc).__name__}"}
    return 200, values | {"problem": "", "preview": report_view(report)}


async def preview(request: web.Request) -> web.Response:
    """Preview a Promotion as the user: the report alone for the page's script, else a page."""
    status, values = await _preview_values(request)
    identity: Identity = request["identity"]
    values["who"] = identity.username or "you"
    if request.headers.get(FRAGMENT_HEADER):
        return render(request, "_preview.html", status=status, **values)
    back = request.headers.get("Referer", "/")
    back = back if security.same_origin(request.host, back, None) else "/"
    return render(request, "preview.html", status=status, back=back, **values)


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
    router.add_post(base + "/stages/{stage}/preview", preview)
    router.add_post(base + "/stages/{stage}/approve", _handler(_approve))
    router.add_post(base + "/stages/{stage}/reverify", _handler(_reverify))
    router.add_post(base + "/warehouses/{warehouse}/refresh", _handler(_refresh))
    router.add_post(base + "/promotions/{promotion}/abort", _handler(_abort))
