"""What a log line is about: the object being reconciled (``kind``, ``namespace``, ``name``)
and, inside a promotion, the step (``step``, ``step_kind``), carried in a context variable.

The work queues enter :func:`log_context` around every reconcile and the step orchestrator
around every step, so any logger called underneath - in a controller, a step, the git runner -
gets those fields on its records through :class:`LogContextFilter` without passing them along.
asyncio copies the context into every task, so concurrent reconciles never see each other's.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from contextvars import ContextVar

__all__ = ["FIELDS", "LogContextFilter", "current", "log_context"]

#: The fields, in the order a text log line shows them.
FIELDS = ("kind", "namespace", "name", "step", "step_kind")

_CONTEXT: ContextVar[dict[str, str] | None] = ContextVar("shunter_log_context", default=None)


def current() -> dict[str, str]:
    """The fields in force (a copy)."""
    return dict(_CONTEXT.get() or {})


@contextlib.contextmanager
def log_context(**fields: str) -> Iterator[None]:
    """Add ``fields`` (empty values are left out) to every record logged inside the block."""
    merged = {**(_CONTEXT.get() or {}), **{k: v for k, v in fields.items() if v}}
    token = _CONTEXT.set(merged)
    try:
        yield
    finally:
        _CONTEXT.reset(token)


class LogContextFilter(logging.Filter):
    """Copies the context's fields onto each record as ``record.fields`` (a dict: ``name``
    cannot be an attribute, a record's ``name`` is its logger's) and, for text logs, a
    ``record.context`` suffix such as `` [Stage sandbox/preprod]``."""

    def filter(self, record: logging.LogRecord) -> bool:
        fields = _CONTEXT.get() or {}
        record.fields = {key: fields[key] for key in FIELDS if key in fields}
        record.context = _suffix(fields) if fields else ""
        return True


def _suffix(fields: dict[str, str]) -> str:
    where = "/".join(v for v in (fields.get("namespace"), fields.get("name")) if v)
    parts = [p for p in (fields.get("kind", ""), where) if p]
    if fields.get("step"):
        parts.append(f"step={fields['step']}")
    return f" [{' '.join(parts)}]" if parts else ""
