"""Previewing a Promotion: its steps run in a scratch working directory exactly as the operator
would run them, except that no step with external effects runs.

:class:`Previewer` reads the Stage and the Freight as the caller (a :class:`Reader`), checks
that the Freight is available to the Stage, builds the steps as the Promotion controller would
(the Stage's template, PromotionTasks inflated, Stage and template vars), and gives them to the
promotion engine's orchestrator in preview mode (:mod:`shunter.promotion.orchestrator`):
``git-clone``, the file steps and renderers run for real in a temporary folder; ``git-push``
computes the diff it would push; the other effects say what they would do. Nothing is created
in the cluster and nothing is pushed; the folder is removed afterwards.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import uuid
from pathlib import Path

from pydantic import ValidationError

from shunter.api.v1alpha1 import Freight, Promotion, PromotionPhase, Stage, to_wire
from shunter.api.v1alpha1 import annotations as ann
from shunter.api.v1alpha1.common import PromotionStep, PromotionTaskReference
from shunter.api.v1alpha1.promotion import PromotionStatus
from shunter.api.v1alpha1.promotion_task import PromotionTaskSpec
from shunter.controllers.availability import freight_availability
from shunter.controllers.collections import promotion_context
from shunter.controllers.naming import promotion_name
from shunter.credentials.kubernetes import KubernetesCredentialsDatabase
from shunter.git import MirrorStore, default_mirror_store
from shunter.preview.reader import AccessDenied, Reader, ReaderFetcher, ReaderSecrets
from shunter.preview.report import PreviewReport, StepPreview
from shunter.promotion.context import PromotionContext
from shunter.promotion.effects import RepositoryChange
from shunter.promotion.errors import InflationError
from shunter.promotion.orchestrator import Orchestrator, RunOutcome
from shunter.promotion.registry import DEFAULT_REGISTRY
from shunter.promotion.step import Capabilities, GitAuthor, StepResult
from shunter.promotion.tasks import inflate_stage_template
from shunter.steps import load_builtin_steps

__all__ = ["PreviewError", "Previewer", "credentials_over_http"]


class PreviewError(Exception):
    """The Promotion cannot be previewed (no such Stage or Freight, nothing to run, not
    available, unreadable); the message says why."""


def credentials_over_http(flag: bool) -> bool:
    """Whether previews may send repository credentials to plain ``http://`` URLs: the
    command's flag, else ``$SHUNTER_ALLOW_CREDENTIALS_OVER_HTTP`` (as the operator reads it)."""
    value = os.environ.get("SHUNTER_ALLOW_CREDENTIALS_OVER_HTTP", "")
    return flag or value.strip().lower() in ("1", "true", "yes")


async def _discard(_status: PromotionStatus) -> None:
    return None


