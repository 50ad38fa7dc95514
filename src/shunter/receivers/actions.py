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

Expressions see ``request.body`` (the JSON body, or nil), ``request.header(name)`` (first value
or ``""``), ``request.headers(name)`` (every value), ``request.params(name)`` (first query value
or ``""``), ``params`` (the action's ``parameters``), and the functions ``normalizeGit``,
``normalizeImage`` and ``normalizeChart`` beside the usual builtins - all in shunter's sandboxed
evaluator.

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
from shunter.expressions import (
    BUILTINS,
    Environment,
    ExpressionError,
    ExprObject,
    FunctionError,
    FunctionRegistry,
    compile_expression,
    evaluate_template_string,
)
from shunter.freight.subscriptions import subscribed_urls
from shunter.freight.urls import normalize_chart_url, normalize_git_url, normalize_image_url
from shunter.receivers.events import Reply, RunActions
from shunter.receivers.lookups import ReceiverLookups
from shunter.receivers.refresh import Refreshed, Refresher

__all__ = ["RECEIVER_FUNCTIONS", "RequestView", "run_actions"]

log = logging.getLogger(__name__)

NOT_APPLICABLE, ERROR, SUCCESS = "NotApplicable", "Error", "Success"
PARTIAL_SUCCESS, FAILURE = "PartialSuccess", "Failure"
_FAILED = frozenset({ERROR, FAILURE, PARTIAL_SUCCESS})
SUBSCRIBED_URLS = "subscribedURLs"


def _string_function(name: str, fn: Callable[[str], str]) -> Callable[[Any], str]:
    def call(value: Any) -> str:
        if not isinstance(value, str):
            raise FunctionError(f"{name}() expects a string")
        return fn(value)

    return call


def _registry() -> FunctionRegistry:
    registry = BUILTINS.child()
    registry.register("normalizeGit", _string_function("normalizeGit", normalize_git_url))
    registry.register("normalizeImage", _string_function("normalizeImage", normalize_image_url))
    registry.register("normalizeChart", _string_function("normalizeChart", normalize_chart_url))
    return registry.freeze()


#: The builtins plus the URL normalisations.
RECEIVER_FUNCTIONS = _registry()


class RequestView(ExprObject):
    """``request`` in a generic receiver's expressions."""

    __slots__ = ("_request",)

    def __init__(self, request: RunActions) -> None:
        self._request = request

    @property
    def expr_type_name(self) -> str:
        return "request"

    def expr_field(self, name: str) -> Any:
        if name == "body":
            return self._request.body
        raise KeyError(name)

    def expr_method(self, name: str, args: Sequence[Any]) -> Any:
        if name not in ("header", "headers", "params"):
            raise KeyError(name)
        if len(args) != 1 or not isinstance(args[0], str):
            raise FunctionError(f"{name}() takes one string argument")
        key = args[0]
        if name == "params":
            return next(iter(self._request.query.get(key, ())), "")
        values = self._request.headers.get(key.lower(), ())
        return list(values) if name == "headers" else next(iter(values), "")

    def expr_json(self) -> Any:
        return {"body": self._request.body}


class _SelectionError(Exception):
    pass


def _template_string(text: str, env: Environment) -> str:
    try:
        value = evaluate_template_string(text, env)
    except ExpressionError as error:
        raise _SelectionError(f"failed to evaluate expression: {error}") from None
    if not isinstance(value, str):
        raise _SelectionError(f"expression {text!r} gave {type(value).__name__}, not a string")
    return value


def _label_selector(selector: LabelSelector, env: Environment) -> LabelSelector:
    return LabelSelector(
        match_labels={k: _template_string(v, env) for k, v in (selector.match_labels or {}).items()}
        or None,
        match_expressions=[
            LabelSelectorRequirement(
                key=req.key,
                operator=req.operator,
                values=[_template_string(v, env) for v in req.values or []] or None,
            )
            for req in selector.match_expressions or []
        ]
        or None,
    )


def _index_filter(
    selector: IndexSelector | None, kind: str, env: Environment
) -> Callable[[Mapping[str, Any]], bool]:
    tests: list[tuple[str, bool]] = []
    for match in (selector.match_indices if selector else None) or []:
        if match.key != SUBSCRIBED_URLS or kind != "Warehouse":
            raise _SelectionError(f"index {match.key!r} is not available for {kind}")
        if match.operator not in ("Equals", "NotEquals"):
            raise _SelectionError(f"unsupported operator {match.operator!r} in index selector")
        tests.append((_template_string(match.value, env), match.operator == "Equals"))

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
        self, criteria: TargetSelectionCriteria, env: Environment
    ) -> list[tuple[str, str, str]]:
        keep_index = _index_filter(criteria.index_selector, criteria.kind, env)
        selector = _label_selector(criteria.label_selector or LabelSelector(), env)
        name = _template_string(criteria.name, env) if criteria.name else None
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
        env = Environment(
            variables={"request": RequestView(request), "params": dict(action.parameters or {})},
            functions=RECEIVER_FUNCTIONS,
        )
        try:
            matched = _when(action.when_expression, env)
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
                keys.update(dict.fromkeys(await self.targets(criteria, env)))
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


def _when(expression: str | None, env: Environment) -> bool:
    if not expression:
        return True
    value = compile_expression(expression).evaluate(env)
    if not isinstance(value, bool):
        raise _SelectionError(f"whenExpression gave {type(value).__name__}, not a bool")
    return value


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
