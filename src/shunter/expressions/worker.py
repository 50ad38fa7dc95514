"""The evaluation worker process: ``python -m shunter.expressions.worker <parent-pid> <MiB>``.

Owns the child side of `shunter.expressions.pool`. The process imports only the expression
package (no Kubernetes client, no operator), dies with its parent (``PR_SET_PDEATHSIG``),
ignores Ctrl-C (the operator decides when it stops), caps its own address space at what it
uses after start-up plus the memory limit (``RLIMIT_AS``: an allocation beyond it fails with
`MemoryError` instead of growing the operator's memory), then serves jobs one at a time.

Protocol, over stdin/stdout, every message a frame of an 8-byte big-endian length and a
pickle:

* worker -> parent, once: ``("ready", pid)``;
* parent -> worker: ``(job, seconds)`` - a `shunter.expressions.jobs.Job` and its deadline;
* worker -> parent: ``("ok", value, seconds, max_rss_kib)``,
  ``("error", error_fields, seconds, max_rss_kib, retire)`` or
  ``("miss", (kind, name, shared), seconds, max_rss_kib)``. ``retire`` asks the parent to
  replace this worker (after a `MemoryError` the heap is not trusted).

The parent trusts nothing it reads back: it unpickles with an allow-list of types.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import pickle
import resource
import signal
import struct
import sys
from typing import Any, BinaryIO

__all__ = ["HEADER", "main", "read_frame", "write_frame"]

HEADER = struct.Struct(">Q")
_PR_SET_PDEATHSIG = 1


def write_frame(stream: BinaryIO, payload: Any) -> None:
    data = pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(HEADER.pack(len(data)) + data)
    stream.flush()


def read_frame(stream: BinaryIO) -> Any | None:
    """The next message, or None at end of input."""
    head = stream.read(HEADER.size)
    if len(head) < HEADER.size:
        return None
    (length,) = HEADER.unpack(head)
    data = stream.read(length)
    if len(data) < length:
        return None
    return pickle.loads(data)  # noqa: S301 - written by our parent process


def _die_with_parent(parent: int) -> None:
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before the line above took effect
        os._exit(0)


def _virtual_memory_bytes() -> int | None:
    try:
        with open("/proc/self/status", encoding="ascii") as status:  # noqa: PTH123
            for line in status:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        return None
    return None


def _cap_memory(limit_mib: int) -> None:
    if limit_mib <= 0:
        return
    used = _virtual_memory_bytes()
    if used is None:
        return
    cap = used + limit_mib * 1024 * 1024
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))


def _max_rss_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    parent, limit_mib = int(args[0]), int(args[1])
    _die_with_parent(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # The protocol owns stdout; anything else printing goes to stderr.
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    source = os.fdopen(0, "rb")

    from shunter.expressions.errors import ExpressionEvaluationError  # noqa: PLC0415
    from shunter.expressions.jobs import Outcome, error_to_fields, run_job  # noqa: PLC0415

    _cap_memory(limit_mib)
    out_of_memory = (
        "ExpressionLimitError",
        f"evaluation exceeded the memory limit ({limit_mib} MiB)",
        None,
        None,
        None,
        None,
    )

    def reply_to(outcome: Outcome) -> tuple[tuple[Any, ...], bool]:
        stats = (outcome.seconds, _max_rss_kib())
        if outcome.status == "ok":
            return ("ok", outcome.value, *stats), False
        if outcome.status == "miss" and outcome.missing is not None:
            ref = outcome.missing
            return ("miss", (ref.kind, ref.name, ref.shared), *stats), False
        if outcome.out_of_memory:
            return ("error", out_of_memory, *stats, True), True
        error = outcome.error or ExpressionEvaluationError("evaluation failed")
        return ("error", error_to_fields(error), *stats, False), False

    write_frame(out, ("ready", os.getpid()))
    while True:
        request = read_frame(source)
        if request is None:
            return 0
        job, seconds = request
        try:
            reply, retire = reply_to(run_job(job, seconds))
            try:
                write_frame(out, reply)
            except (pickle.PicklingError, TypeError, AttributeError) as exc:
                fields = ("ExpressionEvaluationError", f"the result cannot be returned: {exc}")
                write_frame(out, ("error", (*fields, None, None, None, None), 0.0, 0, False))
        except MemoryError:
            # Even the reply did not fit: say so in as few bytes as possible, then go.
            write_frame(out, ("error", out_of_memory, 0.0, 0, True))
            return 1
        if retire:
            return 1


if __name__ == "__main__":
    sys.exit(main())
