"""kubectl-like tables of Kargo objects: the columns of each kind and their rendering.

Pure functions over the objects as the API server returns them (JSON dicts), so a table never
fails on a field the models do not know. Columns follow the CRDs' printer columns, plus a few
more under ``-o wide``; ages read like kubectl's (``45s``, ``3m12s``, ``5h``, ``2d3h``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shunter.api.v1alpha1.labels import ALIAS, SHARD

__all__ = [
    "COLUMNS",
    "Column",
    "TablePrinter",
    "artifacts_summary",
    "human_duration",
    "parse_time",
    "render_table",
    "table_rows",
]

JSON = Mapping[str, Any]
_GAP = "   "


def human_duration(seconds: float) -> str:
    """A duration the way kubectl prints ages: short, coarser as it grows."""
    if seconds < -1:
        return "<invalid>"
    total = max(0, int(seconds))
    minutes, hours, days = total // 60, total // 3600, total // 86400
    if total < 120:
        return f"{total}s"
    if minutes < 10:
        rest = total % 60
        return f"{minutes}m{rest}s" if rest else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h{rest}m" if rest else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        rest = hours % 24
        return f"{days}d{rest}h" if rest else f"{days}d"
    if hours < 24 * 365 * 2:
        return f"{days}d"
    years = days // 365
    if hours < 24 * 365 * 8:
        rest = days % 365
        return f"{years}y{rest}d" if rest else f"{years}y"
    return f"{years}y"


def parse_time(value: Any) -> datetime | None:
    """An RFC 3339 timestamp as an aware datetime; None for anything else."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _get(obj: JSON, *path: str) -> Any:
    value: Any = obj
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "True" if value else "False"
    return str(value)


def _age(obj: JSON, now: datetime) -> str:
    created = parse_time(_get(obj, "metadata", "creationTimestamp"))
    return human_duration((now - created).total_seconds()) if created else "<unknown>"


def _condition(obj: JSON, kind: str) -> JSON:
    for condition in _get(obj, "status", "conditions") or []:
        if isinstance(condition, Mapping) and condition.get("type") == kind:
            return condition
    return {}


def _ready(obj: JSON, _now: datetime) -> str:
    return _text(_condition(obj, "Ready").get("status"))


def _ready_message(obj: JSON, _now: datetime) -> str:
    return _text(_condition(obj, "Ready").get("message"))


def _field(*path: str) -> Callable[[JSON, datetime], str]:
    return lambda obj, _now: _text(_get(obj, *path))


def _keys(*path: str) -> Callable[[JSON, datetime], str]:
    def value(obj: JSON, _now: datetime) -> str:
        mapping = _get(obj, *path)
        return ",".join(sorted(mapping)) if isinstance(mapping, Mapping) else ""

    return value


def artifacts_summary(freight: JSON) -> str:
    """The artifacts of a Freight on one line: ``image:tag``, ``repo@commit``, ``chart:version``."""
    parts: list[str] = []
    for image in freight.get("images") or []:
        ref = _text(image.get("repoURL"))
        if image.get("tag"):
            ref += f":{image['tag']}"
        elif image.get("digest"):
            ref += f"@{image['digest']}"
        parts.append(ref)
    for commit in freight.get("commits") or []:
        ref = _text(commit.get("repoURL"))
        if commit.get("tag"):
            ref += f"@{commit['tag']}"
        elif commit.get("id"):
            ref += f"@{str(commit['id'])[:7]}"
        parts.append(ref)
    for chart in freight.get("charts") or []:
        ref = _text(chart.get("repoURL"))
        if chart.get("name"):
            ref = f"{ref.rstrip('/')}/{chart['name']}" if ref else _text(chart["name"])
        if chart.get("version"):
            ref += f":{chart['version']}"
        parts.append(ref)
    for artifact in freight.get("artifacts") or []:
        parts.append(_text(artifact.get("name") or artifact.get("subscriptionName") or "artifact"))
    return ", ".join(parts)


def _origin(obj: JSON, _now: datetime) -> str:
    origin = obj.get("origin") or {}
    kind, name = _text(origin.get("kind")), _text(origin.get("name"))
    return f"{kind}/{name}" if kind or name else ""


def _sources(stage: JSON, _now: datetime) -> str:
    out: list[str] = []
    for request in _get(stage, "spec", "requestedFreight") or []:
        sources = request.get("sources") or {}
        upstream = sources.get("stages") or []
        where = ["direct"] if sources.get("direct") else []
        where += [f"stage/{s}" for s in upstream]
        name = _text(_get(request, "origin", "name"))
        out.append(f"{name}<-{'+'.join(where) or '?'}")
    return ", ".join(out)


def _last_promotion(stage: JSON, _now: datetime) -> str:
    last = _get(stage, "status", "lastPromotion") or {}
    name, phase = _text(last.get("name")), _text(_get(last, "status", "phase"))
    return f"{name} ({phase})" if name and phase else name


def _window(stage: JSON, now: datetime) -> str:
    """Whether promotion windows let the Stage be promoted, and until when."""
    status = _get(stage, "status", "promotionWindowStatus")
    if not isinstance(status, Mapping):
        return ""
    closed = bool(status.get("closed"))
    edge = parse_time(status.get("nextOpen" if closed else "nextClose"))
    state = "closed" if closed else "open"
    if edge is None:
        return state
    verb = "opens" if closed else "closes"
    return f"{state} ({verb} in {human_duration((edge - now).total_seconds())})"


