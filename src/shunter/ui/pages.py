"""The UI's pages: Projects, a Project's pipeline graph, its Freight timeline, a Stage.

Pages render from the identity's :class:`~shunter.ui.watchcache.ProjectWatch` (the first visit
lists the Project; later ones are served from memory, kept current by watches). What the API
server refuses is shown as it said it, with the status it gave.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlencode

from aiohttp import web

from shunter.ui import actions, views
from shunter.ui.app import Identity, render, state_of
from shunter.ui.kubeapi import ApiError
from shunter.ui.watchcache import KINDS, ProjectWatch

__all__ = [
    "add_routes",
    "colors_of",
    "graph_context",
    "project_watch",
    "stage_context",
    "timeline_context",
]

JSON = dict[str, Any]


def error_page(request: web.Request, exc: ApiError) -> web.Response:
    """The API server's refusal, as a page."""
    if exc.forbidden:
        title = "Forbidden"
    elif exc.status == 404:
        title = "Not found"
    else:
        title = "The API server could not answer"
    return render(request, "error.html", status=exc.status or 502, title=title, message=exc.message)


async def project_watch(request: web.Request, kinds: tuple[str, ...] = KINDS) -> ProjectWatch:
    """The identity's view of the Project named in the URL, ``kinds`` listed (raises
    :class:`ApiError`)."""
    identity: Identity = request["identity"]
    project = request.match_info["project"]
    return await state_of(request).hub.project(identity.key, identity.api, project, kinds)


#: The graph needs the Freight only for aliases and counts: it does not wait for their list,
#: the page's event stream refreshes it when the list arrives.
GRAPH_KINDS = ("warehouses", "stages")
#: Likewise a Stage page, which needs them for aliases only.
STAGE_KINDS = ("stages", "promotions")


def colors_of(watch: ProjectWatch) -> dict[str, str | None]:
    """Stage name -> its color."""
    return {
        views.name_of(s): views.safe_color(views.annotations_of(s).get("kargo.akuity.io/color"))
        for s in watch.items("stages")
    }


# -- Projects --------------------------------------------------------------------------------


async def _summary(identity: Identity, name: str) -> views.ProjectSummary:
    try:
        stages, _ = await identity.api.list_kind("stages", name)
    except ApiError as exc:
        summary = views.ProjectSummary(name)
        summary.error = exc.message
        return summary
    return views.project_summary(name, stages)


async def projects_page(request: web.Request) -> web.Response:
    """Every Project the user may list, with its Stages' health, newest activity first."""
    wanted = request.query.get("name", "").strip()
    if wanted:
        raise web.HTTPSeeOther(f"/projects/{quote(wanted, safe='')}")
    identity: Identity = request["identity"]
    try:
        projects, _ = await identity.api.list_projects()
    except ApiError as exc:
        return render(request, "projects.html", projects=[], error=exc.message)
    names = sorted(views.name_of(p) for p in projects)
    summaries = list(await asyncio.gather(*(_summary(identity, n) for n in names)))
    summaries.sort(key=lambda s: (s.last_activity, s.name), reverse=True)
    return render(request, "projects.html", projects=summaries, error="", events="/events")


# -- Pipeline graph --------------------------------------------------------------------------


def graph_context(watch: ProjectWatch) -> dict[str, Any]:
    """The values of the graph (page and fragment)."""
    freights: Mapping[str, JSON] = watch.objects["freights"]
    counts: dict[str, int | None] = {}
    for freight in freights.values():
        origin = views.as_str(views.as_dict(freight.get("origin")).get("name"))
        counts[origin] = (counts.get(origin) or 0) + 1
    stages = sorted(
        (views.stage_card(s, freights) for s in watch.items("stages")), key=lambda c: c.name
    )
    listed = watch.listed("freights")
    warehouses = sorted(
        (
            views.warehouse_card(w, counts.get(views.name_of(w), 0) if listed else None)
            for w in watch.items("warehouses")
        ),
        key=lambda c: c.name,
    )
    edges = views.graph_edges(stages, [w.name for w in warehouses])
    return {
        "project": watch.project,
        "stages": stages,
        "warehouses": warehouses,
        "edges": [{"from": a, "to": b} for a, b in edges],
    }


async def graph_page(request: web.Request) -> web.Response:
    """A Project's Warehouses and Stages as a left-to-right graph."""
    try:
        watch = await project_watch(request, GRAPH_KINDS)
    except ApiError as exc:
        return error_page(request, exc)
    events = f"/projects/{quote(watch.project)}/events?view=graph"
    if not watch.listed("freights"):
        events += "&pending=freights"
    return render(request, "graph.html", view="graph", events=events, **graph_context(watch))


async def graph_fragment(request: web.Request) -> web.Response:
    """Only the graph (the page fetches it again when Stages or Warehouses come or go)."""
    try:
        watch = await project_watch(request, GRAPH_KINDS)
    except ApiError as exc:
        return error_page(request, exc)
    return render(request, "_graph.html", **graph_context(watch))


# -- Freight timeline ------------------------------------------------------------------------


def _page_number(request: web.Request) -> int:
    try:
        return max(1, int(request.query.get("page", "1")))
    except ValueError:
        return 1


