"""Live updates: server-sent events fed by the Project's watches, one fragment per change.

A page opens ``/projects/<p>/events?view=graph|timeline|stage`` (with ``stage=``,
``warehouse=`` and ``page=`` as the page has them). Each change a watch delivers becomes the
HTML of the one card, row or panel it affects, rendered as the page renders it; nothing is sent
for changes the page does not show, so the traffic follows the change, not the Project's size.
Events:

- ``fragment``: ``[{id, html, mode}]``; ``mode`` is ``replace`` (the element with that id),
  ``prepend`` (into the element named by ``into``) or ``remove``;
- ``structure``: Stages or Warehouses came or went: the graph is fetched again and laid out;
- ``problem``: the watch stopped (e.g. permissions were withdrawn), with the API's message;
- ``reload``: the page fell too far behind and should load again.

The Projects list opens ``/events``: each Project's row is rendered again when its Stages
change (from the identity's watch cache, which for this page follows only the Stages), a row
is added or removed when a watch of the Projects sees one come or go, and a Project the user
may no longer read shows the API server's refusal in its row.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from shunter.ui import views
from shunter.ui.app import Identity, render_text, state_of
from shunter.ui.kubeapi import ApiError
from shunter.ui.pages import colors_of, project_watch, stage_context
from shunter.ui.watchcache import KINDS, RETRY_SECONDS, Change, ProjectWatch, Subscription

__all__ = ["add_routes"]

JSON = dict[str, Any]
KEEPALIVE_SECONDS = 15.0
Fragment = dict[str, str]


def _sse(event: str, data: Any) -> bytes:
    payload = json.dumps(data, separators=(",", ":"))
    return f"event: {event}\ndata: {payload}\n\n".encode()


def _structure(old: JSON | None, new: JSON | None) -> bool:
    if old is None or new is None:
        return True
    before, after = views.stage_card(old, {}), views.stage_card(new, {})
    return (before.warehouses, before.upstream_stages) != (after.warehouses, after.upstream_stages)


class _Graph:
    def __init__(self, request: web.Request, watch: ProjectWatch) -> None:
        self.request, self.watch = request, watch
        self.structure = False

    def _stage(self, stage: JSON) -> Fragment:
        card = views.stage_card(stage, self.watch.objects["freights"])
        html = render_text(self.request, "_stage_card.html", project=self.watch.project, card=card)
        return {"id": card.node_id, "html": html, "mode": "replace"}

    def _warehouse(self, name: str) -> Fragment | None:
        warehouse = self.watch.get("warehouses", name)
        if warehouse is None:
            return None
        count = sum(
            1
            for f in self.watch.items("freights")
            if views.as_str(views.as_dict(f.get("origin")).get("name")) == name
        )
        card = views.warehouse_card(warehouse, count)
        html = render_text(self.request, "_warehouse_card.html", project=self.watch.project, w=card)
        return {"id": card.node_id, "html": html, "mode": "replace"}

    def fragments(self, change: Change) -> list[Fragment]:
        if change.listed:
            self.structure = self.structure or change.plural == "freights"
            return []
        if change.plural == "stages":
            if _structure(change.old, change.new):
                self.structure = True
                return []
            return [self._stage(change.new)] if change.new is not None else []
        if change.plural == "warehouses":
            if change.old is None or change.new is None:
                self.structure = True
                return []
            fragment = self._warehouse(change.name)
            return [fragment] if fragment else []
        if change.plural == "freights":
            out: list[Fragment] = []
            obj = change.new or change.old or {}
            if change.old is None or change.new is None:
                origin = views.as_str(views.as_dict(obj.get("origin")).get("name"))
                fragment = self._warehouse(origin)
                if fragment:
                    out.append(fragment)
            if views.freight_alias(change.old) != views.freight_alias(change.new):
                for stage in self.watch.items("stages"):
                    items = views.as_dict(views.current_collection(stage).get("items"))
                    if any(views.as_dict(r).get("name") == change.name for r in items.values()):
                        out.append(self._stage(stage))
            return out
        return []


class _Timeline:
    def __init__(self, request: web.Request, watch: ProjectWatch) -> None:
        self.request, self.watch = request, watch
        self.warehouse = request.query.get("warehouse", "")
        self.first_page = request.query.get("page", "1") in ("", "1")
        self.structure = False

    def fragments(self, change: Change) -> list[Fragment]:
        if change.listed or change.plural != "freights":
            return []
        obj = change.new or change.old or {}
        origin = views.as_str(views.as_dict(obj.get("origin")).get("name"))
        if self.warehouse and origin != self.warehouse:
            return []
        row_id = f"freight-{change.name}"
        if change.new is None:
            return [{"id": row_id, "html": "", "mode": "remove"}, self._count()]
        row = views.freight_row(change.new, colors_of(self.watch))
        html = render_text(self.request, "_freight_row.html", project=self.watch.project, row=row)
        if change.old is None:
            if not self.first_page:
                return [self._count()]
            prepend = {"id": row_id, "html": html, "mode": "prepend", "into": "freight-rows"}
            return [prepend, self._count()]
        return [{"id": row_id, "html": html, "mode": "replace"}]

    def _count(self) -> Fragment:
        """The header's count of the Freight the page lists (of its Warehouse, if filtered)."""
        if self.warehouse:
            total = sum(
                1
                for f in self.watch.items("freights")
                if views.as_str(views.as_dict(f.get("origin")).get("name")) == self.warehouse
            )
        else:
            total = len(self.watch.objects["freights"])
        html = render_text(self.request, "_freight_count.html", total=total)
        return {"id": "freight-count", "html": html, "mode": "replace"}


