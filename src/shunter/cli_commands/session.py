"""Connecting the command line to a cluster, and running one async command at the edge.

The kubeconfig is ``--kubeconfig``, else ``$KUBECONFIG``, else ``~/.kube/config``, else the
pod's service account. API and connection failures become :class:`CliError` messages that say
what to check next.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TextIO

from urllib3.exceptions import HTTPError

from shunter.cli_commands.errors import CliError
from shunter.kube.client import KubeClient, KubeError

__all__ = ["Command", "connect", "run_command"]

#: An async command: the client, the parsed arguments, the stream to print results on.
Command = Callable[[KubeClient, argparse.Namespace, TextIO], Coroutine[Any, Any, int]]


def _kubeconfig_path(explicit: str | None) -> str | None:
    if explicit:
        return explicit
    if os.environ.get("KUBECONFIG"):
        return os.environ["KUBECONFIG"]
    default = Path.home() / ".kube" / "config"
    return str(default) if default.is_file() else None


def connect(kubeconfig: str | None) -> KubeClient:
    """A client for the cluster named by ``kubeconfig`` (see the module docstring)."""
    path = _kubeconfig_path(kubeconfig)
    if path is None:
        try:
            return KubeClient.in_cluster()
        except KubeError as exc:
            raise CliError(
                "no kubeconfig found: pass --kubeconfig FILE or set KUBECONFIG "
                f"(not in a pod either: {exc})"
            ) from None
    if kubeconfig and not Path(kubeconfig).is_file():
        raise CliError(f"kubeconfig {kubeconfig} does not exist; check --kubeconfig")
    try:
        return KubeClient.from_kubeconfig(path)
    except Exception as exc:  # the kubernetes library raises many types for a bad kubeconfig
        raise CliError(f"cannot use kubeconfig {path}: {exc}") from None


def _explain(exc: KubeError) -> str:
    if exc.status == 401:
        return (
            f"{exc}\nThe cluster rejected your credentials: log in again or pass another "
            "--kubeconfig."
        )
    if exc.status == 403:
        return (
            f"{exc}\nYou are not allowed to do this: ask a cluster administrator for RBAC "
            "access to the kargo.akuity.io resources of this project."
        )
    return str(exc)


def run_command(command: Command, args: argparse.Namespace) -> int:
    """Connect, run ``command`` to completion on a fresh event loop, and close the client."""
    kube = connect(getattr(args, "kubeconfig", None))
    try:
        return asyncio.run(command(kube, args, sys.stdout))
    except KubeError as exc:
        raise CliError(_explain(exc)) from None
    except (HTTPError, OSError) as exc:
        raise CliError(
            f"cannot reach the Kubernetes API server ({exc}); check that the cluster is up "
            "and that --kubeconfig / KUBECONFIG points at it"
        ) from None
    finally:
        kube.close()