def timeline_context(
    watch: ProjectWatch, warehouse: str, page: int, page_size: int
) -> dict[str, Any]:
    """The values of one page of the Freight timeline."""
    ordered = watch.freight_newest_first(views.freight_sort_key)
    if warehouse:
        ordered = [
            f
            for f in ordered
            if views.as_str(views.as_dict(f.get("origin")).get("name")) == warehouse
        ]
    pages = max(1, math.ceil(len(ordered) / page_size))
    page = min(page, pages)
    chunk = ordered[(page - 1) * page_size : page * page_size]
    colors = colors_of(watch)
    return {
        "project": watch.project,
        "rows": [views.freight_row(f, colors) for f in chunk],
        "page": page,
        "pages": pages,
        "total": len(ordered),
        "warehouse": warehouse,
        "warehouses": sorted(views.name_of(w) for w in watch.items("warehouses")),
        "stage_colors": sorted(colors.items()),
    }


async def timeline_page(request: web.Request) -> web.Response:
    """A Project's Freight, newest first, a page at a time, optionally of one Warehouse."""
    try:
        watch = await project_watch(request)
    except ApiError as exc:
        return error_page(request, exc)
    size = state_of(request).config.page_size
    warehouse = request.query.get("warehouse", "")
    values = timeline_context(watch, warehouse, _page_number(request), size)
    query = urlencode({"view": "timeline", "warehouse": warehouse, "page": values["page"]})
    events = f"/projects/{quote(watch.project)}/events?{query}"
    return render(request, "timeline.html", view="timeline", events=events, **values)


# -- Stage -----------------------------------------------------------------------------------


def stage_context(watch: ProjectWatch, stage_name: str, stage: JSON) -> dict[str, Any]:
    """The values of a Stage page."""
    freights = watch.objects["freights"]
    promotions = sorted(
        (
            p
            for p in watch.items("promotions")
            if views.as_str(views.as_dict(p.get("spec")).get("stage")) == stage_name
        ),
        key=views.promotion_sort_key,
        reverse=True,
    )
    return {
        "project": watch.project,
        "card": views.stage_card(stage, freights),
        "history": views.history_of(stage, freights),
        "promotions": [views.promotion_row(p, freights) for p in promotions],
        "apps": views.app_statuses(stage),
        "steps": actions.step_names(stage),
    }


async def _stage_of(
    request: web.Request, kinds: tuple[str, ...] = KINDS
) -> tuple[ProjectWatch, str, JSON]:
    """The Project's watch, and the Stage named in the URL (raises :class:`ApiError`)."""
    watch = await project_watch(request, kinds)
    name = request.match_info["stage"]
    stage = watch.get("stages", name)
    if stage is None:
        raise ApiError(404, f"Stage {name!r} not found in {watch.project}")
    return watch, name, stage


async def stage_page(request: web.Request) -> web.Response:
    """A Stage: its Freight history, its Promotions and their steps, its health."""
    try:
        watch, name, stage = await _stage_of(request, STAGE_KINDS)
    except ApiError as exc:
        return error_page(request, exc)
    query = {"view": "stage", "stage": name}
    if not watch.listed("freights"):
        query["pending"] = "freights"
    events = f"/projects/{quote(watch.project)}/events?{urlencode(query)}"
    return render(
        request, "stage.html", view="stage", events=events, **stage_context(watch, name, stage)
    )


# -- Promote dialogs -------------------------------------------------------------------------


async def promote_dialog(request: web.Request) -> web.Response:
    """The Freight that may (or may not, and why) be promoted into a Stage."""
    try:
        watch, name, stage = await _stage_of(request)
    except ApiError as exc:
        return error_page(request, exc)
    options = actions.promote_options(
        stage, watch.freight_newest_first(views.freight_sort_key), colors_of(watch)
    )
    return render(
        request,
        "_promote_dialog.html",
        project=watch.project,
        stage=name,
        options=options,
        steps=actions.step_names(stage),
        freight=None,
        preview_seconds=state_of(request).previews.seconds,
    )


async def targets_dialog(request: web.Request) -> web.Response:
    """The Stages a piece of Freight may (or may not, and why) be promoted into."""
    try:
        watch = await project_watch(request)
    except ApiError as exc:
        return error_page(request, exc)
    name = request.match_info["freight"]
    freight = watch.get("freights", name)
    if freight is None:
        return error_page(request, ApiError(404, f"Freight {name!r} not found in {watch.project}"))
    options = actions.promote_targets(freight, watch.items("stages"), colors_of(watch))
    return render(
        request,
        "_promote_dialog.html",
        project=watch.project,
        stage=None,
        options=options,
        steps=[],
        freight=views.freight_row(freight, colors_of(watch)),
        preview_seconds=state_of(request).previews.seconds,
    )


# -- sign-in ---------------------------------------------------------------------------------


async def login_page(request: web.Request) -> web.Response:
    """The sign-in form (token mode)."""
    state = state_of(request)
    if state.config.auth != "token":
        raise web.HTTPSeeOther("/")
    return render(request, "login.html", next_url=_next(request), error="")


def _next(request: web.Request) -> str:
    target = request.query.get("next", "/")
    return target if target.startswith("/") and not target.startswith("//") else "/"


def add_routes(router: web.UrlDispatcher) -> None:
    """Register the pages."""
    router.add_get("/", projects_page)
    router.add_get("/login", login_page)
    router.add_get("/projects/{project}", graph_page)
    router.add_get("/projects/{project}/graph", graph_fragment)
    router.add_get("/projects/{project}/freight", timeline_page)
    router.add_get("/projects/{project}/stages/{stage}", stage_page)
    router.add_get("/projects/{project}/stages/{stage}/promote", promote_dialog)
    router.add_get("/projects/{project}/freight/{freight}/promote", targets_dialog)
