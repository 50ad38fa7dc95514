"""The generic receiver's actions: ``whenExpression``, ``targetSelectionCriteria``, ``Refresh``.

Each action of ``generic.actions[]`` runs in order against the request:

1. ``whenExpression`` (a raw expression, no ``${{ }}``; empty: always) must give a bool; false
   skips the action (``NotApplicable``), an error or a non-bool fails it (``Error``).
2. Each ``targetSelectionCriteria`` entry selects objects of its ``kind`` (``Warehouse`` or
   ``Promotion``) in the receiver's project (every project for a ClusterConfig receiver): by
   ``name``, ``labelSelector`` and ``indexSelector.matchIndices`` together (ANDed); the entries'
   selections are joined. ``name``, label values and index values are templates (``${{ }}``)
   that must give strings. The only index is ``subscribedURLs`` (Warehouses by the normalised
   URLs of their subscriptions), with ``Equals`` or ``NotEquals``.
3. ``Refresh`` writes a refresh token on every selected object.

Expressions see ``request`` (:mod:`shunter.expressions.functions.receiver`: ``request.body``,
``request.header(name)``, ``request.headers(name)``, ``request.params(name)``), ``params`` (the
action's ``parameters``), and the functions ``normalizeGit``, ``normalizeImage`` and
``normalizeChart`` beside the usual builtins. They run in shunter's sandboxed evaluator, off the
event loop when they could grow (:mod:`shunter.expressions.sandbox`), with the receiver's
project as the fairness key.

The answer is Kargo's: ``{"results": [...]}``, one entry per action (the action's own fields
plus ``matchedWhenExpression``, ``selectedTargets``, ``result``, ``summary``), 500 when any
action ended in ``Error``, ``Failure`` or ``PartialSuccess``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from shunter.api.v1alpha1 import Promotion, Warehouse, to_wire
from shunter.api.v1alpha1.project import (
    GenericWebhookAction,
    IndexSelector,
    LabelSelector,
    LabelSelectorRequirement,
    TargetSelectionCriteria,
)
from shunter.controllers.policies import label_selector_matches
from shunter.expressions import ExpressionError, sandbox
from shunter.expressions.jobs import Job, JobKind
from shunter.freight.subscriptions import subscribed_urls
from shunter.receivers.events import Reply, RunActions
from shunter.receivers.lookups import ReceiverLookups
from shunter.receivers.refresh import Refreshed, Refresher

__all__ = ["run_actions"]

log = logging.getLogger(__name__)

NOT_APPLICABLE, ERROR, SUCCESS = "NotApplicable", "Error", "Success"
PARTIAL_SUCCESS, FAILURE = "PartialSuccess", "Failure"
_FAILED = frozenset({ERROR, FAILURE, PARTIAL_SUCCESS})
SUBSCRIBED_URLS = "subscribedURLs"
#: The fairness key of cluster receivers' evaluations.
CLUSTER = "(cluster)"


class _SelectionError(Exception):
    pass


class _Expressions:
    """One action's expressions: its variables, evaluated through the sandbox."""

    def __init__(self, request: RunActions, params: Mapping[str, str], project: str) -> None:
        self._variables = {
            "request": {
                "body": request.body,
                "headers": {k: list(v) for k, v in request.headers.items()},
                "query": {k: list(v) for k, v in request.query.items()},
            },
            "params": dict(params),
        }
        self._project = project

    async def _run(self, kind: JobKind, source: str) -> Any:
        job = Job(kind, source, self._variables, functions="receiver")
        return await sandbox.run(job, project=self._project)

    async def when(self, expression: str | None) -> bool:
        """``whenExpression``: empty is true; anything but a bool is an error."""
        if not expression:
            return True
        value = await self._run("evaluate", expression)
        if not isinstance(value, bool):
            raise _SelectionError(f"whenExpression gave {type(value).__name__}, not a bool")
        return value

    async def string(self, text: str) -> str:
        """A template that must give a string."""
        try:
            value = await self._run("template_string", text)
        except ExpressionError as error:
            raise _SelectionError(f"failed to evaluate expression: {error}") from None
        if not isinstance(value, str):
            raise _SelectionError(f"expression {text!r} gave {type(value).__name__}, not a string")
        return value


async def _label_selector(selector: LabelSelector, exprs: _Expressions) -> LabelSelector:
    labels = {k: await exprs.string(v) for k, v in (selector.match_labels or {}).items()}
    requirements = [
        LabelSelectorRequirement(
            key=req.key,
            operator=req.operator,
            values=[await exprs.string(v) for v in req.values or []] or None,
        )
        for req in selector.match_expressions or []
    ]
    return LabelSelector(match_labels=labels or None, match_expressions=requirements or None)


