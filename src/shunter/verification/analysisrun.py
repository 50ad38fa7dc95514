"""The AnalysisRun object Kargo creates to verify a Stage's FreightCollection.

Owns :func:`build_analysis_run` and the names and labels Kargo derives:

* name ``<stage>.<ULID>.<freightCollectionID>``, lower-cased (:func:`analysis_run_name`);
* labels: the Stage's ``analysisRunMetadata.labels``, then ``kargo.akuity.io/stage`` (the
  Stage name, hash-shortened to 63 characters like Kargo's ``ShortenLabelValue``) and
  ``kargo.akuity.io/freight-collection``, and ``argo-rollouts.argoproj.io/controller-instance-id``
  when an instance ID is configured;
* annotations: the Stage's ``analysisRunMetadata.annotations``, ``kargo.akuity.io/stage`` with
  the full name when the label had to be shortened, and ``kargo.akuity.io/promotion`` when the
  verification was triggered by a Promotion;
* spec: the merged templates' metrics, ``dryRun`` and ``measurementRetention``, and their
  arguments with the Stage's (already evaluated) argument values over them.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Mapping, Sequence
from typing import Any

from shunter.api.v1alpha1 import annotations as kargo_annotations
from shunter.api.v1alpha1 import labels as kargo_labels
from shunter.api.v1alpha1.stage import Verification
from shunter.verification.crds import ROLLOUTS_GROUP, ROLLOUTS_VERSION
from shunter.verification.templates import merge_args, merge_template_specs

__all__ = [
    "CONTROLLER_INSTANCE_ID_LABEL",
    "analysis_run_name",
    "build_analysis_run",
    "new_ulid",
    "shorten_label_value",
]

CONTROLLER_INSTANCE_ID_LABEL = "argo-rollouts.argoproj.io/controller-instance-id"
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_LABEL_MAX = 63
_SHORT_HASH = 8


def new_ulid() -> str:
    """A ULID: 48-bit millisecond time and 80 random bits, 26 Crockford base32 characters."""
    value = (int(time.time() * 1000) << 80) | int.from_bytes(os.urandom(10), "big")
    return "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


def analysis_run_name(stage: str, collection_id: str, ulid: str | None = None) -> str:
    """Kargo's AnalysisRun name: ``lower("<stage>.<ulid>.<collection id>")``."""
    return f"{stage}.{ulid or new_ulid()}.{collection_id}".lower()


def shorten_label_value(value: str) -> str:
    """``value`` if it fits a label (63 characters), else its head, ``-`` and the first 8 hex
    digits of its SHA-256 (trailing dashes of the head dropped), as Kargo shortens."""
    if len(value) <= _LABEL_MAX:
        return value
    digest = hashlib.sha256(value.encode()).hexdigest()[:_SHORT_HASH]
    head = value[: _LABEL_MAX - _SHORT_HASH - 1].rstrip("-")
    return f"{head}-{digest}"


def build_analysis_run(
    *,
    namespace: str,
    stage: str,
    collection_id: str,
    verification: Verification,
    template_specs: Sequence[Mapping[str, Any]],
    args: Mapping[str, str],
    promotion: str | None = None,
    owners: Sequence[Mapping[str, Any]] = (),
    name: str | None = None,
    controller_instance_id: str | None = None,
) -> dict[str, Any]:
    """The AnalysisRun to create (raises :class:`TemplateError` when the templates do not
    merge or an argument stays unresolved).

    ``template_specs`` are the referenced templates' ``spec`` objects in the Stage's order;
    ``args`` the Stage's evaluated ``verification.args`` (leave out arguments whose value is
    empty: Kargo ignores them); ``owners`` ready-made ownerReferences.
    """
    merged = merge_template_specs(template_specs)
    run_args = merge_args(args, merged.get("args") or [])
    metadata = verification.analysis_run_metadata
    labels: dict[str, str] = dict(metadata.labels or {}) if metadata else {}
    annotations: dict[str, str] = dict(metadata.annotations or {}) if metadata else {}
    short_stage = shorten_label_value(stage)
    labels[kargo_labels.STAGE] = short_stage
    labels[kargo_labels.FREIGHT_COLLECTION] = collection_id
    if controller_instance_id:
        labels[CONTROLLER_INSTANCE_ID_LABEL] = controller_instance_id
    if short_stage != stage:
        annotations[kargo_annotations.STAGE] = stage
    if promotion:
        annotations[kargo_annotations.PROMOTION] = promotion
    meta: dict[str, Any] = {
        "name": name or analysis_run_name(stage, collection_id),
        "namespace": namespace,
        "labels": labels,
    }
    if annotations:
        meta["annotations"] = annotations
    if owners:
        meta["ownerReferences"] = [dict(owner) for owner in owners]
    spec: dict[str, Any] = {"metrics": merged["metrics"]}
    if run_args:
        spec["args"] = run_args
    for key in ("dryRun", "measurementRetention"):
        if merged.get(key):
            spec[key] = merged[key]
    return {
        "apiVersion": f"{ROLLOUTS_GROUP}/{ROLLOUTS_VERSION}",
        "kind": "AnalysisRun",
        "metadata": meta,
        "spec": spec,
    }
