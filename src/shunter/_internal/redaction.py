"""Structural redaction: every value that came from a Secret is masked wherever it goes.

Owns the process-wide registry of secret values and the one masking function every sink uses:

* **Sources** register what they read: :func:`register_secret_object` for a Kubernetes Secret as
  the API server returns it (every ``data``/``stringData`` value, except the ``repoURL``,
  ``repoURLIsRegex`` and ``username`` of Kargo's credential Secrets - those labelled
  ``kargo.akuity.io/cred-type: git|helm|image`` -, which name a repository and a user and are
  not secret), :func:`register_secret` for a single value. The Kubernetes client registers every
  Secret it reads, so credentials, ``secret()``/``sharedSecret()`` in expressions, verification
  and step credentials are all covered, whatever read them.
* **Sinks** mask: :func:`redact` (text), :func:`redact_data` (a JSON-like tree: a status), and
  :func:`install_log_redaction` (every log record of the process, message and traceback). The
  Kubernetes client applies :func:`redact_data` to every status and Event it writes.

A registered value is masked as ``***`` in the forms it takes on its way to a message: as is,
percent-encoded (``quote``/``quote_plus``, as in URLs and form bodies), JSON-escaped, and base64
(standard and URL-safe alphabet, alone or inside a longer base64 string such as a Basic
``Authorization`` header: the characters that depend only on the secret's bytes, for each of
the three alignments). Values shorter than :data:`MIN_SECRET_LENGTH` characters would blank out
ordinary words, so they are masked only where they stand quoted (``'pw'``, ``"pw"``), which is
how error messages quote values.

Independently of the registry, URLs lose their credentials: an ``http(s)://`` URL loses its
whole userinfo (a token given as the user name included), any other ``scheme://user:password@``
its password (``ssh://git@host`` keeps the ``git`` user).

Matching is linear in the text: the registered literals are compiled into RE2 automata of at
most 4,096 literals each (so registering a value never stalls the caller on a long
compilation), new ones are searched literally until 32 accumulate; the registry is safe to
use from threads. Values of one character are not registered. A tree (a status) is searched
as one text first, and only its strings that hold something to mask are rewritten.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import threading
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import re2  # type: ignore[import-untyped]

__all__ = [
    "MASK",
    "MIN_SECRET_LENGTH",
    "NON_SECRET_KEYS",
    "install_log_redaction",
    "redact",
    "redact_data",
    "redact_url",
    "register_secret",
    "register_secret_object",
    "registered_count",
    "secret_forms",
]

MASK = "***"
#: Values at least this long are masked wherever they appear; shorter ones only when quoted.
MIN_SECRET_LENGTH = 4
#: Data keys of Kargo's credential Secrets that hold no secret.
NON_SECRET_KEYS = frozenset({"repoURL", "repoURLIsRegex", "username"})
_CRED_TYPE = "kargo.akuity.io/cred-type"
_CREDENTIAL_TYPES = frozenset({"git", "helm", "image"})
#: A base64 fragment (inside a longer base64 string) shorter than this is not searched for.
_MIN_BASE64_CORE = 8
#: New literals are searched one by one until this many wait, then they are compiled.
_PENDING_LIMIT = 32
#: The most literals one RE2 automaton holds (so one compilation stays short).
_TIER_LIMIT = 4096


def _options(*, longest: bool) -> Any:
    options = re2.Options()
    options.log_errors = False
    options.longest_match = longest
    options.max_mem = 256 << 20
    return options


_OPTIONS = _options(longest=True)
_HTTP_USERINFO = re2.compile(r"(?i)\b(https?://)[^/?#\s@]+@", _options(longest=False))
_OTHER_PASSWORD = re2.compile(
    r"(?i)\b([a-z][a-z0-9+.\-]*://)([^/?#\s@:]*):[^/?#\s@]*@", _options(longest=False)
)


def _base64_cores(raw: bytes) -> set[str]:
    """The characters of base64 text that depend only on ``raw``, for each alignment."""
    cores: set[str] = set()
    for offset in range(3):
        padded = b"\0" * offset + raw
        first = -(-offset * 8 // 6)  # ceil: the first character holding no prefix bits
        last = (offset + len(raw)) * 8 // 6  # floor: after the last one holding only raw bits
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            core = encode(padded).decode("ascii")[first:last]
            if len(core) >= _MIN_BASE64_CORE:
                cores.add(core)
    return cores


def secret_forms(value: str) -> set[str]:
    """The spellings of ``value`` that are masked (for a value long enough to be masked)."""
    raw = value.encode("utf-8")
    forms = {
        value,
        urllib.parse.quote(value, safe=""),
        urllib.parse.quote(value),
        urllib.parse.quote_plus(value),
        json.dumps(value)[1:-1],
        json.dumps(value, ensure_ascii=False)[1:-1],
        base64.b64encode(raw).decode("ascii"),
        base64.urlsafe_b64encode(raw).decode("ascii"),
    }
    forms |= _base64_cores(raw)
    return {form for form in forms if form}


def _short_forms(value: str) -> set[str]:
    return {f"'{value}'", f'"{value}"', f"\\'{value}\\'", f'\\"{value}\\"'}


@dataclass(frozen=True)
class _Tier:
    """Some registered literals compiled into one RE2 automaton."""

    literals: tuple[str, ...]
    pattern: Any

    @classmethod
    def build(cls, literals: Iterable[str]) -> _Tier:
        ordered = tuple(sorted(set(literals), key=len, reverse=True))
        return cls(ordered, re2.compile("|".join(re2.escape(f) for f in ordered), _OPTIONS))


class _Registry:
    """The registered literals, in RE2 automata of bounded size plus a few not compiled yet.

    New literals wait in a short list (searched with ``find``) until :data:`_PENDING_LIMIT` of
    them are there; they then become a tier, and two tiers of the same size merge, up to
    :data:`_TIER_LIMIT` literals (a binary counter). Registering never compiles more than
    :data:`_TIER_LIMIT` literals at once (tens of milliseconds), however many are registered,
    and a search costs one linear pass per tier.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: set[str] = set()
        self._literals: set[str] = set()
        self._replacement: dict[str, str] = {}
        self._tiers: tuple[_Tier, ...] = ()
        self._pending: tuple[str, ...] = ()

    def add(self, value: str) -> bool:
        """Register ``value``; True when it was new (values of one character are ignored)."""
        if len(value) < 2 or value in self._values:
            return False
        short = len(value) < MIN_SECRET_LENGTH
        forms = _short_forms(value) if short else secret_forms(value)
        with self._lock:
            if value in self._values:
                return False
            self._values.add(value)
            new = forms - self._literals
            self._literals |= new
            for form in new:
                self._replacement[form] = form.replace(value, MASK) if short else MASK
            pending = self._pending + tuple(new)
            if len(pending) < _PENDING_LIMIT:
                self._pending = pending
                return True
            tiers = [*self._tiers, _Tier.build(pending)]
            while (
                len(tiers) > 1
                and len(tiers[-2].literals) <= len(tiers[-1].literals)
                and len(tiers[-2].literals) + len(tiers[-1].literals) <= _TIER_LIMIT
            ):
                last = tiers.pop()
                tiers[-1] = _Tier.build(tiers[-1].literals + last.literals)
            self._tiers, self._pending = tuple(tiers), ()
        return True

    def count(self) -> int:
        return len(self._values)

    def mask(self, text: str) -> str:
        tiers, pending = self._tiers, self._pending
        spans: list[tuple[int, int]] = []
        for tier in tiers:
            if tier.pattern.search(text) is not None:
                spans += [match.span() for match in tier.pattern.finditer(text)]
        for form in pending:
            start = text.find(form)
            while start >= 0:
                spans.append((start, start + len(form)))
                start = text.find(form, start + 1)
        if not spans:
            return text
        # Leftmost-longest over every tier, so a longer value is never cut by a shorter one.
        out: list[str] = []
        position = 0
        for start, end in sorted(spans, key=lambda span: (span[0], -span[1])):
            if start < position:
                continue
            out += [text[position:start], self._replacement.get(text[start:end], MASK)]
            position = end
        out.append(text[position:])
        return "".join(out)


