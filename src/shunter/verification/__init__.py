"""Freight verification with Argo Rollouts analysis templates, evaluated by shunter itself.

Kargo verifies a Stage's FreightCollection by creating an Argo Rollouts ``AnalysisRun`` from the
Stage's (Cluster)AnalysisTemplates. This package builds that run the way Kargo does and - when
the cluster has no Argo Rollouts installation - evaluates it the way Rollouts would, for the
``web`` metric provider (other providers end the run in ``Error``, naming the provider).

Public entry points:

* ``ensure_rollouts_crds(kube) -> RolloutsCRDs`` - create shunter's minimal analysis CRDs when
  the API server lacks them; ``.shunter_evaluates`` says whether shunter must evaluate runs.
* ``start_verification(kube, stage, collection_id, freight_names, promotion, args)
  -> (run name | None, error message | None)``; ``find_analysis_run``,
  ``analysis_run_phase`` / ``analysis_run_status``, ``abort_analysis_run``.
* ``AnalysisRunReconciler(kube, enabled=...)`` with ``await reconcile(namespace, name) ->
  float | None`` (seconds until the next step).
* Lower level: ``AnalysisRunner`` (one evaluation step on an AnalysisRun dict),
  ``build_analysis_run``, ``merge_template_specs``, ``substitute_args``, ``parse_metric``.
"""

from shunter.verification.analysisrun import (
    analysis_run_name,
    build_analysis_run,
    new_ulid,
    shorten_label_value,
)
from shunter.verification.controller import AnalysisRunReconciler
from shunter.verification.crds import (
    ANALYSIS_RUNS,
    ANALYSIS_TEMPLATES,
    CLUSTER_ANALYSIS_TEMPLATES,
    ROLLOUTS_GROUP,
    ROLLOUTS_VERSION,
    RolloutsCRDs,
    ensure_rollouts_crds,
    rollouts_crds,
)
from shunter.verification.lifecycle import (
    AnalysisRunState,
    abort_analysis_run,
    analysis_run_phase,
    analysis_run_status,
    find_analysis_run,
    start_verification,
)
from shunter.verification.phases import AnalysisPhase
from shunter.verification.runner import AnalysisRunner, StepOutcome
from shunter.verification.templates import (
    Metric,
    TemplateError,
    WebMetric,
    merge_args,
    merge_template_specs,
    parse_metric,
    substitute_args,
)

__all__ = [
    "ANALYSIS_RUNS",
    "ANALYSIS_TEMPLATES",
    "CLUSTER_ANALYSIS_TEMPLATES",
    "ROLLOUTS_GROUP",
    "ROLLOUTS_VERSION",
    "AnalysisPhase",
    "AnalysisRunReconciler",
    "AnalysisRunState",
    "AnalysisRunner",
    "Metric",
    "RolloutsCRDs",
    "StepOutcome",
    "TemplateError",
    "WebMetric",
    "abort_analysis_run",
    "analysis_run_name",
    "analysis_run_phase",
    "analysis_run_status",
    "build_analysis_run",
    "ensure_rollouts_crds",
    "find_analysis_run",
    "merge_args",
    "merge_template_specs",
    "new_ulid",
    "parse_metric",
    "rollouts_crds",
    "shorten_label_value",
    "start_verification",
    "substitute_args",
]
