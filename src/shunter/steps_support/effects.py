"""What the steps with external effects tell a preview instead of acting: a result saying
what they would do, with URLs shown without credentials or query strings."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from shunter.api.v1alpha1.promotion import PromotionStepStatus
from shunter.promotion.effects import EffectNote
from shunter.promotion.step import StepResult

__all__ = ["app_names", "shown_url", "would"]


def would(summary: str, output: dict[str, Any] | None = None) -> StepResult:
    """A previewed step: it would do ``summary``; ``output`` is what later steps may use."""
    return StepResult(
        status=PromotionStepStatus.SUCCEEDED, output=output or {}, effect=EffectNote(summary)
    )


def shown_url(url: str) -> str:
    """``url`` without user information, query or fragment (they may hold secrets)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<an invalid URL>"
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def app_names(apps: Iterable[Any]) -> str:
    """``namespace/name`` of Argo CD ``apps[]`` entries (or their selector)."""
    names = []
    for app in apps:
        where = f"{app.namespace}/" if getattr(app, "namespace", None) else ""
        names.append(f"{where}{app.name}" if app.name else f"{where}<selected by labels>")
    return ", ".join(names)
