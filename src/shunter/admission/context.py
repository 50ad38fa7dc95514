"""What every webhook handler gets (:class:`AdmissionContext`), the handler signature, and the
checks several kinds share: "is this namespace a project", and the actor stamped on abort and
reverify requests.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from shunter.admission.identity import Authorizer, ControlPlane, kubernetes_actor
from shunter.admission.lookups import AdmissionLookups
from shunter.admission.review import (
    AdmissionError,
    AdmissionRequest,
    FieldError,
    UserInfo,
    Verdict,
)
from shunter.api.v1alpha1 import labels as lbl

__all__ = [
    "AdmissionContext",
    "Handler",
    "project_namespace_check",
    "stamp_request_actor",
]


@dataclass(frozen=True)
class AdmissionContext:
    """The reads, the identities and the authorizer the handlers use."""

    lookups: AdmissionLookups
    control_plane: ControlPlane
    authorizer: Authorizer


Handler = Callable[[AdmissionRequest, AdmissionContext], Awaitable[Verdict]]


async def project_namespace_check(ctx: AdmissionContext, namespace: str) -> FieldError | None:
    """None when ``namespace`` is a project namespace; a field error when it is not.

    Raises:
        AdmissionError: 404 when the namespace does not exist.
    """
    found = await ctx.lookups.namespace(namespace)
    if found is None:
        raise AdmissionError(404, "NotFound", f'namespaces "{namespace}" not found')
    labels = (found.get("metadata") or {}).get("labels") or {}
    if labels.get(lbl.PROJECT) != "true":
        return FieldError(
            "metadata.namespace", f"namespace {namespace!r} is not a project", namespace
        )
    return None


def _parse(value: str, key: str) -> dict[str, object]:
    text = value.strip()
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        if isinstance(data, dict):
            return data
    return {key: text}


def stamp_request_actor(
    new: str | None, old: str | None, *, key: str, user: UserInfo, from_operator: bool
) -> str | None:
    """Kargo's enrichment of an abort or reverify annotation: a new request (plain value or
    JSON) becomes JSON ``{<key>: ..., "actor": "kubernetes:<user>", "controlPlane": false}``
    (the actor left as sent when the operator asks). Returns None when nothing changes."""
    if not new:
        return None
    request = _parse(new, key)
    if old and _parse(old, key).get(key) == request.get(key):
        return None
    request["controlPlane"] = from_operator
    if not from_operator:
        request["actor"] = kubernetes_actor(user)
    stamped = json.dumps(request, separators=(",", ":"))
    return None if stamped == new else stamped
