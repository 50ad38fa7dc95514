"""Promotion throughput: the operator against a bare git script doing the same work, in one run.

Everything is real and local: a kube-apiserver + etcd (the tests' control plane), the git
smart-HTTP server with Basic authentication, and ``shunter run`` as a separate process (the way
the integration tests run it, log level INFO). One Project holds a Warehouse subscribed to an
application repository, and ``--promotions`` + ``--singles`` Stages whose promotion template is
the seed's: git-clone the GitOps repository's ``main``, yaml-update the Stage's own values file,
git-commit, git-push.

Measured, in this order:

1. **bare single**: a plain script (git CLI) doing ``clone``, edit, ``commit``, ``push``;
   ``--singles`` times, median.
2. **one promotion alone**: a Promotion created (one POST to the API server) until its commit
   is visible on the git server's branch; ``--singles`` times, one Stage each: the first is
   cold (the operator has not touched the repository yet), the rest are warm.
3. **4 parallel bare workers**: ``--promotions`` jobs (clone, edit, commit, push; ``pull
   --rebase`` and push again when the push loses a race) shared by 4 threads.
4. **the operator, --promotions at once**: that many Promotions of different Stages created at
   once, until every commit landed; the operator's CPU time over that window (its own, and its
   finished child processes': git).

Prints the figures and the ratios (goals: 100 promotions within 1.5x of the 4 bare workers; one
warm promotion within 1.5x of the bare single), and checks that exactly ``--promotions`` commits
landed. Run from the repository root::

    .venv/bin/python benchmarks/promotion_throughput.py            # 100 promotions, 5 singles
    .venv/bin/python benchmarks/promotion_throughput.py --promotions 20
    # the operator of another checkout (e.g. main, before a change):
    .venv/bin/python benchmarks/promotion_throughput.py --operator-src /path/to/checkout/src

Figures are recorded in docs/performance.md ("Promotion throughput").
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from shunter_devenv.controlplane import ControlPlane
from shunter_devenv.gitserver import GitServer
from shunter_devenv.operator import OperatorProcess
from shunter_devenv.waiting import wait_for

ROOT = Path(__file__).resolve().parents[1]
CRD_DIR = ROOT / "crds"
VALUES = (ROOT / "tests" / "data" / "values" / "realistic-values.yaml").read_text()
PROJECT = "throughput"
USER, PASSWORD = "kargo", "throughput-bench-pw"
GITOPS, APP = "bench/gitops", "bench/app"
GROUP = "kargo.akuity.io/v1alpha1"
BARE_WORKERS = 4
CLK_TCK = os.sysconf("SC_CLK_TCK")


# -- the API server, through plain HTTP calls (cheap: the benchmark must not steal CPU) ---------


class Api:
    """Create and read Kargo objects with the administrator's token."""

    def __init__(self, plane: ControlPlane) -> None:
        self._http = httpx.Client(
            base_url=plane.server,
            verify=str(plane.ca_path),
            headers={"Authorization": f"Bearer {plane.admin_token}"},
            timeout=30.0,
        )

    def _path(self, plural: str, name: str = "") -> str:
        path = f"/apis/{GROUP}/namespaces/{PROJECT}/{plural}"
        return f"{path}/{name}" if name else path

    def create(self, plural: str, body: dict[str, Any]) -> None:
        response = self._http.post(self._path(plural), json=body)
        response.raise_for_status()

    def items(self, plural: str) -> list[dict[str, Any]]:
        response = self._http.get(self._path(plural))
        response.raise_for_status()
        items: list[dict[str, Any]] = response.json()["items"]
        return items

    def close(self) -> None:
        self._http.close()


def _promotion(stage: str, freight: str, index: int) -> dict[str, Any]:
    return {
        "apiVersion": GROUP,
        "kind": "Promotion",
        "metadata": {"name": f"{stage}.bench{index}", "namespace": PROJECT},
        "spec": {"stage": stage, "freight": freight},
    }


def _stage(name: str, gitops_url: str) -> dict[str, Any]:
    steps = [
        {
            "uses": "git-clone",
            "config": {"repoURL": gitops_url, "checkout": [{"branch": "main", "path": "./src"}]},
        },
        {
            "uses": "yaml-update",
            "as": "update",
            "config": {
                "path": f"./src/envs/{name}/values.yaml",
                "updates": [
                    {"key": "general.lmsImageTag", "value": "${{ ctx.targetFreight.name }}"}
                ],
            },
        },
        {"uses": "git-commit", "config": {"path": "./src", "message": f"promote {name}"}},
        {"uses": "git-push", "config": {"path": "./src"}},
    ]
    return {
        "apiVersion": GROUP,
        "kind": "Stage",
        "metadata": {"name": name, "namespace": PROJECT},
        "spec": {
            "requestedFreight": [
                {"origin": {"kind": "Warehouse", "name": "app"}, "sources": {"direct": True}}
            ],
            "promotionTemplate": {"spec": {"steps": steps}},
        },
    }