class _Stage:
    def __init__(self, request: web.Request, watch: ProjectWatch) -> None:
        self.request, self.watch = request, watch
        self.stage = request.query.get("stage", "")
        self.structure = False

    def _promotion(self, name: str, promotion: JSON) -> Fragment:
        row = views.promotion_row(promotion, self.watch.objects["freights"])
        html = render_text(self.request, "_promotion.html", project=self.watch.project, p=row)
        return {"id": f"promotion-{name}", "html": html, "mode": "replace"}

    def _everything(self) -> list[Fragment]:
        """Every part of the page (the Freight list arrived after the page was rendered)."""
        stage = self.watch.get("stages", self.stage)
        out = self._status(stage) if stage is not None else []
        for promotion in self.watch.items("promotions"):
            if views.as_str(views.as_dict(promotion.get("spec")).get("stage")) == self.stage:
                out.append(self._promotion(views.name_of(promotion), promotion))
        return out

    def fragments(self, change: Change) -> list[Fragment]:
        if change.listed:
            return self._everything() if change.plural == "freights" else []
        if change.plural == "stages" and change.name == self.stage:
            if change.new is None:
                return [{"id": "stage-status", "html": "", "mode": "remove"}]
            return self._status(change.new)
        if change.plural != "promotions":
            return []
        obj = change.new or change.old or {}
        if views.as_str(views.as_dict(obj.get("spec")).get("stage")) != self.stage:
            return []
        if change.new is None:
            return [{"id": f"promotion-{change.name}", "html": "", "mode": "remove"}]
        fragment = self._promotion(change.name, change.new)
        if change.old is None:
            return [fragment | {"mode": "prepend", "into": "promotion-rows"}]
        return [fragment]

    def _status(self, stage: JSON) -> list[Fragment]:
        values = stage_context(self.watch, self.stage, stage)
        return [
            {
                "id": "stage-status",
                "html": render_text(self.request, "_stage_status.html", **values),
                "mode": "replace",
            },
            {
                "id": "stage-history",
                "html": render_text(self.request, "_stage_history.html", **values),
                "mode": "replace",
            },
        ]


_VIEWS: dict[str, Callable[[web.Request, ProjectWatch], _Graph | _Timeline | _Stage]] = {
    "graph": _Graph,
    "timeline": _Timeline,
    "stage": _Stage,
}


