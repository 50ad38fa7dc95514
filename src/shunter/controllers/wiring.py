"""What controllers need from the operator around them: ways to wake other reconciles, and to
record Kubernetes Events. The operator package implements these; tests may too."""

from __future__ import annotations

from typing import Protocol

__all__ = ["Enqueue", "EventSink"]


class Enqueue(Protocol):
    """Ask for another reconcile of some object (level-triggered: "look again")."""

    def stage(self, namespace: str, name: str, *, after: float = 0.0) -> None:
        """Reconcile one Stage."""
        ...

    def stages(self, namespace: str) -> None:
        """Reconcile every Stage of a namespace."""
        ...

    def promotion(self, namespace: str, name: str, *, after: float = 0.0) -> None:
        """Reconcile one Promotion."""
        ...


class EventSink(Protocol):
    """Records a Kubernetes Event about an object of ours."""

    async def emit(
        self,
        *,
        namespace: str,
        kind: str,
        name: str,
        uid: str | None,
        reason: str,
        message: str,
        annotations: dict[str, str] | None = None,
        warning: bool = False,
    ) -> None:
        """Best effort: failures are logged, never raised."""
        ...
