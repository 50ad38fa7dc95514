"""Where the API server is and how to log in to it, read the way kubectl reads it.

:func:`load` picks the files: ``--kubeconfig FILE`` alone (it must exist), else every file
listed in ``$KUBECONFIG`` (merged as kubectl merges them: the first file that sets a value or
a map entry wins; missing files are skipped), else ``~/.kube/config``; with none of them it
falls back to the pod's service account (``KUBERNETES_SERVICE_HOST`` and the token under
``/var/run/secrets/kubernetes.io/serviceaccount``). ``--context`` picks the context, else the
``current-context``. Relative file paths in a kubeconfig are relative to the file that names
them.

The result, :class:`ClusterAccess`, says which server, how to trust it (``certificate-authority``
file or ``-data``, ``insecure-skip-tls-verify``, ``tls-server-name``), which credentials to
present (``token``, ``tokenFile``, ``client-certificate``/``client-key`` file or ``-data``, an
``exec`` credential plugin) and the context's namespace. :class:`Credentials` turns that into
what a request carries: a bearer token (an exec plugin's, cached until it expires) and a client
certificate. Nothing here logs or repeats a token or a key in an error message.
"""

from __future__ import annotations

import base64
import json
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = [
    "DEFAULT_SERVICE_ACCOUNT_DIR",
    "ClientCertificate",
    "ClusterAccess",
    "Credentials",
    "ExecPlugin",
    "KubeconfigError",
    "load",
]

#: Where Kubernetes mounts a pod's service-account token, CA and namespace.
DEFAULT_SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
_EXEC_API_VERSIONS = (
    "client.authentication.k8s.io/v1",
    "client.authentication.k8s.io/v1beta1",
)
_INTERACTIVE_MODES = ("Never", "IfAvailable", "Always")
#: The cluster extension an exec plugin receives as ``spec.cluster.config``.
_EXEC_EXTENSION = "client.authentication.k8s.io/exec"
#: Seconds an exec credential plugin may run when it cannot ask the user anything.
EXEC_TIMEOUT = 60.0

JSON = dict[str, Any]


class KubeconfigError(Exception):
    """A kubeconfig (or service account) that cannot be used; the message says what to fix."""


@dataclass(frozen=True)
class ClientCertificate:
    """A TLS client certificate and its key: file paths, or PEM bytes from ``-data`` fields."""

    cert: Path | bytes
    key: Path | bytes


@dataclass(frozen=True)
class ExecPlugin:
    """An ``exec`` credential plugin (``users[].user.exec``)."""

    command: str
    args: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    api_version: str = "client.authentication.k8s.io/v1"
    install_hint: str = ""
    provide_cluster_info: bool = False
    interactive_mode: str = "IfAvailable"


@dataclass(frozen=True)
class ClusterAccess:
    """Everything needed to reach and log in to one API server."""

    server: str
    #: Where this came from, for messages: ``kubeconfig FILE, context NAME`` or the pod's
    #: service account.
    source: str
    namespace: str | None = None
    ca_pem: str | None = None
    insecure: bool = False
    tls_server_name: str | None = None
    client_certificate: ClientCertificate | None = None
    token: str | None = field(default=None, repr=False)
    token_file: Path | None = None
    exec_plugin: ExecPlugin | None = None
    #: The cluster entry as an exec plugin with ``provideClusterInfo`` receives it.
    cluster_info: JSON = field(default_factory=dict, repr=False)


# -- reading and merging the files ------------------------------------------------------------


@dataclass
class _Entry:
    """A named cluster, user or context, and the folder its relative paths start from."""

    body: JSON
    base: Path


@dataclass
class _Merged:
    clusters: dict[str, _Entry] = field(default_factory=dict)
    users: dict[str, _Entry] = field(default_factory=dict)
    contexts: dict[str, _Entry] = field(default_factory=dict)
    current_context: str = ""
    files: list[Path] = field(default_factory=list)


def _read_yaml(path: Path) -> Any:
    import yaml  # noqa: PLC0415 - only commands that connect pay for it

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise KubeconfigError(f"cannot read kubeconfig {path}: {exc.strerror or exc}") from None
    try:
        return yaml.load(text, Loader=loader)  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        raise KubeconfigError(f"kubeconfig {path} is not valid YAML: {exc}") from None