_REGISTRY = _Registry()


def register_secret(value: str) -> None:
    """Mask ``value`` (and its encoded forms) from now on, everywhere in this process."""
    if _REGISTRY.add(value):
        install_log_redaction()


def _decoded(raw: Any) -> str | None:
    if not isinstance(raw, str):
        return None
    try:
        return base64.b64decode(raw, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return None


def register_secret_object(secret: Mapping[str, Any]) -> None:
    """Register every value of a Kubernetes Secret (wire form: ``data`` is base64)."""
    metadata = secret.get("metadata")
    labels = metadata.get("labels") if isinstance(metadata, Mapping) else None
    credential = isinstance(labels, Mapping) and labels.get(_CRED_TYPE) in _CREDENTIAL_TYPES
    skipped = NON_SECRET_KEYS if credential else frozenset()
    data = secret.get("data")
    if isinstance(data, Mapping):
        for key, raw in data.items():
            value = _decoded(raw)
            if value is not None and key not in skipped:
                register_secret(value)
    string_data = secret.get("stringData")
    if isinstance(string_data, Mapping):
        for key, value in string_data.items():
            if isinstance(value, str) and key not in skipped:
                register_secret(value)


def registered_count() -> int:
    """How many distinct values are registered (for tests and benchmarks)."""
    return _REGISTRY.count()


def redact(text: str, extra: Iterable[str] = ()) -> str:
    """``text`` with every registered value (and ``extra`` ones) masked and URLs without
    credentials."""
    if not text:
        return text
    text = _REGISTRY.mask(text)
    for value in sorted({v for v in extra if v}, key=len, reverse=True):
        if len(value) >= MIN_SECRET_LENGTH:
            for form in sorted(secret_forms(value), key=len, reverse=True):
                text = text.replace(form, MASK)
    if "://" in text and "@" in text:
        text = _HTTP_USERINFO.sub(r"\1", text)
        text = _OTHER_PASSWORD.sub(rf"\1\2:{MASK}@", text)
    return text


def redact_url(url: str) -> str:
    """``url`` as it may be shown: no userinfo for http(s), no password for other schemes."""
    return redact(url)


def redact_data(value: Any) -> Any:
    """A copy of a JSON-like tree with :func:`redact` applied to every string (keys too)."""
    strings: list[str] = []
    _strings(value, strings)
    joined = "\x00".join(strings)
    if _REGISTRY.mask(joined) == joined and not ("://" in joined and "@" in joined):
        return _copy(value, _same)
    return _copy(value, redact)


def _strings(value: Any, into: list[str]) -> None:
    if isinstance(value, str):
        into.append(value)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            _strings(key, into)
            _strings(item, into)
    elif isinstance(value, list | tuple):
        for item in value:
            _strings(item, into)


def _same(text: str) -> str:
    return text


def _copy(value: Any, text: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return text(value)
    if isinstance(value, Mapping):
        return {_copy(k, text): _copy(v, text) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_copy(item, text) for item in value]
    return value


# -- logging ---------------------------------------------------------------------------------

_install_lock = threading.Lock()
_installed = False
_exception_formatter = logging.Formatter()


def install_log_redaction() -> None:
    """Make every log record of the process redacted when it is created (idempotent).

    The message (with its arguments) and a traceback (``exc_info``/``stack_info``) are rendered
    and redacted at once, so whatever handler or formatter writes the record later only sees
    the redacted text.
    """
    global _installed  # noqa: PLW0603 - one process-wide installation
    with _install_lock:
        if _installed:
            return
        previous = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            _redact_record(record)
            return record

        logging.setLogRecordFactory(factory)
        _installed = True


def _redact_record(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except Exception:  # a broken format string: leave it to logging's own error report
        return
    # The message is rendered once here; handlers then use it as is.
    record.msg, record.args = redact(message), None
    if record.exc_info and not record.exc_text:
        record.exc_text = redact(_exception_formatter.formatException(record.exc_info))
    if record.stack_info:
        record.stack_info = redact(record.stack_info)
