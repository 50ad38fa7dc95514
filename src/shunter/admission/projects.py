"""Admission of the project kinds: Project, ProjectConfig, ClusterConfig (validating only).

* Project (CREATE): refused when its namespace exists without the
  ``kargo.akuity.io/project: "true"`` label, or is being deleted (Kargo's 409 Conflict).
* ProjectConfig: created only in a project namespace (403); promotion policies may not name
  the same Stage twice, and a name pattern must be ``glob:``, ``regex:`` or ``regexp:`` (a
  regular expression that compiles; :mod:`shunter.admission.selectors`).
* ProjectConfig and ClusterConfig: webhook receiver names unique, one receiver type each;
  promotion windows as :mod:`shunter.admission.windows` checks them (``projectSelector``
  refused on a ProjectConfig).

The naming rules (a ProjectConfig is named after its namespace, the ClusterConfig is named
``cluster``) are in the CRD and a ValidatingAdmissionPolicy.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from shunter.admission.context import AdmissionContext
from shunter.admission.review import (
    AdmissionError,
    AdmissionRequest,
    FieldError,
    Verdict,
    forbidden,
    invalid,
)
from shunter.admission.selectors import name_pattern_error
from shunter.admission.windows import window_errors
from shunter.api.v1alpha1 import labels as lbl

__all__ = ["validate_cluster_config", "validate_project", "validate_project_config"]

_RECEIVER_TYPES = (
    "artifactory",
    "azure",
    "bitbucket",
    "dockerhub",
    "generic",
    "gitea",
    "github",
    "gitlab",
    "harbor",
    "quay",
)


async def validate_project(request: AdmissionRequest, ctx: AdmissionContext) -> Verdict:
    """Project validating webhook."""
    if request.operation != "CREATE" or request.dry_run:
        return Verdict()
    namespace = await ctx.lookups.namespace(request.name)
    if namespace is None:
        return Verdict()
    meta = namespace.get("metadata") or {}
    why = ""
    if (meta.get("labels") or {}).get(lbl.PROJECT) != "true":
        why = "already exists and is not labeled as a Project namespace"
    elif meta.get("deletionTimestamp"):
        why = (
            "is still being terminated; please try again after the namespace has been fully deleted"
        )
    if why:
        raise AdmissionError(
            409,
            "Conflict",
            f'Operation cannot be fulfilled on projects.kargo.akuity.io "{request.name}": '
            f"failed to initialize Project {request.name!r} because namespace "
            f"{request.name!r} {why}",
        )
    return Verdict()


def receiver_errors(path: str, receivers: Sequence[Any]) -> list[FieldError]:
    """Webhook receivers: unique names, exactly one receiver type per entry."""
    errors: list[FieldError] = []
    seen: dict[str, int] = {}
    for i, receiver in enumerate(receivers):
        if not isinstance(receiver, dict):
            continue
        name = str(receiver.get("name") or "")
        if name in seen:
            errors.append(
                FieldError(
                    f"{path}[{i}].name",
                    f"webhook receiver name already defined at {path}[{seen[name]}]",
                    name,
                )
            )
        seen.setdefault(name, i)
        types = [t for t in _RECEIVER_TYPES if receiver.get(t) is not None]
        if len(types) > 1:
            errors.append(
                FieldError(
                    f"{path}[{i}]",
                    f"cannot define a receiver that is of more than one type, found "
                    f"{len(types)}: {', '.join(types)}",
                )
            )
    return errors


def _policy_errors(policies: Sequence[Any]) -> list[FieldError]:
    errors: list[FieldError] = []
    seen: dict[str, int] = {}
    for i, policy in enumerate(policies):
        if not isinstance(policy, dict):
            continue
        selector = policy.get("stageSelector") or {}
        stage = str(selector.get("name") or policy.get("stage") or "")
        if not stage:
            continue
        if ":" in stage:
            error = name_pattern_error(f"spec.promotionPolicies[{i}].stageSelector.name", stage)
            if error is not None:
                errors.append(error)
            continue
        if stage in seen:
            errors.append(
                FieldError(
                    f"spec.promotionPolicies[{i}]",
                    f"stage name already defined at spec.promotionPolicies[{seen[stage]}]",
                    stage,
                )
            )
        seen.setdefault(stage, i)
    return errors


async def validate_project_config(request: AdmissionRequest, ctx: AdmissionContext) -> Verdict:
    """ProjectConfig validating webhook."""
    if request.operation not in ("CREATE", "UPDATE"):
        return Verdict()
    spec = request.object.get("spec") or {}
    errors = _policy_errors(spec.get("promotionPolicies") or [])
    errors += receiver_errors("spec.webhookReceivers", spec.get("webhookReceivers") or [])
    errors += window_errors(spec.get("promotionWindows") or [], cluster=False)
    if errors:
        raise invalid("ProjectConfig", request.name, errors)
    if request.operation == "CREATE" and not request.dry_run:
        namespace = await ctx.lookups.namespace(request.namespace) or {}
        labels = (namespace.get("metadata") or {}).get("labels") or {}
        if labels.get(lbl.PROJECT) != "true":
            raise forbidden(
                "projectconfigs.kargo.akuity.io",
                request.name,
                f"namespace {request.namespace!r} does not belong to Kargo project (missing "
                f'"{lbl.PROJECT}" label)',
            )
    return Verdict()


async def validate_cluster_config(request: AdmissionRequest, ctx: AdmissionContext) -> Verdict:
    """ClusterConfig validating webhook."""
    if request.operation not in ("CREATE", "UPDATE"):
        return Verdict()
    spec = request.object.get("spec") or {}
    errors = receiver_errors("spec.webhookReceivers", spec.get("webhookReceivers") or [])
    errors += window_errors(spec.get("promotionWindows") or [], cluster=True)
    if errors:
        raise invalid("ClusterConfig", request.name, errors)
    return Verdict()
