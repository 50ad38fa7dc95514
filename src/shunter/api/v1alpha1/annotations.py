"""Annotation keys that carry behaviour, as Kargo defines them."""

__all__ = [
    "ABORT",
    "ARGOCD_CONTEXT",
    "AUTHORIZED_STAGE",
    "AUTO_PROMOTION_HOLD",
    "AUTO_PROMOTION_RESUME",
    "COLOR",
    "CREATE_ACTOR",
    "DESCRIPTION",
    "KEEP_NAMESPACE",
    "PROMOTION",
    "REFRESH",
    "REVERIFY",
    "ROLLBACK",
    "STAGE",
]

#: Any new value makes the controller reconcile the object now.
REFRESH = "kargo.akuity.io/refresh"
#: On a Stage: a verification ID to run again.
REVERIFY = "kargo.akuity.io/reverify"
#: On a Stage (verification ID) or a Promotion (``terminate``): abort it.
ABORT = "kargo.akuity.io/abort"
#: On an Argo CD Application: comma-separated ``<project>:<stage>`` allowed to change it.
AUTHORIZED_STAGE = "kargo.akuity.io/authorized-stage"
#: On a Stage: JSON list of the Argo CD Applications touched by its last Promotion.
ARGOCD_CONTEXT = "kargo.akuity.io/argocd-context"
#: On a Project or Namespace: ``"true"`` keeps the namespace when the Project is deleted.
KEEP_NAMESPACE = "kargo.akuity.io/keep-namespace"
#: On a Promotion: who created it (``kubernetes:<username>``).
CREATE_ACTOR = "kargo.akuity.io/create-actor"
#: On a Promotion: the full Stage name.
STAGE = "kargo.akuity.io/stage"
#: On an AnalysisRun: the Promotion that triggered the verification.
PROMOTION = "kargo.akuity.io/promotion"
#: On a Promotion: it was created as a rollback.
ROLLBACK = "kargo.akuity.io/rollback"
#: On a Promotion: a manual promotion that holds auto-promotion for an origin.
AUTO_PROMOTION_HOLD = "kargo.akuity.io/auto-promotion-hold"
#: On a Promotion: a manual promotion that resumes auto-promotion for an origin.
AUTO_PROMOTION_RESUME = "kargo.akuity.io/auto-promotion-resume"
#: UI cosmetics.
DESCRIPTION = "kargo.akuity.io/description"
COLOR = "kargo.akuity.io/color"
