"""``shunter update freight (--name NAME | --old-alias ALIAS) --alias NEW``: rename a Freight.

The alias is the Freight's ``alias`` field and its ``kargo.akuity.io/alias`` label; both change
in one merge patch, as Kargo's API server and the ``set-freight-alias`` step change them. The
new alias must be a valid label value and free in the project (no other Freight has it).
``--new-alias`` is accepted for ``--alias`` (Kargo's CLI spells it so).
"""

from __future__ import annotations

import argparse
import re
from typing import Any

from shunter.api.v1alpha1.group import GROUP
from shunter.api.v1alpha1.labels import ALIAS, ALIAS_VALUE_PATTERN
from shunter.cli_commands.completion import completes
from shunter.cli_commands.errors import CliError
from shunter.cli_commands.lookup import get_object, names_of, resolve_freight
from shunter.cli_commands.session import Session

__all__ = ["add_parser", "update_freight_command"]


def add_parser(sub: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Register ``update`` on the ``shunter`` subcommands."""
    update = sub.add_parser(
        "update",
        parents=parents,
        help="change the alias of a piece of Freight",
        description="Give a piece of Freight a new alias (unique in the project).",
        epilog="examples:\n"
        "  shunter update freight -n sandbox-example --name 1a2b3c... --alias release-42\n"
        "  shunter update freight -n sandbox-example --old-alias frozen-tauntaun "
        "--alias release-42",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    update.add_argument("kind", choices=["freight"], help="what to update")
    which = update.add_mutually_exclusive_group(required=True)
    completes(which.add_argument("--name", help="the Freight's name"), "freights")
    completes(which.add_argument("--old-alias", help="the Freight's current alias"), "freights")
    update.add_argument("--alias", "--new-alias", dest="alias", required=True, help="the new alias")
    update.set_defaults(command=update_freight_command)


def update_freight_command(session: Session) -> int:
    """Run ``shunter update freight``."""
    args = session.args
    project = session.project()
    new: str = args.alias
    if not re.match(ALIAS_VALUE_PATTERN, new):
        raise CliError(
            f"{new!r} is not a valid alias: at most 63 letters, digits, '-', '_' and '.', "
            "starting and ending with a letter or digit",
            exit_code=2,
        )
    api = session.api
    if args.name:
        freight = get_object(api, project, "freights", args.name)
    else:
        freight = resolve_freight(api, project, args.old_alias)
        if freight.get("alias") != args.old_alias:
            raise CliError(f"no Freight has the alias {args.old_alias!r} in project {project!r}")
    name = str(freight.get("metadata", {}).get("name", ""))
    old = str(freight.get("alias") or "")
    if old == new:
        session.write(f"freight.{GROUP}/{name} already has the alias {new}\n")
        return 0
    holders = [
        n
        for n in names_of(api.list("freights", project, label_selector=f"{ALIAS}={new}"))
        if n != name
    ]
    if holders:
        raise CliError(f"alias {new!r} is already used by Freight {holders[0]!r} in {project!r}")
    api.patch("freights", project, name, {"alias": new, "metadata": {"labels": {ALIAS: new}}})
    was = f" (was {old})" if old else ""
    session.write(f"freight.{GROUP}/{name} alias set to {new}{was}\n")
    return 0
