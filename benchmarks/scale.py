"""The operator at scale: Projects, Warehouses, Stages, Freight and Promotions created directly in
a local API server, then the operator started as a process. Prints:

* creation time of the objects (bulk, in parallel);
* time from operator start until every Stage has been reconciled once (``observedGeneration``);
* operator CPU-s over an idle window (default 300 s; ``--idle``) and RSS (now and peak);
* latency from a Freight change to its Stage's status update: a new Freight for a probe Stage
  (one per project, auto-promotion on, a one-step ``compose-output`` template) until the Stage's
  status names it as its current Promotion's Freight - p50 / p99 over ``--samples``.

Sizes (``--size``): ``full`` is 10 Projects, 200 Warehouses, 1,000 Stages, 10,000 Freight and
5,000 Promotions (terminal); ``1/10`` and ``1/100`` scale Warehouses, Stages, Freight and
Promotions down (one Project each), so a namespace holds 1/100, 1/10 and 1/10 of the whole.
The bare limit is the API server itself: ``--bare`` reports what a plain script listing every
object once costs (the least any controller must do to see them).

Run: ``.venv/bin/python benchmarks/scale.py --size 1/10 --idle 120``. To measure another
checkout (e.g. main before a change): ``--python /path/to/venv/bin/python --src /path/src``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from shunter.freight import freight_id
from shunter.kube import ConflictError, KubeClient
from shunter_devenv.controlplane import ControlPlane
from shunter_devenv.operator import OperatorProcess
from shunter_devenv.registry import Registry

ROOT = Path(__file__).resolve().parents[1]
SIZES = {"1/100": 0.01, "1/10": 0.1, "full": 1.0}
FULL = {"projects": 10, "warehouses": 200, "stages": 1000, "freight": 10000, "promotions": 5000}
GROUP = "kargo.akuity.io/v1alpha1"
STEP = [
    {"uses": "compose-output", "as": "out", "config": {"freight": "${{ ctx.targetFreight.name }}"}}
]


def counts(scale: float) -> dict[str, int]:
    found = {k: max(1, round(v * scale)) for k, v in FULL.items()}
    found["projects"] = 10 if scale >= 1 else 1
    return found


def _ts(when: dt.datetime) -> str:
    return when.isoformat(timespec="microseconds").replace("+00:00", "Z")


def _freight(ns: str, warehouse: str, image: str, tag: str, when: dt.datetime) -> dict[str, Any]:
    images = [
        {"repoURL": image, "tag": tag, "digest": f"sha256:{abs(hash((ns, warehouse, tag))):064x}"}
    ]
    name = freight_id("Warehouse", warehouse, [], images, [])
    return {
        "apiVersion": GROUP,
        "kind": "Freight",
        "metadata": {
            "name": name,
            "namespace": ns,
            "labels": {"kargo.akuity.io/alias": f"a{name[:12]}"},
        },
        "alias": f"a{name[:12]}",
        "origin": {"kind": "Warehouse", "name": warehouse},
        "images": images,
        "discoveredAt": _ts(when),
    }


class Bench:
    def __init__(self, kube: KubeClient, image: str, sizes: dict[str, int]) -> None:
        self.kube = kube
        self.image = image
        self.sizes = sizes
        self.projects = [f"scale-{i}" for i in range(sizes["projects"])]

    def per_project(self, key: str) -> int:
        return max(1, self.sizes[key] // len(self.projects))

    async def _bulk(self, work: list[Callable[[], Awaitable[Any]]], parallel: int = 32) -> None:
        queue = list(reversed(work))

        async def worker() -> None:
            while queue:
                job = queue.pop()
                with contextlib.suppress(ConflictError):
                    await job()

        await asyncio.gather(*(worker() for _ in range(parallel)))

    async def create(self) -> float:
        began = time.monotonic()
        for project in self.projects:
            with contextlib.suppress(ConflictError):
                await self.kube.create_namespace(
                    {"metadata": {"name": project, "labels": {"kargo.akuity.io/project": "true"}}}
                )
            await self._bulk(
                [
                    lambda p=project: self.kube.create_cluster_custom(
                        "projects",
                        {"apiVersion": GROUP, "kind": "Project", "metadata": {"name": p}},
                    ),
                    lambda p=project: self.kube.create_custom(
                        p,
                        "projectconfigs",
                        {
                            "apiVersion": GROUP,
                            "kind": "ProjectConfig",
                            "metadata": {"name": p, "namespace": p},
                            "spec": {
                                "promotionPolicies": [
                                    {
                                        "stageSelector": {"name": "probe"},
                                        "autoPromotionEnabled": True,
                                    }
                                ]
                            },
                        },
                    ),
                ]
            )
        work: list[Callable[[], Awaitable[Any]]] = []
        base = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
        self.stages_by_project: dict[str, list[str]] = {}
        for project in self.projects:
            warehouses = [f"w{i}" for i in range(self.per_project("warehouses"))]
            stages_per_wh = max(1, self.per_project("stages") // len(warehouses))
            freight_per_wh = max(1, self.per_project("freight") // len(warehouses))
            promos_per_stage = max(
                1, self.per_project("promotions") // (stages_per_wh * len(warehouses))
            )
            names: list[str] = []
            for w in warehouses:
                work.append(
                    lambda p=project, w=w: self.kube.create_custom(
                        p,
                        "warehouses",
                        {
                            "apiVersion": GROUP,
                            "kind": "Warehouse",
                            "metadata": {"name": w, "namespace": p},
                            "spec": {
                                "interval": "24h",
                                "freightCreationPolicy": "Manual",
                                "subscriptions": [{"image": {"repoURL": self.image}}],
                            },
                        },
                    )
                )
                freight = [
                    _freight(project, w, self.image, f"1.0.{j}", base + dt.timedelta(minutes=j))
                    for j in range(freight_per_wh)
                ]
                for f in freight:
                    work.append(lambda p=project, f=f: self.kube.create_custom(p, "freights", f))
                for s in range(stages_per_wh):
                    name = "probe" if (w == "w0" and s == 0) else f"{w}-s{s}"
                    names.append(name)
                    sources = (
                        {"direct": True}
                        if s == 0
                        else {"stages": ["probe" if w == "w0" else f"{w}-s0"]}
                    )
                    stage = {
                        "apiVersion": GROUP,
                        "kind": "Stage",
                        "metadata": {"name": name, "namespace": project},
                        "spec": {
                            "requestedFreight": [
                                {"origin": {"kind": "Warehouse", "name": w}, "sources": sources}
                            ],
                            "promotionTemplate": {"spec": {"steps": STEP}},
                        },
                    }
                    work.append(lambda p=project, b=stage: self.kube.create_custom(p, "stages", b))
                    for k in range(promos_per_stage if name != "probe" else 0):
                        fname = freight[k % len(freight)]["metadata"]["name"]
                        work.append(
                            lambda p=project, n=f"{name}.{k:04d}", s=name, f=fname: self._promotion(
                                p, n, s, f
                            )
                        )
            self.stages_by_project[project] = names
        await self._bulk(work)
        return time.monotonic() - began

    async def _promotion(self, ns: str, name: str, stage: str, freight: str) -> None:
        body = {
            "apiVersion": GROUP,
            "kind": "Promotion",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"stage": stage, "freight": freight, "steps": STEP},
        }
        await self.kube.create_custom(ns, "promotions", body)
        finished = _ts(dt.datetime(2025, 1, 2, tzinfo=dt.UTC))
        await self.kube.patch_custom(
            ns,
            "promotions",
            name,
            {
                "status": {
                    "phase": "Succeeded",
                    "finishedAt": finished,
                    "freight": {"name": freight},
                }
            },
            status=True,
        )

    async def reconciled(self) -> tuple[int, int]:
        done = total = 0
        for project in self.projects:
            for stage in await self.kube.list_custom(project, "stages"):
                total += 1
                status = stage.get("status") or {}
                if status.get("observedGeneration") == stage["metadata"].get("generation"):
                    done += 1
        return done, total

    async def latency(self, samples: int) -> list[float]:
        results: list[float] = []
        misses = 0
        for i in range(samples):
            if misses >= 3:
                print("  three samples without a status update: giving up")
                break
            project = self.projects[i % len(self.projects)]
            f = _freight(project, "w0", self.image, f"9.{i}.0", dt.datetime.now(dt.UTC))
            name = f["metadata"]["name"]
            began = time.monotonic()
            await self.kube.create_custom(project, "freights", f)
            while True:
                stage = await self.kube.get_custom(project, "stages", "probe")
                status = stage.get("status") or {}
                names = {
                    ((status.get(k) or {}).get("freight") or {}).get("name")
                    for k in ("currentPromotion", "lastPromotion")
                }
                if name in names:
                    results.append(time.monotonic() - began)
                    break
                if time.monotonic() - began > 60:
                    print(f"  sample {i}: no status update within 60 s")
                    misses += 1
                    break
                await asyncio.sleep(0.02)
        return results


def _proc(pid: int) -> tuple[float, int, int]:
    """CPU seconds (self + waited children), RSS and peak RSS in bytes."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = sum(int(fields[i]) for i in (11, 12, 13, 14)) / ticks
    status = Path(f"/proc/{pid}/status").read_text()
    mem = {
        line.split(":")[0]: int(line.split()[1]) * 1024
        for line in status.splitlines()
        if line.startswith("Vm")
    }
    return cpu, mem.get("VmRSS", 0), mem.get("VmHWM", 0)


