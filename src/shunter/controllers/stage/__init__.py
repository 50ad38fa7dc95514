"""The Stage controller: the Promotion queue, Freight bookkeeping, health, verification and
auto-promotion of one Stage (Kargo's Stage reconcile, in the same order).

Each pass reads the Stage, its Promotions and the Freight that matters to it from the cache
(:mod:`shunter.cache`), then, one module per concern:

1. :mod:`~.promotions` - record finished Promotions, start the next one.
2. :mod:`~.freight` - ``currentlyIn`` of the Freight in (and no longer in) the current
   collection.
3. :mod:`~.health` - from the health checks the last Promotion registered (none: Healthy).
4. :mod:`~.verification` - verify a healthy Stage's new collection (AnalysisRuns).
5. :mod:`~.freight` - ``verifiedIn`` on the collection's Freight once verified.
6. :mod:`~.autopromotion` - promote the newest available Freight where the policy allows.
7. :mod:`~.status` - ``freightSummary`` and ``Ready``; the status is written if it changed.

A Stage without promotion steps is a control-flow Stage: every Freight available to it is
verified in it at once. :mod:`~.reconciler` runs the pass; the operator queues a Stage when
something it depends on changes.
"""

from shunter.controllers.stage.autopromotion import CONTROLLER_ACTOR
from shunter.controllers.stage.context import StageDeps
from shunter.controllers.stage.promotions import sort_promotions
from shunter.controllers.stage.reconciler import StageOutcome, StageReconciler

__all__ = ["CONTROLLER_ACTOR", "StageDeps", "StageOutcome", "StageReconciler", "sort_promotions"]
