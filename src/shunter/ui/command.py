"""``shunter ui``: serve the web UI, locally with the caller's kubeconfig or in a cluster.

Locally (the default, ``--auth kubeconfig``) it binds 127.0.0.1 and prints a URL with a launch
key: the UI acts as the kubeconfig's user for whoever opens that URL. In a cluster
(``--auth token``) users sign in with a bearer token, or an authenticating proxy in front sets
the ``Authorization`` header; the kubeconfig (or the pod's in-cluster configuration) then only
says where the API server is.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["add_parser", "run_ui"]


def add_parser(sub: Any) -> None:
    """Register ``ui`` on the ``shunter`` subcommands."""
    parser = sub.add_parser(
        "ui",
        help="serve the web UI",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--kubeconfig",
        default=argparse.SUPPRESS,
        help="kubeconfig file (default: $KUBECONFIG, else ~/.kube/config; in a pod with "
        "--auth token: the in-cluster configuration)",
    )
    parser.add_argument(
        "--context",
        default=argparse.SUPPRESS,
        help="kubeconfig context (default: its current-context)",
    )
    parser.add_argument(
        "--certificate-authority",
        type=Path,
        help="in a pod with --auth token and no kubeconfig: the cluster's CA certificate "
        "(default: the service account's ca.crt)",
    )
    parser.add_argument(
        "--address", default="127.0.0.1", help="address to bind (default: %(default)s)"
    )
    parser.add_argument(
        "--port", type=int, default=8080, help="port (0: any free one; default: %(default)s)"
    )
    parser.add_argument(
        "--auth",
        choices=["kubeconfig", "token"],
        default="kubeconfig",
        help="kubeconfig: act as the kubeconfig's user (local use); token: users sign in with "
        "a bearer token or come through an authenticating proxy (default: %(default)s)",
    )
    parser.add_argument(
        "--secure-cookies",
        action="store_true",
        help="mark cookies Secure (the UI is served over HTTPS, e.g. behind a TLS proxy)",
    )
    parser.add_argument(
        "--preview-seconds",
        type=float,
        default=120.0,
        help="stop a promotion preview still running after this long (default: %(default)s)",
    )
    parser.add_argument(
        "--allow-credentials-over-http",
        action="store_true",
        help="previews send repository credentials to plain http:// servers (test setups only; "
        "also $SHUNTER_ALLOW_CREDENTIALS_OVER_HTTP)",
    )
    parser.set_defaults(func=run_ui)


async def _serve(args: argparse.Namespace, announce: Callable[[str], None]) -> int:
    import asyncio  # noqa: PLC0415 - keeps the other commands fast
    import signal  # noqa: PLC0415

    from aiohttp import web  # noqa: PLC0415

    from shunter.preview import credentials_over_http  # noqa: PLC0415
    from shunter.ui.app import UiConfig, create_app  # noqa: PLC0415
    from shunter.ui.kubeapi import ApiError, Cluster  # noqa: PLC0415

    kubeconfig = getattr(args, "kubeconfig", None) or os.environ.get("KUBECONFIG")
    try:
        if args.auth == "token" and not kubeconfig and os.environ.get("KUBERNETES_SERVICE_HOST"):
            cluster = (
                Cluster.in_cluster(args.certificate_authority)
                if args.certificate_authority
                else Cluster.in_cluster()
            )
        else:
            cluster = await Cluster.from_kubeconfig(
                Path(kubeconfig) if kubeconfig else None, getattr(args, "context", None)
            )
    except ApiError as exc:
        print(f"shunter: {exc.message}. Set KUBECONFIG or pass --kubeconfig.", file=sys.stderr)
        return 1
    key = secrets.token_urlsafe(24) if args.auth == "kubeconfig" else None
    allow_http = credentials_over_http(args.allow_credentials_over_http)
    config = UiConfig(
        auth=args.auth,
        launch_key=key,
        secure_cookies=args.secure_cookies,
        preview_seconds=max(1.0, args.preview_seconds),
        allow_credentials_over_http=allow_http,
    )
    runner = web.AppRunner(create_app(config, cluster), handle_signals=False, shutdown_timeout=5)
    await runner.setup()
    site = web.TCPSite(runner, args.address, args.port)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        print(f"shunter: cannot listen on {args.address}:{args.port}: {exc}", file=sys.stderr)
        return 1
    port = args.port
    server = getattr(site, "_server", None)
    if server is not None and server.sockets:
        port = server.sockets[0].getsockname()[1]
    host = args.address if args.address not in ("0.0.0.0", "::") else "127.0.0.1"  # noqa: S104
    host = f"[{host}]" if ":" in host else host
    url = f"http://{host}:{port}/" + (f"?key={key}" if key else "")
    announce(url)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
    return 0


def _announce(url: str) -> None:
    print(f"shunter UI: {url}", flush=True)


def run_ui(args: argparse.Namespace) -> int:
    """Run ``shunter ui`` until SIGINT or SIGTERM."""
    import asyncio  # noqa: PLC0415 - keeps the other commands fast

    return asyncio.run(_serve(args, _announce))
