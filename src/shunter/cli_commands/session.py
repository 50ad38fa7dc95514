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
from shunter.cli_commands.errors import CliError, ProjectNotFoundError
from shunter.cli_commands.lookup import name_list
from shunter.cliclient.client import ApiError, KubeAPI, UnreachableError
from shunter.cliclient.kubeconfig import KubeconfigError, load

__all__ = ["Command", "Session", "connect", "run_command"]


@dataclass
class Session:
    """What a command works with: the API, its arguments, where to print."""

    api: KubeAPI
    args: argparse.Namespace
    out: TextIO = field(default_factory=lambda: sys.stdout)
    #: Where the project came from when ``-n`` did not name it (for error messages).
    project_origin: str | None = None

    def project(self, *, required: bool = True) -> str:
        """The project (see the module docstring); without one, an error that lists them."""
        explicit = getattr(self.args, "project", None)
        if explicit:
            return str(explicit)
        if self.api.access.namespace:
            self.project_origin = f"the namespace of {self.api.access.source}"
            return self.api.access.namespace
        default = settings.default_project()
        if default:
            self.project_origin = f"the default set with `shunter config set-project` ({default})"
            return default
        if not required:
            return ""
        try:
            projects = [
                str(p.get("metadata", {}).get("name", "")) for p in self.api.list("projects")
            ]
        except ApiError:
            projects = []
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


def connect(args: argparse.Namespace, *, timeout: float = 30.0, quick: bool = False) -> KubeAPI:
    """A client of the cluster that ``args`` (``--kubeconfig``, ``--context``) name.

    ``quick`` (shell completion): an exec credential plugin may not prompt and gets
    ``timeout`` seconds too.
    """
    try:
        access = load(getattr(args, "kubeconfig", None), getattr(args, "context", None))
    except KubeconfigError as exc:
        raise CliError(str(exc)) from None
    if quick:
        return KubeAPI(access, timeout=timeout, interactive=False, exec_timeout=timeout)
    return KubeAPI(access, timeout=timeout)


def _explain(exc: ApiError) -> str:
    if exc.status == 401:
        return (
            f"{exc}\nThe cluster rejected your credentials: log in again or pass another "
            "--kubeconfig or --context."
        )
    if exc.status == 403 and "admission webhook" not in exc.message:
        # (a webhook's refusal says why itself: the verb it needs, or a closed promotion window)
        return (
            f"{exc}\nYou are not allowed to do this: ask a cluster administrator for RBAC "
            "access to the kargo.akuity.io resources of this project."
        )
    return str(exc)


def run_command(command: Command, args: argparse.Namespace) -> int:
    """Connect, run ``command`` and close the connection; failures become :class:`CliError`."""
    api = connect(args)
    session = Session(api, args)
    try:
        return command(session)
    except ProjectNotFoundError as exc:
        if session.project_origin is None:
            raise
        raise CliError(
            f"{exc}\n(the project is {session.project_origin}; -n PROJECT picks another)"
        ) from None
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
