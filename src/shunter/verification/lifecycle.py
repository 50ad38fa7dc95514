"""What the Stage controller calls to verify a FreightCollection with analysis templates.

Owns the calls that touch the API server on the Stage's behalf:

* :func:`start_verification` - load the referenced AnalysisTemplates (the Stage's namespace)
  and ClusterAnalysisTemplates, merge them, and create the AnalysisRun (ownerReferences to the
  collection's Freight); problems come back as a message, never as an exception, since Kargo
  records them as an ``Error`` verification;
* :func:`find_analysis_run` - the newest AnalysisRun already labelled for a Stage and
  FreightCollection (Kargo reuses it instead of starting another unless re-verifying);
* :func:`analysis_run_status` / :func:`analysis_run_phase` - the run's phase as a
  :class:`~shunter.api.v1alpha1.common.VerificationPhase`, its message and completion time;
* :func:`abort_analysis_run` - ``spec.terminate: true`` (Rollouts then ends the run
  ``Successful``; Kargo records the aborted verification as ``Failed`` itself).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shunter.api.v1alpha1 import labels as kargo_labels
from shunter.api.v1alpha1.common import VerificationPhase
from shunter.api.v1alpha1.stage import Stage
from shunter.kube import KARGO_GROUP, KARGO_VERSION, KubeClient, KubeError, NotFoundError
from shunter.verification.analysisrun import build_analysis_run, shorten_label_value
from shunter.verification.crds import (
    ANALYSIS_RUNS,
    ANALYSIS_TEMPLATES,
    CLUSTER_ANALYSIS_TEMPLATES,
    ROLLOUTS_GROUP,
    ROLLOUTS_VERSION,
)
from shunter.verification.templates import TemplateError

__all__ = [
    "AnalysisRunState",
    "abort_analysis_run",
    "analysis_run_phase",
    "analysis_run_status",
    "find_analysis_run",
    "start_verification",
    "state_of",
]


async def _template_specs(kube: KubeClient, stage: Stage) -> list[Mapping[str, Any]]:
    verification = stage.spec.verification
    namespace = stage.metadata.namespace or ""
    specs: list[Mapping[str, Any]] = []
    for ref in (verification.analysis_templates if verification else None) or []:
        try:
            if ref.kind == "ClusterAnalysisTemplate":
                template = await kube.get_cluster_custom(
                    CLUSTER_ANALYSIS_TEMPLATES,
                    ref.name,
                    group=ROLLOUTS_GROUP,
                    version=ROLLOUTS_VERSION,
                )
            else:
                template = await kube.get_custom(
                    namespace,
                    ANALYSIS_TEMPLATES,
                    ref.name,
                    group=ROLLOUTS_GROUP,
                    version=ROLLOUTS_VERSION,
                )
        except KubeError as exc:
            kind = ref.kind or "AnalysisTemplate"
            where = "" if ref.kind == "ClusterAnalysisTemplate" else f" in namespace {namespace!r}"
            raise TemplateError(f"get {kind} {ref.name!r}{where}: {exc}") from None
        spec = template.get("spec")
        specs.append(spec if isinstance(spec, Mapping) else {})
    return specs


async def _owner_references(
    kube: KubeClient, namespace: str, freight_names: list[str]
) -> list[dict[str, Any]]:
    owners: list[dict[str, Any]] = []
    for name in freight_names:
        try:
            freight = await kube.get_custom(namespace, "freights", name)
        except KubeError as exc:
            raise TemplateError(f"get Freight {name!r} in namespace {namespace!r}: {exc}") from None
        owners.append(
            {
                "apiVersion": f"{KARGO_GROUP}/{KARGO_VERSION}",
                "kind": "Freight",
                "name": name,
                "uid": (freight.get("metadata") or {}).get("uid", ""),
                "blockOwnerDeletion": False,
            }
        )
    return owners


async def start_verification(  # noqa: PLR0917 - the Stage controller's agreed signature
    kube: KubeClient,
    stage: Stage,
    collection_id: str,
    freight_names: list[str],
    promotion: str | None,
    args: dict[str, str],
    *,
    name: str | None = None,
    controller_instance_id: str | None = None,
) -> tuple[str | None, str | None]:
    """Create the AnalysisRun verifying ``collection_id`` in ``stage``.

    ``args`` are the Stage's ``verification.args`` already evaluated (Kargo ignores arguments
    whose unevaluated value is empty: leave them out); ``promotion`` names the Promotion that
    triggered the verification (annotation ``kargo.akuity.io/promotion``) or is None;
    ``freight_names`` become ownerReferences. ``name`` overrides the generated
    ``<stage>.<ulid>.<collection id>``.

    Returns ``(run name, None)``, or ``(None, message)`` when the run could not be built or
    created (Kargo then records an ``Error`` verification with that message).
    """
    namespace = stage.metadata.namespace or ""
    stage_name = stage.metadata.name or ""
    verification = stage.spec.verification
    if verification is None or not verification.analysis_templates:
        return None, f"Stage {stage_name!r} has no analysis templates to verify with"
    try:
        body = build_analysis_run(
            namespace=namespace,
            stage=stage_name,
            collection_id=collection_id,
            verification=verification,
            template_specs=await _template_specs(kube, stage),
            args=args,
            promotion=promotion,
            owners=await _owner_references(kube, namespace, freight_names),
            name=name,
            controller_instance_id=controller_instance_id,
        )
    except TemplateError as exc:
        return None, (
            f"error building AnalysisRun for Stage {stage_name!r} and Freight collection "
            f"{collection_id!r} in namespace {namespace!r}: {exc}"
        )
    run_name = body["metadata"]["name"]
    try:
        created = await kube.create_custom(
            namespace, ANALYSIS_RUNS, body, group=ROLLOUTS_GROUP, version=ROLLOUTS_VERSION
        )
    except KubeError as exc:
        return None, f"error creating AnalysisRun {run_name!r} in namespace {namespace!r}: {exc}"
    return str(created.get("metadata", {}).get("name") or run_name), None


async def find_analysis_run(
    kube: KubeClient, namespace: str, stage: str, collection_id: str
) -> dict[str, Any] | None:
    """The newest AnalysisRun labelled for ``stage`` and ``collection_id``, or None."""
    selector = (
        f"{kargo_labels.STAGE}={shorten_label_value(stage)},"
        f"{kargo_labels.FREIGHT_COLLECTION}={collection_id}"
    )
    runs = await kube.list_custom(
        namespace,
        ANALYSIS_RUNS,
        label_selector=selector,
        group=ROLLOUTS_GROUP,
        version=ROLLOUTS_VERSION,
    )
    if not runs:
        return None
    return max(
        runs,
        key=lambda r: (
            (r.get("metadata") or {}).get("creationTimestamp") or "",
            (r.get("metadata") or {}).get("name") or "",
        ),
    )


@dataclass(frozen=True, slots=True)
class AnalysisRunState:
    """An AnalysisRun's outcome as a verification sees it."""

    phase: VerificationPhase
    """``Pending`` until the run is first evaluated; then the run's phase."""
    message: str
    completed_at: str | None
    """``status.completedAt`` (RFC 3339) once completed."""
    run_phase: str
    """``status.phase`` as written (``""`` before the first evaluation)."""


