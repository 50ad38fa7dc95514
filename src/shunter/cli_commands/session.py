"""Connecting a command to the cluster, choosing its project, and translating failures.

The cluster comes from ``--kubeconfig``/``--context`` (see :mod:`shunter.cliclient.kubeconfig`).
The project is ``-n/--project``, else the namespace of the kubeconfig context, else the default
set with ``shunter config set-project``. API, connection and kubeconfig failures become
:class:`CliError` messages that say what to check next.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TextIO

from shunter.cli_commands import settings
from shunter.cli_commands.errors import CliError
from shunter.cliclient.client import ApiError, KubeAPI, UnreachableError
from shunter.cliclient.kubeconfig import KubeconfigError, load

__all__ = ["Command", "Session", "connect", "run_command"]


@dataclass
class Session:
    """What a command works with: the API, its arguments, where to print."""

    api: KubeAPI
    args: argparse.Namespace
    out: TextIO = field(default_factory=lambda: sys.stdout)

    def project(self, *, required: bool = True) -> str:
        """The project (see the module docstring); without one, an error that lists them."""
        explicit = getattr(self.args, "project", None)
        name = explicit or self.api.access.namespace or settings.default_project()
        if name:
            return name
        if not required:
            return ""
        try:
            projects = [
                str(p.get("metadata", {}).get("name", "")) for p in self.api.list("projects")
            ]
        except ApiError:
            projects = []
        from shunter.cli_commands.lookup import name_list  # noqa: PLC0415 - avoids a cycle

        known = f" (projects: {name_list(projects)})" if projects else ""
        raise CliError(
            f"which project? add -n PROJECT, or set a default with "
            f"`shunter config set-project NAME`{known}",
            exit_code=2,
        )

    def write(self, text: str) -> None:
        """Print ``text`` and flush (so ``--wait`` and ``--watch`` lines show at once)."""
        self.out.write(text)
        self.out.flush()


#: A command: the session, returning the exit code.
Command = Callable[[Session], int]


def connect(
    args: argparse.Namespace, *, timeout: float = 30.0, interactive: bool = True
) -> KubeAPI:
    """A client of the cluster that ``args`` (``--kubeconfig``, ``--context``) name."""
    try:
        access = load(getattr(args, "kubeconfig", None), getattr(args, "context", None))
    except KubeconfigError as exc:
        raise CliError(str(exc)) from None
    return KubeAPI(access, timeout=timeout, interactive=interactive)


def _explain(exc: ApiError) -> str:
    if exc.status == 401:
        return (
            f"{exc}\nThe cluster rejected your credentials: log in again or pass another "
            "--kubeconfig or --context."
        )
    if exc.status == 403:
        return (
            f"{exc}\nYou are not allowed to do this: ask a cluster administrator for RBAC "
            "access to the kargo.akuity.io resources of this project."
        )
    return str(exc)


def run_command(command: Command, args: argparse.Namespace) -> int:
    """Connect, run ``command`` and close the connection; failures become :class:`CliError`."""
    api = connect(args)
    try:
        return command(Session(api, args))
    except ApiError as exc:
        raise CliError(_explain(exc)) from None
    except UnreachableError as exc:
        raise CliError(
            f"cannot reach the Kubernetes API server ({exc}); check that the cluster is up "
            "and that --kubeconfig / KUBECONFIG / --context point at it"
        ) from None
    except KubeconfigError as exc:
        raise CliError(str(exc)) from None
    finally:
        api.close()