async def _send(
    response: web.StreamResponse, view: _Graph | _Timeline | _Stage, batch: list[Change]
) -> bool:
    """Send what a batch of changes means for the page; False once the stream must end."""
    fragments: list[Fragment] = []
    problem = None
    for change in batch:
        if change.error is not None:
            problem = change.error
            continue
        fragments.extend(view.fragments(change))
    if fragments:
        await response.write(_sse("fragment", _dedupe(fragments)))
    if view.structure:
        view.structure = False
        await response.write(_sse("structure", {}))
    if problem is not None:
        await response.write(
            _sse("problem", {"message": problem.message, "status": problem.status})
        )
        return False
    return True


def _dedupe(fragments: list[Fragment]) -> list[Fragment]:
    """The last fragment per element id, in the order of their last appearance."""
    latest: dict[str, Fragment] = {}
    for fragment in fragments:
        latest.pop(fragment["id"], None)
        latest[fragment["id"]] = fragment
    return list(latest.values())


_HEADERS = {
    "Content-Type": "text/event-stream",
    "Cache-Control": "no-store",
    "X-Accel-Buffering": "no",
}


async def _pump(
    request: web.Request,
    response: web.StreamResponse,
    subscription: Subscription,
    handle: Callable[[list[Change]], Awaitable[bool]],
) -> None:
    """Hand the subscription's changes to ``handle`` in batches (keep-alives in between) until
    it returns False, the page goes away or falls too far behind (then: ``reload``)."""
    streams = state_of(request).streams
    task = asyncio.current_task()
    if task is not None:
        streams.add(task)
    try:
        while True:
            try:
                first = await asyncio.wait_for(subscription.queue.get(), KEEPALIVE_SECONDS)
            except TimeoutError:
                await response.write(b": keepalive\n\n")
                continue
            batch = [first]
            while not subscription.queue.empty():
                batch.append(subscription.queue.get_nowait())
            if subscription.overflowed:
                await response.write(_sse("reload", {}))
                break
            if not await handle(batch):
                break
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        if task is not None:
            streams.discard(task)


async def events(request: web.Request) -> web.StreamResponse:
    """The event stream of one page."""
    factory = _VIEWS.get(request.query.get("view", ""))
    if factory is None:
        raise web.HTTPBadRequest(text="view must be graph, timeline or stage")
    response = web.StreamResponse(headers=_HEADERS)
    # The page was rendered before the Freight list arrived: send what it lacks once it has.
    pending = "freights" if request.query.get("pending") == "freights" else ""
    try:
        watch = await project_watch(request, tuple(k for k in KINDS if k != pending))
    except ApiError as exc:
        await response.prepare(request)
        await response.write(_sse("problem", {"message": exc.message, "status": exc.status}))
        return response
    view = factory(request, watch)
    subscription = watch.subscribe()
    await response.prepare(request)
    await response.write(b"retry: 2000\n\n")
    if pending and watch.listed(pending):  # listed between the page and this stream
        await _send(response, view, [Change(pending, "", None, None, listed=True)])

    async def handle(batch: list[Change]) -> bool:
        return await _send(response, view, batch)

    try:
        await _pump(request, response, subscription, handle)
    finally:
        watch.unsubscribe(subscription)
    with contextlib.suppress(ConnectionResetError):
        await response.write_eof()
    return response


# -- the Projects list -----------------------------------------------------------------------


