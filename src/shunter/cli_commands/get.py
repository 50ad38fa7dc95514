"""``shunter get projects|warehouses|freight|stages|promotions [NAME] [-n P] [-o ...] [-w]``.

Tables as kubectl prints them (``-o wide`` adds columns), or the objects as YAML/JSON, or
``kind.group/name`` lines with ``-o name``. ``-w`` polls and prints a row again whenever an
object changes; watching one Promotion stops once it has finished.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any, TextIO

import yaml

from shunter.cli_commands.errors import CliError
from shunter.cli_commands.lookup import (
    get_object,
    list_objects,
    name_list,
    require_project,
    resolve_freight,
)
from shunter.cli_commands.tables import TablePrinter, table_rows
from shunter.kube.client import KARGO_GROUP, KubeClient, NotFoundError

__all__ = ["KIND_ALIASES", "add_parser", "get_command"]

JSON = dict[str, Any]

#: Accepted spellings of each kind, mapped to its plural.
KIND_ALIASES = {
    "project": "projects",
    "projects": "projects",
    "warehouse": "warehouses",
    "warehouses": "warehouses",
    "freight": "freights",
    "freights": "freights",
    "stage": "stages",
    "stages": "stages",
    "promotion": "promotions",
    "promotions": "promotions",
    "promo": "promotions",
    "promos": "promotions",
}
_SINGULAR = {
    "projects": "project",
    "warehouses": "warehouse",
    "freights": "freight",
    "stages": "stage",
    "promotions": "promotion",
}
_TERMINAL_PHASES = {"Succeeded", "Failed", "Errored", "Aborted"}
_EXAMPLES = """examples:
  shunter get projects
  shunter get stages -n sandbox-example -o wide
  shunter get freight -n sandbox-example
  shunter get freight frozen-tauntaun -n sandbox-example -o yaml
  shunter get promotion NAME -n sandbox-example -w
