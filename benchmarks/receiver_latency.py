"""P2 latency (issue 15): from a new image tag in the registry to that tag in git, through the
webhook receiver, next to the bare limit.

The seed pipeline runs as ``make demo`` runs it (control plane, git server, registry and the
operator as processes on 127.0.0.1): the Warehouse watches the registry (Lexical, the seed's
tag pattern), preprod auto-promotes with the seed's PromotionTask (git-clone, yaml-update,
git-commit, git-push). The registry (Debian's docker-registry) notifies the project's generic
webhook receiver of every push, which refreshes the Warehouse.

Each round:

* **shunter**: push a new tag; the clock starts when the registry answered the manifest PUT
  (the tag exists; its notification is on its way) and stops when ``preprod/values.yaml`` on
  the git server's master branch carries the tag (polled every 10 ms);
* **bare limit**: a plain script does the same work with nothing in between - the discovery
  request (list the tags, pick the newest matching one, read its manifest), then git clone,
  edit ``preprod/values.yaml``, commit, push (to another branch of the same repository). Its
  tags go to another repository of the registry, which no Warehouse watches.

Rounds alternate, after one warm-up of each. For shunter's rounds the operator's log gives
where the time went: until the receiver had refreshed the Warehouse, until the Freight existed,
until the Promotion was created, and the Promotion itself (to the tag in git). Run:
``.venv/bin/python benchmarks/receiver_latency.py [ROUNDS]`` (default 8). Figures are in
docs/performance.md.
"""

from __future__ import annotations

import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from shunter_devenv.demo import GIT_USER, PROJECT, REPO, Demo
from shunter_devenv.seed import SEED_IMAGE_PATH

ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 8
TAG_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}_\d{4}-\w{7}$")  # the seed Warehouse's allowTags
MANIFEST_TYPES = ", ".join(
    (
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    )
)
#: Operator log lines that mark the way from the push to git, in order.
MILESTONES = (
    ("refreshed", "shunter.receivers.server: receiver registry of project"),
    ("freight", "created Freight"),
    ("promotion", "auto-promoting Freight"),
)
BARE_BRANCH = "bare"
#: The bare rounds push here: no Warehouse watches it, so the operator stays out of their way.
BARE_IMAGE = "container/main-containers/bare-limit"
_LINE = re.compile(r"^(\s*lmsImageTag:\s*).*$", re.MULTILINE)


def _tag(round_: int) -> str:
    moment = datetime(2031, 1, 1, tzinfo=UTC) + timedelta(minutes=round_)
    return moment.strftime("%Y-%m-%d_%H%M") + f"-{round_:07x}"


def _git(env: dict[str, str], *args: str, cwd: Path | None = None) -> None:
    subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True)


def _pushed(demo: Demo, repo: str, tag: str) -> float:
    """Push ``tag``; return when (``time.monotonic()``) the registry stored the manifest: the
    pusher learns it later, by as much as the machine is busy."""
    demo.registry.push_image(repo, tag, datetime.now(UTC))
    path = f"/v2/{repo}/manifests/{tag}"
    return next(
        r.answered_at
        for r in reversed(demo.registry.front.requests)
        if r.method == "PUT" and r.path == path
    )


def _milestones(log: str, since: float) -> list[float]:
    """Seconds from ``since`` (wall clock) to the first log line of each milestone after it."""
    found: list[float] = []
    for line in log.splitlines():
        if len(found) == len(MILESTONES) or MILESTONES[len(found)][1] not in line:
            continue
        try:
            at = datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f").timestamp()  # noqa: DTZ007
        except ValueError:
            continue
        if at >= since - 0.001:
            found.append(at - since)
    return found


