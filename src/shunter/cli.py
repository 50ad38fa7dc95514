"""The shunter command: `shunter run` starts the operator; `get`, `describe`, `promote`,
`approve`, `update`, `refresh`, `abort` and `verify` work with the objects of a project;
`config` keeps the default project; `completion` prints the shell completion script.

Exit codes: 0 on success or a clean stop, 1 on a failure (with the reason and what to do next
on stderr), 2 on bad usage, 130 when interrupted (Ctrl-C), 141 when the reader of the output
went away (`shunter get stages | head -1`): the command stops quietly, as kubectl does on
SIGPIPE; what it already did on the cluster stays done.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from shunter import __version__
from shunter._internal.logcontext import FIELDS as LOG_FIELDS
from shunter._internal.logcontext import LogContextFilter
from shunter.cli_commands import CliError, add_commands, add_connection_flags, run_command
from shunter.cli_commands.parsing import FlexibleParser
from shunter.cli_commands.session import Session
from shunter.config import OperatorConfig, SettingError
from shunter.ui.command import add_parser as add_ui_parser

__all__ = ["main"]

#: Exit code when stdout was closed by its reader (128 + SIGPIPE, as a shell reports it).
EXIT_OUTPUT_CLOSED = 141
#: Exit code when interrupted with Ctrl-C (128 + SIGINT).
EXIT_INTERRUPTED = 130


class _JSONFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, and the object (``kind``,
    ``namespace``, ``name``) and promotion step (``step``, ``step_kind``) it is about."""

    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None) or {}
        payload.update({key: str(fields[key]) for key in LOG_FIELDS if key in fields})
        if record.exc_info:
            # exc_text: the traceback as logging's redaction already rendered it.
            payload["exception"] = record.exc_text or self.formatException(record.exc_info)
        return json.dumps(payload)


def _configure_logging(config: OperatorConfig) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(LogContextFilter())
    if config.log_format == "json":
        handler.setFormatter(_JSONFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s%(context)s")
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(config.log_level)
    logging.getLogger("kubernetes").setLevel(logging.WARNING)
    # The client library logs whole API answers at DEBUG: never let them (Secrets) through.
    logging.getLogger("kubernetes_asyncio").setLevel(logging.WARNING)
    logging.getLogger("urllib3").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)


def _run(args: argparse.Namespace) -> int:
    if getattr(args, "context", None):
        print(
            "shunter: `shunter run` uses the kubeconfig's current-context; --context is for "
            "the user commands",
            file=sys.stderr,
        )
        return 2
    import asyncio  # noqa: PLC0415 - keeps the user commands fast

    from shunter.kube.client import KubeClient, KubeError  # noqa: PLC0415
    from shunter.operator.app import Operator, StartupError  # noqa: PLC0415

    try:
        config = _settings(args)
    except SettingError as exc:
        print(f"shunter: {exc}", file=sys.stderr)
        return 2
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

    async def operate() -> int:
        try:
            version = await kube.server_version()
        except KubeError as exc:
            await kube.aclose()
            print(f"shunter: cannot reach the Kubernetes API server: {exc}", file=sys.stderr)
            return 1
        logging.getLogger("shunter").info(
            "shunter %s starting against Kubernetes %s (namespaces: %s; shard: %s)",
            __version__,
            version,
            ", ".join(config.namespaces) or "all",
            config.shard_name or "none",
        )
        try:
            return await Operator(config, kube).run()
        except StartupError as exc:
            print(f"shunter: {exc}", file=sys.stderr)
            return 1

    return asyncio.run(operate())


def _settings(args: argparse.Namespace) -> OperatorConfig:
    """The environment's settings, overridden by the flags (raises :class:`SettingError`)."""
    config = OperatorConfig.from_env()
    overrides: dict[str, object] = {}
    if args.namespace:
        overrides["namespaces"] = tuple(args.namespace)
    if args.work_dir:
        overrides["work_dir"] = Path(args.work_dir)
    if args.log_format:
        overrides["log_format"] = args.log_format
    if args.log_level:
        level = args.log_level.upper()
        if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise SettingError(
                f"--log-level {args.log_level!r}: expected DEBUG, INFO, WARNING or ERROR"
            )
        overrides["log_level"] = level
    if args.probes:
        overrides["probes_address"] = args.probes
    if args.metrics is not None:
        overrides["metrics_address"] = args.metrics
    if args.receivers:
        overrides["receivers_address"] = args.receivers
    if args.allow_credentials_over_http:
        overrides["allow_credentials_over_http"] = True
    if args.admission:
        overrides["admission_address"] = args.admission
    if args.admission_register_url:
        overrides["admission_register_url"] = args.admission_register_url
    config = dataclasses.replace(config, **overrides)  # type: ignore[arg-type]
    config.check()
    return config


def _preview(session: Session, project: str, stage: str, freight: str) -> int:
    """``shunter promote --dry-run``: the preview, loaded only now (it needs the promotion
    engine and the steps, which the other commands do not)."""
    from shunter.cliclient.identity import caller_actor  # noqa: PLC0415
    from shunter.preview import PreviewError, credentials_over_http  # noqa: PLC0415
    from shunter.preview.cli import run_preview  # noqa: PLC0415

    allow_http = credentials_over_http(session.args.allow_credentials_over_http)
    try:
        return run_preview(
            session.api,
            session.out,
            project,
            stage,
            freight,
            actor=caller_actor(session.api),
            allow_credentials_over_http=allow_http,
        )
    except PreviewError as exc:
        raise CliError(f"cannot preview: {exc}") from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="shunter", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"shunter {__version__}")
    add_connection_flags(parser)
    sub = parser.add_subparsers(
        dest="subcommand", metavar="COMMAND", required=True, parser_class=FlexibleParser
    )
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
    run.add_argument("--probes", help="host:port of the probes (/healthz, /readyz)")
    run.add_argument("--receivers", help="host:port of the webhook receiver server")
    run.add_argument(
        "--metrics", help="host:port of the Prometheus endpoint (/metrics; empty: off)"
    )
    run.add_argument(
        "--allow-credentials-over-http",
        action="store_true",
        help="send repository credentials to plain http:// servers (test setups only)",
    )
    run.add_argument(
        "--admission",
        metavar="HOST:PORT",
        help="serve the admission webhooks (HTTPS) on this address",
    )
    run.add_argument(
        "--admission-register-url",
        metavar="URL",
        help="local development: register the webhooks with this base URL "
        "(e.g. https://127.0.0.1:9443) for the watched namespaces, and remove them at exit",
    )
    run.set_defaults(func=_run)
    add_commands(sub)
    sub.choices["promote"].set_defaults(preview=_preview)
    add_ui_parser(sub)
    return parser


def _output_closed() -> int:
    """The reader of stdout went away: stop quietly (no message, no traceback at exit)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is not a file descriptor (e.g. captured)
        pass
    return EXIT_OUTPUT_CLOSED


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``shunter`` console script."""
    parser = _parser()
    if "_ARGCOMPLETE" in os.environ:
        from shunter.cli_commands.completion import autocomplete  # noqa: PLC0415

        autocomplete(parser)  # answers the shell and exits
    args = parser.parse_args(argv)
    try:
        command = getattr(args, "command", None)
        code = run_command(command, args) if command else int(args.func(args))
        sys.stdout.flush()
    except BrokenPipeError:
        return _output_closed()
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED if hasattr(args, "command") else 0
    except CliError as exc:
        print(f"shunter: {exc}", file=sys.stderr)
        return exc.exit_code
    except ValueError as exc:
        print(f"shunter: {exc}", file=sys.stderr)
        return 2
    return code
