"""The user-facing subcommands of ``shunter`` besides ``run``: get, promote, approve, refresh,
abort.

:func:`add_commands` registers them on the ``shunter`` parser; each sets ``args.command`` to an
async function that :func:`shunter.cli_commands.session.run_command` runs against the cluster.
"""

from __future__ import annotations

import argparse
from typing import Any

from shunter.cli_commands import annotate, get, promote
from shunter.cli_commands.errors import CliError
from shunter.cli_commands.session import Command, run_command

__all__ = ["CliError", "Command", "add_commands", "run_command"]


def _common(*, project_required: bool) -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "--kubeconfig",
        default=argparse.SUPPRESS,
        help="kubeconfig file (default: $KUBECONFIG, ~/.kube/config, else in-cluster)",
    )
    parent.add_argument(
        "-n",
        "--namespace",
        "--project",
        dest="project",
        metavar="PROJECT",
        required=project_required,
        help="the project (its namespace)",
    )
    return parent


def add_commands(sub: Any) -> None:
    """Register the subcommands on ``sub`` (the ``shunter`` parser's subparsers)."""
    get.add_parser(sub, [_common(project_required=False)])
    required = [_common(project_required=True)]
    promote.add_parsers(sub, required)
    annotate.add_parsers(sub, required)