"""
#: Seconds between two looks under ``--watch``.
WATCH_INTERVAL = 1.0


def add_parser(sub: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Register ``get`` on the ``shunter`` subcommands."""
    get = sub.add_parser(
        "get",
        parents=parents,
        help="list or show projects, warehouses, freight, stages or promotions",
        description="List the objects of one kind, or show one of them.",
        epilog=_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    get.add_argument(
        "kind", metavar="KIND", help="projects, warehouses, freight, stages, promotions"
    )
    get.add_argument("name", metavar="NAME", nargs="?", help="one object (Freight: name or alias)")
    get.add_argument(
        "-o", "--output", choices=["wide", "yaml", "json", "name"], help="output format"
    )
    get.add_argument("--no-headers", action="store_true", help="tables without the header line")
    get.add_argument(
        "-w",
        "--watch",
        action="store_true",
        help="keep printing changes (one Promotion: until it finishes)",
    )
    get.set_defaults(command=get_command)


def _plural(kind: str) -> str:
    plural = KIND_ALIASES.get(kind.lower())
    if plural is None:
        raise CliError(
            f"unknown kind {kind!r}; use one of: projects, warehouses, freight, stages, promotions",
            exit_code=2,
        )
    return plural


def _sort(plural: str, objects: list[JSON]) -> list[JSON]:
    def created(obj: JSON) -> str:
        return str(obj.get("metadata", {}).get("creationTimestamp", ""))

    if plural == "freights":
        # Newest first, like Kargo's Freight timeline.
        newest_first = sorted(
            objects, key=lambda o: (str(o.get("discoveredAt") or created(o)), _name(o))
        )
        return newest_first[::-1]
    if plural == "promotions":
        return sorted(objects, key=lambda o: (created(o), _name(o)))
    return sorted(objects, key=_name)


async def _fetch(
    kube: KubeClient, plural: str, project: str | None, name: str | None
) -> list[JSON]:
    if plural == "projects":
        if name:
            return [await _get_project(kube, name)]
        return await kube.list_cluster_custom("projects")
    if project is None:
        projects = [
            p.get("metadata", {}).get("name", "")
            for p in await kube.list_cluster_custom("projects")
        ]
        known = f" (projects: {name_list(projects)})" if projects else ""
        raise CliError(f"which project? add -n PROJECT{known}", exit_code=2)
    if name and plural == "freights":
        return [await resolve_freight(kube, project, name)]
    if name:
        return [await get_object(kube, project, plural, name)]
    return await list_objects(kube, project, plural)


async def _get_project(kube: KubeClient, name: str) -> JSON:
    try:
        return await kube.get_cluster_custom("projects", name)
    except NotFoundError:
        await require_project(kube, name)  # raises, listing the projects that exist
        raise


def _print_objects(out: TextIO, objects: list[JSON], output: str, single: bool) -> None:
    document: JSON = (
        objects[0]
        if single
        else {
            "apiVersion": "v1",
            "kind": "List",
            "items": objects,
            "metadata": {"resourceVersion": ""},
        }
    )
    if output == "json":
        out.write(json.dumps(document, indent=4) + "\n")
    else:
        out.write(yaml.safe_dump(document, sort_keys=False, default_flow_style=False))


async def get_command(kube: KubeClient, args: argparse.Namespace, out: TextIO) -> int:
    """Run ``shunter get``."""
    plural = _plural(args.kind)
    output = args.output or ""
    if args.watch and output not in ("", "wide"):
        raise CliError("--watch prints tables only: drop -o or use -o wide", exit_code=2)
    objects = _sort(plural, await _fetch(kube, plural, args.project, args.name))
    if output in ("yaml", "json"):
        _print_objects(out, objects, output, single=bool(args.name))
        return 0
    if output == "name":
        singular = _SINGULAR[plural]
        for obj in objects:
            out.write(f"{singular}.{KARGO_GROUP}/{obj.get('metadata', {}).get('name', '')}\n")
        return 0
    wide = output == "wide"
    headers, rows = table_rows(plural, objects, wide=wide)
    if not objects and not args.watch:
        where = f" in project {args.project!r}" if plural != "projects" else ""
        sys.stderr.write(f"No {plural if plural != 'freights' else 'Freight'} found{where}.\n")
        return 0
    printer = TablePrinter(headers, rows, no_headers=args.no_headers)
    out.write(printer.render(rows))
    out.flush()
    if args.watch:
        await _watch(kube, args, plural, printer=printer, seen_objects=objects, out=out)
    return 0


def _name(obj: JSON) -> str:
    return str(obj.get("metadata", {}).get("name", ""))


def _version(obj: JSON) -> str:
    return str(obj.get("metadata", {}).get("resourceVersion", ""))


def _finished(obj: JSON) -> bool:
    return (obj.get("status") or {}).get("phase") in _TERMINAL_PHASES


async def _watch(
    kube: KubeClient,
    args: argparse.Namespace,
    plural: str,
    *,
    printer: TablePrinter,
    seen_objects: list[JSON],
    out: TextIO,
) -> None:
    seen = {_name(obj): _version(obj) for obj in seen_objects}
    one_promotion = plural == "promotions" and bool(args.name)
    if one_promotion and seen_objects and _finished(seen_objects[0]):
        return
    wide = args.output == "wide"
    while True:
        await asyncio.sleep(WATCH_INTERVAL)
        objects = _sort(plural, await _fetch(kube, plural, args.project, args.name))
        changed = [
            o for o in objects if seen.get(o.get("metadata", {}).get("name", "")) != _version(o)
        ]
        for obj in changed:
            seen[obj.get("metadata", {}).get("name", "")] = _version(obj)
        if changed:
            _, rows = table_rows(plural, changed, wide=wide)
            out.write("".join(printer.line(row) + "\n" for row in rows))
            out.flush()
        if one_promotion and objects and _finished(objects[0]):
            return
