"""The ``argocd-update`` step: point Argo CD Applications at new revisions and sync them.

Config (Kargo's keys): ``apps[]`` (at least one), each with exactly one of ``name`` or
``selector``, an optional ``namespace`` (default: the operator's Argo CD namespace) and optional
``sources[]``: ``repoURL`` (required; matched exactly for Helm chart sources together with
``chart``, by normalised git URL otherwise), ``chart``, ``desiredRevision`` (what the source must
be observably synced to), ``updateTargetRevision`` (write ``desiredRevision`` into the source's
``targetRevision``; needs ``desiredRevision``), ``kustomize.images[] {repoURL, tag | digest,
newName}`` and ``helm.images[] {key, value}`` (set as Helm parameters).

Every Application must authorize the Stage (annotation ``kargo.akuity.io/authorized-stage:
"<project>:<stage>"``): a named one that does not fails the step with a message naming the
annotation to add; selector matches that do not are skipped (none left: the step fails). With a
selector and source updates, every matched Application is checked first, so either all are
updated or none.

Per Application the step then starts a sync (a hard refresh,
the changed source fields and an ``operation`` tagged with the Promotion, in one merge patch),
waits for a running operation (its own, or someone else's before starting its own), or reads
the result of its own finished operation. It returns **Running** (looked at again after a few
seconds) until every operation it started has finished at the desired revisions; **Succeeded**
then registers the ``argocd-update`` health check ``{apps: [{name, namespace,
desiredRevisions}]}``. An operation that ended Failed or Error fails the step with Argo CD's
message. Output: ``apps[] {name, namespace}``. Default timeout: 5 minutes.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, ClassVar

from pydantic import Field, StringConstraints, field_validator, model_validator

from shunter.api.v1alpha1.common import HealthCheckStep
from shunter.api.v1alpha1.promotion import PromotionStepStatus
from shunter.argocd import (
    OPERATION_INITIATOR,
    Application,
    ArgoCDClient,
    ArgoCDError,
    HelmParameterUpdate,
    KustomizeImageUpdate,
    OperationPhase,
    SourceUpdate,
    SourceUpdateError,
    assess_sync,
    build_sync_patch,
    desired_revisions,
    desired_sources,
)
from shunter.argocd.models import is_failed
from shunter.kube.client import ConflictError, KubeError
from shunter.promotion.effects import Effects
from shunter.promotion.registry import register
from shunter.promotion.step import (
    StepConfig,
    StepContext,
    StepError,
    StepResult,
    TerminalStepError,
)
from shunter.providers.argocd import AppTargetConfig, apps_output, argocd_client
from shunter.steps_support.effects import app_names, would
from shunter.steps_support.git_common import empty_to_none

__all__ = [
    "POLL_INTERVAL",
    "ArgoCDAppUpdateConfig",
    "ArgoCDUpdateConfig",
    "ArgoCDUpdateStep",
    "HelmImageConfig",
    "KustomizeImageConfig",
    "SourceUpdateConfig",
]

#: How long a Running step waits before looking at the Applications again.
POLL_INTERVAL = timedelta(seconds=5)
_MAX_REPORTED = 3

NonEmpty = Annotated[str, StringConstraints(min_length=1)]


class KustomizeImageConfig(StepConfig):
    """A ``kustomize.images[]`` entry."""

    repo_url: NonEmpty = Field(alias="repoURL", description="The image repository.")
    tag: str | None = Field(default=None, description="Tag to set (not with digest).")
    digest: str | None = Field(default=None, description="Digest to set (not with tag).")
    new_name: NonEmpty | None = Field(default=None, description="Image name override.")

    _empty = field_validator("tag", "digest", mode="before")(empty_to_none)

    @model_validator(mode="after")
    def _tag_or_digest(self) -> KustomizeImageConfig:
        if self.tag is not None and self.digest is not None:
            raise ValueError("tag and digest are mutually exclusive")
        return self


class KustomizeUpdateConfig(StepConfig):
    """``kustomize``: images to set."""

    images: Annotated[list[KustomizeImageConfig], Field(min_length=1)] | None = None


class HelmImageConfig(StepConfig):
    """A ``helm.images[]`` entry: a Helm parameter."""

    key: NonEmpty = Field(description="Helm parameter name, e.g. image.tag.")
    value: str = Field(description="Value of the parameter.")


class HelmUpdateConfig(StepConfig):
    """``helm``: parameters to set."""

    images: Annotated[list[HelmImageConfig], Field(min_length=1)]


class SourceUpdateConfig(StepConfig):
    """A ``sources[]`` entry."""

    repo_url: NonEmpty = Field(
        alias="repoURL", description="Repository URL of the Application source to update."
    )
    chart: NonEmpty | None = Field(default=None, description="Chart name, for Helm repositories.")
    desired_revision: NonEmpty | None = Field(
        default=None, description="Revision the source must be observably synced to."
    )
    update_target_revision: bool = Field(
        default=False, description="Write desiredRevision into the source's targetRevision."
    )
    kustomize: KustomizeUpdateConfig | None = None
    helm: HelmUpdateConfig | None = None

    _empty = field_validator("desired_revision", mode="before")(empty_to_none)

    @model_validator(mode="after")
    def _revision_for_update(self) -> SourceUpdateConfig:
        if self.update_target_revision and self.desired_revision is None:
            raise ValueError("updateTargetRevision requires desiredRevision")
        return self

    def to_update(self) -> SourceUpdate:
        """The adapter's view of this update."""
        images = (self.kustomize.images if self.kustomize else None) or []
        return SourceUpdate(
            repo_url=self.repo_url,
            chart=self.chart or "",
            desired_revision=self.desired_revision or "",
            update_target_revision=self.update_target_revision,
            kustomize_images=tuple(
                KustomizeImageUpdate(i.repo_url, i.tag, i.digest, i.new_name) for i in images
            ),
            helm_parameters=tuple(
                HelmParameterUpdate(i.key, i.value) for i in (self.helm.images if self.helm else [])
            ),
        )


