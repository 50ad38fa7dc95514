"""What each page shows, computed from the objects as the API server sent them.

Pure functions from JSON dicts to small dataclasses the templates render: Stage and Warehouse
cards and the graph's edges, Freight timeline rows, a Stage's Freight history and Promotions
with their steps, and the Projects list's health counts. Nothing here talks to the API server
or produces HTML; escaping is the templates' job (autoescape is on).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from shunter.api.v1alpha1.annotations import COLOR, CREATE_ACTOR, DESCRIPTION, ROLLBACK

__all__ = [
    "Artifact",
    "FreightBadge",
    "FreightRow",
    "HistoryEntry",
    "Marker",
    "ProjectSummary",
    "PromotionRow",
    "StageCard",
    "StepRow",
    "WarehouseCard",
    "app_statuses",
    "artifacts_of",
    "as_dict",
    "as_list",
    "as_str",
    "current_collection",
    "freight_alias",
    "freight_row",
    "freight_sort_key",
    "graph_edges",
    "history_of",
    "name_of",
    "origin_key",
    "parse_time",
    "project_summary",
    "promotion_row",
    "promotion_sort_key",
    "safe_color",
    "stage_card",
    "warehouse_card",
]

JSON = dict[str, Any]
_HEX_COLOR = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$")
_NAMED_COLOR = re.compile(r"^[a-zA-Z]{3,20}$")
TERMINAL_PHASES = frozenset({"Succeeded", "Failed", "Errored", "Aborted"})
FAILED_PHASES = frozenset({"Failed", "Errored"})


def as_dict(value: Any) -> JSON:
    """``value`` if it is a JSON object, else {}."""
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    """``value`` if it is a JSON array, else []."""
    return value if isinstance(value, list) else []


def as_str(value: Any) -> str:
    """``value`` if it is a string, else ''."""
    return value if isinstance(value, str) else ""


def _meta(obj: Mapping[str, Any]) -> JSON:
    return as_dict(obj.get("metadata"))


def name_of(obj: Mapping[str, Any]) -> str:
    """``metadata.name``."""
    return as_str(_meta(obj).get("name"))


def annotations_of(obj: Mapping[str, Any]) -> dict[str, str]:
    """``metadata.annotations``."""
    return {k: v for k, v in as_dict(_meta(obj).get("annotations")).items() if isinstance(v, str)}


def parse_time(value: Any) -> datetime | None:
    """An RFC 3339 time from the API, or None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def safe_color(value: Any) -> str | None:
    """A ``kargo.akuity.io/color`` value usable in CSS (``#hex`` or a color name), else None."""
    if not isinstance(value, str):
        return None
    text: str = value.strip()
    if _HEX_COLOR.match(text) or _NAMED_COLOR.match(text):
        return text
    return None


def _condition(obj: Mapping[str, Any], kind: str) -> JSON | None:
    for cond in as_list(as_dict(obj.get("status")).get("conditions")):
        if isinstance(cond, dict) and cond.get("type") == kind:
            return cond
    return None


# -- artifacts -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Artifact:
    """One artifact of a piece of Freight: ``kind`` is image, commit, chart or artifact."""

    kind: str
    label: str
    detail: str = ""
    source: str = ""
    short: str = ""


