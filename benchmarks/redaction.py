"""What structural redaction costs per log line and per status write, next to the bare work.

Every log record of the operator is redacted when it is created, and every status and Event it
writes goes through ``redact_data`` (``shunter._internal.redaction``). This measures, in one
run, with 0, 100, 1,000 and 10,000 registered secret values:

* a log line (``log.info`` with two arguments, formatted by a handler into a buffer) with the
  redacting record factory, against the same line with logging's own factory (the bare limit);
* the same with a secret in the message (the masking path);
* a Promotion status of about 5 KB through ``redact_data``, against a bare deep copy of it
  (``json.loads(json.dumps(status))``, the least a status write does with it).

Usage: ``python benchmarks/redaction.py [repetitions]`` (default 20000 log lines, 2000
statuses). Figures are recorded in docs/performance.md ("Redaction").
"""

from __future__ import annotations

import io
import json
import logging
import secrets
import sys
import time
from collections.abc import Callable
from typing import Any

from shunter._internal import redaction

LINES = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
STATUSES = max(LINES // 10, 100)


def status_document() -> dict[str, Any]:
    """A Promotion status the size of the seed pipeline's (about 5 KB of JSON)."""
    steps = [
        {
            "alias": f"task-1::step-{i}",
            "status": "Succeeded",
            "startedAt": "2026-12-05T07:38:32Z",
            "finishedAt": "2026-12-05T07:38:33Z",
            "message": f"step {i} wrote preprod/values.yaml and pushed commit {'ab' * 20}",
        }
        for i in range(8)
    ]
    return {
        "phase": "Succeeded",
        "message": "All steps completed",
        "currentStep": 7,
        "stepExecutionMetadata": steps,
        "state": {
            f"task-1::step-{i}": {"commit": "ab" * 20, "branch": "main", "files": ["a", "b"]}
            for i in range(8)
        },
        "freight": {
            "name": "cd" * 20,
            "images": [
                {
                    "repoURL": "registry.example.com/container/main-containers/app",
                    "tag": "2026-12-05_0738-abc1234",
                    "digest": "sha256:" + "ef" * 32,
                }
            ],
        },
    }


def per_call(work: Callable[[], object], times: int) -> float:
    """Microseconds per call (best of three rounds)."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        for _ in range(times):
            work()
        best = min(best, time.perf_counter() - started)
    return best / times * 1e6


def logger() -> tuple[logging.Logger, io.StringIO]:
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    log = logging.getLogger("bench.redaction")
    log.handlers[:] = [handler]
    log.propagate = False
    log.setLevel(logging.INFO)
    return log, buffer


def main() -> None:
    log, buffer = logger()
    status = status_document()
    url = "https://git.example.com/org/repo.git"

    def line() -> None:
        log.info("Warehouse %s: discovery failed: %s", "team/app", f"cannot reach {url}")
        buffer.seek(0)
        buffer.truncate()

    bare_line = per_call(line, LINES)
    bare_status = per_call(lambda: json.loads(json.dumps(status)), STATUSES)
    redaction.install_log_redaction()
    rows = []
    registered: list[str] = []
    for count in (0, 100, 1_000, 10_000):
        while len(registered) < count:
            value = secrets.token_urlsafe(24)
            registered.append(value)
            redaction.register_secret(value)
        redaction.redact("warm the automaton")  # the rebuild happens on registration
        secret = registered[len(registered) // 2] if registered else "not-registered"

        def line_with_secret(secret: str = secret) -> None:
            log.info("step failed: invalid operation: int(%s)", secret)
            buffer.seek(0)
            buffer.truncate()

        rows.append(
            (
                count,
                per_call(line, LINES),
                per_call(line_with_secret, LINES),
                per_call(lambda: redaction.redact_data(status), STATUSES),
            )
        )
    size = len(json.dumps(status))
    print(f"log line, bare logging: {bare_line:.2f} us; status ({size} B) bare copy: "
          f"{bare_status:.1f} us")  # fmt: skip
    print("| registered values | log line | vs bare | line with a secret | status redact_data "
          "| vs bare copy |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    for count, plain, masked, data in rows:
        print(
            f"| {count:,} | {plain:.2f} us | {plain / bare_line:.2f}x | {masked:.2f} us "
            f"| {data:.1f} us | {data / bare_status:.2f}x |"
        )


if __name__ == "__main__":
    main()