def state_of(run: Mapping[str, Any]) -> AnalysisRunState:
    """The :class:`AnalysisRunState` of an AnalysisRun object."""
    status = run.get("status") if isinstance(run.get("status"), Mapping) else {}
    assert isinstance(status, Mapping)  # noqa: S101 - narrowed above
    raw_phase = str(status.get("phase") or "")
    try:
        phase = VerificationPhase(raw_phase) if raw_phase else VerificationPhase.PENDING
    except ValueError:
        phase = VerificationPhase.ERROR
    message = str(status.get("message") or "")
    if phase is VerificationPhase.ERROR and raw_phase != VerificationPhase.ERROR.value:
        message = f"unknown AnalysisRun phase {raw_phase!r}"
    completed = status.get("completedAt")
    return AnalysisRunState(
        phase=phase,
        message=message,
        completed_at=completed if isinstance(completed, str) else None,
        run_phase=raw_phase,
    )


async def analysis_run_status(kube: KubeClient, namespace: str, name: str) -> AnalysisRunState:
    """The state of the AnalysisRun ``namespace/name``.

    A missing run is ``Error`` with ``error getting AnalysisRun ...``; other API errors raise
    :class:`KubeError` (transient: try again later).
    """
    try:
        run = await kube.get_custom(
            namespace, ANALYSIS_RUNS, name, group=ROLLOUTS_GROUP, version=ROLLOUTS_VERSION
        )
    except NotFoundError as exc:
        return AnalysisRunState(
            phase=VerificationPhase.ERROR,
            message=f"error getting AnalysisRun {name!r} in namespace {namespace!r}: {exc}",
            completed_at=None,
            run_phase="",
        )
    return state_of(run)


async def analysis_run_phase(
    kube: KubeClient, namespace: str, name: str
) -> tuple[VerificationPhase, str]:
    """``(phase, message)`` of the AnalysisRun (see :func:`analysis_run_status`)."""
    state = await analysis_run_status(kube, namespace, name)
    return state.phase, state.message


async def abort_analysis_run(kube: KubeClient, namespace: str, name: str) -> None:
    """Ask the run to stop: merge-patch ``spec.terminate: true`` (raises :class:`KubeError`)."""
    await kube.patch_custom(
        namespace,
        ANALYSIS_RUNS,
        name,
        {"spec": {"terminate": True}},
        group=ROLLOUTS_GROUP,
        version=ROLLOUTS_VERSION,
    )