def _operator_round(demo: Demo, tag: str) -> tuple[float, list[float]]:
    began = _pushed(demo, SEED_IMAGE_PATH, tag)
    began_wall = time.time() - (time.monotonic() - began)
    while tag.encode() not in demo.git.read_file(REPO, "master", "preprod/values.yaml"):
        time.sleep(0.01)
    elapsed = time.monotonic() - began
    freight = None
    while freight is None:  # let the Promotion finish before the next round
        freight = demo.freight_with_tag(tag)
    demo.wait_in_stage("preprod", freight["metadata"]["name"])
    return elapsed, _milestones(demo.operator.log(), began_wall)


def _bare_round(demo: Demo, tag: str, env: dict[str, str], work: Path) -> float:
    _pushed(demo, BARE_IMAGE, tag)
    began = time.monotonic()
    repo = f"{demo.registry.base_url}/v2/{BARE_IMAGE}"
    auth = (demo.registry.username, demo.registry.password)
    with httpx.Client(auth=auth, timeout=30) as client:
        tags = client.get(f"{repo}/tags/list").json()["tags"]
        newest = max(t for t in tags if TAG_PATTERN.match(t))
        client.get(f"{repo}/manifests/{newest}", headers={"Accept": MANIFEST_TYPES})
    clone = work / f"clone-{tag}"
    url = demo.git.url(REPO)
    _git(env, "clone", "--quiet", "--branch", BARE_BRANCH, "--single-branch", url, str(clone))
    values = clone / "preprod" / "values.yaml"
    values.write_text(_LINE.sub(rf'\g<1>"{newest}"', values.read_text()))
    _git(env, "commit", "--quiet", "-am", f"bare: {newest}", cwd=clone)
    _git(env, "push", "--quiet", "origin", BARE_BRANCH, cwd=clone)
    return time.monotonic() - began


def _summary(name: str, times: list[float]) -> str:
    return (
        f"{name:<12} median {statistics.median(times):6.3f} s   min {min(times):6.3f} s   "
        f"max {max(times):6.3f} s"
    )


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="receiver-latency-") as tmp:
        work = Path(tmp)
        demo = Demo(work / "demo", operator_env={"SHUNTER_LOG_LEVEL": "INFO"})
        try:
            demo.start()
            env = demo.git.client_env(work / "home", GIT_USER)
            seed = work / "seed-clone"
            _git(env, "clone", "--quiet", demo.git.url(REPO), str(seed))
            _git(env, "push", "--quiet", "origin", f"master:{BARE_BRANCH}", cwd=seed)
            shunter: list[float] = []
            bare: list[float] = []
            marks: list[list[float]] = []
            for round_ in range(ROUNDS + 1):
                operator_time, milestones = _operator_round(demo, _tag(2 * round_))
                bare_time = _bare_round(demo, _tag(2 * round_ + 1), env, work)
                kept = "warm-up" if round_ == 0 else f"round {round_}"
                steps = "  ".join(
                    f"{name} +{at:.3f}"
                    for (name, _), at in zip(MILESTONES, milestones, strict=False)
                )
                print(
                    f"{kept:<8} shunter {operator_time:6.3f} s   bare {bare_time:6.3f} s   "
                    f"({steps})"
                )
                if round_:
                    shunter.append(operator_time)
                    bare.append(bare_time)
                    if len(milestones) == len(MILESTONES):
                        marks.append(milestones)
            print(_summary("shunter", shunter))
            print(_summary("bare limit", bare))
            if marks:
                medians = [statistics.median(m[i] for m in marks) for i in range(len(MILESTONES))]
                parts = ", ".join(
                    f"{name} at +{at:.3f} s"
                    for (name, _), at in zip(MILESTONES, medians, strict=True)
                )
                in_git = statistics.median(shunter)
                print(f"shunter's way (medians): {parts}, in git at +{in_git:.3f} s")
            ratio = statistics.median(shunter) / statistics.median(bare)
            print(f"ratio of medians: {ratio:.2f}x  (project {PROJECT}, {ROUNDS} rounds)")
        finally:
            demo.stop()


if __name__ == "__main__":
    main()