async def bare(kube: KubeClient, projects: list[str]) -> float:
    began = time.monotonic()
    for project in projects:
        for plural in ("warehouses", "stages", "freights", "promotions"):
            await kube.list_custom(project, plural)
    return time.monotonic() - began


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", choices=list(SIZES), default="1/100")
    parser.add_argument("--idle", type=float, default=300.0, help="idle window, seconds")
    parser.add_argument("--samples", type=int, default=30, help="latency samples")
    parser.add_argument("--python", default=sys.executable, help="the operator's interpreter")
    parser.add_argument(
        "--src", default=None, help="PYTHONPATH for the operator (another checkout)"
    )
    parser.add_argument("--resync", default="60", help="SHUNTER_RESYNC_SECONDS (main's default)")
    args = parser.parse_args()
    sizes = counts(SIZES[args.size])
    print(f"size {args.size}: {sizes}")
    with (
        tempfile.TemporaryDirectory(prefix="shunter-scale-") as tmp,
        ControlPlane() as plane,
        Registry(auth="none") as registry,
    ):
        plane.install_crds(ROOT / "crds")
        registry.push_image("bench/app", "1.0.0", dt.datetime(2025, 1, 1, tzinfo=dt.UTC))
        image = registry.image("bench/app")
        return asyncio.run(_run(plane, image, sizes, Path(tmp), args))