async def _index_filter(
    selector: IndexSelector | None, kind: str, exprs: _Expressions
) -> Callable[[Mapping[str, Any]], bool]:
    tests: list[tuple[str, bool]] = []
    for match in (selector.match_indices if selector else None) or []:
        if match.key != SUBSCRIBED_URLS or kind != "Warehouse":
            raise _SelectionError(f"index {match.key!r} is not available for {kind}")
        if match.operator not in ("Equals", "NotEquals"):
            raise _SelectionError(f"unsupported operator {match.operator!r} in index selector")
        tests.append((await exprs.string(match.value), match.operator == "Equals"))

    def keep(raw: Mapping[str, Any]) -> bool:
        urls = subscribed_urls(raw)
        return all((value in urls) == wanted for value, wanted in tests)

    return keep


class _Runner:
    def __init__(self, lookups: ReceiverLookups, refresher: Refresher, project: str | None):
        self._lookups = lookups
        self._refresher = refresher
        self._project = project

    async def targets(
        self, criteria: TargetSelectionCriteria, exprs: _Expressions
    ) -> list[tuple[str, str, str]]:
        keep_index = await _index_filter(criteria.index_selector, criteria.kind, exprs)
        selector = await _label_selector(criteria.label_selector or LabelSelector(), exprs)
        name = await exprs.string(criteria.name) if criteria.name else None
        objects: Sequence[Warehouse | Promotion]
        if criteria.kind == "Warehouse":
            objects = await self._lookups.warehouses(self._project)
        else:
            objects = await self._lookups.promotions(self._project)
        found: list[tuple[str, str, str]] = []
        for obj in objects:
            meta = obj.metadata
            if name is not None and meta.name != name:
                continue
            if not label_selector_matches(selector, meta.labels or {}):
                continue
            if criteria.kind == "Warehouse" and not keep_index(to_wire(obj)):
                continue
            found.append((criteria.kind, meta.namespace or "", meta.name or ""))
        return found

    async def action(self, action: GenericWebhookAction, request: RunActions) -> dict[str, Any]:
        result: dict[str, Any] = to_wire(action)
        exprs = _Expressions(request, action.parameters or {}, self._project or CLUSTER)
        try:
            matched = await exprs.when(action.when_expression)
        except (ExpressionError, _SelectionError) as error:
            log.info("generic receiver: whenExpression failed: %s", error)
            return result | {
                "matchedWhenExpression": False,
                "result": ERROR,
                "summary": "Error evaluating whenExpression",
            }
        if not matched:
            return result | {
                "matchedWhenExpression": False,
                "result": NOT_APPLICABLE,
                "summary": "Request did not match whenExpression",
            }
        try:
            keys: dict[tuple[str, str, str], None] = {}
            for criteria in action.target_selection_criteria or []:
                keys.update(dict.fromkeys(await self.targets(criteria, exprs)))
        except _SelectionError as error:
            log.info("generic receiver: target selection failed: %s", error)
            return result | {
                "matchedWhenExpression": True,
                "result": ERROR,
                "summary": "Error evaluating targetSelectionCriteria",
            }
        refreshed: list[Refreshed] = []
        for kind, plural in (("Promotion", "promotions"), ("Warehouse", "warehouses")):
            chosen = sorted((ns, name) for k, ns, name in keys if k == kind)
            refreshed += await self._refresher.refresh(plural, chosen)
        done = sorted(
            (r for r in refreshed if r.success is not None), key=lambda r: (r.namespace, r.name)
        )
        successes = sum(1 for r in done if r.success)
        outcome = (
            SUCCESS if successes == len(done) else FAILURE if not successes else PARTIAL_SUCCESS
        )
        targets = [{"namespace": r.namespace, "name": r.name, "success": r.success} for r in done]
        return result | {
            "matchedWhenExpression": True,
            **({"selectedTargets": targets} if targets else {}),
            "result": outcome,
            "summary": f"Refreshed {successes} of {len(done)} selected resources",
        }


async def run_actions(
    actions: Sequence[GenericWebhookAction],
    request: RunActions,
    lookups: ReceiverLookups,
    refresher: Refresher,
    project: str | None,
) -> Reply:
    """Run a generic receiver's actions; Kargo's answer."""
    runner = _Runner(lookups, refresher, project)
    results = [await runner.action(action, request) for action in actions]
    failed = any(r.get("result") in _FAILED for r in results)
    return Reply(500 if failed else 200, {"results": results})
