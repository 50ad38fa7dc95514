"""What a step does outside the Promotion's working directory, and what a preview reports
instead of doing it.

Every step kind declares ``external_effects`` (the registry refuses one that does not, so a new
step cannot be previewed for real by accident):

* :attr:`Effects.NONE`: it works in the working directory and at most reads from outside
  (clones, downloads, renders); a preview runs it as a real run would.
* :attr:`Effects.WRITES`: it changes something outside (a git remote, Argo CD, an issue
  tracker, a registry, Kargo objects); a preview does not run it. A step may define
  ``preview(ctx, config)``, which must change nothing outside and returns what it would do
  (an :class:`EffectNote`) and the outputs later steps can use (``git-push`` computes the
  diff it would push); without it the preview says the step would run.
* :attr:`Effects.WAITS`: it waits for something outside to change (which a preview never
  changes); a preview reports what it would wait for, the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["EffectNote", "Effects", "RepositoryChange"]


class Effects(StrEnum):
    """A step kind's effects outside the working directory (``external_effects``)."""

    NONE = "none"
    WRITES = "writes"
    WAITS = "waits"

    @property
    def description(self) -> str:
        """One line for the step reference."""
        return {
            Effects.NONE: "none: a preview runs it",
            Effects.WRITES: "writes outside the working directory: a preview reports it instead",
            Effects.WAITS: "waits for outside changes: a preview reports it instead",
        }[self]


@dataclass(frozen=True)
class RepositoryChange:
    """What a push would change in one git repository: the unified diff between the branch as
    it is now and the commit that would be pushed."""

    #: The repository URL, credentials removed.
    repository: str
    branch: str
    #: The branch's commit now ("" when the branch does not exist yet).
    base: str
    #: The commit that would be pushed.
    head: str
    diff: str


@dataclass(frozen=True)
class EffectNote:
    """What a step would have done in a real run."""

    summary: str
    change: RepositoryChange | None = None
