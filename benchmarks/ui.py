"""The web UI on a big Project: 100 Stages, 20 Warehouses, 2,000 Freight in a real API server.

Starts a local control plane, creates the objects directly (statuses patched in: every Stage
runs a piece of Freight, Freight are verified and current where their Stage runs them), serves
the UI in this process on 127.0.0.1, and measures with an HTTP client:

- each view's first page: time to the last byte and bytes sent, cold (the identity's first
  visit lists the Project) and warm (median of 20, served from the watch cache);
- the time from a Promotion's phase change (the PATCH sent to the API server) to the UI's
  server-sent event for it arriving, and the event's size.

Side by side, the bare limits: a plain script listing the same four kinds from the API server
(what any cold first page must at least do), and a plain watch on Promotions receiving the same
phase change (the API server's own latency). Run: ``.venv/bin/python benchmarks/ui.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import platform
import statistics
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from shunter.ui.app import UiConfig, create_app
from shunter.ui.kubeapi import Cluster, UserApi
from shunter_devenv.controlplane import ControlPlane

ROOT = Path(__file__).resolve().parents[1]
NS = "bench-ui"
STAGES, WAREHOUSES, FREIGHT = 100, 20, 2000
WARM_RUNS, EVENT_RUNS = 20, 20
JSON = dict[str, Any]


def _freight(i: int) -> JSON:
    warehouse = f"w{i % WAREHOUSES:02d}"
    return {
        "apiVersion": "kargo.akuity.io/v1alpha1",
        "kind": "Freight",
        "metadata": {"name": f"{i:040x}", "namespace": NS,
                     "labels": {"kargo.akuity.io/alias": f"f-{i}"}},
        "alias": f"f-{i}",
        "discoveredAt": f"2026-01-01T{(i // 3600) % 24:02d}:{(i // 60) % 60:02d}:{i % 60:02d}Z",
        "origin": {"kind": "Warehouse", "name": warehouse},
        "images": [
            {"repoURL": f"registry.example/team/{warehouse}", "tag": f"1.0.{i}",
             "digest": "sha256:" + f"{i:064x}"}
        ],
    }  # fmt: skip


def _stage(i: int) -> JSON:
    warehouse = f"w{i % WAREHOUSES:02d}"
    source: JSON = {"direct": True} if i < WAREHOUSES else {"stages": [f"s{i - WAREHOUSES:03d}"]}
    return {
        "apiVersion": "kargo.akuity.io/v1alpha1",
        "kind": "Stage",
        "metadata": {"name": f"s{i:03d}", "namespace": NS,
                     "annotations": {"kargo.akuity.io/color": "#3366cc"}},
        "spec": {
            "requestedFreight": [
                {"origin": {"kind": "Warehouse", "name": warehouse}, "sources": source}
            ],
            "promotionTemplate": {"spec": {"steps": [{"uses": "git-clone", "config": {}}]}},
        },
    }  # fmt: skip


def _warehouse(i: int) -> JSON:
    return {
        "apiVersion": "kargo.akuity.io/v1alpha1",
        "kind": "Warehouse",
        "metadata": {"name": f"w{i:02d}", "namespace": NS},
        "spec": {"subscriptions": [{"image": {"repoURL": f"registry.example/team/w{i:02d}"}}]},
    }


async def _populate(api: UserApi) -> str:
    """Create everything; returns the name of the Promotion the event benchmark changes."""
    sem = asyncio.Semaphore(16)

    async def create(plural: str, body: JSON) -> None:
        async with sem:
            await api.create(plural, NS, body)

    async def status(plural: str, name: str, patch: JSON) -> None:
        async with sem:
            await api.patch(plural, NS, name, {"status": patch}, status=True)

    await asyncio.gather(*(create("warehouses", _warehouse(i)) for i in range(WAREHOUSES)))
    await asyncio.gather(*(create("stages", _stage(i)) for i in range(STAGES)))
    await asyncio.gather(*(create("freights", _freight(i)) for i in range(FREIGHT)))
    # Stage s runs the newest Freight of its Warehouse minus its depth; that Freight says so.
    patches = []
    for i in range(STAGES):
        index = FREIGHT - WAREHOUSES + (i % WAREHOUSES) - WAREHOUSES * (i // WAREHOUSES)
        freight = _freight(index)
        name = freight["metadata"]["name"]
        ref = {"name": name, "origin": freight["origin"], "images": freight["images"]}
        patches.append(
            status(
                "stages",
                f"s{i:03d}",
                {
                    "freightSummary": name,
                    "health": {"status": "Healthy"},
                    "freightHistory": [
                        {
                            "id": f"c{i}",
                            "items": {f"Warehouse/{freight['origin']['name']}": ref},
                            "verificationHistory": [{"id": f"v{i}", "phase": "Successful"}],
                        }
                    ],
                },
            )
        )
        patches.append(
            status(
                "freights",
                name,
                {
                    "currentlyIn": {f"s{i:03d}": {"since": "2026-01-02T00:00:00Z"}},
                    "verifiedIn": {f"s{i:03d}": {"verifiedAt": "2026-01-02T00:00:00Z"}},
                },
            )
        )
    await asyncio.gather(*patches)
    body = {
        "apiVersion": "kargo.akuity.io/v1alpha1",
        "kind": "Promotion",
        "metadata": {"name": "s050.bench.0000000", "namespace": NS},
        "spec": {"stage": "s050", "freight": _freight(0)["metadata"]["name"],
                 "steps": [{"uses": "git-clone", "config": {}}]},
    }  # fmt: skip
    await api.create("promotions", NS, body)
    return "s050.bench.0000000"


async def _fetch(session: aiohttp.ClientSession, url: str) -> tuple[float, float, int, int]:
    """(time to the last byte, server time from its Server-Timing header, bytes, status)."""
    began = time.perf_counter()
    async with session.get(url, headers={"Accept": "text/html"}) as response:
        body = await response.read()
    total = time.perf_counter() - began
    timing = response.headers.get("Server-Timing", "app;dur=0").split("dur=")[-1]
    return total, float(timing) / 1000, len(body), response.status


async def _bare_list(api: UserApi) -> float:
    began = time.perf_counter()
    await asyncio.gather(
        *(api.list_kind(p, NS) for p in ("warehouses", "stages", "freights", "promotions"))
    )
    return time.perf_counter() - began


async def _phase_change_latencies(
    api: UserApi,
    promotion: str,
    wait_seen: Callable[[str], Awaitable[tuple[float, int]]],
) -> list[tuple[float, int]]:
    out = []
    for run in range(EVENT_RUNS):
        phase = "Running" if run % 2 == 0 else "Succeeded"
        marker = f"bench-{run}"
        waiter = asyncio.create_task(wait_seen(marker))
        await asyncio.sleep(0)
        began = time.perf_counter()
        patch = {"status": {"phase": phase, "message": marker}}
        await api.patch("promotions", NS, promotion, patch, status=True)
        seen_at, size = await asyncio.wait_for(waiter, 30)
        out.append((seen_at - began, size))
    return out


@contextlib.asynccontextmanager
async def _serve(kubeconfig: Path) -> AsyncIterator[str]:
    """A UI server in this process (kubeconfig mode, no launch key); yields its base URL."""
    app = create_app(
        UiConfig(auth="kubeconfig", launch_key=None), await Cluster.from_kubeconfig(kubeconfig)
    )
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


async def main() -> None:
    with ControlPlane() as plane:
        plane.install_crds(ROOT / "crds")
        plane.kubectl("create", "namespace", NS)
        cluster = await Cluster.from_kubeconfig(plane.kubeconfig_path)
        api = await cluster.own_identity()
        began = time.perf_counter()
        promotion = await _populate(api)
        print(f"created {WAREHOUSES} Warehouses, {STAGES} Stages, {FREIGHT} Freight in "
              f"{time.perf_counter() - began:.1f} s")  # fmt: skip

        bare = sorted([await _bare_list(api) for _ in range(5)])
        print(f"bare limit: list the 4 kinds from the API server: median {_ms(bare[2])}")

        views = {
            "pipeline graph": f"/projects/{NS}",
            "Freight timeline (page 1 of 40)": f"/projects/{NS}/freight",
            "Stage page": f"/projects/{NS}/stages/s050",
            "promote dialog (50 Freight)": f"/projects/{NS}/stages/s050/promote",
            "Projects list": "/",
        }
        print("\nserver time (Server-Timing) and time to the last byte at the client;")
        print("cold: a fresh UI server, the identity's first page (it lists the Project)")
        print(f"{'view':34} {'cold server':>12} {'cold client':>12} {'warm server':>12} "
              f"{'warm p95':>10} {'bytes':>9}")  # fmt: skip
        for label, path in views.items():
            async with _serve(plane.kubeconfig_path) as base, aiohttp.ClientSession() as session:
                cold, cold_server, size, status = await _fetch(session, base + path)
                assert status == 200, (path, status)
                warm = sorted([(await _fetch(session, base + path))[1] for _ in range(WARM_RUNS)])
            p95 = warm[int(len(warm) * 0.95) - 1]
            print(f"{label:34} {_ms(cold_server):>12} {_ms(cold):>12} "
                  f"{_ms(statistics.median(warm)):>12} {_ms(p95):>10} {size:>9,}")  # fmt: skip

        async with _serve(plane.kubeconfig_path) as base, aiohttp.ClientSession() as session:
            # Live: a Promotion's phase change -> the Stage page's event stream.
            events = await session.get(
                base + f"/projects/{NS}/events?view=stage&stage=s050", timeout=None
            )
            await events.content.readline()  # "retry: ..."
            await events.content.readline()

            async def ui_seen(marker: str) -> tuple[float, int]:
                while True:
                    line = await events.content.readline()
                    if line.startswith(b"data:") and marker.encode() in line:
                        return time.perf_counter(), len(line)

            ui = await _phase_change_latencies(api, promotion, ui_seen)
            events.close()

            # One Stage's health changes: what the pipeline graph's stream carries.
            graph = await session.get(base + f"/projects/{NS}/events?view=graph", timeout=None)
            await graph.content.readline()
            await graph.content.readline()
            sizes = []
            for run in range(5):
                health = {"status": "Unhealthy" if run % 2 == 0 else "Healthy"}
                await api.patch("stages", NS, "s050", {"status": {"health": health}}, status=True)
                while True:
                    line = await graph.content.readline()
                    if line.startswith(b"data:"):
                        sizes.append(len(line))
                        break
            graph.close()
            print(f"\none Stage's health changes -> graph stream event: "
                  f"{statistics.median(sizes):,.0f} bytes (the graph page: 111 KB)")  # fmt: skip

        watch_api = (await Cluster.from_kubeconfig(plane.kubeconfig_path)).for_token(
            plane.admin_token
        )
        _, version = await watch_api.list_kind("promotions", NS)
        stream = watch_api.watch("promotions", NS, version)

        async def watch_seen(marker: str) -> tuple[float, int]:
            async for event in stream:
                if event.object.get("status", {}).get("message") == marker:
                    return time.perf_counter(), len(json.dumps(event.object))
            raise RuntimeError("the watch ended")

        raw = await _phase_change_latencies(api, promotion, watch_seen)
        await watch_api.close()

        def stats(values: list[float]) -> str:
            ordered = sorted(values)
            p95 = ordered[int(len(ordered) * 0.95) - 1]
            return f"median {_ms(statistics.median(ordered))}, p95 {_ms(p95)}"

        print(f"\nphase change -> UI event at the browser: {stats([t for t, _ in ui])}, "
              f"event {statistics.median(s for _, s in ui):,.0f} bytes")  # fmt: skip
        print(f"bare limit, a plain watch on Promotions: {stats([t for t, _ in raw])}, "
              f"object {statistics.median(s for _, s in raw):,.0f} bytes")  # fmt: skip
        ratio = statistics.median(t for t, _ in ui) / statistics.median(t for t, _ in raw)
        print(f"ratio UI / bare watch: {ratio:.2f}")
        print(f"\nmachine: {platform.machine()}, {platform.system()}, "
              f"Python {sys.version.split()[0]}")  # fmt: skip
        await api.close()
        await cluster.close()


if __name__ == "__main__":
    asyncio.run(main())
