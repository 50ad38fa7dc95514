"""The local Kubernetes control plane: etcd and kube-apiserver on 127.0.0.1, as envtest does it.

:class:`ControlPlane` starts etcd (random ports, temporary data folder, no fsync) and a
kube-apiserver (random secure port, self-signed serving certificate, RBAC, static bearer tokens:
an administrator in ``system:masters`` plus any test users, client certificates from its own
CA through :meth:`ControlPlane.client_certificate`), optionally a
kube-controller-manager (namespace deletion, garbage collection), and writes kubeconfigs for
them. There is no kubelet: pods never run. Every process dies with its parent, and
:meth:`ControlPlane.stop` (also run at interpreter exit) stops them and removes the temporary
folder.

The kubectl helpers (:func:`kubectl`, :func:`apply`, :func:`install_crds`) and
:func:`find_binaries` are re-exported here for convenience.
"""

from __future__ import annotations

import atexit
import base64
import http.client
import json
import os
import secrets
import shutil
import ssl
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self, TextIO

import yaml

from shunter_devenv.binaries import find_binaries
from shunter_devenv.cluster import Cluster, UnknownUserError
from shunter_devenv.kubectl import apply, install_crds, kubectl
from shunter_devenv.processes import ManagedProcess, free_port
from shunter_devenv.selfsigned import CertificateAuthority, IssuedCertificate

__all__ = [
    "ADMIN_GROUP",
    "ADMIN_USER",
    "OPERATOR_USER",
    "ControlPlane",
    "ControlPlaneError",
    "apply",
    "find_binaries",
    "install_crds",
    "kubectl",
]

ADMIN_USER = "admin"
"""The user name of the administrator token written to every control plane's kubeconfig."""

ADMIN_GROUP = "system:masters"
"""The administrator's group: RBAC allows it everything."""

OPERATOR_USER = "shunter-operator"
"""The identity operator processes run as (in the administrators' group, but not ``admin``:
the admission webhooks treat the operator's own requests apart from its users')."""

SERVICE_CLUSTER_IP_RANGE = "10.0.0.0/24"

_WORKDIR_PREFIX = "shunter-controlplane-"
_OWNER_FILE = "owner.pid"
_PORT_ATTEMPTS = 3
_POLL_INTERVAL = 0.1
_LOG_TAIL_LINES = 40
_FORBIDDEN_IN_TOKEN_FILE = frozenset(',"\n\r')


class ControlPlaneError(RuntimeError):
    """The control plane failed to start (the message ends with the server's last log lines)."""


@dataclass(frozen=True)
class _User:
    name: str
    token: str
    groups: tuple[str, ...]


class _ProcessExitedError(Exception):
    def __init__(self, process: ManagedProcess) -> None:
        super().__init__(process.name)
        self.process = process


def _check_token_file_value(kind: str, value: str) -> None:
    if not value or _FORBIDDEN_IN_TOKEN_FILE & set(value):
        raise ValueError(f"{kind} {value!r} must be non-empty without commas, quotes or newlines")


def _http_ok(
    port: int, path: str, *, ca_file: Path | None = None, token: str | None = None
) -> tuple[bool, str]:
    """GET ``path`` on 127.0.0.1:port (HTTPS when ``ca_file`` is given); (status is 200, body)."""
    connection: http.client.HTTPConnection
    if ca_file is None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    else:
        if not ca_file.is_file():
            return False, ""
        try:
            context = ssl.create_default_context(cafile=str(ca_file))
        except ssl.SSLError:  # the server is still writing its certificate
            return False, ""
        connection = http.client.HTTPSConnection("127.0.0.1", port, timeout=2, context=context)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        return response.status == 200, response.read().decode("utf-8", "replace")
    except (OSError, http.client.HTTPException):
        return False, ""
    finally:
        connection.close()


