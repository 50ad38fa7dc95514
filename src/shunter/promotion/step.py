"""The contract between the engine and a step: config model, context, result, errors.

A step is a class with a ``name`` (the ``uses:`` value), a pydantic ``config_model`` that
validates the step's ``config`` *after* expressions are evaluated, and an async ``run``. It
reads and writes files only under ``ctx.work_dir``: :meth:`StepContext.path` checks a config
path, and every write goes through :mod:`shunter._internal.paths` (or
:meth:`StepContext.real_path` right before a program writes), which resolves the path at the
moment of writing, so a symbolic link planted on the way cannot lead outside. It gets
credentials and other services from ``ctx.capabilities``, and returns a :class:`StepResult`.

Errors: raise :class:`StepError` for a retryable problem (the engine counts it against the
step's error threshold), :class:`TerminalStepError` for one that retrying cannot fix
(bad config, a path outside the work directory, an explicit ``fail``). A
:class:`~shunter._internal.paths.PathEscapeError` a step lets through is terminal too.
"""

from __future__ import annotations

import posixpath
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, ClassVar, Protocol

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from shunter._internal.paths import real_path, safe_join
from shunter.api.v1alpha1.common import FreightCollection, FreightReference, HealthCheckStep
from shunter.api.v1alpha1.promotion import PromotionStepStatus
from shunter.credentials.types import CredentialsDatabase
from shunter.git import MirrorStore, default_mirror_store
from shunter.promotion.effects import EffectNote, Effects

#: ``await evaluate(expression, extra_variables) -> value`` (raises only ``ExpressionError``)
ExpressionEvaluator = Callable[[str, Mapping[str, Any]], Awaitable[Any]]

__all__ = [
    "Capabilities",
    "ExpressionEvaluator",
    "GitAuthor",
    "PreviewableStep",
    "StepConfig",
    "StepContext",
    "StepError",
    "StepResult",
    "StepRunner",
    "TerminalStepError",
]


class StepConfig(BaseModel):
    """Base of every step's config model: camelCase keys, unknown keys refused."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class StepError(Exception):
    """A step failed; retrying may help. ``failed`` marks a business failure (not an error)."""

    def __init__(self, message: str, *, failed: bool = False) -> None:
        super().__init__(message)
        self.failed = failed


class TerminalStepError(StepError):
    """A step failed in a way retrying cannot fix."""


@dataclass(frozen=True)
class GitAuthor:
    """Identity for commits made by steps."""

    name: str = "Kargo"
    email: str = "no-reply@kargo.io"


@dataclass(frozen=True)
class Capabilities:
    """Services the engine hands to steps."""

    credentials: CredentialsDatabase
    git_author: GitAuthor = field(default_factory=GitAuthor)
    #: Argo CD namespace for argocd-update when an app does not name one.
    argocd_namespace: str = "argocd"
    #: The git mirrors the git steps check out from and push through (one per repository URL;
    #: the operator shares its store with discovery). Default: a process-wide temporary one.
    git_mirrors: MirrorStore = field(default_factory=default_mirror_store)
    #: Extra services by name (e.g. a Kubernetes client), for steps that declare them.
    extras: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StepContext:
    """What a step may know about the Promotion it runs in."""

    project: str
    stage: str
    promotion: str
    alias: str
    work_dir: Path
    capabilities: Capabilities
    #: The Freight being promoted.
    target_freight: FreightReference
    #: The Freight collection the Stage will hold after this Promotion.
    freight: FreightCollection
    #: Outputs of earlier steps by alias (a read-only copy).
    state: Mapping[str, Any] = field(default_factory=dict)
    actor: str | None = None
    #: Evaluates a raw expression (no ``${{ }}``) against the step's expression environment
    #: plus extra variables; steps such as ``http`` use it for their own expressions.
    evaluate: ExpressionEvaluator | None = None

    def path(self, relative: str, *, allow_root: bool = False) -> Path:
        """A config path resolved inside the work directory (raises TerminalStepError)."""
        try:
            return safe_join(self.work_dir, relative, allow_root=allow_root)
        except ValueError as exc:
            raise TerminalStepError(str(exc)) from exc

    def real_path(self, relative: str, *, create_parents: bool = False) -> Path:
        """Where the config path ``relative`` leads *now*, for a program about to write there.

        Resolved one component at a time from the work directory (see
        :func:`shunter._internal.paths.real_path`): the result holds no symbolic link, and a
        link leading outside on the way is refused (TerminalStepError). Call it right before
        the program runs, not when the step starts: an earlier write of the same step (a
        checkout, say) may have planted a link.
        """
        self.path(relative)  # the same refusals as for any config path (absolute, "..")
        lexical = self.work_dir / posixpath.normpath(relative)
        try:
            return real_path(self.work_dir, lexical, create_parents=create_parents)
        except ValueError as exc:
            raise TerminalStepError(str(exc)) from exc


@dataclass
class StepResult:
    """What a step run produced."""

    status: PromotionStepStatus
    message: str = ""
    output: dict[str, Any] = field(default_factory=dict)
    health_check: HealthCheckStep | None = None
    #: For a Running step: when to look again.
    retry_after: timedelta | None = None
    #: In a preview: what the step would have done instead of doing it.
    effect: EffectNote | None = None


class StepRunner(Protocol):
    """A step kind."""

    #: The ``uses:`` value.
    name: ClassVar[str]
    config_model: ClassVar[type[StepConfig]]
    #: Soft limit on how long the step may stay Running or retrying (None: no limit).
    default_timeout: ClassVar[timedelta | None]
    #: Consecutive errors before the step gives up (>= 1).
    default_error_threshold: ClassVar[int]
    #: What it does outside the working directory (see :mod:`shunter.promotion.effects`).
    external_effects: ClassVar[Effects]

    async def run(self, ctx: StepContext, config: Any) -> StepResult:
        """Do the step's work with a validated config."""
        ...


class PreviewableStep(Protocol):
    """A step with external effects that can tell what it would do, changing nothing outside
    the working directory; the result carries an ``effect`` and the outputs a real run would
    have (as far as they can be known)."""

    async def preview(self, ctx: StepContext, config: Any) -> StepResult:
        """What the step would do with this validated config."""
        ...
