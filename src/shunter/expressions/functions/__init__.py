"""Kargo's expression functions over injected plain data (no Kubernetes, no ``shunter.api``).

Owns `FunctionContext`, everything a step's expressions may consult, and the builders that
turn it into a `FunctionRegistry` / `Environment`. The bundles mirror Kargo's grouping:

* freight (`freight_functions`): ``warehouse commitFrom imageFrom chartFrom`` over the
  FreightReferences of the FreightCollection being promoted (Kargo wire dicts);
* data (`data_functions`): ``configMap sharedConfigMap secret sharedSecret freightMetadata
  freightStatus stageMetadata`` through a synchronous `DataReader` (see `.data` for why, and
  for `ResourceCache`, whose misses `shunter.expressions.sandbox` fetches asynchronously);
* utility (`utility_functions`): ``semverParse semverDiff``;
* status (`status_functions`): ``success failure always status`` - only where Kargo offers
  them (step ``if`` and ``config``), i.e. when `FunctionContext.step_outcomes` is not None.
* receiver (`shunter.expressions.functions.receiver`): a generic webhook receiver's
  ``request`` and ``normalizeGit normalizeImage normalizeChart`` (jobs with
  ``functions="receiver"``).

Typical use by the promotion engine (see `shunter.expressions.sandbox`)::

    context = FunctionContext(
        freight=collection_refs, freight_requests=stage_requests, reader=ResourceCache(),
        step_outcomes=earlier_steps, current_step_alias="task-1::open-pr",
    )
    job = Job("template", raw_config, {"ctx": ctx, "vars": vars, "outputs": outputs}, context)
    config = await sandbox.run(job, project=namespace, fetch=fetch)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from shunter.expressions.builtins import BUILTINS
from shunter.expressions.functions.data import (
    DataReader,
    ResourceCache,
    ResourceNotLoaded,
    ResourceRef,
    StaticResources,
    data_functions,
)
from shunter.expressions.functions.freight import (
    CHART,
    FREIGHT_ORIGIN,
    GIT_COMMIT,
    IMAGE,
    freight_functions,
    normalize_git_url,
)
from shunter.expressions.functions.status import StepOutcome, status_functions
from shunter.expressions.functions.utility import SemVer, parse_semver, utility_functions
from shunter.expressions.interpreter import Environment
from shunter.expressions.registry import FunctionRegistry

__all__ = [
    "CHART",
    "FREIGHT_ORIGIN",
    "GIT_COMMIT",
    "IMAGE",
    "DataReader",
    "FunctionContext",
    "ResourceCache",
    "ResourceNotLoaded",
    "ResourceRef",
    "SemVer",
    "StaticResources",
    "StepOutcome",
    "build_environment",
    "build_function_registry",
    "data_functions",
    "freight_functions",
    "normalize_git_url",
    "parse_semver",
    "status_functions",
    "utility_functions",
]


@dataclass(frozen=True)
class FunctionContext:
    """Data the Kargo functions read.

    Attributes:
        freight: FreightReferences of the collection being promoted, as Kargo wire dicts
            (``{name, origin: {kind, name}, commits: [...], images: [...], charts: [...]}``).
        freight_requests: the Stage's ``requestedFreight`` entries (``{origin: {kind, name},
            sources: ...}``); used to resolve an origin when none is given. None: resolve from
            the FreightReferences themselves.
        reader: where ConfigMaps, Secrets, Freight, Stages and Warehouses are read; None
            disables the data functions.
        step_outcomes: earlier steps' statuses; None leaves out the status functions.
        current_step_alias: alias of the step being evaluated (scopes ``status()``).
    """

    freight: Sequence[Mapping[str, Any]] = ()
    freight_requests: Sequence[Mapping[str, Any]] | None = None
    reader: DataReader | None = None
    step_outcomes: Sequence[StepOutcome] | None = None
    current_step_alias: str = ""


def build_function_registry(
    context: FunctionContext, *, base: FunctionRegistry | None = None
) -> FunctionRegistry:
    """A registry with Kargo's functions for `context`, layered over `base` (builtins)."""
    registry = (base or BUILTINS).child()
    registry.update(freight_functions(context.freight, context.freight_requests, context.reader))
    if context.reader is not None:
        registry.update(data_functions(context.reader))
    registry.update(utility_functions())
    if context.step_outcomes is not None:
        registry.update(status_functions(context.step_outcomes, context.current_step_alias))
    return registry.freeze()


def build_environment(
    variables: Mapping[str, Any], context: FunctionContext | None = None
) -> Environment:
    """An `Environment` of `variables` with Kargo's functions (builtins only if no context)."""
    if context is None:
        return Environment(variables=variables)
    return Environment(variables=variables, functions=build_function_registry(context))
