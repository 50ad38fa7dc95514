"""Log records carry the object being reconciled and the promotion step."""

from __future__ import annotations

import asyncio
import logging

from shunter._internal.logcontext import LogContextFilter, log_context


def _record() -> logging.LogRecord:
    record = logging.LogRecord("t", logging.INFO, __file__, 1, "hello", None, None)
    LogContextFilter().filter(record)
    return record


async def test_fields_nest_and_stay_with_their_task() -> None:
    async def reconcile(name: str) -> dict[str, str]:
        with log_context(kind="Promotion", namespace="p", name=name):
            await asyncio.sleep(0)
            with log_context(step="commit", step_kind="git-commit"):
                await asyncio.sleep(0)
                return dict(_record().fields)  # type: ignore[attr-defined]

    first, second = await asyncio.gather(reconcile("a"), reconcile("b"))
    assert first == {
        "kind": "Promotion",
        "namespace": "p",
        "name": "a",
        "step": "commit",
        "step_kind": "git-commit",
    }
    assert second["name"] == "b"
    outside = _record()
    assert outside.fields == {}  # type: ignore[attr-defined]
    assert outside.context == ""  # type: ignore[attr-defined]


def test_text_suffix() -> None:
    with log_context(kind="Stage", namespace="sandbox", name="preprod"):
        assert _record().context == " [Stage sandbox/preprod]"  # type: ignore[attr-defined]