class _Projects:
    """The rows of the Projects list, each fed by its Project's Stages (from the identity's
    watch cache), and a watch of the Projects themselves for those that come and go."""

    def __init__(self, request: web.Request, subscription: Subscription) -> None:
        self.request = request
        self.identity: Identity = request["identity"]
        self.subscription = subscription
        self.followed: dict[str, ProjectWatch] = {}

    def _row(self, summary: views.ProjectSummary) -> Fragment:
        html = render_text(self.request, "_project_row.html", p=summary)
        return {
            "id": f"project-{summary.name}",
            "html": html,
            "mode": "prepend",
            "into": "project-rows",
        }

    def _summary_row(self, name: str) -> Fragment | None:
        watch = self.followed.get(name)
        if watch is None:
            return None
        return self._row(views.project_summary(name, watch.items("stages")))

    def _problem_row(self, name: str, message: str) -> Fragment:
        self.forget(name)
        summary = views.ProjectSummary(name)
        summary.error = message
        return self._row(summary)

    async def follow(self, name: str) -> Fragment:
        """Follow a Project's Stages; its row as it is now."""
        state = state_of(self.request)
        try:
            watch = await state.hub.project(
                self.identity.key, self.identity.api, name, ("stages",), follow=("stages",)
            )
        except ApiError as exc:
            return self._problem_row(name, exc.message)
        if name not in self.followed:
            watch.subscribe(self.subscription)
            self.followed[name] = watch
        return self._row(views.project_summary(name, watch.items("stages")))

    def forget(self, name: str) -> None:
        """Stop following a Project."""
        watch = self.followed.pop(name, None)
        if watch is not None:
            watch.unsubscribe(self.subscription)

    async def fragments(self, batch: list[Change]) -> list[Fragment]:
        out: list[Fragment] = []
        for change in batch:
            name = change.project or change.name
            if change.plural == "projects":
                if change.new is None:
                    self.forget(name)
                    out.append({"id": f"project-{name}", "html": "", "mode": "remove"})
                elif name not in self.followed:
                    out.append(await self.follow(name))
            elif change.error is not None:
                out.append(self._problem_row(name, change.error.message))
            elif change.plural == "stages":
                row = self._summary_row(name)
                if row is not None:
                    out.append(row)
        return _dedupe(out)

    async def watch_projects(self, version: str) -> None:
        """Tell the stream about Projects that come and go (relisting when the watch ends)."""
        api = self.identity.api
        while True:
            try:
                async for event in api.watch("projects", None, version):
                    version = str(
                        views.as_dict(event.object.get("metadata")).get("resourceVersion")
                        or version
                    )
                    if event.type == "BOOKMARK":
                        continue
                    name = views.name_of(event.object)
                    new = None if event.type == "DELETED" else event.object
                    self.subscription.put(Change("projects", name, None, new, project=name))
                continue
            except ApiError as exc:
                if exc.forbidden:
                    return
                if exc.status != 410:
                    await asyncio.sleep(RETRY_SECONDS)
            try:
                items, version = await api.list_projects()
            except ApiError:
                await asyncio.sleep(RETRY_SECONDS)
                continue
            names = {views.name_of(p) for p in items}
            for name in names - set(self.followed):
                self.subscription.put(Change("projects", name, None, {}, project=name))
            for name in set(self.followed) - names:
                self.subscription.put(Change("projects", name, None, None, project=name))


async def projects_events(request: web.Request) -> web.StreamResponse:
    """The event stream of the Projects list."""
    identity: Identity = request["identity"]
    response = web.StreamResponse(headers=_HEADERS)
    try:
        projects, version = await identity.api.list_projects()
    except ApiError as exc:
        await response.prepare(request)
        await response.write(_sse("problem", {"message": exc.message, "status": exc.status}))
        return response
    subscription = Subscription()
    view = _Projects(request, subscription)
    await response.prepare(request)
    await response.write(b"retry: 2000\n\n")
    watcher = asyncio.create_task(view.watch_projects(version), name="ui-watch-projects")
    try:
        # Every row once as the cache has it (the page may have been rendered a moment ago).
        rows = await asyncio.gather(*(view.follow(views.name_of(p)) for p in projects))
        if rows:
            await response.write(_sse("fragment", list(rows)))

        async def handle(batch: list[Change]) -> bool:
            fragments = await view.fragments(batch)
            if fragments:
                await response.write(_sse("fragment", fragments))
            return True

        await _pump(request, response, subscription, handle)
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
        for name in list(view.followed):
            view.forget(name)
    with contextlib.suppress(ConnectionResetError):
        await response.write_eof()
    return response


def add_routes(router: web.UrlDispatcher) -> None:
    """Register the event stream."""
    router.add_get("/projects/{project}/events", events)
    router.add_get("/events", projects_events)
