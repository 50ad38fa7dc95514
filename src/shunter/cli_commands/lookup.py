"""Finding the objects a command names, with errors that list what does exist.

``shunter promote --stage prdo`` answers "Stage 'prdo' not found in project 'p'; its Stages
are: preprod, prod", and a project that does not exist gets the list of projects instead.
Freight is named by its name (the Freight ID) or by its alias (the ``kargo.akuity.io/alias``
label).
"""

from __future__ import annotations

from typing import Any

from shunter.api.v1alpha1.labels import ALIAS
from shunter.cli_commands.errors import CliError
from shunter.kube.client import KubeClient, NotFoundError

__all__ = [
    "KIND_OF",
    "describe_freight",
    "get_object",
    "list_objects",
    "name_list",
    "require_project",
    "resolve_freight",
]

JSON = dict[str, Any]

#: Kind name of each plural, for messages.
KIND_OF = {
    "projects": "Project",
    "warehouses": "Warehouse",
    "freights": "Freight",
    "stages": "Stage",
    "promotions": "Promotion",
}
_MAX_LISTED = 20


def name_list(names: list[str]) -> str:
    """``a, b, c`` (at most 20 names, then ``and N more``)."""
    shown = ", ".join(sorted(names)[:_MAX_LISTED])
    extra = len(names) - _MAX_LISTED
    return f"{shown} and {extra} more" if extra > 0 else shown


def _names(objects: list[JSON]) -> list[str]:
    return [str(o.get("metadata", {}).get("name", "")) for o in objects]


async def require_project(kube: KubeClient, project: str) -> None:
    """Raise :class:`CliError` (listing the projects) unless Project ``project`` exists."""
    try:
        await kube.get_cluster_custom("projects", project)
    except NotFoundError:
        projects = _names(await kube.list_cluster_custom("projects"))
        known = f"the projects are: {name_list(projects)}" if projects else "there are none yet"
        raise CliError(f"project {project!r} not found; {known}") from None


async def list_objects(kube: KubeClient, project: str, plural: str) -> list[JSON]:
    """Every object of one namespaced kind in a project (the project must exist)."""
    objects = await kube.list_custom(project, plural)
    if not objects:
        await require_project(kube, project)
    return objects


async def get_object(kube: KubeClient, project: str, plural: str, name: str) -> JSON:
    """One namespaced object; when missing, the error lists the objects of that kind."""
    try:
        return await kube.get_custom(project, plural, name)
    except NotFoundError:
        pass
    kind = KIND_OF.get(plural, plural)
    existing = _names(await list_objects(kube, project, plural))
    if existing:
        raise CliError(
            f"{kind} {name!r} not found in project {project!r}; its {kind}s are: "
            f"{name_list(existing)}"
        )
    raise CliError(f"{kind} {name!r} not found: project {project!r} has no {kind}s")


async def resolve_freight(kube: KubeClient, project: str, name_or_alias: str) -> JSON:
    """A Freight by name, else by alias; the error lists the newest Freight of the project."""
    try:
        return await kube.get_custom(project, "freights", name_or_alias)
    except NotFoundError:
        pass
    matches = await kube.list_custom(project, "freights", label_selector=f"{ALIAS}={name_or_alias}")
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        names = name_list(_names(matches))
        raise CliError(f"alias {name_or_alias!r} names several Freight ({names}); use a name")
    freights = await list_objects(kube, project, "freights")
    if not freights:
        raise CliError(
            f"Freight {name_or_alias!r} not found: project {project!r} has no Freight yet "
            f"(its Warehouses create it; see `shunter get warehouses -n {project}`)"
        )
    newest = sorted(freights, key=_created, reverse=True)[:5]
    listed = ", ".join(describe_freight(f) for f in newest)
    raise CliError(
        f"no Freight named or aliased {name_or_alias!r} in project {project!r}; the newest are: "
        f"{listed} (all: `shunter get freight -n {project}`)"
    )


def _created(obj: JSON) -> str:
    return str(obj.get("discoveredAt") or obj.get("metadata", {}).get("creationTimestamp", ""))


def describe_freight(freight: JSON) -> str:
    """``<name> (<alias>)``, or the name alone."""
    name = str(freight.get("metadata", {}).get("name", ""))
    alias = freight.get("alias") or (freight.get("metadata", {}).get("labels") or {}).get(ALIAS)
    return f"{name} ({alias})" if alias else name