def _setup_manifests(git: GitServer, stages: list[str]) -> list[dict[str, Any]]:
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": "git",
            "namespace": PROJECT,
            "labels": {"kargo.akuity.io/cred-type": "git"},
        },
        "stringData": {
            "repoURL": f"^{git.base_url}/bench/.*$",
            "repoURLIsRegex": "true",
            "username": USER,
            "password": PASSWORD,
        },
    }
    warehouse = {
        "apiVersion": GROUP,
        "kind": "Warehouse",
        "metadata": {"name": "app", "namespace": PROJECT},
        "spec": {"subscriptions": [{"git": {"repoURL": git.url(APP), "branch": "main"}}]},
    }
    return [secret, warehouse, *(_stage(name, git.url(GITOPS)) for name in stages)]


# -- measurements -----------------------------------------------------------------------------


def _cpu_seconds(pid: int) -> tuple[float, float]:
    """(own CPU-s, finished children's CPU-s) of a process, from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    utime, stime, cutime, cstime = (int(value) for value in fields[11:15])
    return (utime + stime) / CLK_TCK, (cutime + cstime) / CLK_TCK


def _branch_head(git: GitServer) -> str:
    ref = git.repo_path(GITOPS) / "refs" / "heads" / "main"
    try:
        return ref.read_text().strip()
    except OSError:
        return git.head(GITOPS)


def _commit_count(git: GitServer) -> int:
    return len(git.log(GITOPS))


class Bare:
    """The bare limit: the git CLI doing clone, edit, commit, push in a scratch folder."""

    def __init__(self, git: GitServer, scratch: Path) -> None:
        self.url = git.url(GITOPS)
        self.scratch = scratch
        self.env = git.client_env(scratch / "home", USER)
        self._counter = 0
        self._lock = threading.Lock()

    def _git(self, cwd: Path, *args: str, check: bool = True) -> int:
        done = subprocess.run(
            ["git", *args], cwd=cwd, env=self.env, capture_output=True, check=False
        )
        if check and done.returncode != 0:
            raise RuntimeError(f"git {args[0]} failed: {done.stderr.decode(errors='replace')}")
        return done.returncode

    def job(self, label: str) -> int:
        """One clone + edit + commit + push (rebasing and pushing again on a lost race);
        returns the number of push attempts."""
        with self._lock:
            self._counter += 1
            folder = self.scratch / f"job-{self._counter}"
        self._git(self.scratch, "clone", "--quiet", "--branch", "main", self.url, str(folder))
        target = folder / "bare" / f"{label}.yaml"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(f"promoted: {label}\n")
        self._git(folder, "add", "--all")
        self._git(folder, "commit", "--quiet", "-m", f"bare {label}")
        attempts = 1
        while self._git(folder, "push", "--quiet", "origin", "HEAD:main", check=False) != 0:
            attempts += 1
            if attempts > 100:
                raise RuntimeError("bare push lost 100 races")
            self._git(folder, "pull", "--quiet", "--rebase", "origin", "main")
        return attempts


def _timed(work: Callable[[], object]) -> float:
    began = time.perf_counter()
    work()
    return time.perf_counter() - began


def _report(label: str, seconds: float, extra: str = "") -> None:
    print(f"  {label:<58} {seconds:7.2f} s{('  ' + extra) if extra else ''}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--promotions", type=int, default=100)
    parser.add_argument("--singles", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    parser.add_argument(
        "--operator-src", type=Path, help="run the operator from this src folder (PYTHONPATH)"
    )
    parser.add_argument("--log-level", default="INFO", help="the operator's log level")
    args = parser.parse_args()
    count, singles = args.promotions, args.singles
    batch_stages = [f"s{i:03d}" for i in range(count)]
    single_stages = [f"single-{i}" for i in range(singles)]
    print(
        f"promotion throughput: {count} promotions, {singles} singles; "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"python {platform.python_version()}",
        flush=True,
    )
    scratch = Path(tempfile.mkdtemp(prefix="shunter-throughput-"))
    with (
        ControlPlane() as plane,
        GitServer(users={USER: PASSWORD}) as git,
    ):
        plane.install_crds(CRD_DIR)
        files = {f"envs/{name}/values.yaml": VALUES for name in batch_stages + single_stages}
        git.create_repo(GITOPS, files)
        git.create_repo(APP, {"README.md": "the application\n"})
        operator = OperatorProcess(
            plane.kubeconfig_path,
            scratch / "work",
            scratch / "operator.log",
            env={
                "SHUNTER_ALLOW_CREDENTIALS_OVER_HTTP": "true",
                "SHUNTER_MIN_STEP_REQUEUE_SECONDS": "0.5",
                "SHUNTER_LOG_LEVEL": args.log_level,
                **({"PYTHONPATH": str(args.operator_src)} if args.operator_src else {}),
            },
            args=("--namespace", PROJECT),
        )
        api = Api(plane)
        operator.start()
        try:
            plane.apply(
                json.dumps({"apiVersion": GROUP, "kind": "Project", "metadata": {"name": PROJECT}}),
                server_side=False,
            )
            wait_for(
                lambda: plane.kubectl("get", "namespace", PROJECT, check=False).returncode == 0,
                what="the project namespace",
                details=operator.log,
            )
            manifests = _setup_manifests(git, batch_stages + single_stages)
            plane.apply(json.dumps({"apiVersion": "v1", "kind": "List", "items": manifests}))
            freight = wait_for(
                lambda: [f["metadata"]["name"] for f in api.items("freights")],
                timeout=120,
                what="the Warehouse's Freight",
                details=operator.log,
            )[0]
            bare = Bare(git, scratch / "bare")

            print("one promotion alone:", flush=True)
            bare_singles = [_timed(lambda i=i: bare.job(f"single-{i}")) for i in range(singles)]
            _report("bare clone+edit+commit+push (median)", statistics.median(bare_singles))
            operator_singles: list[float] = []
            for index, stage in enumerate(single_stages):
                before = _branch_head(git)
                began = time.perf_counter()
                api.create("promotions", _promotion(stage, freight, index))
                wait_for(
                    lambda before=before: _branch_head(git) != before,
                    timeout=120,
                    interval=0.005,
                    what=f"the push of {stage}",
                    details=operator.log,
                )
                operator_singles.append(time.perf_counter() - began)
            warm = operator_singles[1:] or operator_singles
            _report("operator, cold (first use of the repository)", operator_singles[0])
            _report(f"operator, warm (median of {len(warm)})", statistics.median(warm))
            single_ratio = statistics.median(warm) / statistics.median(bare_singles)
            print(f"  ratio warm / bare: {single_ratio:.2f} (goal <= 1.5)", flush=True)
            wait_for(
                lambda: all(
                    p.get("status", {}).get("phase") == "Succeeded" for p in api.items("promotions")
                ),
                timeout=60,
                what="the single promotions to finish",
            )

            print(f"{count} promotions of different Stages into one branch:", flush=True)
            with ThreadPoolExecutor(BARE_WORKERS) as pool:
                began = time.perf_counter()
                attempts = list(pool.map(bare.job, [f"job-{i}" for i in range(count)]))
                bare_wall = time.perf_counter() - began
            _report(
                f"{BARE_WORKERS} parallel bare workers",
                bare_wall,
                f"({sum(attempts)} pushes for {count} commits)",
            )
            base = _commit_count(git)
            pid = operator.pid
            assert pid is not None
            cpu_before = _cpu_seconds(pid)
            began = time.perf_counter()
            for index, stage in enumerate(batch_stages):
                api.create("promotions", _promotion(stage, freight, index))
            wait_for(
                lambda: _commit_count(git) >= base + count,
                timeout=900,
                interval=0.1,
                what=f"{count} commits",
                details=operator.log,
            )
            operator_wall = time.perf_counter() - began
            cpu_after = _cpu_seconds(pid)
            own = cpu_after[0] - cpu_before[0]
            children = cpu_after[1] - cpu_before[1]
            _report(
                "the operator",
                operator_wall,
                f"(operator CPU {own:.1f} s, its git processes {children:.1f} s)",
            )
            ratio = operator_wall / bare_wall
            print(f"  ratio operator / bare workers: {ratio:.2f} (goal <= 1.5)", flush=True)
            wait_for(
                lambda: (
                    sum(
                        1
                        for p in api.items("promotions")
                        if p.get("status", {}).get("phase") == "Succeeded"
                    )
                    == count + singles
                ),
                timeout=120,
                what="every Promotion Succeeded",
                details=operator.log,
            )
            subjects = [subject for _, subject in git.log(GITOPS)]
            landed = _commit_count(git) - base
            promoted = len(set(subjects) & {f"promote {name}" for name in batch_stages})
            print(
                f"  commits landed: {landed} (expected exactly {count}); "
                f"{promoted} of the {count} Stages' commits found",
                flush=True,
            )
            ok = landed == count and promoted == count
        finally:
            api.close()
            operator.stop()
    if args.keep:
        print(f"scratch folder kept: {scratch}")
    else:
        subprocess.run(["rm", "-rf", str(scratch)], check=False)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
