"""Cost of evaluating a typical step config (the seed's yaml-update) and a few expressions,
inline and through the sandbox (inline fast path, or a worker process).

Figures printed side by side:

* inline: `evaluate_template` on the event loop's thread (what shunter did before issue 12);
* sandbox, bounded: `sandbox.run` of the same config - every expression is bounded, so it
  runs inline with a small step budget (the fast path);
* sandbox, worker: a config of the same shape with one expression that could grow (a
  ``map``), which goes to a worker process, next to the same config evaluated inline;
* bare limit: a plain pickle round trip of the same job to an echo process over a pipe - the
  floor of any out-of-process evaluation.

Measured figures are in docs/performance.md.
"""

from __future__ import annotations

import asyncio
import os
import pickle
import struct
import subprocess
import sys
import timeit
from typing import Any

from shunter.expressions import evaluate, evaluate_template, sandbox
from shunter.expressions.functions import FunctionContext, build_environment
from shunter.expressions.jobs import Job
from shunter.expressions.pool import PoolSettings, WorkerPool

FREIGHT = {
    "name": "abc",
    "origin": {"kind": "Warehouse", "name": "example-container"},
    "images": [{"repoURL": "reg/example", "tag": "2026-11-26_1200-abc1234", "digest": "sha256:a"}],
}
CONFIG = {
    "path": "./src/${{ vars.envPath }}/values.yaml",
    "updates": [
        {"key": "general.lmsImageTag", "value": "${{ imageFrom(vars.image).Tag }}"},
        {"key": "general.digest", "value": "${{ imageFrom(vars.image).Digest }}"},
        {"key": "general.stage", "value": "${{ ctx.stage }}"},
        {"key": "general.upper", "value": "${{ upper(vars.envPath) }}"},
        {"key": "general.check", "value": "${{ vars.envPath == 'prod' ? 'yes' : 'no' }}"},
    ],
}
GROWING = {
    **CONFIG,
    "updates": [
        *CONFIG["updates"],
        {"key": "general.parts", "value": "${{ join(map(split(vars.envPath, ''), #), '') }}"},
    ],
}
VARIABLES = {"vars": {"envPath": "preprod", "image": "reg/example"}, "ctx": {"stage": "preprod"}}
CONTEXT = FunctionContext(freight=[FREIGHT])

_ECHO = (
    "import os, struct, sys\n"
    "r, w = sys.stdin.buffer, sys.stdout.buffer\n"
    "while True:\n"
    "    head = r.read(8)\n"
    "    if len(head) < 8: break\n"
    "    data = r.read(struct.unpack('>Q', head)[0])\n"
    "    w.write(head + data); w.flush()\n"
)


def _per_call(fn: Any, number: int) -> float:
    return timeit.timeit(fn, number=number) / number


def _bare_round_trip(job: Job, number: int) -> float:
    """Pickle the job, send it to a process that echoes it, read and unpickle the answer."""
    child = subprocess.Popen(
        [sys.executable, "-c", _ECHO], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    assert child.stdin is not None
    assert child.stdout is not None
    stdin, stdout = child.stdin, child.stdout

    def once() -> None:
        data = pickle.dumps((job, 5.0), protocol=pickle.HIGHEST_PROTOCOL)
        stdin.write(struct.pack(">Q", len(data)) + data)
        stdin.flush()
        (length,) = struct.unpack(">Q", stdout.read(8))
        pickle.loads(stdout.read(length))  # noqa: S301 - our own data

    try:
        return _per_call(once, number)
    finally:
        stdin.close()
        child.wait()


async def _sandboxed(job: Job, pool: WorkerPool, number: int) -> float:
    loop = asyncio.get_running_loop()
    started = loop.time()
    for _ in range(number):
        await sandbox.run(job, project="bench", pool=pool)
    return (loop.time() - started) / number


def main() -> None:
    env = build_environment(VARIABLES, CONTEXT)
    n = 2000
    inline = _per_call(lambda: evaluate_template(CONFIG, env), n)
    print(f"seed yaml-update config: {inline * 1e6:.0f} us per evaluation (inline)")
    for text in ("1 + 2 * 3", "filter(1..100, # % 7 == 0)", "imageFrom(vars.image).Tag"):
        per = _per_call(lambda t=text: evaluate(t, env), n)
        print(f"{text!r}: {per * 1e6:.0f} us")

    pool = WorkerPool(PoolSettings(workers=2))
    try:
        asyncio.run(pool.start())
        bounded = Job("template", CONFIG, VARIABLES, CONTEXT, plain=True)
        fast = asyncio.run(_sandboxed(bounded, pool, n))
        print(
            f"sandbox, bounded (inline fast path): {fast * 1e6:.0f} us "
            f"({fast / inline:.2f}x inline)"
        )
        growing_inline = _per_call(lambda: evaluate_template(GROWING, env), n)
        growing = Job("template", GROWING, VARIABLES, CONTEXT, plain=True)
        worker = asyncio.run(_sandboxed(growing, pool, n // 4))
        bare = _bare_round_trip(growing, n // 4)
        print(f"config with a map(): {growing_inline * 1e6:.0f} us inline")
        print(
            f"sandbox, worker process: {worker * 1e6:.0f} us "
            f"({worker / growing_inline:.1f}x inline, +{(worker - growing_inline) * 1e6:.0f} us)"
        )
        print(
            f"bare limit (pickle round trip to an echo process): {bare * 1e6:.0f} us; "
            f"worker = inline + {(worker - growing_inline) / bare:.1f}x bare"
        )
        print(f"workers started: {pool.stats.started}, jobs sent: {pool.stats.jobs}")
    finally:
        pool.close()
    print(f"(cpus: {os.cpu_count()})")


if __name__ == "__main__":
    main()
