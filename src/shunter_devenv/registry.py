"""A real OCI registry for tests and the demo: a private ``docker-registry`` behind a front.

``Registry`` runs Debian's ``docker-registry`` binary (CNCF distribution 2.8; apt package
``docker-registry``) as a private child process: ``docker-registry serve config.yml`` with
filesystem storage in a temp dir, deletes enabled, bound to 127.0.0.1 on a random internal port.
Clients never talk to it directly: a ``RegistryFront`` on another random port forwards every
request (streaming), counts it by kind, and terminates TLS in HTTPS mode. The registry's own
``http.addr`` stays plain HTTP on loopback; its ``Location`` URLs still name the front (the
``Host`` header is kept and ``X-Forwarded-Proto`` is set).

Authentication modes:

- ``"htpasswd"`` (default): Basic auth against bcrypt lines written with the ``bcrypt`` package;
  anonymous requests get 401 with ``WWW-Authenticate: Basic realm=...``.
- ``"token"``: the registry's own ``auth: token:`` (realm, service, issuer, rootcertbundle); the
  realm is the front's ``/token`` endpoint, served in-process by ``TokenIssuer``. Clients see a
  Docker-Hub-style ``WWW-Authenticate: Bearer realm=...,service=...,scope=...`` challenge.
- ``"none"``: anonymous read and write.

Set-up helpers (``push_image``, ``push_index``, ``tag_existing``...) use ``OCIPusher`` over the
front; that traffic is marked and left out of ``request_count`` unless asked for.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Self

import bcrypt
import httpx

from shunter_devenv.ocipush import Manifest, OCIPusher
from shunter_devenv.processes import ManagedProcess, free_port
from shunter_devenv.registry_front import (
    TOKEN_PATH,
    RegistryFront,
    RegistryRequest,
    RegistryRequestKind,
)
from shunter_devenv.registry_token import TokenIssuer
from shunter_devenv.selfsigned import TLSFiles, server_ssl_context, write_server_tls

__all__ = [
    "APT_PACKAGE",
    "DEFAULT_REGISTRY_USERS",
    "TOKEN_ISSUER",
    "TOKEN_SERVICE",
    "AuthMode",
    "Registry",
    "RegistryNotInstalledError",
    "RegistryStartError",
    "find_registry_binary",
]

APT_PACKAGE = "docker-registry"
DEFAULT_REGISTRY_USERS: Mapping[str, str] = {"shunter": "shunter-registry-password"}
TOKEN_SERVICE = "shunter-test-registry"  # noqa: S105 - a name, not a secret
TOKEN_ISSUER = "shunter-test-token-issuer"  # noqa: S105 - a name, not a secret
AuthMode = Literal["htpasswd", "token", "none"]

_BINARY_CANDIDATES = ("/usr/bin/docker-registry",)
_START_ATTEMPTS = 3
_BCRYPT_ROUNDS = 5  # low on purpose: every Basic-authenticated request pays one bcrypt check


class RegistryNotInstalledError(RuntimeError):
    """The ``docker-registry`` binary is missing."""


class RegistryStartError(RuntimeError):
    """The registry process did not come up."""


def find_registry_binary(
    path: str | None = None, candidates: Sequence[str] = _BINARY_CANDIDATES
) -> Path:
    """The ``docker-registry`` binary (on ``path``, default $PATH, then ``candidates``).

    Raises ``RegistryNotInstalledError`` naming the apt package to install.
    """
    found = shutil.which("docker-registry", path=path)
    if found:
        return Path(found)
    for candidate in candidates:
        if Path(candidate).is_file():
            return Path(candidate)
    raise RegistryNotInstalledError(
        "docker-registry (CNCF distribution 2.8) is not installed; install the Debian package: "
        f"apt-get install -y {APT_PACKAGE}"
    )


def _htpasswd_line(user: str, password: str) -> str:
    hashed = bcrypt.hashpw(password.encode("utf-8"), bcrypt.gensalt(rounds=_BCRYPT_ROUNDS))
    return f"{user}:{hashed.decode('ascii')}\n"


class Registry:
    """A private OCI registry on 127.0.0.1; use as a context manager (or start()/stop())."""

    def __init__(
        self,
        *,
        users: Mapping[str, str] | None = None,
        auth: AuthMode = "htpasswd",
        tls: bool = False,
        anonymous_pull: bool = False,
        workdir: Path | None = None,
        realm: str = "shunter-test-registry",
        start_timeout: float = 30.0,
        binary: Path | None = None,
        notify_url: str | None = None,
    ) -> None:
        """``anonymous_pull`` (token mode only): anonymous callers get pull tokens.

        ``notify_url``: the registry POSTs its notifications there (distribution's
        ``notifications.endpoints``: an envelope ``{"events": [...]}`` per event; blob events and
        pulls left out, so what arrives are manifest pushes and deletes).
        """
        if auth not in ("htpasswd", "token", "none"):
            raise ValueError(f"unknown auth mode {auth!r}")
        self.users: dict[str, str] = dict(DEFAULT_REGISTRY_USERS if users is None else users)
        self.auth: AuthMode = auth
        self.tls = tls
        self.anonymous_pull = anonymous_pull
        self.realm = realm
        self.start_timeout = start_timeout
        self.binary = binary
        self.notify_url = notify_url
        self._given_workdir = workdir
        self._workdir: Path | None = None
        self._tls_files: TLSFiles | None = None
        self._front: RegistryFront | None = None
        self._process: ManagedProcess | None = None
        self._pusher: OCIPusher | None = None
        self.token_issuer: TokenIssuer | None = None
        self.start_seconds: float | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> Self:
        if self._process is not None:
            raise RuntimeError("the registry is already running")
        binary = self.binary or find_registry_binary()
        began = time.monotonic()
        if self._given_workdir is not None:
            self._given_workdir.mkdir(parents=True, exist_ok=True)
            workdir = self._given_workdir
        else:
            workdir = Path(tempfile.mkdtemp(prefix="shunter-registry-"))
        self._workdir = workdir
        try:
            self._start_in(workdir, binary)
        except BaseException:
            self.stop()
            raise
        self.start_seconds = time.monotonic() - began
        return self

    def _start_in(self, workdir: Path, binary: Path) -> None:
        ssl_context = None
        if self.tls:
            self._tls_files = write_server_tls(workdir / "tls", "shunter devenv registry")
            ssl_context = server_ssl_context(self._tls_files)
        if self.auth == "token":
            self.token_issuer = TokenIssuer(
                service=TOKEN_SERVICE,
                issuer=TOKEN_ISSUER,
                users=self.users,
                anonymous_actions=("pull",) if self.anonymous_pull else (),
                realm=self.realm,
            )
        last_error = ""
        for attempt in range(_START_ATTEMPTS):
            upstream_port = free_port()
            front = RegistryFront(
                upstream_port, ssl_context=ssl_context, token_issuer=self.token_issuer
            )
            front.start()
            self._front = front
            config = workdir / "config.yml"
            config.write_text(json.dumps(self._config(workdir, upstream_port), indent=2))
            process = ManagedProcess(
                "docker-registry",
                [str(binary), "serve", str(config)],
                workdir / f"registry-{attempt}.log",
                env={"PATH": "/usr/bin:/bin", "HOME": str(workdir)},
            )
            process.start()
            self._process = process
            if self._wait_ready(process, upstream_port):
                self._pusher = OCIPusher(
                    self.base_url,
                    username=self.username if self.auth != "none" else None,
                    password=self.password if self.auth != "none" else None,
                    ca_file=self.ca_file,
                )
                return
            last_error = process.log_tail()
            process.stop()
            front.stop()
            self._process = self._front = None
        raise RegistryStartError(f"docker-registry did not start; its log ends with:\n{last_error}")

    def _wait_ready(self, process: ManagedProcess, port: int) -> bool:
        deadline = time.monotonic() + self.start_timeout
        with httpx.Client(timeout=2.0) as client:
            while time.monotonic() < deadline:
                if not process.running():
                    return False
                try:
                    response = client.get(f"http://127.0.0.1:{port}/v2/")
                except httpx.TransportError:
                    time.sleep(0.02)
                    continue
                if response.status_code in (200, 401):
                    return True
                time.sleep(0.02)
        return False

    def _config(self, workdir: Path, upstream_port: int) -> dict[str, Any]:
        storage = workdir / "storage"
        storage.mkdir(exist_ok=True)
        config: dict[str, Any] = {
            "version": "0.1",
            "log": {"level": "warn", "accesslog": {"disabled": True}},
            "storage": {
                "filesystem": {"rootdirectory": str(storage)},
                "delete": {"enabled": True},
                "maintenance": {"uploadpurging": {"enabled": False}},
            },
            "http": {
                "addr": f"127.0.0.1:{upstream_port}",
                "secret": secrets.token_hex(16),
                "headers": {"X-Content-Type-Options": ["nosniff"]},
            },
            "health": {"storagedriver": {"enabled": False}},
        }
        if self.notify_url:
            config["notifications"] = {
                "endpoints": [
                    {
                        "name": "webhook",
                        "url": self.notify_url,
                        "timeout": "5s",
                        "threshold": 3,
                        "backoff": "1s",
                        "ignore": {
                            "mediatypes": ["application/octet-stream"],
                            "actions": ["pull"],
                        },
                    }
                ]
            }
        if self.auth == "htpasswd":
            htpasswd = workdir / "htpasswd"
            htpasswd.write_text("".join(_htpasswd_line(u, p) for u, p in self.users.items()))
            config["auth"] = {"htpasswd": {"realm": self.realm, "path": str(htpasswd)}}
        elif self.auth == "token":
            assert self.token_issuer is not None  # noqa: S101 - made in _start_in
            bundle = self.token_issuer.write_root_bundle(workdir / "token-ca.pem")
            config["auth"] = {
                "token": {
                    "realm": self.token_realm,
                    "service": TOKEN_SERVICE,
                    "issuer": TOKEN_ISSUER,
                    "rootcertbundle": str(bundle),
                }
            }
        return config

    def outage(self) -> None:
        """Stop the registry process (the front then answers 502, as a proxy in front of a
        dead registry does); :meth:`restore` brings it back with the same content."""
        if self._process is None:
            raise RuntimeError("the registry is not running")
        self._process.stop()

    def restore(self) -> None:
        """Restart the registry process after :meth:`outage` (same port, same storage)."""
        if self._process is None or self._workdir is None or self._front is None:
            raise RuntimeError("the registry was never started")
        old = self._process
        process = ManagedProcess(
            "docker-registry", old.argv, self._workdir / "registry-restored.log", env=old.env
        )
        process.start()
        self._process = process
        if not self._wait_ready(process, self._front.upstream_port):
            raise RegistryStartError(f"docker-registry did not restart:\n{process.log_tail()}")

    def stop(self) -> None:
        pusher, self._pusher = self._pusher, None
        if pusher is not None:
            pusher.close()
        process, self._process = self._process, None
        if process is not None:
            process.stop()
        front, self._front = self._front, None
        if front is not None:
            front.stop()
        if self._workdir is not None and self._given_workdir is None:
            shutil.rmtree(self._workdir, ignore_errors=True)
        self._workdir = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # -- addresses and credentials ---------------------------------------------------------

    @property
    def front(self) -> RegistryFront:
        if self._front is None:
            raise RuntimeError("the registry is not running")
        return self._front

    @property
    def host(self) -> str:
        """``127.0.0.1:<port>``: the registry part of image references (``host/repo:tag``)."""
        return f"127.0.0.1:{self.front.port}"

    @property
    def base_url(self) -> str:
        """``http(s)://127.0.0.1:<port>``: the front every client uses."""
        return self.front.base_url

    @property
    def upstream_url(self) -> str:
        """The private registry process itself (uncounted; plain HTTP; for diagnostics)."""
        return f"http://127.0.0.1:{self.front.upstream_port}"

    @property
    def token_realm(self) -> str:
        """The Bearer challenge's realm (the front's token endpoint)."""
        return f"{self.base_url}{TOKEN_PATH}"

    @property
    def ca_file(self) -> Path | None:
        """The PEM CA clients must trust in HTTPS mode (None over plain HTTP)."""
        return None if self._tls_files is None else self._tls_files.ca_file

    @property
    def username(self) -> str:
        """The first configured user (the pusher's identity)."""
        return next(iter(self.users))

    @property
    def password(self) -> str:
        return self.users[self.username]

    def image(self, repo: str, tag: str | None = None) -> str:
        """An image reference on this registry: ``127.0.0.1:<port>/repo[:tag]``."""
        return f"{self.host}/{repo}" + (f":{tag}" if tag else "")

    # -- requests seen by the front --------------------------------------------------------

    @property
    def requests(self) -> list[RegistryRequest]:
        return self.front.requests

    def request_count(
        self,
        kind: RegistryRequestKind | str | None = None,
        *,
        method: str | None = None,
        repo: str | None = None,
        status: int | None = None,
        include_devenv: bool = False,
    ) -> int:
        """Requests that reached the front and match every filter (pusher traffic excluded)."""
        return self.front.request_count(
            kind, method=method, repo=repo, status=status, include_devenv=include_devenv
        )

    def request_counts(self, *, include_devenv: bool = False) -> Counter[tuple[str, str]]:
        return self.front.request_counts(include_devenv=include_devenv)

    def reset_requests(self) -> None:
        self.front.reset_requests()

    # -- pushing (OCI distribution API over the front) -------------------------------------

    @property
    def pusher(self) -> OCIPusher:
        if self._pusher is None:
            raise RuntimeError("the registry is not running")
        return self._pusher

    def push_image(
        self,
        repo: str,
        tag: str | None,
        created: dt.datetime,
        platform: str = "linux/amd64",
        *,
        labels: Mapping[str, str] | None = None,
        annotations: Mapping[str, str] | None = None,
    ) -> str:
        """Push a one-layer OCI image whose config says ``created``/``platform``; return digest."""
        return self.pusher.push_image(
            repo, tag, created, platform, labels=labels, annotations=annotations
        )

    def push_index(
        self,
        repo: str,
        tag: str | None,
        platforms: Sequence[str],
        created: dt.datetime,
        labels: Mapping[str, str] | None = None,
    ) -> str:
        """Push an OCI image index over one image per platform; return the index digest."""
        return self.pusher.push_index(repo, tag, platforms, created, labels)

    def tag_existing(self, repo: str, src_tag: str, dst_tag: str) -> str:
        return self.pusher.tag_existing(repo, src_tag, dst_tag)

    def get_manifest(self, repo: str, reference: str) -> Manifest:
        return self.pusher.get_manifest(repo, reference)

    def list_tags(self, repo: str) -> list[str]:
        return self.pusher.list_tags(repo)

    def delete_manifest(self, repo: str, digest: str) -> None:
        self.pusher.delete_manifest(repo, digest)
