"""The AnalysisRun reconciler: one evaluation step per call, status written to the object.

Owns :class:`AnalysisRunReconciler`. It acts only on AnalysisRuns that carry Kargo's
``kargo.akuity.io/stage`` label (so it never competes with an Argo Rollouts controller over
runs of Rollouts), and only when it is ``enabled`` - pass
``(await ensure_rollouts_crds(kube)).shunter_evaluates``, true when the cluster uses shunter's
own analysis CRDs rather than a real Argo Rollouts installation.

The status is written with a JSON merge patch of the object itself (the CRD has no status
subresource, like Rollouts'), guarded by ``metadata.resourceVersion``: if the run changed
meanwhile (e.g. ``spec.terminate`` was just set) the write is dropped and the reconciler asks to
be called again at once.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from shunter.api.v1alpha1 import labels as kargo_labels
from shunter.kube import ConflictError, KubeClient, NotFoundError
from shunter.verification.crds import ANALYSIS_RUNS, ROLLOUTS_GROUP, ROLLOUTS_VERSION
from shunter.verification.runner import AnalysisRunner

__all__ = ["AnalysisRunReconciler", "merge_patch_diff"]

_log = logging.getLogger(__name__)


def merge_patch_diff(old: Any, new: Any) -> Any:
    """The JSON merge patch (RFC 7386) that turns ``old`` into ``new`` (removed keys: null)."""
    if not isinstance(old, Mapping) or not isinstance(new, Mapping):
        return new
    patch: dict[str, Any] = {key: None for key in old if key not in new}
    for key, value in new.items():
        if key not in old:
            patch[key] = value
        elif old[key] != value:
            patch[key] = merge_patch_diff(old[key], value)
    return patch


class AnalysisRunReconciler:
    """Evaluates Kargo's AnalysisRuns when shunter's own analysis CRDs are in use."""

    def __init__(
        self, kube: KubeClient, *, enabled: bool, runner: AnalysisRunner | None = None
    ) -> None:
        """``runner`` defaults to an :class:`AnalysisRunner` reading Secrets through ``kube``."""
        self._kube = kube
        self._enabled = enabled
        self._runner = runner or AnalysisRunner(secrets=kube.get_secret)

    @property
    def enabled(self) -> bool:
        return self._enabled

    async def reconcile(self, namespace: str, name: str) -> float | None:
        """Take one step of the AnalysisRun ``namespace/name``.

        Returns the seconds after which to call again (0: at once), or None when there is
        nothing more to do (completed, gone, not Kargo's, or the reconciler is disabled).

        Raises:
            KubeError: reading or writing the run failed (other than not found / conflict).
        """
        if not self._enabled:
            return None
        try:
            run = await self._kube.get_custom(
                namespace, ANALYSIS_RUNS, name, group=ROLLOUTS_GROUP, version=ROLLOUTS_VERSION
            )
        except NotFoundError:
            return None
        metadata = run.get("metadata") or {}
        if kargo_labels.STAGE not in (metadata.get("labels") or {}):
            return None
        if metadata.get("deletionTimestamp"):
            return None
        outcome = await self._runner.step(run)
        if outcome.status is not None:
            patch = {
                "metadata": {"resourceVersion": metadata.get("resourceVersion")},
                "status": merge_patch_diff(run.get("status"), outcome.status),
            }
            try:
                await self._kube.patch_custom(
                    namespace,
                    ANALYSIS_RUNS,
                    name,
                    patch,
                    group=ROLLOUTS_GROUP,
                    version=ROLLOUTS_VERSION,
                )
            except ConflictError:
                _log.debug("AnalysisRun %s/%s changed during the step; retrying", namespace, name)
                return 0.0
            except NotFoundError:
                return None
            if outcome.phase is not None and outcome.phase.completed:
                _log.info("AnalysisRun %s/%s completed: %s", namespace, name, outcome.phase.value)
        return outcome.requeue_after
