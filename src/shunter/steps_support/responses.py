"""Reading and classifying HTTP responses, shared by the steps that call HTTP APIs.

* :func:`read_capped_body`: the whole body, refused past a size limit (declared or streamed).
* :func:`status_error`: the step error for an API's non-2xx answer: 429 and 5xx may pass
  (retryable), any other status will not (terminal).
"""

from __future__ import annotations

import httpx

from shunter.promotion.step import StepError, TerminalStepError

__all__ = ["read_capped_body", "status_error"]


async def read_capped_body(response: httpx.Response, limit: int, what: str) -> bytes:
    """The body of ``response``; more than ``limit`` bytes is a (retryable) step error naming
    ``what`` (e.g. ``"Jira's response"``)."""
    length = response.headers.get("content-length")
    if length and length.isascii() and length.isdigit() and int(length) > limit:
        raise StepError(f"{what} size {length} exceeds limit of {limit} bytes")
    chunks: list[bytes] = []
    total = 0
    async for chunk in response.aiter_bytes():
        total += len(chunk)
        if total > limit:
            raise StepError(f"{what} exceeds limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def status_error(status: int, message: str) -> StepError:
    """Retryable for 429 and 5xx, terminal otherwise (``message`` must be redacted already)."""
    if status == 429 or status >= 500:
        return StepError(message)
    return TerminalStepError(message)