class ControlPlane(Cluster):
    """etcd + kube-apiserver (+ kube-controller-manager) on 127.0.0.1, for tests and demos.

    Use it as a context manager or call :meth:`start` and :meth:`stop`::

        with ControlPlane(extra_users={"alice": ["team-a"]}) as cp:
            cp.kubectl("get", "namespaces")
            cp.kubeconfig_for("alice")  # a kubeconfig that authenticates as alice

    ``extra_users`` maps user names to their groups; each gets a random bearer token (no RBAC
    binding: bind roles in the test). Requests of the users named in ``audit_users`` are written
    to an audit log (:meth:`audit_events`: one JSON event per request once it is answered, and a
    second when a long-running one - a watch - ends). Missing binaries are built on first use
    (minutes, with progress lines on ``progress``, default stderr) unless ``bin_dir`` or
    ``SHUNTER_BIN_DIR`` names a folder holding them.
    """

    def __init__(
        self,
        *,
        extra_users: Mapping[str, Sequence[str]] | None = None,
        with_controller_manager: bool = False,
        bin_dir: Path | None = None,
        start_timeout: float = 120.0,
        stop_timeout: float = 10.0,
        progress: TextIO | None = None,
        audit_users: Sequence[str] = (),
    ) -> None:
        self._users: dict[str, _User] = {
            name: _User(name, secrets.token_urlsafe(32), (ADMIN_GROUP,))
            for name in (ADMIN_USER, OPERATOR_USER)
        }
        for name, groups in (extra_users or {}).items():
            if name in self._users:
                raise ValueError(f"user {name!r} is reserved")
            _check_token_file_value("user name", name)
            for group in groups:
                _check_token_file_value("group", group)
            self._users[name] = _User(name, secrets.token_urlsafe(32), tuple(groups))
        self.with_controller_manager = with_controller_manager
        unknown = set(audit_users) - set(self._users)
        if unknown:
            raise ValueError(f"audit_users names unknown users: {sorted(unknown)}")
        self._audit_users = tuple(audit_users)
        self._requested_bin_dir = bin_dir
        self._start_timeout = start_timeout
        self._stop_timeout = stop_timeout
        self._progress = progress
        self._bin_dir: Path | None = None
        self._workdir: Path | None = None
        self._server: str | None = None
        self._processes: list[ManagedProcess] = []
        self._kubeconfigs: dict[str, Path] = {}
        self._client_ca: CertificateAuthority | None = None
        self._deadline = 0.0
        self.startup_seconds: float | None = None
        """Seconds from the first start-up step (keys, etcd) to every server ready; no build."""

    def __repr__(self) -> str:
        state = f"server={self._server}" if self._server else "stopped"
        return f"<ControlPlane {state} users={sorted(self._users)}>"

    # -- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> Self:
        """Start the servers, wait until they are ready and write the kubeconfigs."""
        if self._workdir is not None:
            raise ControlPlaneError("the control plane is already started")
        names = ["etcd", "kube-apiserver", "kubectl"]
        if self.with_controller_manager:
            names.append("kube-controller-manager")
        self._bin_dir = self._requested_bin_dir or find_binaries(names, progress=self._progress)
        _remove_stale_workdirs()
        self._workdir = Path(tempfile.mkdtemp(prefix=_WORKDIR_PREFIX))
        (self._workdir / _OWNER_FILE).write_text(f"{os.getpid()}\n")
        atexit.register(self.stop)
        try:
            began = time.monotonic()
            self._deadline = began + self._start_timeout
            self._write_service_account_keys()
            self._write_token_file()
            self._write_client_ca()
            etcd_url = self._start_etcd()
            self._start_apiserver(etcd_url)
            self._write_kubeconfigs()
            if self.with_controller_manager:
                self._start_controller_manager()
            self.startup_seconds = time.monotonic() - began
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop every server (SIGTERM, then SIGKILL after a deadline) and remove the temp folder.

        Safe to call more than once.
        """
        for process in reversed(self._processes):
            process.stop(self._stop_timeout)
        self._processes.clear()
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None
        self._server = None
        self._kubeconfigs.clear()
        atexit.unregister(self.stop)

    def check_running(self) -> None:
        """Raise :class:`ControlPlaneError` if a server has exited."""
        for process in self._processes:
            if not process.running():
                raise self._exited_error(process)

    # -- what tests and tools read -------------------------------------------------------------

    @property
    def server(self) -> str:
        """The kube-apiserver URL, ``https://127.0.0.1:<port>``."""
        if self._server is None:
            raise ControlPlaneError("the control plane is not started")
        return self._server

    @property
    def workdir(self) -> Path:
        """The temporary folder holding data, certificates, logs and kubeconfigs."""
        if self._workdir is None:
            raise ControlPlaneError("the control plane is not started")
        return self._workdir

    @property
    def bin_dir(self) -> Path:
        """The folder holding the binaries this control plane runs (kubectl included)."""
        if self._bin_dir is None:
            raise ControlPlaneError("the control plane is not started")
        return self._bin_dir

    @property
    def kubeconfig_path(self) -> Path:
        """The administrator's kubeconfig."""
        return self.kubeconfig_for(ADMIN_USER)

    @property
    def operator_kubeconfig_path(self) -> Path:
        """The kubeconfig of :data:`OPERATOR_USER`."""
        return self.kubeconfig_for(OPERATOR_USER)

    @property
    def ca_path(self) -> Path:
        """The CA bundle that verifies the kube-apiserver's serving certificate."""
        return self.workdir / "ca.crt"

    @property
    def admin_token(self) -> str:
        return self._users[ADMIN_USER].token

    @property
    def has_test_users(self) -> bool:
        return True

    @property
    def users(self) -> list[str]:
        """The user names with tokens (the administrator included)."""
        return list(self._users)

    @property
    def pids(self) -> dict[str, int]:
        """Process ids of the servers started, by binary name."""
        return {process.name: process.pid for process in self._processes if process.started}

    @property
    def audit_log_path(self) -> Path:
        """The audit log (empty unless ``audit_users`` were given)."""
        return self.workdir / "audit.log"

    def audit_events(self, offset: int = 0) -> tuple[list[dict[str, object]], int]:
        """The audit events logged from byte ``offset`` on, and the offset after them (a line
        still being written is left for the next call)."""
        try:
            with self.audit_log_path.open("rb") as log:
                log.seek(offset)
                data = log.read()
        except FileNotFoundError:
            return [], offset
        complete = data[: data.rfind(b"\n") + 1]
        events = [json.loads(line) for line in complete.splitlines() if line.strip()]
        return events, offset + len(complete)

    def _audit_flags(self) -> list[str]:
        if not self._audit_users:
            return []
        policy = {
            "apiVersion": "audit.k8s.io/v1",
            "kind": "Policy",
            "omitStages": ["RequestReceived"],
            "rules": [
                {"level": "Metadata", "users": list(self._audit_users)},
                {"level": "None"},
            ],
        }
        path = self.workdir / "audit-policy.yaml"
        path.write_text(yaml.safe_dump(policy))
        return [
            f"--audit-policy-file={path}",
            f"--audit-log-path={self.audit_log_path}",
            "--audit-log-format=json",
            "--audit-log-mode=blocking",
        ]

    def log_path(self, name: str) -> Path:
        """The log file of one server (``etcd``, ``kube-apiserver``, ...)."""
        return self.workdir / f"{name}.log"

    def token_for(self, user: str) -> str:
        try:
            return self._users[user].token
        except KeyError:
            raise UnknownUserError(
                f"no test user {user!r}; known users: {', '.join(self._users)}"
            ) from None

    def kubeconfig_for(self, user: str) -> Path:
        self.token_for(user)  # Raises UnknownUserError for an unknown user.
        try:
            return self._kubeconfigs[user]
        except KeyError:
            raise ControlPlaneError("the control plane is not started") from None

    def _kubectl_binary(self) -> Path | None:
        return None if self._bin_dir is None else self._bin_dir / "kubectl"

    def _kubectl_cache_dir(self) -> Path | None:
        return None if self._workdir is None else self._workdir / "kubectl-cache"

    # -- start-up steps ------------------------------------------------------------------------

    def _binary(self, name: str) -> str:
        if self._bin_dir is None:
            raise ControlPlaneError("binaries not located")
        return str(self._bin_dir / name)

    def _write_service_account_keys(self) -> None:
        """An RSA key pair: the apiserver signs service-account tokens with it."""
        key = _openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048")
        _write_private(self.workdir / "sa.key", key)
        _write_private(self.workdir / "sa.pub", _openssl("pkey", "-pubout", stdin=key))

    def _write_client_ca(self) -> None:
        """The CA whose client certificates the apiserver accepts (see client_certificate)."""
        self._client_ca = CertificateAuthority("shunter-local client CA")
        (self.workdir / "client-ca.crt").write_bytes(self._client_ca.cert_pem())

    def client_certificate(self, user: str, groups: Sequence[str] = ()) -> IssuedCertificate:
        """A TLS client certificate the apiserver authenticates as ``user`` in ``groups``."""
        if self._client_ca is None:
            raise ControlPlaneError("the control plane is not started")
        return self._client_ca.issue_client(user, groups)

    def _write_token_file(self) -> None:
        # token,user,uid,"group1,group2" - the kube-apiserver's static token file format.
        lines = [
            f'{user.token},{user.name},{user.name},"{",".join(user.groups)}"'
            for user in self._users.values()
        ]
        _write_private(self.workdir / "tokens.csv", ("\n".join(lines) + "\n").encode())

    def _start_etcd(self) -> str:
        data_dir = self.workdir / "etcd-data"

        def spawn() -> tuple[ManagedProcess, Callable[[], bool], str]:
            shutil.rmtree(data_dir, ignore_errors=True)
            client, peer = free_port(), free_port()
            client_url, peer_url = f"http://127.0.0.1:{client}", f"http://127.0.0.1:{peer}"
            process = ManagedProcess(
                "etcd",
                [
                    self._binary("etcd"),
                    "--name=shunter",
                    f"--data-dir={data_dir}",
                    f"--listen-client-urls={client_url}",
                    f"--advertise-client-urls={client_url}",
                    f"--listen-peer-urls={peer_url}",
                    f"--initial-advertise-peer-urls={peer_url}",
                    f"--initial-cluster=shunter={peer_url}",
                    "--unsafe-no-fsync",
                ],
                self.log_path("etcd"),
            )

            def healthy() -> bool:
                ok, body = _http_ok(client, "/health")
                try:
                    return ok and json.loads(body).get("health") == "true"
                except ValueError:
                    return False

            return process, healthy, client_url

        return self._start_with_port_retries(spawn)

    def _start_apiserver(self, etcd_url: str) -> None:
        certs = self.workdir / "certs"

        def spawn() -> tuple[ManagedProcess, Callable[[], bool], str]:
            port = free_port()
            process = ManagedProcess(
                "kube-apiserver",
                [
                    self._binary("kube-apiserver"),
                    f"--etcd-servers={etcd_url}",
                    f"--secure-port={port}",
                    "--bind-address=127.0.0.1",
                    "--advertise-address=127.0.0.1",
                    f"--cert-dir={certs}",
                    f"--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}",
                    f"--service-account-issuer=https://127.0.0.1:{port}",
                    f"--service-account-key-file={self.workdir / 'sa.pub'}",
                    f"--service-account-signing-key-file={self.workdir / 'sa.key'}",
                    "--authorization-mode=RBAC",
                    "--disable-admission-plugins=ServiceAccount",
                    "--allow-privileged=true",
                    f"--token-auth-file={self.workdir / 'tokens.csv'}",
                    f"--client-ca-file={self.workdir / 'client-ca.crt'}",
                    *self._audit_flags(),
                ],
                self.log_path("kube-apiserver"),
            )

            def ready() -> bool:
                ca = certs / "apiserver.crt"
                ok, body = _http_ok(port, "/readyz", ca_file=ca, token=self.admin_token)
                return ok and body.strip() == "ok"

            return process, ready, f"https://127.0.0.1:{port}"

        shutil.rmtree(certs, ignore_errors=True)
        self._server = self._start_with_port_retries(spawn)
        shutil.copyfile(certs / "apiserver.crt", self.ca_path)

    def _write_kubeconfigs(self) -> None:
        ca_data = base64.b64encode(self.ca_path.read_bytes()).decode("ascii")
        for user in self._users.values():
            config = {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [
                    {
                        "name": "shunter-local",
                        "cluster": {"server": self.server, "certificate-authority-data": ca_data},
                    }
                ],
                "users": [{"name": user.name, "user": {"token": user.token}}],
                "contexts": [
                    {
                        "name": f"{user.name}@shunter-local",
                        "context": {"cluster": "shunter-local", "user": user.name},
                    }
                ],
                "current-context": f"{user.name}@shunter-local",
            }
            name = "kubeconfig" if user.name == ADMIN_USER else f"kubeconfig-{user.name}"
            path = self.workdir / name
            _write_private(path, yaml.safe_dump(config, sort_keys=False).encode())
            self._kubeconfigs[user.name] = path

    def _start_controller_manager(self) -> None:
        kubeconfig = self.kubeconfig_path
        certs = self.workdir / "controller-manager-certs"

        def spawn() -> tuple[ManagedProcess, Callable[[], bool], str]:
            shutil.rmtree(certs, ignore_errors=True)
            port = free_port()
            process = ManagedProcess(
                "kube-controller-manager",
                [
                    self._binary("kube-controller-manager"),
                    f"--kubeconfig={kubeconfig}",
                    f"--authentication-kubeconfig={kubeconfig}",
                    f"--authorization-kubeconfig={kubeconfig}",
                    # Token auth only: the apiserver publishes no client-CA configmap to find.
                    "--authentication-skip-lookup",
                    "--bind-address=127.0.0.1",
                    f"--secure-port={port}",
                    f"--cert-dir={certs}",
                    "--leader-elect=false",
                    f"--service-account-private-key-file={self.workdir / 'sa.key'}",
                    f"--root-ca-file={self.ca_path}",
                ],
                self.log_path("kube-controller-manager"),
            )

            def healthy() -> bool:
                ca = certs / "kube-controller-manager.crt"
                ok, body = _http_ok(port, "/healthz", ca_file=ca)
                return ok and body.strip() == "ok"

            return process, healthy, ""

        self._start_with_port_retries(spawn)

    # -- process supervision -------------------------------------------------------------------

    def _start_with_port_retries(
        self, spawn: Callable[[], tuple[ManagedProcess, Callable[[], bool], str]]
    ) -> str:
        """Start a server and wait until ``ready``; retry with new ports on a port clash.

        Returns the third element of ``spawn``'s answer (the server's URL).
        """
        for attempt in range(1, _PORT_ATTEMPTS + 1):
            process, ready, url = spawn()
            self._processes.append(process)
            process.start()
            try:
                self._wait_until(process, ready)
            except _ProcessExitedError:
                clash = "address already in use" in process.log_tail().lower()
                if not clash or attempt == _PORT_ATTEMPTS:
                    raise self._exited_error(process) from None
                process.stop(self._stop_timeout)
                self._processes.remove(process)
                continue
            return url
        raise AssertionError("unreachable")  # pragma: no cover

    def _wait_until(self, process: ManagedProcess, ready: Callable[[], bool]) -> None:
        while not ready():
            if not process.running():
                raise _ProcessExitedError(process)
            if time.monotonic() > self._deadline:
                raise ControlPlaneError(
                    f"{process.name} was not ready within {self._start_timeout:.0f}s; "
                    f"its last log lines:\n{process.log_tail(_LOG_TAIL_LINES)}"
                )
            time.sleep(_POLL_INTERVAL)

    @staticmethod
    def _exited_error(process: ManagedProcess) -> ControlPlaneError:
        return ControlPlaneError(
            f"{process.name} exited with code {process.exit_code()}; "
            f"its last log lines:\n{process.log_tail(_LOG_TAIL_LINES)}"
        )


def _remove_stale_workdirs() -> None:
    """Remove temp folders left by control planes whose Python process was killed (kill -9)."""
    for folder in Path(tempfile.gettempdir()).glob(f"{_WORKDIR_PREFIX}*"):
        try:
            if folder.stat().st_uid != os.getuid():
                continue
            owner = int((folder / _OWNER_FILE).read_text())
        except (OSError, ValueError):
            continue
        try:
            os.kill(owner, 0)
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
        except PermissionError:
            continue


def _openssl(*args: str, stdin: bytes | None = None) -> bytes:
    """Run the openssl command line tool and return its stdout."""
    result = subprocess.run(
        ["openssl", *args], input=stdin, capture_output=True, check=False, timeout=60
    )
    if result.returncode != 0:
        message = result.stderr.decode("utf-8", "replace").strip()
        raise ControlPlaneError(f"openssl {args[0]} failed: {message}")
    return result.stdout


def _write_private(path: Path, data: bytes) -> None:
    """Write a file readable by its owner only (keys, tokens, kubeconfigs)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