def _merge_file(merged: _Merged, path: Path) -> None:
    data = _read_yaml(path)
    if data is None:
        return
    if not isinstance(data, dict):
        raise KubeconfigError(f"kubeconfig {path} is not a mapping (kind: Config)")
    merged.files.append(path)
    base = path.parent
    for key, inner, target in (
        ("clusters", "cluster", merged.clusters),
        ("users", "user", merged.users),
        ("contexts", "context", merged.contexts),
    ):
        items = data.get(key) or []
        if not isinstance(items, list):
            raise KubeconfigError(f"kubeconfig {path}: {key} must be a list")
        for index, item in enumerate(items):
            name = item.get("name") if isinstance(item, dict) else None
            if not isinstance(name, str) or not name:
                raise KubeconfigError(f"kubeconfig {path}: {key}[{index}] has no name")
            body = item.get(inner) or {}
            if not isinstance(body, dict):
                raise KubeconfigError(f"kubeconfig {path}: {key}[{index}].{inner} is not a mapping")
            target.setdefault(name, _Entry(body, base))  # the first file to name it wins
    current = data.get("current-context")
    if not merged.current_context and isinstance(current, str):
        merged.current_context = current


def _kubeconfig_files(explicit: str | None, environ: Mapping[str, str]) -> list[Path]:
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise KubeconfigError(f"kubeconfig {explicit} does not exist; check --kubeconfig")
        return [path]
    listed = environ.get("KUBECONFIG", "")
    if listed:
        seen: list[Path] = []
        for part in listed.split(os.pathsep):
            if not part:
                continue
            path = Path(part).expanduser()
            if path not in seen and path.is_file():
                seen.append(path)
        return seen
    home = environ.get("HOME")
    default = (Path(home) if home else Path.home()) / ".kube" / "config"
    return [default] if default.is_file() else []


def load(
    kubeconfig: str | None = None,
    context: str | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    service_account_dir: Path = DEFAULT_SERVICE_ACCOUNT_DIR,
) -> ClusterAccess:
    """The server and credentials to use (see the module docstring for the order)."""
    env = os.environ if environ is None else environ
    merged = _Merged()
    for path in _kubeconfig_files(kubeconfig, env):
        _merge_file(merged, path)
    empty = not (merged.clusters or merged.users or merged.contexts or merged.current_context)
    if empty and not context and _in_cluster_possible(env, service_account_dir):
        return in_cluster(env, service_account_dir)
    if not merged.files:
        where = (
            f"none of the files in KUBECONFIG ({env['KUBECONFIG']}) exists"
            if env.get("KUBECONFIG")
            else "~/.kube/config does not exist"
        )
        raise KubeconfigError(
            "no kubeconfig found: pass --kubeconfig FILE or set KUBECONFIG "
            f"({where}, and this is not a pod with a service account)"
        )
    return _from_merged(merged, context)


def _names(entries: Mapping[str, _Entry]) -> str:
    return ", ".join(sorted(entries)) or "none"


def _source(merged: _Merged, context: str) -> str:
    files = os.pathsep.join(str(f) for f in merged.files)
    return f"kubeconfig {files}, context {context!r}"


def _from_merged(merged: _Merged, context_name: str | None) -> ClusterAccess:
    name = context_name or merged.current_context
    if not name:
        raise KubeconfigError(
            f"the kubeconfig sets no current-context: pass --context NAME "
            f"(its contexts: {_names(merged.contexts)})"
        )
    ctx = merged.contexts.get(name)
    if ctx is None:
        flag = " (--context)" if context_name else " (current-context)"
        raise KubeconfigError(
            f"context {name!r}{flag} is not in the kubeconfig; its contexts: "
            f"{_names(merged.contexts)}"
        )
    source = _source(merged, name)
    cluster_name = _string(ctx.body, "cluster", f"context {name!r}")
    if not cluster_name or cluster_name not in merged.clusters:
        raise KubeconfigError(
            f"context {name!r} names cluster {cluster_name!r}, which is not in the kubeconfig; "
            f"its clusters: {_names(merged.clusters)}"
        )
    cluster = merged.clusters[cluster_name]
    user_name = _string(ctx.body, "user", f"context {name!r}")
    user = _Entry({}, cluster.base)
    if user_name:
        if user_name not in merged.users:
            raise KubeconfigError(
                f"context {name!r} names user {user_name!r}, which is not in the kubeconfig; "
                f"its users: {_names(merged.users)}"
            )
        user = merged.users[user_name]
    namespace = _string(ctx.body, "namespace", f"context {name!r}") or None
    return _access(
        cluster,
        user,
        cluster_where=f"cluster {cluster_name!r}",
        user_where=f"user {user_name!r}",
        source=source,
        ns=namespace,
    )


