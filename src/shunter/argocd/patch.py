"""The minimal JSON merge patch that points an Application at new revisions and starts a sync.

What it writes (and nothing else, so fields shunter does not model survive):

* ``metadata.annotations["argocd.argoproj.io/refresh"] = "hard"``;
* the changed parts of the source(s): ``targetRevision`` when a source update has
  ``updateTargetRevision`` and a ``desiredRevision``, ``kustomize.images`` (replaced as a whole),
  ``helm.parameters`` (updated by name, new ones appended). A single ``spec.source`` gets only the
  changed keys; ``spec.sources`` is a list, which a merge patch replaces, so it gets every source
  in full (built from the live JSON);
* ``operation``: ``initiatedBy {username, automated}`` (the Promotion's actor, or
  ``kargo-controller`` and ``automated: true``), ``info`` (``Reason`` and the Promotion under
  ``kargo.akuity.io/promotion``), ``sync {revisions: []}`` plus ``syncOptions`` and ``retry``
  from ``spec.syncPolicy``;
* ``status.operationState: null`` (when the Application has a status), so a finished earlier
  operation is not mistaken for the new one;
* ``metadata.resourceVersion``: the patch applies only to the version that was read.

A source update matches a source by ``repoURL`` and ``chart`` when either names a chart (exact
comparison), otherwise by normalised git URL. Each update applies to the first source it
matches; an update matching no source is an error.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from shunter.argocd.errors import SourceUpdateError
from shunter.argocd.models import Application, ApplicationSource
from shunter.freight.urls import normalize_git_url

__all__ = [
    "OPERATION_INITIATOR",
    "PROMOTION_INFO_KEY",
    "REFRESH_ANNOTATION",
    "SYNC_REASON",
    "HelmParameterUpdate",
    "KustomizeImageUpdate",
    "SourceUpdate",
    "build_operation",
    "build_sync_patch",
    "desired_revisions",
    "desired_sources",
    "source_matches",
]

#: Annotation asking Argo CD to refresh an Application (value ``normal`` or ``hard``).
REFRESH_ANNOTATION = "argocd.argoproj.io/refresh"
#: ``operation.info`` name carrying the Promotion that started the operation.
PROMOTION_INFO_KEY = "kargo.akuity.io/promotion"
#: ``operation.initiatedBy.username`` when the Promotion has no human actor.
OPERATION_INITIATOR = "kargo-controller"
#: ``operation.info`` ``Reason`` value.
SYNC_REASON = "A Kargo Promotion requested a sync of this Application."


@dataclass(frozen=True)
class KustomizeImageUpdate:
    """An entry of ``kustomize.images`` (``repoURL[=newName][:tag|@digest]``)."""

    repo_url: str
    tag: str | None = None
    digest: str | None = None
    new_name: str | None = None

    def render(self) -> str:
        """The Argo CD kustomize image string."""
        image = self.repo_url
        if self.new_name:
            image = f"{image}={self.new_name}"
        if self.digest:
            return f"{image}@{self.digest}"
        return f"{image}:{self.tag or ''}"


@dataclass(frozen=True)
class HelmParameterUpdate:
    """A Helm parameter to set (``helm.images[] {key, value}``)."""

    key: str
    value: str


@dataclass(frozen=True)
class SourceUpdate:
    """What to change in the source matching ``repo_url`` (and ``chart``)."""

    repo_url: str
    chart: str = ""
    desired_revision: str = ""
    update_target_revision: bool = False
    kustomize_images: Sequence[KustomizeImageUpdate] = ()
    helm_parameters: Sequence[HelmParameterUpdate] = ()


def source_matches(update: SourceUpdate, source: ApplicationSource) -> bool:
    """Whether ``update`` targets ``source``."""
    chart = source.chart or ""
    if chart or update.chart:
        return source.repo_url == update.repo_url and chart == update.chart
    return normalize_git_url(source.repo_url) == normalize_git_url(update.repo_url)


def desired_revisions(app: Application, updates: Sequence[SourceUpdate]) -> list[str]:
    """One desired revision per source of ``app`` ("" where no update names one)."""
    result: list[str] = []
    for source in app.sources():
        match = next((u for u in updates if source_matches(u, source)), None)
        result.append(match.desired_revision if match is not None else "")
    return result


def _apply(update: SourceUpdate, revision: str, source: dict[str, Any]) -> dict[str, Any]:
    if update.update_target_revision and revision:
        source["targetRevision"] = revision
    if update.kustomize_images:
        kustomize = source.get("kustomize") or {}
        kustomize["images"] = [image.render() for image in update.kustomize_images]
        source["kustomize"] = kustomize
    if update.helm_parameters:
        helm = source.get("helm") or {}
        params: list[dict[str, Any]] = [dict(p) for p in helm.get("parameters") or []]
        for change in update.helm_parameters:
            for param in params:
                if param.get("name") == change.key:
                    param["value"] = change.value
                    break
            else:
                params.append({"name": change.key, "value": change.value})
        helm["parameters"] = params
        source["helm"] = helm
    return source


def desired_sources(
    app: Application, updates: Sequence[SourceUpdate], revisions: Sequence[str] | None = None
) -> list[dict[str, Any]]:
    """The live sources' JSON with ``updates`` applied.

    Raises:
        SourceUpdateError: an update matches no source, or the revision count is wrong.
    """
    sources = app.sources()
    raw = app.raw_sources()
    if len(raw) != len(sources):  # built by hand, without JSON
        raw = [s.model_dump(mode="json", by_alias=True, exclude_none=True) for s in sources]
    wanted = list(revisions) if revisions is not None else desired_revisions(app, updates)
    if len(wanted) != len(sources):
        raise SourceUpdateError(
            f"Argo CD Application {app.name!r} in namespace {app.namespace!r} has "
            f"{len(sources)} source(s) but {len(wanted)} desired revision(s)"
        )
    for update in updates:
        for index, source in enumerate(sources):
            if source_matches(update, source):
                raw[index] = _apply(update, wanted[index], raw[index])
                break
        else:
            chart = f" and chart {update.chart!r}" if update.chart else ""
            raise SourceUpdateError(
                f"no source of Argo CD Application {app.name!r} in namespace "
                f"{app.namespace!r} matched the update for repoURL {update.repo_url!r}{chart}"
            )
    return raw


def build_operation(app: Application, *, promotion: str, actor: str | None) -> dict[str, Any]:
    """The ``operation`` a Promotion starts on ``app``."""
    sync: dict[str, Any] = {"revisions": []}
    operation: dict[str, Any] = {
        "initiatedBy": {"username": actor or OPERATION_INITIATOR, "automated": not actor},
        "info": [
            {"name": "Reason", "value": SYNC_REASON},
            {"name": PROMOTION_INFO_KEY, "value": promotion},
        ],
        "sync": sync,
    }
    policy = app.spec.sync_policy or {}
    if policy.get("syncOptions"):
        sync["syncOptions"] = copy.deepcopy(policy["syncOptions"])
    if policy.get("retry"):
        operation["retry"] = copy.deepcopy(policy["retry"])
    return operation


def _diff(live: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """The merge patch turning ``live`` into ``new`` (``new`` only adds or changes keys)."""
    out: dict[str, Any] = {}
    for key, value in new.items():
        old = live.get(key)
        if isinstance(value, dict) and isinstance(old, dict):
            nested = _diff(old, value)
            if nested:
                out[key] = nested
        elif value != old:
            out[key] = copy.deepcopy(value)
    return out


def build_sync_patch(
    app: Application,
    updates: Sequence[SourceUpdate],
    *,
    promotion: str,
    actor: str | None = None,
) -> dict[str, Any]:
    """The merge patch that updates ``app``'s sources and starts a sync (see the module doc).

    Raises:
        SourceUpdateError: an update matches no source of ``app``.
    """
    metadata: dict[str, Any] = {"annotations": {REFRESH_ANNOTATION: "hard"}}
    if app.metadata.resource_version:
        metadata["resourceVersion"] = app.metadata.resource_version
    patch: dict[str, Any] = {"metadata": metadata}
    if updates:
        live = app.raw_sources()
        new = desired_sources(app, updates)
        if app.multi_source:
            if new != live:
                patch["spec"] = {"sources": new}
        elif new and live:
            changed = _diff(live[0], new[0])
            if changed:
                patch["spec"] = {"source": changed}
        elif new:
            patch["spec"] = {"source": new[0]}
    patch["operation"] = build_operation(app, promotion=promotion, actor=actor)
    if app.has_raw("status"):
        patch["status"] = {"operationState": None}
    return patch