class ArgoCDAppUpdateConfig(AppTargetConfig):
    """An ``apps[]`` entry."""

    sources: Annotated[list[SourceUpdateConfig], Field(min_length=1)] | None = None


class ArgoCDUpdateConfig(StepConfig):
    """Config of ``argocd-update``."""

    apps: Annotated[list[ArgoCDAppUpdateConfig], Field(min_length=1)]


def _where(app: Application) -> str:
    return f"Argo CD Application {app.name!r} in namespace {app.namespace!r}"


def _check_compatible(apps: list[Application], updates: list[SourceUpdate]) -> None:
    """All-or-nothing: every matched Application must accept every source update."""
    if len(apps) <= 1:
        return
    problems: list[str] = []
    for app in apps:
        try:
            desired_sources(app, updates)
        except SourceUpdateError as exc:
            problems.append(str(exc))
    if problems:
        shown = problems[:_MAX_REPORTED]
        more = f" (showing the first {_MAX_REPORTED})" if len(problems) > _MAX_REPORTED else ""
        raise StepError(
            f"selected Applications must have compatible sources; {len(problems)} "
            f"incompatible{more}. No Applications were updated:\n" + "\n".join(shown)
        )


def _sync_message(app: Application, patch: dict[str, Any]) -> str:
    spec = patch.get("spec") or {}
    if app.multi_source:
        sources = spec.get("sources") or app.raw_sources()
        if len(sources) == 1:
            return f"initiated sync to {sources[0].get('targetRevision') or 'HEAD'}"
        return f"initiated sync to {len(sources)} sources"
    revision = (spec.get("source") or {}).get("targetRevision")
    if revision is None and app.spec.source is not None:
        revision = app.spec.source.target_revision
    return f"initiated sync to {revision or 'HEAD'}"