class Previewer:
    """Previews Promotions with one caller's identity.

    Args:
        reader: the caller's reads.
        actor: who the caller is (``kubernetes:<user>``), for messages and
            ``ctx.meta.promotion.actor``.
        allow_credentials_over_http: hand repository credentials to plain ``http://`` URLs
            (the operator's ``SHUNTER_ALLOW_CREDENTIALS_OVER_HTTP``).
        git_mirrors: where the git steps keep their mirrors (default: a folder of the process,
            removed when it ends; a long-running caller passes one it removes itself).
    """

    def __init__(
        self,
        reader: Reader,
        *,
        actor: str = "",
        allow_credentials_over_http: bool = False,
        git_author: GitAuthor | None = None,
        argocd_namespace: str = "argocd",
        git_mirrors: MirrorStore | None = None,
    ) -> None:
        self._reader = reader
        self._actor = actor
        self._who = actor or "the caller"
        self._capabilities = Capabilities(
            credentials=KubernetesCredentialsDatabase(
                None,
                secrets=ReaderSecrets(reader, self._who),
                allow_credentials_over_http=allow_credentials_over_http,
            ),
            git_author=git_author or GitAuthor(),
            argocd_namespace=argocd_namespace,
            git_mirrors=git_mirrors or default_mirror_store(),
        )

    async def _read(self, plural: str, kind: str, project: str, name: str) -> dict[str, object]:
        try:
            raw = await self._reader.get(plural, project, name)
        except AccessDenied as exc:
            raise PreviewError(
                f"{self._who} may not read {kind} {name!r} in project {project!r}: {exc}"
            ) from None
        if raw is None:
            raise PreviewError(f"{kind} {name!r} not found in project {project!r}")
        return raw

    async def _task(self, project: str, ref: PromotionTaskReference) -> PromotionTaskSpec | None:
        cluster = ref.kind is not None and ref.kind.value == "ClusterPromotionTask"
        plural = "clusterpromotiontasks" if cluster else "promotiontasks"
        try:
            raw = await self._reader.get(plural, None if cluster else project, ref.name)
        except AccessDenied as exc:
            raise InflationError(f"{self._who} may not read {plural} {ref.name!r}: {exc}") from None
        if raw is None:
            return None
        spec = raw.get("spec")
        return PromotionTaskSpec.model_validate(spec if isinstance(spec, dict) else {})

    async def _promotion(self, stage: Stage, freight: Freight) -> Promotion:
        """The Promotion the controller would build (in memory only)."""
        try:
            inflated = await inflate_stage_template(stage, self._task)
        except InflationError as exc:
            raise PreviewError(str(exc)) from None
        stage_name, fname = stage.metadata.name or "", freight.metadata.name or ""
        return Promotion.model_validate(
            {
                "metadata": {
                    "name": promotion_name(stage_name, fname),
                    "namespace": stage.metadata.namespace,
                    "uid": f"preview-{uuid.uuid4()}",
                    "annotations": {ann.CREATE_ACTOR: self._actor} if self._actor else {},
                },
                "spec": {
                    "stage": stage_name,
                    "freight": fname,
                    "steps": [to_wire(s) for s in inflated.steps],
                    "vars": [to_wire(v) for v in inflated.vars] or None,
                },
            }
        )

    async def preview(self, project: str, stage_name: str, freight_name: str) -> PreviewReport:
        """Preview promoting ``freight_name`` to ``stage_name`` (raises :class:`PreviewError`)."""
        load_builtin_steps()
        try:
            stage = Stage.model_validate(await self._read("stages", "Stage", project, stage_name))
            freight = Freight.model_validate(
                await self._read("freights", "Freight", project, freight_name)
            )
        except ValidationError as exc:
            raise PreviewError(f"unreadable object: {exc}") from None
        availability = freight_availability(stage, freight)
        if not availability.available:
            raise PreviewError(
                f"Freight {freight_name!r} is not available to Stage {stage_name!r}: "
                f"{availability.reason}"
            )
        pctx = promotion_context(await self._promotion(stage, freight), stage, freight)
        effects: dict[str, StepResult] = {}

        def observe(alias: str, _step: PromotionStep, result: StepResult) -> None:
            effects[alias] = result

        orchestrator = Orchestrator(
            registry=DEFAULT_REGISTRY,
            capabilities=self._capabilities,
            data=ReaderFetcher(self._reader, self._who),
            preview=True,
            observe=observe,
        )
        working = PromotionStatus(
            phase=PromotionPhase.RUNNING,
            freight=pctx.target_freight,
            freight_collection=pctx.freight,
            state={},
        )
        scratch = Path(tempfile.mkdtemp(prefix="shunter-preview-"))
        try:
            outcome = await orchestrator.execute(pctx, working, work_dir=scratch, save=_discard)
        finally:
            await asyncio.to_thread(shutil.rmtree, scratch, True)
        return _report(pctx, freight, working, outcome, effects)


def _report(
    pctx: PromotionContext,
    freight: Freight,
    working: PromotionStatus,
    outcome: RunOutcome,
    results: dict[str, StepResult],
) -> PreviewReport:
    metadata = {m.alias: m for m in working.step_execution_metadata or []}
    steps: list[StepPreview] = []
    changes: list[RepositoryChange] = []
    for index, (step, alias) in enumerate(zip(pctx.steps, pctx.aliases, strict=True), start=1):
        meta = metadata.get(alias)
        result = results.get(alias)
        effect = result.effect if result is not None else None
        if effect is not None and effect.change is not None:
            changes.append(effect.change)
        steps.append(
            StepPreview(
                index=index,
                alias=alias,
                uses=step.uses or "",
                status=(meta.status.value if meta and meta.status else "Not reached"),
                message=(meta.message or "") if meta else "",
                effect=effect.summary if effect is not None else "",
            )
        )
    return PreviewReport(
        project=pctx.project,
        stage=pctx.stage,
        freight=freight.metadata.name or "",
        freight_alias=freight.alias or "",
        phase=outcome.phase.value,
        message=outcome.message,
        steps=steps,
        changes=changes,
    )
