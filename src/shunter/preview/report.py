"""What a preview found, and its text form (what ``shunter promote --dry-run`` prints).

A report lists every step with what happened to it in the preview, the effects that were not
carried out (each step with external effects, saying what it would have done), and per git
repository the unified diff between the branch as it is now and the commit that would be
pushed. Diffs longer than :data:`MAX_DIFF_LINES` lines are cut, saying so.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from shunter.promotion.effects import RepositoryChange

__all__ = [
    "MAX_DIFF_LINES",
    "PreviewReport",
    "SkippedEffect",
    "StepPreview",
    "diff_lines",
    "render_text",
]

#: Lines of one repository's diff a report prints.
MAX_DIFF_LINES = 2000


@dataclass(frozen=True)
class StepPreview:
    """One step as the preview saw it."""

    index: int
    alias: str
    uses: str
    status: str
    message: str = ""
    #: What the step would have done (steps with external effects), else "".
    effect: str = ""


@dataclass(frozen=True)
class SkippedEffect:
    """A step that was not carried out: what it would have done."""

    alias: str
    uses: str
    summary: str


@dataclass(frozen=True)
class PreviewReport:
    """The outcome of previewing one Promotion."""

    project: str
    stage: str
    freight: str
    freight_alias: str
    #: ``Succeeded`` when every step would have gone through, else the phase a real run
    #: would have ended in (``Failed``, ``Errored``).
    phase: str
    message: str = ""
    steps: list[StepPreview] = field(default_factory=list)
    changes: list[RepositoryChange] = field(default_factory=list)

    @property
    def skipped_effects(self) -> list[SkippedEffect]:
        """The effects the preview did not carry out, in step order."""
        return [SkippedEffect(s.alias, s.uses, s.effect) for s in self.steps if s.effect]


def diff_lines(change: RepositoryChange) -> list[str]:
    """The lines of a repository's diff a report shows (cut after :data:`MAX_DIFF_LINES`)."""
    lines = change.diff.splitlines()
    if len(lines) <= MAX_DIFF_LINES:
        return lines
    return [*lines[:MAX_DIFF_LINES], f"... ({len(lines) - MAX_DIFF_LINES} more lines not shown)"]


def render_text(report: PreviewReport) -> str:
    """The report as the command line prints it."""
    label = f"{report.freight_alias} ({report.freight})" if report.freight_alias else report.freight
    out = [
        f"Preview of promoting Freight {label} to Stage {report.stage} in project "
        f"{report.project}: nothing was changed.",
        "",
    ]
    if report.phase == "Succeeded":
        out.append("Every step would go through.")
    else:
        out.append(f"The Promotion would end {report.phase}: {report.message}")
    out += ["", "Steps:"]
    width = max((len(s.alias) for s in report.steps), default=0)
    for step in report.steps:
        status = "not run" if step.effect else step.status
        line = f"  {step.index:>2}. {step.alias:<{width}}  {step.uses:<18} {status}"
        detail = step.effect or step.message
        out.append(f"{line}: {detail}" if detail else line)
    skipped = report.skipped_effects
    if skipped:
        out += ["", "Effects not carried out:"]
        out += [f"  - {s.alias} ({s.uses}): {s.summary}" for s in skipped]
    for change in report.changes:
        base = change.base[:7] if change.base else "(none)"
        out += [
            "",
            f"Changes to {change.repository}, branch {change.branch} "
            f"({base} -> {change.head[:7]}):",
        ]
        out += diff_lines(change) if change.diff else ["  (no changes)"]
    return "\n".join(out) + "\n"
