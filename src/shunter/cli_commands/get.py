"""``shunter get KIND [NAME...] [-n P | -A] [--stage S] [--warehouse W] [-o ...] [-w]``.

Tables as kubectl prints them (``-o wide`` adds columns, ``-A`` a PROJECT column), or the
objects as YAML/JSON without ``metadata.managedFields`` (as kubectl shows them), or
``kind.group/name`` lines with ``-o name``. Filters: ``--stage`` keeps the Promotions of a
Stage, or the Freight that can be promoted to it; ``--warehouse`` keeps the Freight that a
Warehouse made. ``-w`` polls and prints a row again whenever an object changes; watching one
Promotion stops once it has finished.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from shunter.api.v1alpha1.group import GROUP
from shunter.cli_commands.completion import completes, completes_words
from shunter.cli_commands.errors import CliError
from shunter.cli_commands.kinds import KIND_CHOICES, kind_info, plural_of
from shunter.cli_commands.lookup import get_object, list_objects, require_project, resolve_freight
from shunter.cli_commands.session import Session
from shunter.cli_commands.tables import TablePrinter, table_rows
from shunter.cliclient.client import NotFoundError

__all__ = ["add_parser", "get_command", "printable"]

JSON = dict[str, Any]

_TERMINAL_PHASES = {"Succeeded", "Failed", "Errored", "Aborted"}
_EXAMPLES = """examples:
  shunter get projects
  shunter get stages -n sandbox-example -o wide
  shunter get stages -A
  shunter get freight -n sandbox-example --stage prod      (what prod can take)
  shunter get freight frozen-tauntaun -n sandbox-example -o yaml
  shunter get promotions -n sandbox-example --stage prod
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
        description="List the objects of one kind, or show some of them.",
        epilog=_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    completes_words(
        get.add_argument("kind", metavar="KIND", help=", ".join(KIND_CHOICES)), KIND_CHOICES
    )
    completes(
        get.add_argument(
            "names", metavar="NAME", nargs="*", help="only these objects (Freight: name or alias)"
        ),
        None,
    )
    get.add_argument(
        "-A",
        "--all-projects",
        action="store_true",
        help="list the objects of every project (adds a PROJECT column)",
    )
    completes(
        get.add_argument(
            "--stage",
            help="promotions: those of this Stage; freight: what can be promoted to it",
        ),
        "stages",
    )
    completes(
        get.add_argument("--warehouse", help="freight: only what this Warehouse made"),
        "warehouses",
    )
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


def _name(obj: JSON) -> str:
    return str(obj.get("metadata", {}).get("name", ""))


def _namespace(obj: JSON) -> str:
    return str(obj.get("metadata", {}).get("namespace", ""))


def _sort(plural: str, objects: list[JSON]) -> list[JSON]:
    def created(obj: JSON) -> str:
        return str(obj.get("metadata", {}).get("creationTimestamp", ""))

    if plural == "freights":
        # Newest first, like Kargo's Freight timeline (projects in name order under -A).
        newest = sorted(
            objects,
            key=lambda o: (str(o.get("discoveredAt") or created(o)), _name(o)),
            reverse=True,
        )
        return sorted(newest, key=_namespace)
    if plural == "promotions":
        return sorted(objects, key=lambda o: (_namespace(o), created(o), _name(o)))
    return sorted(objects, key=lambda o: (_namespace(o), _name(o)))


def _check_flags(plural: str, args: argparse.Namespace) -> None:
    if args.stage and plural not in ("freights", "promotions"):
        raise CliError("--stage filters freight and promotions only", exit_code=2)
    if args.warehouse and plural != "freights":
        raise CliError("--warehouse filters freight only", exit_code=2)
    if args.all_projects and args.names and plural != "projects":
        raise CliError("objects are named within one project: drop -A or the names", exit_code=2)
    if args.all_projects and args.stage and plural == "freights":
        raise CliError("--stage needs one project: drop -A", exit_code=2)
    if args.all_projects and getattr(args, "project", None):
        raise CliError("-A and -n/--project exclude each other", exit_code=2)
    if args.watch and (args.output or "") not in ("", "wide"):
        raise CliError("--watch prints tables only: drop -o or use -o wide", exit_code=2)


def _fetch(session: Session, plural: str, project: str) -> list[JSON]:
    api, args = session.api, session.args
    if plural == "projects":
        if args.names:
            return [_get_project(session, name) for name in args.names]
        return api.list("projects")
    if args.all_projects:
        objects = api.list(plural)
    elif args.names:
        if plural == "freights":
            objects = [resolve_freight(api, project, name) for name in args.names]
        else:
            objects = [get_object(api, project, plural, name) for name in args.names]
    else:
        objects = list_objects(api, project, plural)
    return _filter(session, plural, project, objects)


