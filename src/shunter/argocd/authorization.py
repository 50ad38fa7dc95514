"""Which Kargo Stages may change an Argo CD Application.

An Application consents to changes by a Stage through the annotation
``kargo.akuity.io/authorized-stage``: a comma-separated list of ``<project>:<stage>`` entries
(whitespace around entries and around each part is ignored; empty entries are skipped). Glob
patterns (``*``) were deprecated by Kargo and are refused. Every refusal says exactly which
annotation (or which entry) to add.
"""

from __future__ import annotations

from dataclasses import dataclass

from shunter.api.v1alpha1.annotations import AUTHORIZED_STAGE
from shunter.argocd.errors import AuthorizationError
from shunter.argocd.models import Application

__all__ = ["AUTHORIZED_STAGE", "StageRef", "authorize", "parse_authorized_stages"]


@dataclass(frozen=True)
class StageRef:
    """A Stage named by project (its namespace) and name."""

    project: str
    stage: str

    def __str__(self) -> str:
        return f"{self.project}:{self.stage}"


def parse_authorized_stages(value: str) -> list[StageRef]:
    """The Stages an ``authorized-stage`` annotation value lists.

    Raises:
        ValueError: an entry is not ``<project>:<stage>``, uses a glob, or no entry is given.
    """
    stages: list[StageRef] = []
    for raw in value.split(","):
        entry = raw.strip()
        if not entry:
            continue
        project, sep, stage = entry.partition(":")
        project, stage = project.strip(), stage.strip()
        if not sep or not project or not stage:
            raise ValueError(f"invalid authorized Stage {entry!r}: expected <project>:<stage>")
        if "*" in project or "*" in stage:
            raise ValueError(
                f"invalid authorized Stage {entry!r}: glob patterns are no longer supported"
            )
        stages.append(StageRef(project, stage))
    if not stages:
        raise ValueError(f"no authorized Stage found in {value!r}")
    return stages


def authorize(app: Application, project: str, stage: str) -> None:
    """Return if ``app`` allows Stage ``stage`` of ``project`` to change it.

    Raises:
        AuthorizationError: with a message that names the annotation to add or fix.
    """
    wanted = StageRef(project, stage)
    what = (
        f"Argo CD Application {app.name!r} in namespace {app.namespace!r} does not permit "
        f"mutation by Kargo Stage {stage!r} of project {project!r}"
    )
    value = app.annotations.get(AUTHORIZED_STAGE)
    if value is None:
        raise AuthorizationError(
            f'{what}: add the annotation {AUTHORIZED_STAGE}: "{wanted}" to the Application'
        )
    try:
        allowed = parse_authorized_stages(value)
    except ValueError as exc:
        raise AuthorizationError(
            f"{what}: its annotation {AUTHORIZED_STAGE} ({value!r}) is invalid ({exc}); "
            f'set it to "{wanted}" (comma-separated <project>:<stage> entries, no globs)'
        ) from None
    if wanted in allowed:
        return
    listed = ",".join(str(s) for s in allowed)
    raise AuthorizationError(
        f'{what}: its annotation {AUTHORIZED_STAGE} is "{listed}"; add "{wanted}" to it, '
        f'e.g. {AUTHORIZED_STAGE}: "{listed},{wanted}"'
    )
