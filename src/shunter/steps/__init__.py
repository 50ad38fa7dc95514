"""Built-in promotion steps, one module per step kind.

Importing a step module registers its kind in the default registry; :func:`load_builtin_steps`
imports them all (the operator calls it once at start-up).
"""

from __future__ import annotations

import importlib

__all__ = ["BUILTIN_STEP_MODULES", "load_builtin_steps"]

#: The explicit list of built-in step modules (reviewable; no directory scanning).
BUILTIN_STEP_MODULES: tuple[str, ...] = (
    "argocd_update",
    "argocd_wait",
    "compose_output",
    "copy",
    "delete",
    "fail",
    "file_write",
    "git_clear",
    "git_clone",
    "git_commit",
    "git_merge_pr",
    "git_open_pr",
    "git_push",
    "git_tag",
    "git_wait_for_pr",
    "helm_template",
    "http",
    "http_download",
    "jira",
    "json_parse",
    "json_update",
    "kustomize_build",
    "kustomize_set_image",
    "oci_download",
    "oci_push",
    "set_freight_alias",
    "set_metadata",
    "tar",
    "toml_parse",
    "toml_update",
    "untar",
    "yaml_merge",
    "yaml_parse",
    "yaml_update",
)


def load_builtin_steps() -> None:
    """Import every built-in step module so that each registers itself."""
    for module in BUILTIN_STEP_MODULES:
        importlib.import_module(f"shunter.steps.{module}")
