"""The shunter command: `shunter run` starts the operator; `get`, `promote`, `approve`,
`refresh` and `abort` work with the objects of a project.

Exit codes: 0 on success or a clean stop, 1 on a failure (with the reason and what to do next
on stderr), 2 on bad usage.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from shunter import __version__
from shunter.cli_commands import CliError, add_commands, run_command
from shunter.config import OperatorConfig

__all__ = ["main"]


class _JSONFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        return json.dumps(payload)


def _configure_logging(config: OperatorConfig) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if config.log_format == "json":
        handler.setFormatter(_JSONFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(config.log_level)
    logging.getLogger("kubernetes").setLevel(logging.WARNING)
    logging.getLogger("urllib3").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)


def _run(args: argparse.Namespace) -> int:
    from shunter.kube.client import KubeClient, KubeError  # noqa: PLC0415 - keeps --help fast
    from shunter.operator.app import Operator  # noqa: PLC0415

    config = OperatorConfig.from_env()
    overrides: dict[str, object] = {}
    if args.namespace:
        overrides["namespaces"] = tuple(args.namespace)
    if args.work_dir:
        overrides["work_dir"] = Path(args.work_dir)
    if args.log_format:
        overrides["log_format"] = args.log_format
    if args.log_level:
        overrides["log_level"] = args.log_level.upper()
    if args.probes:
        overrides["probes_address"] = args.probes
    if args.allow_credentials_over_http:
        overrides["allow_credentials_over_http"] = True
    config = dataclasses.replace(config, **overrides)  # type: ignore[arg-type]
    _configure_logging(config)
    if getattr(args, "kubeconfig", None):
        os.environ["KUBECONFIG"] = args.kubeconfig
    try:
        kube = (
            KubeClient.from_kubeconfig(os.environ["KUBECONFIG"])
            if os.environ.get("KUBECONFIG")
            else KubeClient.in_cluster()
        )
    except (KubeError, OSError) as exc:
        print(
            f"shunter: cannot reach a cluster: {exc}. Set KUBECONFIG or pass --kubeconfig.",
            file=sys.stderr,
        )
        return 1
    config.work_dir.mkdir(parents=True, exist_ok=True)
    logging.getLogger("shunter").info(
        "shunter %s starting (namespaces: %s)",
        __version__,
        ", ".join(config.namespaces) or "all",
    )
    asyncio.run(Operator(config, kube).run())
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="shunter", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"shunter {__version__}")
    parser.add_argument("--kubeconfig", help="kubeconfig file (default: $KUBECONFIG)")
    sub = parser.add_subparsers(dest="subcommand", metavar="COMMAND", required=True)
    run = sub.add_parser("run", help="run the operator")
    run.add_argument(
        "--kubeconfig",
        default=argparse.SUPPRESS,
        help="kubeconfig file (default: $KUBECONFIG, else in-cluster)",
    )
    run.add_argument("--namespace", action="append", help="watch only this namespace (repeatable)")
    run.add_argument("--work-dir", help="root of the promotions' working directories")
    run.add_argument("--log-format", choices=["text", "json"])
    run.add_argument("--log-level", help="DEBUG, INFO, WARNING or ERROR")
    run.add_argument("--probes", help="host:port of the liveness endpoint (/healthz)")
    run.add_argument(
        "--allow-credentials-over-http",
        action="store_true",
        help="send repository credentials to plain http:// servers (test setups only)",
    )
    run.set_defaults(func=_run)
    add_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``shunter`` console script."""
    args = _parser().parse_args(argv)
    try:
        if hasattr(args, "command"):
            return run_command(args.command, args)
        return int(args.func(args))
    except KeyboardInterrupt:
        return 0
    except CliError as exc:
        print(f"shunter: {exc}", file=sys.stderr)
        return exc.exit_code
    except ValueError as exc:
        print(f"shunter: {exc}", file=sys.stderr)
        return 2
