"""Names Kargo derives: Promotion names (``<stage>.<ulid>.<freight[:7]>``) and label values.

ULIDs sort in creation order, which the Promotion queue relies on (FIFO by name).
"""

from __future__ import annotations

import hashlib
import os
import threading
import time

__all__ = ["new_ulid", "promotion_name", "shorten_label_value"]

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_MAX_NAME = 253
_MAX_LABEL = 63
_lock = threading.Lock()
_last: list[int] = [0, 0]  # last millisecond, last random part


def new_ulid(now_ms: int | None = None) -> str:
    """A ULID (26 Crockford base32 characters), monotonic within one process.

    ``now_ms`` pins the timestamp (tests); such ULIDs do not take part in the monotonic order.
    """
    if now_ms is not None:
        return _encode((now_ms << 80) | int.from_bytes(os.urandom(10), "big"))
    ms = int(time.time() * 1000)
    with _lock:
        if ms <= _last[0]:
            ms = _last[0]
            rand = (_last[1] + 1) & ((1 << 80) - 1)
        else:
            rand = int.from_bytes(os.urandom(10), "big")
        _last[0], _last[1] = ms, rand
    return _encode((ms << 80) | rand)


def _encode(value: int) -> str:
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def promotion_name(stage: str, freight: str, ulid: str | None = None) -> str:
    """Kargo's Promotion name, lower-cased, the stage part cut so the whole fits 253."""
    ulid = (ulid or new_ulid()).lower()
    suffix = f".{ulid}.{freight[:7]}"
    return (stage[: _MAX_NAME - len(suffix)] + suffix).lower()


def shorten_label_value(value: str) -> str:
    """A label value of at most 63 characters: long values become ``prefix-<sha256[:8]>``."""
    if len(value) <= _MAX_LABEL:
        return value
    digest = hashlib.sha256(value.encode()).hexdigest()[:8]
    return f"{value[: _MAX_LABEL - 9]}-{digest}"
