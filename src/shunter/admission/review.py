"""AdmissionReview ``admission.k8s.io/v1``: the request the API server sends, the answers a
webhook gives (allow, allow with a JSON patch, deny with a status), and the JSON patch itself.

Denials read like the API server's own errors, so that ``kubectl`` prints a message naming the
field or the permission, e.g. ``Promotion "x" is invalid: spec.freight: Invalid value: "abc":
...`` or ``promotions.kargo.akuity.io "x" is forbidden: ...``.
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from shunter._internal.jsondiff import json_patch

__all__ = [
    "JSON",
    "AdmissionError",
    "AdmissionRequest",
    "FieldError",
    "Verdict",
    "forbidden",
    "invalid",
    "mutable_copy",
]

JSON = dict[str, Any]
REVIEW_API_VERSION = "admission.k8s.io/v1"


@dataclass(frozen=True)
class UserInfo:
    """Who sent the request, as the API server authenticated them."""

    username: str = ""
    groups: tuple[str, ...] = ()
    uid: str = ""
    extra: Mapping[str, Sequence[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class AdmissionRequest:
    """The parts of ``AdmissionReview.request`` the webhooks read."""

    uid: str
    kind: str
    resource: str
    sub_resource: str
    operation: str
    namespace: str
    name: str
    user: UserInfo
    object: JSON
    old_object: JSON
    dry_run: bool = False

    @classmethod
    def from_review(cls, review: Mapping[str, Any]) -> AdmissionRequest:
        """Parse an AdmissionReview; raises ValueError when it is not one."""
        if review.get("kind") != "AdmissionReview" or not isinstance(review.get("request"), dict):
            raise ValueError("not an AdmissionReview with a request")
        request: Mapping[str, Any] = review["request"]
        uid = request.get("uid")
        if not isinstance(uid, str) or not uid:
            raise ValueError("the AdmissionReview request has no uid")
        user = request.get("userInfo") or {}
        extra = user.get("extra") or {}
        return cls(
            uid=uid,
            kind=str((request.get("kind") or {}).get("kind", "")),
            resource=str((request.get("resource") or {}).get("resource", "")),
            sub_resource=str(request.get("subResource") or ""),
            operation=str(request.get("operation") or ""),
            namespace=str(request.get("namespace") or ""),
            name=str(request.get("name") or ""),
            user=UserInfo(
                username=str(user.get("username") or ""),
                groups=tuple(str(g) for g in user.get("groups") or ()),
                uid=str(user.get("uid") or ""),
                extra={
                    str(k): [str(x) for x in v] for k, v in extra.items() if isinstance(v, list)
                },
            ),
            object=_object(request.get("object")),
            old_object=_object(request.get("oldObject")),
            dry_run=bool(request.get("dryRun")),
        )

    @property
    def current(self) -> JSON:
        """The object the request is about: the new one, or the old one on DELETE."""
        return self.object or self.old_object


def _object(value: Any) -> JSON:
    return value if isinstance(value, dict) else {}


@dataclass(frozen=True)
class FieldError:
    """One invalid field: ``<path>: Invalid value: "<value>": <message>``."""

    path: str
    message: str
    value: Any = None

    def __str__(self) -> str:
        if self.value is None:
            return f"{self.path}: {self.message}"
        shown = self.value if isinstance(self.value, str) else json.dumps(self.value)
        return f'{self.path}: Invalid value: "{shown}": {self.message}'


class AdmissionError(Exception):
    """Refuse the request with an HTTP status, a reason and a message."""

    def __init__(self, code: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message


def invalid(kind: str, name: str, errors: Sequence[FieldError]) -> AdmissionError:
    """422 Invalid, listing every field error (the API server's wording)."""
    listed = "; ".join(str(e) for e in errors)
    what = f'{kind} "{name}"' if name else kind
    return AdmissionError(422, "Invalid", f"{what} is invalid: {listed}")


def forbidden(resource: str, name: str, why: str) -> AdmissionError:
    """403 Forbidden (the API server's wording)."""
    what = f'{resource} "{name}"' if name else resource
    return AdmissionError(403, "Forbidden", f"{what} is forbidden: {why}")


@dataclass(frozen=True)
class Verdict:
    """What a webhook answers: allowed or not, and for a mutating webhook the new object."""

    allowed: bool = True
    mutated: JSON | None = None
    denial: AdmissionError | None = None
    warnings: tuple[str, ...] = ()

    def response(self, request: AdmissionRequest) -> JSON:
        """The AdmissionReview to send back."""
        answer: JSON = {"uid": request.uid, "allowed": self.allowed}
        if self.denial is not None:
            answer["status"] = {
                "code": self.denial.code,
                "reason": self.denial.reason,
                "message": self.denial.message,
            }
        if self.mutated is not None:
            ops = json_patch(request.object, self.mutated)
            if ops:
                answer["patchType"] = "JSONPatch"
                answer["patch"] = base64.b64encode(json.dumps(ops).encode()).decode("ascii")
        if self.warnings:
            answer["warnings"] = list(self.warnings)
        return {"apiVersion": REVIEW_API_VERSION, "kind": "AdmissionReview", "response": answer}


def mutable_copy(obj: Mapping[str, Any]) -> JSON:
    """A deep copy to mutate (the request's object stays as the API server sent it)."""
    return copy.deepcopy(dict(obj))
