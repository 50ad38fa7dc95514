"""Command line of the local development environment: ``python -m shunter_devenv <command>``.

Commands live in the :data:`COMMANDS` dispatch table (name -> arguments + handler); add a
:class:`Command` there to add one.

``cluster``: start the local control plane, install the CRDs, print ``export KUBECONFIG=...``
on stdout and keep running until Ctrl-C or SIGTERM, then stop every server.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from shunter_devenv.binaries import BinariesError, repo_root
from shunter_devenv.controlplane import ControlPlane, ControlPlaneError
from shunter_devenv.kubectl import KubectlError

__all__ = ["COMMANDS", "Command", "main"]


@dataclass(frozen=True)
class Command:
    """One subcommand: its help line, how it declares its arguments, and what it runs."""

    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


def _say(message: str) -> None:
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


def _default_crd_dir() -> Path | None:
    try:
        folder = repo_root() / "crds"
    except BinariesError:
        return None
    return folder if folder.is_dir() else None


def _cluster_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--crds",
        type=Path,
        default=_default_crd_dir(),
        metavar="DIR",
        help="folder of CRD manifests to install (default: the repository's crds/)",
    )
    parser.add_argument(
        "--controller-manager",
        action="store_true",
        help="also run kube-controller-manager (namespace deletion, garbage collection)",
    )
    parser.add_argument(
        "--kubeconfig-out",
        type=Path,
        metavar="PATH",
        help="also write the administrator's kubeconfig here (removed on exit)",
    )


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _run_cluster(args: argparse.Namespace) -> int:
    signal.signal(signal.SIGTERM, _raise_interrupt)
    kubeconfig_out: Path | None = args.kubeconfig_out
    try:
        with ControlPlane(with_controller_manager=args.controller_manager) as plane:
            _say(f"control plane ready in {plane.startup_seconds:.1f}s at {plane.server}")
            if args.crds is not None:
                installed = plane.install_crds(args.crds)
                _say(f"installed {len(installed)} CRD(s) from {args.crds}")
            kubeconfig = plane.kubeconfig_path
            if kubeconfig_out is not None:
                kubeconfig_out.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(kubeconfig, kubeconfig_out)
                kubeconfig_out.chmod(0o600)
                kubeconfig = kubeconfig_out.resolve()
            _say(f"kubectl {plane.bin_dir / 'kubectl'} matches this server's version")
            sys.stdout.write(f"export KUBECONFIG={kubeconfig}\n")
            sys.stdout.flush()
            _say("running; Ctrl-C or SIGTERM stops it")
            idle = threading.Event()
            while not idle.wait(1.0):
                plane.check_running()
    except KeyboardInterrupt:
        _say("stopped")
        return 0
    except (ControlPlaneError, BinariesError, KubectlError) as error:
        _say(f"error: {error}")
        return 1
    finally:
        if kubeconfig_out is not None:
            kubeconfig_out.unlink(missing_ok=True)
    return 0  # pragma: no cover - the loop above only ends by an exception.


def _demo_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--work-dir",
        type=Path,
        default=Path(".demo"),
        help="where the demo keeps its kubeconfig, logs and work files (default .demo/)",
    )
    parser.add_argument(
        "--exit", action="store_true", help="stop after the preprod promotion (no waiting)"
    )


def _run_demo(args: argparse.Namespace) -> int:
    from shunter_devenv.demo import run_demo  # noqa: PLC0415 - only this command needs it
    from shunter_devenv.packages import (  # noqa: PLC0415
        MissingPackagesError,
        ensure_demo_packages,
    )

    try:
        ensure_demo_packages(lambda line: _say(f"[demo] {line}"))
    except MissingPackagesError as exc:
        _say(f"[demo] {exc}")
        return 1
    signal.signal(signal.SIGTERM, _raise_interrupt)
    return run_demo(args.work_dir.resolve(), wait=not args.exit)


COMMANDS: dict[str, Command] = {
    "demo": Command(
        help="run the seed pipeline locally: servers, operator, a new image promoted",
        add_arguments=_demo_arguments,
        run=_run_demo,
    ),
    "cluster": Command(
        help="run etcd + kube-apiserver on 127.0.0.1 with the CRDs until interrupted",
        add_arguments=_cluster_arguments,
        run=_run_cluster,
    ),
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m shunter_devenv", description="shunter's local development environment"
    )
    subcommands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, command in COMMANDS.items():
        command.add_arguments(subcommands.add_parser(name, help=command.help))
    args = parser.parse_args(argv)
    return COMMANDS[args.command].run(args)


if __name__ == "__main__":
    sys.exit(main())
