"""shunter's own minimal CRDs for Argo Rollouts' analysis kinds, and installing them if absent.

Owns the definitions of ``AnalysisTemplate``, ``ClusterAnalysisTemplate`` and ``AnalysisRun``
(group ``argoproj.io``, version ``v1alpha1``) with Argo Rollouts' names, plurals, short names,
scopes and printer columns. Their schemas only type the top level; ``spec`` and ``status`` keep
every field (``x-kubernetes-preserve-unknown-fields``), so manifests written for Argo Rollouts
apply unchanged. Like Rollouts' own CRDs they have no status subresource: the status is written
with the object.

:func:`ensure_rollouts_crds` creates the CRDs only when the API server lacks them: a cluster
where Argo Rollouts is installed keeps Rollouts' CRDs (and Rollouts' controller evaluates the
AnalysisRuns). Its result says whether the ``AnalysisRun`` CRD in use is shunter's, which is
the flag :class:`shunter.verification.controller.AnalysisRunReconciler` needs.

``python -m shunter.codegen.rollouts_crds`` writes the same definitions to ``crds/rollouts/``.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from shunter.kube import ConflictError, KubeClient, NotFoundError

__all__ = [
    "ANALYSIS_RUNS",
    "ANALYSIS_TEMPLATES",
    "CLUSTER_ANALYSIS_TEMPLATES",
    "MANAGED_BY_LABEL",
    "ROLLOUTS_GROUP",
    "ROLLOUTS_VERSION",
    "RolloutsCRDs",
    "crd_name",
    "ensure_rollouts_crds",
    "is_shunter_crd",
    "rollouts_crds",
]

ROLLOUTS_GROUP = "argoproj.io"
ROLLOUTS_VERSION = "v1alpha1"
ANALYSIS_TEMPLATES = "analysistemplates"
CLUSTER_ANALYSIS_TEMPLATES = "clusteranalysistemplates"
ANALYSIS_RUNS = "analysisruns"
#: Marks the CRDs shunter created (a real Argo Rollouts installation's CRDs lack it).
MANAGED_BY_LABEL = ("app.kubernetes.io/managed-by", "shunter")

_AGE = {
    "description": "Time since resource was created",
    "jsonPath": ".metadata.creationTimestamp",
    "name": "Age",
    "type": "date",
}
_STATUS = {
    "description": "AnalysisRun status",
    "jsonPath": ".status.phase",
    "name": "Status",
    "type": "string",
}


@dataclass(frozen=True, slots=True)
class _Kind:
    kind: str
    plural: str
    short_name: str
    scope: str
    description: str
    with_status: bool
    columns: tuple[dict[str, str], ...]


_KINDS = (
    _Kind(
        "AnalysisTemplate",
        ANALYSIS_TEMPLATES,
        "at",
        "Namespaced",
        "Argo Rollouts AnalysisTemplate: metrics and arguments of an analysis.",
        False,
        (_AGE,),
    ),
    _Kind(
        "ClusterAnalysisTemplate",
        CLUSTER_ANALYSIS_TEMPLATES,
        "cat",
        "Cluster",
        "Argo Rollouts ClusterAnalysisTemplate: a cluster-wide AnalysisTemplate.",
        False,
        (_AGE,),
    ),
    _Kind(
        "AnalysisRun",
        ANALYSIS_RUNS,
        "ar",
        "Namespaced",
        "Argo Rollouts AnalysisRun: one evaluation of merged analysis templates.",
        True,
        (_STATUS, _AGE),
    ),
)


def crd_name(plural: str) -> str:
    """The CRD's object name, e.g. ``analysisruns.argoproj.io``."""
    return f"{plural}.{ROLLOUTS_GROUP}"


def _free_form(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": True,
    }


def _crd(kind: _Kind) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "apiVersion": {"type": "string", "description": "The versioned schema of this object."},
        "kind": {"type": "string", "description": "The REST resource this object represents."},
        "metadata": {"type": "object"},
        "spec": _free_form("As Argo Rollouts defines it; every field is kept."),
    }
    if kind.with_status:
        properties["status"] = _free_form("As Argo Rollouts defines it; every field is kept.")
    version = {
        "name": ROLLOUTS_VERSION,
        "served": True,
        "storage": True,
        "additionalPrinterColumns": [dict(c) for c in kind.columns],
        "schema": {
            "openAPIV3Schema": {
                "description": kind.description,
                "type": "object",
                "required": ["spec"],
                "properties": properties,
            }
        },
        "subresources": {},
    }
    key, value = MANAGED_BY_LABEL
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": crd_name(kind.plural),
            "labels": {"app.kubernetes.io/part-of": "shunter", key: value},
        },
        "spec": {
            "group": ROLLOUTS_GROUP,
            "names": {
                "kind": kind.kind,
                "listKind": f"{kind.kind}List",
                "plural": kind.plural,
                "shortNames": [kind.short_name],
                "singular": kind.kind.lower(),
            },
            "scope": kind.scope,
            "versions": [version],
        },
    }


def rollouts_crds() -> list[dict[str, Any]]:
    """The three CRDs (AnalysisTemplate, ClusterAnalysisTemplate, AnalysisRun), fresh dicts."""
    return [_crd(kind) for kind in _KINDS]


def is_shunter_crd(crd: dict[str, Any]) -> bool:
    """Whether a CRD object read from the API server is one shunter created."""
    key, value = MANAGED_BY_LABEL
    labels = (crd.get("metadata") or {}).get("labels") or {}
    return bool(labels.get(key) == value)


@dataclass(frozen=True, slots=True)
class RolloutsCRDs:
    """What :func:`ensure_rollouts_crds` found and did."""

    created: tuple[str, ...]
    """Names of the CRDs it created (empty when all existed)."""
    shunter_evaluates: bool
    """True when the ``AnalysisRun`` CRD is shunter's: shunter must evaluate AnalysisRuns."""
    missing: tuple[str, ...] = ()
    """Names of the CRDs that do not exist (and were not to be created)."""


def _established(crd: dict[str, Any]) -> bool:
    conditions = (crd.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions)


async def ensure_rollouts_crds(
    kube: KubeClient, *, wait_seconds: float = 60.0, poll: float = 0.2, create: bool = True
) -> RolloutsCRDs:
    """Create each analysis CRD the API server lacks, then wait until those are Established.
    With ``create`` false, only look: the missing ones are reported in ``missing``.

    Existing CRDs (Argo Rollouts' own, or shunter's from an earlier start) are left untouched.

    Raises:
        KubeError: the API server refused a read or a create.
        TimeoutError: a created CRD was not Established within ``wait_seconds``.
    """
    created: list[str] = []
    missing: list[str] = []
    shunter_evaluates = False
    for crd in rollouts_crds():
        name = crd["metadata"]["name"]
        try:
            existing = await kube.get_crd(name)
        except NotFoundError:
            if not create:
                missing.append(name)
                continue
            try:
                await kube.create_crd(crd)
                created.append(name)
                existing = crd
            except ConflictError:  # created concurrently (another replica)
                existing = await kube.get_crd(name)
        if name == crd_name(ANALYSIS_RUNS):
            shunter_evaluates = is_shunter_crd(existing)
    deadline = time.monotonic() + wait_seconds
    for name in created:
        while not _established(await kube.get_crd(name)):
            if time.monotonic() >= deadline:
                raise TimeoutError(f"CRD {name} was not Established within {wait_seconds:.0f}s")
            await asyncio.sleep(poll)
    return RolloutsCRDs(
        created=tuple(created), shunter_evaluates=shunter_evaluates, missing=tuple(missing)
    )