async def _run(plane: ControlPlane, image: str, sizes: dict[str, int], tmp: Path, args: Any) -> int:
    kube = KubeClient.from_kubeconfig(plane.kubeconfig_path)
    bench = Bench(kube, image, sizes)
    created = await bench.create()
    total = sum(v for k, v in sizes.items() if k != "projects")
    print(f"created {total} objects in {created:.1f} s ({total / created:.0f}/s)")
    bare_s = await bare(kube, bench.projects)
    print(f"bare limit: one LIST of every kind in every project: {bare_s:.2f} s")
    env = {"SHUNTER_LOG_LEVEL": "INFO", "SHUNTER_RESYNC_SECONDS": args.resync}
    if args.src:
        env["PYTHONPATH"] = args.src
    # No admission webhooks: the objects exist before the operator starts, and --python may
    # name an older shunter (the before figures) that has no --admission flag.
    operator = OperatorProcess(
        plane.kubeconfig_path,
        tmp / "work",
        tmp / "operator.log",
        env=env,
        python=args.python,
        admission=False,
    )
    began = time.monotonic()
    operator.start()
    pid = operator.pid
    assert pid is not None
    try:
        while True:
            done, stages = await bench.reconciled()
            if done == stages:
                break
            if time.monotonic() - began > 1800 or not operator.running():
                print(f"gave up: {done}/{stages} Stages reconciled\n{operator.log()[-3000:]}")
                return 1
            await asyncio.sleep(1.0)
        first_pass = time.monotonic() - began
        cpu_start, rss, _ = _proc(pid)
        print(
            f"every Stage reconciled once: {first_pass:.1f} s after start ({cpu_start:.1f} CPU-s, "
            f"{cpu_start / stages * 1000:.1f} ms CPU per Stage incl. start-up)"
        )
        await asyncio.sleep(10)  # let the start-up work (probe promotions) finish
        cpu0, _, _ = _proc(pid)
        await asyncio.sleep(args.idle)
        cpu1, rss, peak = _proc(pid)
        idle_cpu = cpu1 - cpu0
        print(
            f"idle {args.idle:.0f} s: {idle_cpu:.2f} CPU-s "
            f"({idle_cpu / args.idle * 100:.2f}% of a core); "
            f"RSS {rss / 2**20:.0f} MB (peak {peak / 2**20:.0f} MB)"
        )
        latencies = await bench.latency(args.samples)
        if latencies:
            ordered = sorted(latencies)
            p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
            print(
                f"Freight change -> Stage status: p50 {statistics.median(ordered) * 1000:.0f} ms, "
                f"p99 {p99 * 1000:.0f} ms over {len(ordered)} samples"
            )
        _, rss, peak = _proc(pid)
        print(f"final RSS {rss / 2**20:.0f} MB (peak {peak / 2**20:.0f} MB)")
    finally:
        operator.stop()
        await kube.aclose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
