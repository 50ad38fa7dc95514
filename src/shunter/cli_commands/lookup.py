"""Finding the objects a command names, with errors that list what does exist.

``shunter promote --stage prdo`` answers "Stage 'prdo' not found in project 'p'; its Stages
are: preprod, prod", and a project that does not exist gets the list of projects instead.
Freight is named by its name (the Freight ID) or by its alias (the ``kargo.akuity.io/alias``
label).
"""

from __future__ import annotations

from typing import Any

from shunter.api.v1alpha1.labels import ALIAS
from shunter.cli_commands.errors import CliError, ProjectNotFoundError
from shunter.cli_commands.kinds import kind_info
from shunter.cliclient.client import KubeAPI, NotFoundError

__all__ = [
    "describe_freight",
    "get_object",
    "list_objects",
    "name_list",
    "names_of",
    "require_project",
    "resolve_freight",
]

JSON = dict[str, Any]
_MAX_LISTED = 20


def name_list(names: list[str]) -> str:
    """``a, b, c`` (at most 20 names, then ``and N more``)."""
    shown = ", ".join(sorted(names)[:_MAX_LISTED])
    extra = len(names) - _MAX_LISTED
    return f"{shown} and {extra} more" if extra > 0 else shown


def names_of(objects: list[JSON]) -> list[str]:
    """The ``metadata.name`` of each object."""
    return [str(o.get("metadata", {}).get("name", "")) for o in objects]


def require_project(api: KubeAPI, project: str) -> None:
    """Raise :class:`CliError` (listing the projects) unless Project ``project`` exists."""
    try:
        api.get("projects", project)
    except NotFoundError:
        projects = names_of(api.list("projects"))
        known = f"the projects are: {name_list(projects)}" if projects else "there are none yet"
        raise ProjectNotFoundError(
            f"project {project!r} not found; {known}", project=project
        ) from None


def list_objects(
    api: KubeAPI, project: str, plural: str, *, label_selector: str | None = None
) -> list[JSON]:
    """Every object of one namespaced kind in a project (the project must exist)."""
    objects = api.list(plural, project, label_selector=label_selector)
    if not objects:
        require_project(api, project)
    return objects


def get_object(api: KubeAPI, project: str, plural: str, name: str) -> JSON:
    """One namespaced object; when missing, the error lists the objects of that kind."""
    try:
        return api.get(plural, name, project)
    except NotFoundError:
        pass
    kind = kind_info(plural).kind
    existing = names_of(list_objects(api, project, plural))
    if existing:
        raise CliError(
            f"{kind} {name!r} not found in project {project!r}; its {kind}s are: "
            f"{name_list(existing)}"
        )
    raise CliError(f"{kind} {name!r} not found: project {project!r} has no {kind}s")


def resolve_freight(api: KubeAPI, project: str, name_or_alias: str) -> JSON:
    """A Freight by name, else by alias; the error lists the newest Freight of the project."""
    try:
        return api.get("freights", name_or_alias, project)
    except NotFoundError:
        pass
    matches = api.list("freights", project, label_selector=f"{ALIAS}={name_or_alias}")
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        names = name_list(names_of(matches))
        raise CliError(f"alias {name_or_alias!r} names several Freight ({names}); use a name")
    freights = list_objects(api, project, "freights")
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