@register
class ArgoCDUpdateStep:
    """Runner of ``argocd-update``."""

    name: ClassVar[str] = "argocd-update"
    config_model: ClassVar[type[StepConfig]] = ArgoCDUpdateConfig
    default_timeout: ClassVar[timedelta | None] = timedelta(minutes=5)
    default_error_threshold: ClassVar[int] = 1
    external_effects: ClassVar[Effects] = Effects.WRITES

    async def preview(self, ctx: StepContext, config: Any) -> StepResult:
        """The Applications it would point at new revisions and sync."""
        cfg = ArgoCDUpdateConfig.model_validate(config)
        revisions = sorted(
            {s.desired_revision for a in cfg.apps for s in a.sources or [] if s.desired_revision}
        )
        summary = f"would update and sync Argo CD Application(s) {app_names(cfg.apps)}"
        if revisions:
            summary += f" to revision {', '.join(revisions)}"
        return would(summary)

    async def run(self, ctx: StepContext, config: Any) -> StepResult:
        """Start, follow or conclude the sync of every Application (see the module doc)."""
        if not isinstance(config, ArgoCDUpdateConfig):
            raise TerminalStepError("argocd-update: unexpected config type")
        client = argocd_client(ctx, self.name)
        resolved: list[tuple[str, str]] = []
        checks: list[dict[str, Any]] = []
        waiting: list[str] = []
        for entry in config.apps:
            updates = [source.to_update() for source in entry.sources or []]
            apps = await self._find(client, ctx, entry)
            if updates:
                _check_compatible(apps, updates)
            for app in apps:
                desired = desired_revisions(app, updates)
                resolved.append((app.namespace, app.name))
                checks.append(
                    {"name": app.name, "namespace": app.namespace, "desiredRevisions": desired}
                )
                progress = assess_sync(app, promotion=ctx.promotion, desired=desired)
                if progress.must_sync:
                    await self._start_sync(client, ctx, app, updates)
                    waiting.append(f"{_where(app)}: sync started")
                    continue
                if is_failed(progress.phase):
                    state = app.operation_state
                    message = (state.message if state is not None else None) or progress.phase
                    return StepResult(
                        status=PromotionStepStatus.FAILED,
                        message=f"{_where(app)} failed with: {message}",
                        output={"apps": apps_output(resolved)},
                    )
                if progress.phase != OperationPhase.SUCCEEDED:
                    waiting.append(f"{_where(app)}: {progress.reason or progress.phase}")
        output = {"apps": apps_output(resolved)}
        if waiting:
            return StepResult(
                status=PromotionStepStatus.RUNNING,
                message="; ".join(waiting),
                output=output,
                retry_after=POLL_INTERVAL,
            )
        return StepResult(
            status=PromotionStepStatus.SUCCEEDED,
            output=output,
            health_check=HealthCheckStep(uses=self.name, config={"apps": checks}),
        )

    @staticmethod
    async def _find(
        client: ArgoCDClient, ctx: StepContext, entry: ArgoCDAppUpdateConfig
    ) -> list[Application]:
        try:
            return await client.find_authorized(
                entry.namespace,
                project=ctx.project,
                stage=ctx.stage,
                name=entry.name,
                selector=entry.selector.to_selector() if entry.selector else None,
            )
        except ArgoCDError as exc:
            raise StepError(str(exc)) from exc

    @staticmethod
    async def _start_sync(
        client: ArgoCDClient, ctx: StepContext, app: Application, updates: list[SourceUpdate]
    ) -> None:
        try:
            patch = build_sync_patch(app, updates, promotion=ctx.promotion, actor=ctx.actor)
        except SourceUpdateError as exc:
            raise StepError(f"error building the desired sources of {_where(app)}: {exc}") from exc
        try:
            await client.patch(app, patch)
        except ConflictError:
            # The Application changed since it was read; the next run looks again.
            return
        except KubeError as exc:
            raise StepError(f"error syncing {_where(app)}: {exc}") from exc
        await client.record_event(
            app,
            user=OPERATION_INITIATOR,
            reason="OperationStarted",
            message=_sync_message(app, patch),
        )