def _string(body: Mapping[str, Any], key: str, where: str) -> str:
    value = body.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise KubeconfigError(f"{where}: {key} must be a string")
    return value


def _flag(body: Mapping[str, Any], key: str, where: str) -> bool:
    value = body.get(key, False)
    if not isinstance(value, bool):
        raise KubeconfigError(f"{where}: {key} must be true or false")
    return value


def _resolve(base: Path, value: str) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else base / path


def _decode(value: str, key: str, where: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except ValueError:
        raise KubeconfigError(f"{where}: {key} is not valid base64") from None


def _read_file(path: Path, key: str, where: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise KubeconfigError(
            f"{where}: {key} {path} cannot be read: {exc.strerror or exc}"
        ) from None


def _pem_or_file(entry: _Entry, key: str, where: str, *, read: bool) -> Path | bytes | None:
    """``key-data`` (base64 PEM) wins over ``key`` (a file), as in kubectl."""
    data = _string(entry.body, f"{key}-data", where)
    if data:
        return _decode(data, f"{key}-data", where)
    path = _string(entry.body, key, where)
    if not path:
        return None
    resolved = _resolve(entry.base, path)
    if read:
        return _read_file(resolved, key, where)
    if not resolved.is_file():
        raise KubeconfigError(f"{where}: {key} {resolved} does not exist")
    return resolved


def _access(
    cluster: _Entry,
    user: _Entry,
    *,
    cluster_where: str,
    user_where: str,
    source: str,
    ns: str | None,
) -> ClusterAccess:
    where = f"{cluster_where} in {source}"
    server = _string(cluster.body, "server", where).rstrip("/")
    if not server:
        raise KubeconfigError(f"{where} has no server")
    if not server.startswith(("https://", "http://")):
        raise KubeconfigError(f"{where}: server is not an http(s):// URL")
    if "@" in server.split("/", 3)[2]:
        raise KubeconfigError(
            f"{where}: the server URL carries user information; put credentials in the user"
        )
    if _string(cluster.body, "proxy-url", where):
        raise KubeconfigError(
            f"{where} sets proxy-url, which shunter's command line does not support yet; "
            "use kubectl, or a kubeconfig without a proxy"
        )
    ca = _pem_or_file(cluster, "certificate-authority", where, read=True)
    ca_pem = ca.decode("utf-8", "replace") if isinstance(ca, bytes) else None
    insecure = _flag(cluster.body, "insecure-skip-tls-verify", where)
    tls_server_name = _string(cluster.body, "tls-server-name", where) or None
    cluster_info: JSON = {"server": server, "insecure-skip-tls-verify": insecure}
    if ca_pem:
        cluster_info["certificate-authority-data"] = base64.b64encode(ca_pem.encode()).decode()
    if tls_server_name:
        cluster_info["tls-server-name"] = tls_server_name
    for extension in cluster.body.get("extensions") or []:
        if isinstance(extension, dict) and extension.get("name") == _EXEC_EXTENSION:
            cluster_info["config"] = extension.get("extension")

    uwhere = f"{user_where} in {source}"
    for unsupported, hint in (
        ("auth-provider", "use an exec credential plugin instead (kubectl dropped most of them)"),
        ("username", "basic authentication was removed from Kubernetes; use a token or a cert"),
    ):
        if user.body.get(unsupported):
            raise KubeconfigError(f"{uwhere} uses {unsupported}, which is not supported: {hint}")
    cert = _pem_or_file(user, "client-certificate", uwhere, read=False)
    key = _pem_or_file(user, "client-key", uwhere, read=False)
    if (cert is None) != (key is None):
        raise KubeconfigError(f"{uwhere}: client-certificate and client-key go together")
    token_file_name = _string(user.body, "tokenFile", uwhere)
    return ClusterAccess(
        server=server,
        source=source,
        namespace=ns,
        ca_pem=ca_pem,
        insecure=insecure,
        tls_server_name=tls_server_name,
        client_certificate=ClientCertificate(cert, key)
        if cert is not None and key is not None
        else None,
        token=_string(user.body, "token", uwhere) or None,
        token_file=_resolve(user.base, token_file_name) if token_file_name else None,
        exec_plugin=_exec_plugin(user, uwhere),
        cluster_info=cluster_info,
    )


def _exec_plugin(user: _Entry, where: str) -> ExecPlugin | None:
    raw = user.body.get("exec")
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise KubeconfigError(f"{where}: exec is not a mapping")
    where = f"{where}, exec"
    command = _string(raw, "command", where)
    if not command:
        raise KubeconfigError(f"{where}: command is missing")
    if os.sep in command and not Path(command).is_absolute():
        command = str(user.base / command)  # as kubectl: relative to the kubeconfig's folder
    api_version = _string(raw, "apiVersion", where)
    if api_version not in _EXEC_API_VERSIONS:
        raise KubeconfigError(
            f"{where}: apiVersion {api_version!r} is not one of {', '.join(_EXEC_API_VERSIONS)}"
        )
    mode = _string(raw, "interactiveMode", where) or (
        "IfAvailable" if api_version.endswith("v1beta1") else ""
    )
    if mode not in _INTERACTIVE_MODES:
        raise KubeconfigError(
            f"{where}: interactiveMode must be one of {', '.join(_INTERACTIVE_MODES)}"
        )
    args = raw.get("args") or []
    if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
        raise KubeconfigError(f"{where}: args must be a list of strings")
    env: list[tuple[str, str]] = []
    for index, item in enumerate(raw.get("env") or []):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise KubeconfigError(f"{where}: env[{index}] needs a name and a value")
        env.append((item["name"], str(item.get("value") or "")))
    return ExecPlugin(
        command=command,
        args=tuple(args),
        env=tuple(env),
        api_version=api_version,
        install_hint=_string(raw, "installHint", where),
        provide_cluster_info=_flag(raw, "provideClusterInfo", where),
        interactive_mode=mode,
    )


# -- in a pod ---------------------------------------------------------------------------------


def _in_cluster_possible(environ: Mapping[str, str], sa_dir: Path) -> bool:
    return bool(
        environ.get("KUBERNETES_SERVICE_HOST")
        and environ.get("KUBERNETES_SERVICE_PORT")
        and (sa_dir / "token").is_file()
    )


def in_cluster(
    environ: Mapping[str, str] | None = None, sa_dir: Path = DEFAULT_SERVICE_ACCOUNT_DIR
) -> ClusterAccess:
    """The API server as a pod sees it, logged in with the pod's service account."""
    env = os.environ if environ is None else environ
    host, port = env.get("KUBERNETES_SERVICE_HOST", ""), env.get("KUBERNETES_SERVICE_PORT", "")
    if not host or not port or not (sa_dir / "token").is_file():
        raise KubeconfigError(
            "not in a pod: KUBERNETES_SERVICE_HOST/PORT or the service-account token is missing"
        )
    if ":" in host:
        host = f"[{host}]"
    where = "the pod's service account"
    ca_file = sa_dir / "ca.crt"
    ca_pem = _read_file(ca_file, "ca.crt", where).decode() if ca_file.is_file() else None
    ns_file = sa_dir / "namespace"
    namespace = ns_file.read_text().strip() if ns_file.is_file() else None
    server = f"https://{host}:{port}"
    return ClusterAccess(
        server=server,
        source=f"{where} ({sa_dir})",
        namespace=namespace or None,
        ca_pem=ca_pem,
        token_file=sa_dir / "token",
        cluster_info={"server": server},
    )


# -- credentials ------------------------------------------------------------------------------


@dataclass
class _ExecResult:
    token: str | None
    certificate: ClientCertificate | None
    expires: datetime | None


class Credentials:
    """What requests to ``access``'s server carry; exec results are cached until they expire.

    ``interactive=False`` never lets an exec plugin read the terminal (shell completion), and
    a plugin that cannot ask the user anything gets ``exec_timeout`` seconds to answer.
    """

    def __init__(
        self,
        access: ClusterAccess,
        *,
        interactive: bool = True,
        exec_timeout: float = EXEC_TIMEOUT,
    ) -> None:
        self._access = access
        self._interactive = interactive
        self._exec_timeout = exec_timeout
        self._exec: _ExecResult | None = None

    def bearer_token(self) -> str | None:
        """The token to send: ``token``, else ``tokenFile``'s content, else the exec plugin's."""
        access = self._access
        if access.token:
            return access.token
        if access.token_file is not None:
            return _read_file(access.token_file, "tokenFile", access.source).decode().strip()
        result = self._exec_result()
        return result.token if result else None

    def client_certificate(self) -> ClientCertificate | None:
        """The TLS client certificate: the kubeconfig's, else the exec plugin's."""
        if self._access.client_certificate is not None:
            return self._access.client_certificate
        result = self._exec_result()
        return result.certificate if result else None

    def forget(self) -> bool:
        """Drop cached exec credentials after a 401; True when asking again may help."""
        had = self._exec is not None
        self._exec = None
        return had or self._access.token_file is not None

    def _exec_result(self) -> _ExecResult | None:
        plugin = self._access.exec_plugin
        if plugin is None:
            return None
        cached = self._exec
        if cached is not None and (cached.expires is None or cached.expires > datetime.now(UTC)):
            return cached
        self._exec = _run_exec(
            plugin, self._access, interactive=self._interactive, timeout=self._exec_timeout
        )
        return self._exec


def _run_exec(
    plugin: ExecPlugin, access: ClusterAccess, *, interactive: bool, timeout: float
) -> _ExecResult:
    import subprocess  # noqa: PLC0415 - only exec plugins need it

    name = Path(plugin.command).name
    where = f"exec plugin {name!r} ({access.source})"
    can_ask = interactive and plugin.interactive_mode != "Never" and sys.stdin.isatty()
    if plugin.interactive_mode == "Always" and not can_ask:
        raise KubeconfigError(f"{where} needs a terminal to ask for credentials (interactiveMode)")
    spec: JSON = {"interactive": can_ask}
    if plugin.provide_cluster_info:
        spec["cluster"] = access.cluster_info
    env = dict(os.environ)
    env.update(plugin.env)
    env["KUBERNETES_EXEC_INFO"] = json.dumps(
        {"apiVersion": plugin.api_version, "kind": "ExecCredential", "spec": spec}
    )
    hint = f"\n{plugin.install_hint.strip()}" if plugin.install_hint else ""
    try:
        result = subprocess.run(
            [plugin.command, *plugin.args],
            env=env,
            stdin=None if can_ask else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=None if interactive else subprocess.DEVNULL,
            timeout=None if can_ask else timeout,
            check=False,
        )
    except FileNotFoundError:
        raise KubeconfigError(f"{where}: {plugin.command} not found{hint}") from None
    except subprocess.TimeoutExpired:
        raise KubeconfigError(f"{where} gave no answer within {timeout:g}s") from None
    except OSError as exc:
        raise KubeconfigError(f"{where} cannot run: {exc.strerror or exc}") from None
    if result.returncode != 0:
        raise KubeconfigError(f"{where} failed with exit code {result.returncode}{hint}")
    return _parse_exec_output(result.stdout, plugin, where)


def _parse_exec_output(stdout: bytes, plugin: ExecPlugin, where: str) -> _ExecResult:
    try:
        answer = json.loads(stdout)
    except ValueError:
        raise KubeconfigError(f"{where} printed no ExecCredential JSON") from None
    if not isinstance(answer, dict) or answer.get("kind") != "ExecCredential":
        raise KubeconfigError(f"{where} printed something other than an ExecCredential")
    if answer.get("apiVersion") != plugin.api_version:
        raise KubeconfigError(
            f"{where} answered with apiVersion {answer.get('apiVersion')!r}, "
            f"not the {plugin.api_version!r} the kubeconfig asks for"
        )
    status = answer.get("status")
    if not isinstance(status, dict):
        raise KubeconfigError(f"{where}: the ExecCredential has no status")
    token = status.get("token")
    cert, key = status.get("clientCertificateData"), status.get("clientKeyData")
    certificate = None
    if isinstance(cert, str) and isinstance(key, str) and cert and key:
        certificate = ClientCertificate(cert.encode(), key.encode())
    elif cert or key:
        raise KubeconfigError(f"{where}: clientCertificateData and clientKeyData go together")
    if not (isinstance(token, str) and token) and certificate is None:
        raise KubeconfigError(f"{where}: the ExecCredential has neither a token nor a certificate")
    expires = None
    stamp = status.get("expirationTimestamp")
    if isinstance(stamp, str) and stamp:
        try:
            expires = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        except ValueError:
            raise KubeconfigError(f"{where}: expirationTimestamp {stamp!r} is not a time") from None
        if expires.tzinfo is None:
            expires = expires.replace(tzinfo=UTC)
    return _ExecResult(token if isinstance(token, str) and token else None, certificate, expires)
