"""The user-facing subcommands of ``shunter`` besides ``run``.

``get``, ``describe``, ``promote``, ``approve``, ``update``, ``refresh``, ``abort``, ``verify``
work on the objects of a project through :mod:`shunter.cliclient`; ``config`` and
``completion`` work locally. :func:`add_commands` registers them on the ``shunter`` parser;
the cluster commands set ``args.command``, which :func:`run_command` runs, the local ones
``args.func``. Nothing here imports the operator's Kubernetes client or, at import time, the
API models: ``shunter get`` stays fast.
"""

from __future__ import annotations

import argparse
from typing import Any

from shunter.cli_commands import (
    annotate,
    completion,
    describe,
    get,
    promote,
    settings,
    update,
)
from shunter.cli_commands.completion import completes, completes_files
from shunter.cli_commands.errors import CliError
from shunter.cli_commands.session import Command, run_command

__all__ = ["CliError", "Command", "add_commands", "add_connection_flags", "run_command"]


def add_connection_flags(parser: argparse.ArgumentParser, *, default: Any = None) -> None:
    """``--kubeconfig`` and ``--context``, as kubectl has them."""
    completes_files(
        parser.add_argument(
            "--kubeconfig",
            default=default,
            help="kubeconfig file (default: $KUBECONFIG, ~/.kube/config, else in-cluster)",
        )
    )
    parser.add_argument(
        "--context", default=default, help="kubeconfig context (default: its current-context)"
    )


def _common() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    add_connection_flags(parent, default=argparse.SUPPRESS)
    completes(
        parent.add_argument(
            "-n",
            "--namespace",
            "--project",
            dest="project",
            metavar="PROJECT",
            help="the project (default: the context's namespace, else "
            "`shunter config set-project`)",
        ),
        "projects",
    )
    return parent


def add_commands(sub: Any) -> None:
    """Register the subcommands on ``sub`` (the ``shunter`` parser's subparsers)."""
    parents = [_common()]
    get.add_parser(sub, parents)
    describe.add_parser(sub, parents)
    promote.add_parsers(sub, parents)
    update.add_parser(sub, parents)
    annotate.add_parsers(sub, parents)
    settings.add_parser(sub)
    completion.add_parser(sub)