def _filter(session: Session, plural: str, project: str, objects: list[JSON]) -> list[JSON]:
    args = session.args
    if plural == "promotions" and args.stage:
        objects = [o for o in objects if (o.get("spec") or {}).get("stage") == args.stage]
    if plural == "freights" and args.warehouse:
        objects = [
            o
            for o in objects
            if (o.get("origin") or {}).get("kind", "Warehouse") == "Warehouse"
            and (o.get("origin") or {}).get("name") == args.warehouse
        ]
    if plural == "freights" and args.stage:
        from shunter.cli_commands import models  # noqa: PLC0415 - pydantic only for this filter

        stage = models.parse_stage(get_object(session.api, project, "stages", args.stage))
        objects = [
            o
            for o in objects
            if models.freight_availability(stage, models.parse_freight(o)).available
        ]
    return objects


def _get_project(session: Session, name: str) -> JSON:
    try:
        return session.api.get("projects", name)
    except NotFoundError:
        require_project(session.api, name)  # raises, listing the projects that exist
        raise


def printable(obj: JSON) -> JSON:
    """``obj`` without ``metadata.managedFields`` (as kubectl prints objects by default)."""
    metadata = obj.get("metadata")
    if not isinstance(metadata, dict) or "managedFields" not in metadata:
        return obj
    return {**obj, "metadata": {k: v for k, v in metadata.items() if k != "managedFields"}}


def _print_objects(session: Session, objects: list[JSON], output: str, single: bool) -> None:
    cleaned = [printable(o) for o in objects]
    document: JSON = (
        cleaned[0]
        if single
        else {
            "apiVersion": "v1",
            "kind": "List",
            "items": cleaned,
            "metadata": {"resourceVersion": ""},
        }
    )
    if output == "json":
        session.write(json.dumps(document, indent=4) + "\n")
        return
    import yaml  # noqa: PLC0415 - only -o yaml pays for it

    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    session.write(yaml.dump(document, Dumper=dumper, sort_keys=False, default_flow_style=False))


def get_command(session: Session) -> int:
    """Run ``shunter get``."""
    args = session.args
    plural = plural_of(args.kind)
    _check_flags(plural, args)
    project = "" if plural == "projects" or args.all_projects else session.project()
    objects = _sort(plural, _fetch(session, plural, project))
    output = args.output or ""
    if output in ("yaml", "json"):
        _print_objects(session, objects, output, single=len(args.names) == 1)
        return 0
    if output == "name":
        singular = kind_info(plural).singular
        session.write("".join(f"{singular}.{GROUP}/{_name(o)}\n" for o in objects))
        return 0
    wide = output == "wide"
    with_project = bool(args.all_projects) and plural != "projects"
    headers, rows = table_rows(plural, objects, wide=wide, with_project=with_project)
    if not objects and not args.watch:
        what = "Freight" if plural == "freights" else plural
        where = f" in project {project!r}" if project else ""
        sys.stderr.write(f"No {what} found{where}.\n")
        return 0
    printer = TablePrinter(headers, rows, no_headers=args.no_headers)
    session.write(printer.render(rows))
    if args.watch:
        _watch(session, plural, project, printer=printer, seen_objects=objects)
    return 0


def _version(obj: JSON) -> str:
    return str(obj.get("metadata", {}).get("resourceVersion", ""))


def _finished(obj: JSON) -> bool:
    return (obj.get("status") or {}).get("phase") in _TERMINAL_PHASES


def _key(obj: JSON) -> tuple[str, str]:
    return _namespace(obj), _name(obj)


def _watch(
    session: Session, plural: str, project: str, *, printer: TablePrinter, seen_objects: list[JSON]
) -> None:
    args = session.args
    seen = {_key(o): _version(o) for o in seen_objects}
    one_promotion = plural == "promotions" and len(args.names) == 1
    if one_promotion and seen_objects and _finished(seen_objects[0]):
        return
    wide = args.output == "wide"
    with_project = bool(args.all_projects) and plural != "projects"
    while True:
        time.sleep(WATCH_INTERVAL)
        objects = _sort(plural, _fetch(session, plural, project))
        changed = [o for o in objects if seen.get(_key(o)) != _version(o)]
        for obj in changed:
            seen[_key(obj)] = _version(obj)
        if changed:
            _, rows = table_rows(plural, changed, wide=wide, with_project=with_project)
            session.write("".join(printer.line(row) + "\n" for row in rows))
        if one_promotion and objects and _finished(objects[0]):
            return