def _short_repo(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[-1] if url else ""


def artifacts_of(ref: Mapping[str, Any]) -> list[Artifact]:
    """The artifacts of a Freight (or a FreightReference), images first."""
    out: list[Artifact] = []
    for raw_image in as_list(ref.get("images")):
        image = as_dict(raw_image)
        repo = as_str(image.get("repoURL"))
        tag = as_str(image.get("tag"))
        digest = as_str(image.get("digest"))
        short = tag or digest[:19]
        label = f"{_short_repo(repo)}:{tag}" if tag else f"{_short_repo(repo)}@{short}"
        out.append(Artifact("image", label, digest, repo, short))
    for raw_commit in as_list(ref.get("commits")):
        commit = as_dict(raw_commit)
        repo = as_str(commit.get("repoURL"))
        ident = as_str(commit.get("tag")) or as_str(commit.get("id"))[:7]
        detail = as_str(commit.get("message")).splitlines()[0] if commit.get("message") else ""
        branch = as_str(commit.get("branch"))
        label = f"{_short_repo(repo)}@{ident}" + (f" ({branch})" if branch else "")
        out.append(Artifact("commit", label, detail, repo, ident))
    for raw_chart in as_list(ref.get("charts")):
        chart = as_dict(raw_chart)
        repo = as_str(chart.get("repoURL"))
        name = as_str(chart.get("name")) or _short_repo(repo)
        version = as_str(chart.get("version"))
        out.append(Artifact("chart", f"{name}:{version}", "", repo, version))
    for raw_artifact in as_list(ref.get("artifacts")):
        artifact = as_dict(raw_artifact)
        version = as_str(artifact.get("version"))
        label = f"{as_str(artifact.get('subscriptionName'))}:{version}"
        out.append(Artifact("artifact", label, short=version))
    return out


def freight_alias(freight: Mapping[str, Any] | None) -> str:
    """A Freight's alias (field, else label), or ''."""
    if not freight:
        return ""
    alias = as_str(freight.get("alias"))
    if alias:
        return alias
    return as_str(as_dict(_meta(freight).get("labels")).get("kargo.akuity.io/alias"))


def freight_sort_key(freight: Mapping[str, Any]) -> tuple[str, str]:
    """Sort key, newest last: discoveredAt (else creation time), then name."""
    when = parse_time(freight.get("discoveredAt")) or parse_time(
        _meta(freight).get("creationTimestamp")
    )
    stamp = when.astimezone(UTC).isoformat() if when else ""
    return (stamp, name_of(freight))


# -- Stage and Warehouse cards ---------------------------------------------------------------


@dataclass(frozen=True)
class FreightBadge:
    """A piece of Freight as a card shows it."""

    name: str
    alias: str
    origin: str
    artifacts: list[Artifact]

    @property
    def main(self) -> str:
        """The artifact a person recognises first (the image tag, else the commit, ...)."""
        return self.artifacts[0].short if self.artifacts else ""


@dataclass(frozen=True)
class Verification:
    """The latest verification of a Stage's current Freight."""

    id: str
    phase: str
    message: str
    analysis_run: str
    finished: str


@dataclass(frozen=True)
class WindowNote:
    """What promotion windows say about a Stage (``status.promotionWindowStatus``)."""

    closed: bool
    reason: str
    next_open: str
    next_close: str
    next_close_reason: str


def window_note(stage: Mapping[str, Any]) -> WindowNote | None:
    """The Stage's promotion window status, or None when no window gates it."""
    status = as_dict(stage.get("status")).get("promotionWindowStatus")
    if not isinstance(status, Mapping):
        return None
    return WindowNote(
        closed=bool(status.get("closed")),
        reason=as_str(status.get("reason")),
        next_open=as_str(status.get("nextOpen")),
        next_close=as_str(status.get("nextClose")),
        next_close_reason=as_str(status.get("nextCloseReason")),
    )


@dataclass
class StageCard:
    """What the pipeline graph shows of a Stage."""

    name: str
    color: str | None
    description: str
    freight: list[FreightBadge]
    summary: str
    health: str
    health_issues: list[str]
    verification: Verification | None
    promotion_name: str
    promotion_phase: str
    promotion_running: bool
    auto_promotion: bool
    problem: str
    requested: list[str]
    upstream_stages: list[str] = field(default_factory=list)
    warehouses: list[str] = field(default_factory=list)
    window: WindowNote | None = None

    @property
    def node_id(self) -> str:
        """The DOM id of the card."""
        return f"stage-{self.name}"


def _badge(ref: Mapping[str, Any], freights: Mapping[str, JSON]) -> FreightBadge:
    name = as_str(ref.get("name"))
    origin = as_dict(ref.get("origin"))
    full = freights.get(name)
    return FreightBadge(
        name=name,
        alias=freight_alias(full),
        origin=f"{as_str(origin.get('kind')) or 'Warehouse'}/{as_str(origin.get('name'))}",
        artifacts=artifacts_of(full or ref),
    )


def _badges(collection: Mapping[str, Any], freights: Mapping[str, JSON]) -> list[FreightBadge]:
    items = as_dict(collection.get("items"))
    return [_badge(as_dict(items[key]), freights) for key in sorted(items)]


def current_collection(stage: Mapping[str, Any]) -> JSON:
    """``status.freightHistory[0]`` (the Freight the Stage runs), or {}."""
    history = as_list(as_dict(stage.get("status")).get("freightHistory"))
    return as_dict(history[0]) if history else {}


def _latest_verification(collection: Mapping[str, Any]) -> Verification | None:
    history = as_list(collection.get("verificationHistory"))
    if not history:
        return None
    latest = as_dict(history[0])
    run = as_dict(latest.get("analysisRun"))
    return Verification(
        id=as_str(latest.get("id")),
        phase=as_str(latest.get("phase")) or "Pending",
        message=as_str(latest.get("message")),
        analysis_run=as_str(run.get("name")),
        finished=as_str(latest.get("finishTime")),
    )


def _requests(stage: Mapping[str, Any]) -> list[JSON]:
    return [as_dict(r) for r in as_list(as_dict(stage.get("spec")).get("requestedFreight"))]


def origin_key(origin: Mapping[str, Any]) -> str:
    """Kargo's origin key, ``Warehouse/<name>``."""
    return f"{as_str(origin.get('kind')) or 'Warehouse'}/{as_str(origin.get('name'))}"


def stage_card(stage: Mapping[str, Any], freights: Mapping[str, JSON]) -> StageCard:
    """The card of a Stage; ``freights`` (by name) supplies aliases."""
    status = as_dict(stage.get("status"))
    annotations = annotations_of(stage)
    collection = current_collection(stage)
    badges = [
        _badge(as_dict(ref), freights)
        for _, ref in sorted(as_dict(collection.get("items")).items())
    ]
    health = as_dict(status.get("health"))
    current = as_dict(status.get("currentPromotion"))
    last = as_dict(status.get("lastPromotion"))
    if current:
        promo_name, promo_phase, running = as_str(current.get("name")), "Running", True
    elif last:
        promo_name = as_str(last.get("name"))
        promo_phase = as_str(as_dict(last.get("status")).get("phase")) or "Unknown"
        running = False
    else:
        promo_name, promo_phase, running = "", "", False
    ready = _condition(stage, "Ready")
    problem = ""
    if ready is not None and ready.get("status") == "False" and ready.get("reason") != "NoFreight":
        problem = as_str(ready.get("message")) or as_str(ready.get("reason"))
    upstream: list[str] = []
    warehouses: list[str] = []
    for request in _requests(stage):
        sources = as_dict(request.get("sources"))
        if sources.get("direct"):
            warehouses.append(as_str(as_dict(request.get("origin")).get("name")))
        upstream.extend(s for s in as_list(sources.get("stages")) if isinstance(s, str))
    return StageCard(
        name=name_of(stage),
        color=safe_color(annotations.get(COLOR)),
        description=annotations.get(DESCRIPTION, ""),
        freight=badges,
        summary=as_str(status.get("freightSummary")),
        health=as_str(health.get("status")),
        health_issues=[i for i in as_list(health.get("issues")) if isinstance(i, str)],
        verification=_latest_verification(collection),
        promotion_name=promo_name,
        promotion_phase=promo_phase,
        promotion_running=running,
        auto_promotion=bool(status.get("autoPromotionEnabled")),
        problem=problem,
        requested=[origin_key(as_dict(r.get("origin"))) for r in _requests(stage)],
        upstream_stages=upstream,
        warehouses=warehouses,
        window=window_note(stage),
    )


@dataclass(frozen=True)
class WarehouseCard:
    """What the pipeline graph shows of a Warehouse."""

    name: str
    subscriptions: list[Artifact]
    discovered_at: str
    error: str
    freight_count: int | None

    @property
    def node_id(self) -> str:
        """The DOM id of the card."""
        return f"warehouse-{self.name}"


def _subscription(sub: Mapping[str, Any]) -> Artifact | None:
    for kind, key in (("image", "image"), ("commit", "git"), ("chart", "chart")):
        spec = as_dict(sub.get(key))
        if spec:
            repo = as_str(spec.get("repoURL"))
            label = repo if kind != "chart" or not spec.get("name") else f"{repo} {spec['name']}"
            detail = (
                as_str(spec.get("imageSelectionStrategy"))
                or as_str(spec.get("commitSelectionStrategy"))
                or as_str(spec.get("semverConstraint"))
            )
            return Artifact(kind, label, detail, repo)
    for key, spec in sub.items():
        if isinstance(spec, dict):
            return Artifact("artifact", f"{key}: {as_str(spec.get('name'))}")
    return None


def warehouse_card(warehouse: Mapping[str, Any], freight_count: int | None = 0) -> WarehouseCard:
    """The card of a Warehouse (``freight_count`` None: not known yet)."""
    spec = as_dict(warehouse.get("spec"))
    status = as_dict(warehouse.get("status"))
    subs = [_subscription(as_dict(s)) for s in as_list(spec.get("subscriptions"))]
    error = ""
    for kind in ("Ready", "Healthy"):
        cond = _condition(warehouse, kind)
        if cond is not None and cond.get("status") == "False":
            error = as_str(cond.get("message")) or as_str(cond.get("reason"))
            break
    return WarehouseCard(
        name=name_of(warehouse),
        subscriptions=[s for s in subs if s is not None],
        discovered_at=as_str(as_dict(status.get("discoveredArtifacts")).get("discoveredAt")),
        error=error,
        freight_count=freight_count,
    )


def graph_edges(cards: Iterable[StageCard], warehouses: Iterable[str]) -> list[tuple[str, str]]:
    """Edges of the pipeline: Warehouse -> Stage (direct requests), upstream Stage -> Stage."""
    stage_names = set()
    card_list = list(cards)
    for card in card_list:
        stage_names.add(card.name)
    known_warehouses = set(warehouses)
    edges: list[tuple[str, str]] = []
    for card in card_list:
        for name in dict.fromkeys(card.warehouses):
            if name in known_warehouses:
                edges.append((f"warehouse-{name}", card.node_id))
        for name in dict.fromkeys(card.upstream_stages):
            if name in stage_names:
                edges.append((f"stage-{name}", card.node_id))
    return edges


# -- Freight timeline ------------------------------------------------------------------------


@dataclass(frozen=True)
class Marker:
    """A Stage marker on a timeline row: ``kind`` is current, verified or approved."""

    stage: str
    kind: str
    color: str | None


@dataclass(frozen=True)
class FreightRow:
    """One piece of Freight on the timeline."""

    name: str
    alias: str
    origin: str
    artifacts: list[Artifact]
    discovered_at: str
    markers: list[Marker]

    @property
    def row_id(self) -> str:
        """The DOM id of the row."""
        return f"freight-{self.name}"


def freight_row(freight: Mapping[str, Any], colors: Mapping[str, str | None]) -> FreightRow:
    """A timeline row; ``colors`` maps Stage names to their colors."""
    status = as_dict(freight.get("status"))
    markers: list[Marker] = []
    current = as_dict(status.get("currentlyIn"))
    for stage in sorted(current):
        markers.append(Marker(stage, "current", colors.get(stage)))
    for stage in sorted(as_dict(status.get("verifiedIn"))):
        if stage not in current:
            markers.append(Marker(stage, "verified", colors.get(stage)))
    for stage in sorted(as_dict(status.get("approvedFor"))):
        markers.append(Marker(stage, "approved", colors.get(stage)))
    origin = as_dict(freight.get("origin"))
    when = as_str(freight.get("discoveredAt")) or as_str(_meta(freight).get("creationTimestamp"))
    return FreightRow(
        name=name_of(freight),
        alias=freight_alias(freight),
        origin=as_str(origin.get("name")),
        artifacts=artifacts_of(freight),
        discovered_at=when,
        markers=markers,
    )


# -- Stage page ------------------------------------------------------------------------------


@dataclass(frozen=True)
class HistoryEntry:
    """One entry of a Stage's Freight history (newest first)."""

    id: str
    freight: list[FreightBadge]
    verification: Verification | None


def history_of(stage: Mapping[str, Any], freights: Mapping[str, JSON]) -> list[HistoryEntry]:
    """``status.freightHistory`` as the Stage page lists it."""
    out: list[HistoryEntry] = []
    for raw in as_list(as_dict(stage.get("status")).get("freightHistory")):
        collection = as_dict(raw)
        out.append(
            HistoryEntry(
                as_str(collection.get("id")),
                _badges(collection, freights),
                _latest_verification(collection),
            )
        )
    return out


@dataclass(frozen=True)
class StepRow:
    """One step of a Promotion."""

    index: int
    alias: str
    uses: str
    status: str
    started_at: str
    finished_at: str
    message: str
    outputs: str


@dataclass(frozen=True)
class PromotionRow:
    """A Promotion on the Stage page."""

    name: str
    phase: str
    freight: FreightBadge
    actor: str
    created_at: str
    started_at: str
    finished_at: str
    message: str
    steps: list[StepRow]
    current_step: int | None
    #: Created as a rollback (``kargo.akuity.io/rollback``).
    rollback: bool = False

    @property
    def row_id(self) -> str:
        """The DOM id of the row."""
        return f"promotion-{self.name}"

    @property
    def terminal(self) -> bool:
        """Whether it has finished."""
        return self.phase in TERMINAL_PHASES


def _outputs(value: Any) -> str:
    if value in (None, {}, []):
        return ""
    return json.dumps(value, indent=2, sort_keys=True, default=str)


def promotion_row(promotion: Mapping[str, Any], freights: Mapping[str, JSON]) -> PromotionRow:
    """A Promotion with its steps, their status and outputs."""
    spec = as_dict(promotion.get("spec"))
    status = as_dict(promotion.get("status"))
    state = as_dict(status.get("state"))
    metadata = [as_dict(m) for m in as_list(status.get("stepExecutionMetadata"))]
    steps: list[StepRow] = []
    for index, raw in enumerate(as_list(spec.get("steps"))):
        step = as_dict(raw)
        meta = metadata[index] if index < len(metadata) else {}
        alias = as_str(meta.get("alias")) or as_str(step.get("as")) or f"step-{index + 1}"
        steps.append(
            StepRow(
                index=index + 1,
                alias=alias,
                uses=as_str(step.get("uses")),
                status=as_str(meta.get("status")) or "Pending",
                started_at=as_str(meta.get("startedAt")),
                finished_at=as_str(meta.get("finishedAt")),
                message=as_str(meta.get("message")),
                outputs=_outputs(state.get(alias)),
            )
        )
    freight_name = as_str(spec.get("freight"))
    ref = as_dict(status.get("freight")) or {"name": freight_name}
    ref.setdefault("name", freight_name)
    current = status.get("currentStep")
    return PromotionRow(
        name=name_of(promotion),
        phase=as_str(status.get("phase")) or "Pending",
        freight=_badge(ref, freights),
        actor=annotations_of(promotion).get(CREATE_ACTOR, ""),
        created_at=as_str(_meta(promotion).get("creationTimestamp")),
        started_at=as_str(status.get("startedAt")),
        finished_at=as_str(status.get("finishedAt")),
        message=as_str(status.get("message")),
        steps=steps,
        current_step=current if isinstance(current, int) else None,
        rollback=annotations_of(promotion).get(ROLLBACK) == "true",
    )


def promotion_sort_key(promotion: Mapping[str, Any]) -> tuple[str, str]:
    """Sort key, newest last: creation time, then name (ULIDs sort in creation order)."""
    return (as_str(_meta(promotion).get("creationTimestamp")), name_of(promotion))


@dataclass(frozen=True)
class AppStatus:
    """An Argo CD Application behind a Stage's health."""

    namespace: str
    name: str
    health: str
    sync: str


def app_statuses(stage: Mapping[str, Any]) -> list[AppStatus]:
    """The Argo CD Applications recorded in the Stage's health output."""
    output = as_dict(as_dict(as_dict(stage.get("status")).get("health")).get("output"))
    out: list[AppStatus] = []
    for raw_entry in as_list(output.get("applicationStatuses")):
        entry = as_dict(raw_entry)
        out.append(
            AppStatus(
                namespace=as_str(entry.get("Namespace")),
                name=as_str(entry.get("Name")),
                health=as_str(as_dict(entry.get("health")).get("status")),
                sync=as_str(as_dict(entry.get("sync")).get("status")),
            )
        )
    return out


# -- Projects list ---------------------------------------------------------------------------


@dataclass
class ProjectSummary:
    """A Project on the Projects list."""

    name: str
    stages: int = 0
    healthy: int = 0
    unhealthy: int = 0
    promoting: int = 0
    failed: int = 0
    last_activity: str = ""
    error: str = ""


def project_summary(name: str, stages: Iterable[Mapping[str, Any]]) -> ProjectSummary:
    """Health counts and the newest activity of a Project's Stages."""
    summary = ProjectSummary(name)
    latest: datetime | None = None
    for stage in stages:
        summary.stages += 1
        status = as_dict(stage.get("status"))
        health = as_str(as_dict(status.get("health")).get("status"))
        if health == "Healthy":
            summary.healthy += 1
        elif health == "Unhealthy":
            summary.unhealthy += 1
        if status.get("currentPromotion"):
            summary.promoting += 1
        last = as_dict(status.get("lastPromotion"))
        if as_str(as_dict(last.get("status")).get("phase")) in FAILED_PHASES:
            summary.failed += 1
        for when in (
            parse_time(last.get("finishedAt")),
            parse_time(
                as_dict(as_dict(status.get("currentPromotion")).get("status")).get("startedAt")
            ),
            parse_time(_meta(stage).get("creationTimestamp")),
        ):
            if when is not None and (latest is None or when > latest):
                latest = when
    summary.last_activity = latest.isoformat().replace("+00:00", "Z") if latest else ""
    return summary