def _step(promotion: JSON, _now: datetime) -> str:
    steps = _get(promotion, "spec", "steps") or []
    current = _get(promotion, "status", "currentStep")
    if not steps or not isinstance(current, int):
        return ""
    return f"{min(current + 1, len(steps))}/{len(steps)}"


@dataclass(frozen=True)
class Column:
    """One table column: its header and how to compute a cell."""

    header: str
    value: Callable[[JSON, datetime], str]
    wide_only: bool = False


def _name(obj: JSON, _now: datetime) -> str:
    return _text(_get(obj, "metadata", "name"))


def _alias(obj: JSON, _now: datetime) -> str:
    return _text(obj.get("alias") or _get(obj, "metadata", "labels", ALIAS))


def _shard_label(obj: JSON, _now: datetime) -> str:
    return _text(_get(obj, "metadata", "labels", SHARD))


NAME = Column("NAME", _name)
PROJECT = Column("PROJECT", _field("metadata", "namespace"))
AGE = Column("AGE", _age)

#: The columns of each kind, by plural name.
COLUMNS: dict[str, tuple[Column, ...]] = {
    "projects": (
        NAME,
        Column("READY", _ready),
        Column("STATUS", _ready_message),
        AGE,
    ),
    "warehouses": (
        NAME,
        Column("SHARD", _field("spec", "shard"), wide_only=True),
        Column("READY", _ready),
        Column("LAST FREIGHT", _field("status", "lastFreightID")),
        Column("INTERVAL", _field("spec", "interval"), wide_only=True),
        Column("STATUS", _ready_message, wide_only=True),
        AGE,
    ),
    "freights": (
        NAME,
        Column("ALIAS", _alias),
        Column("ORIGIN", _origin),
        Column("ARTIFACTS", lambda o, _n: artifacts_summary(o)),
        Column("IN STAGES", _keys("status", "currentlyIn"), wide_only=True),
        Column("VERIFIED IN", _keys("status", "verifiedIn"), wide_only=True),
        Column("APPROVED FOR", _keys("status", "approvedFor"), wide_only=True),
        AGE,
    ),
    "stages": (
        NAME,
        Column("SHARD", _field("spec", "shard"), wide_only=True),
        Column("CURRENT FREIGHT", _field("status", "freightSummary")),
        Column("HEALTH", _field("status", "health", "status")),
        Column("READY", _ready),
        Column("WINDOW", _window),
        Column("STATUS", _ready_message),
        Column("SOURCES", _sources, wide_only=True),
        Column("LAST PROMOTION", _last_promotion, wide_only=True),
        AGE,
    ),
    "promotions": (
        NAME,
        Column("SHARD", _shard_label, wide_only=True),
        Column("STAGE", _field("spec", "stage")),
        Column("FREIGHT", _field("spec", "freight")),
        Column("PHASE", _field("status", "phase")),
        Column("STEP", _step, wide_only=True),
        Column("MESSAGE", _field("status", "message"), wide_only=True),
        AGE,
    ),
}


def _columns(plural: str, wide: bool) -> list[Column]:
    return [c for c in COLUMNS[plural] if wide or not c.wide_only]


def table_rows(
    plural: str,
    objects: Iterable[JSON],
    *,
    wide: bool = False,
    now: datetime | None = None,
    with_project: bool = False,
) -> tuple[list[str], list[list[str]]]:
    """Headers and cells of a table of ``objects`` of one kind (``plural``: ``stages``...).

    ``with_project`` adds a first PROJECT column (objects of several projects, ``-A``).
    """
    now = now or datetime.now(UTC)
    columns = _columns(plural, wide)
    if with_project:
        columns.insert(0, PROJECT)
    rows = [[_one_line(c.value(obj, now)) for c in columns] for obj in objects]
    return [c.header for c in columns], rows


def _one_line(text: str) -> str:
    return " ".join(text.split()) if ("\n" in text or "\t" in text) else text


def render_table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], *, no_headers: bool = False
) -> str:
    """Left-aligned columns three spaces apart, like kubectl; one line per row."""
    return TablePrinter(headers, rows, no_headers=no_headers).render(rows)


class TablePrinter:
    """Renders rows with column widths fixed by a first batch (so ``--watch`` rows line up)."""

    def __init__(
        self,
        headers: Sequence[str],
        first_rows: Sequence[Sequence[str]],
        *,
        no_headers: bool = False,
    ) -> None:
        self._headers = list(headers)
        self._no_headers = no_headers
        self._widths = [len(h) for h in headers] if not no_headers else [0] * len(headers)
        for row in first_rows:
            self._widths = [max(w, len(cell)) for w, cell in zip(self._widths, row, strict=True)]

    def line(self, cells: Sequence[str]) -> str:
        """One row, padded to the widths."""
        padded = [cell.ljust(width) for cell, width in zip(cells, self._widths, strict=True)]
        return _GAP.join(padded).rstrip()

    def render(self, rows: Sequence[Sequence[str]]) -> str:
        """The header line (unless ``no_headers``) and ``rows``, each newline-ended."""
        lines = [] if self._no_headers else [self.line(self._headers)]
        lines += [self.line(row) for row in rows]
        return "".join(f"{line}\n" for line in lines)
