"""The git processes of commit discovery: environment, credentials, timeouts, error mapping.

Discovery needs only read-only commands (``ls-remote``, ``fetch``, ``log``, ``for-each-ref``)
against mirrors it owns, so it runs git itself instead of through the promotion-oriented
:mod:`shunter.git` wrapper. The rules are the same:

* argv lists only (no shell), one process group per command, killed on timeout or cancellation;
* an environment built from scratch: private ``HOME``, no system or global config, no terminal
  prompts, C locale, git's HTTP stall detector, proxy variables passed through;
* credentials only in two environment variables read by a ``GIT_ASKPASS`` script (written once,
  mode 0700, containing no secret); never in argv or URLs, and scrubbed from any output;
* only the ``http``, ``https`` and ``ssh`` transports are allowed (no ``file``, ``ext``...);
* failures become :mod:`shunter.registries.errors` classes by git's stderr (authentication,
  repository not found, unreachable), with messages that name the URL without userinfo.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import stat
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from shunter.registries.auth import BasicCredentials
from shunter.registries.errors import (
    AuthenticationError,
    ProtocolError,
    RemoteError,
    RepositoryNotFoundError,
    UnreachableError,
)

__all__ = ["GitRunner", "redact_url"]

_USERNAME_ENV = "SHUNTER_DISCOVERY_GIT_USERNAME"
_PASSWORD_ENV = "SHUNTER_DISCOVERY_GIT_PASSWORD"  # noqa: S105 - a variable name, not a secret
_ASKPASS = f"""#!/bin/sh
case "$1" in
  Username*) printf '%s\\n' "${_USERNAME_ENV}" ;;
  *) printf '%s\\n' "${_PASSWORD_ENV}" ;;
esac
"""
_PASSTHROUGH = (
    "TMPDIR", "http_proxy", "https_proxy", "no_proxy", "all_proxy",
    "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY",
)  # fmt: skip
_KILL_GRACE = 5.0
_MAX_DETAIL = 300

_AUTH = re.compile(
    r"Authentication failed|could not read (Username|Password)|terminal prompts disabled"
    r"|HTTP Basic: Access denied|returned error: 40[13]|Invalid username or password"
    r"|Permission denied \(publickey|Host key verification failed",
    re.IGNORECASE,
)
_NOT_FOUND = re.compile(
    r"repository '[^']*' not found|Repository not found|returned error: 404"
    r"|does not appear to be a git repository|not found: did you run git update-server-info",
    re.IGNORECASE,
)
_UNREACHABLE = re.compile(
    r"Could not resolve host|Failed to connect|Connection refused|Connection timed out"
    r"|Couldn't connect to server|Operation timed out|SSL certificate problem"
    r"|SSL_ERROR|gnutls_handshake|Connection reset|Empty reply from server"
    r"|returned error: 50[234]|Could not read from remote repository",
    re.IGNORECASE,
)


def redact_url(url: str) -> str:
    """``url`` without the password of its userinfo (for messages and logs)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))


def _last_line(stderr: str) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    text = lines[-1] if lines else ""
    for line in reversed(lines):
        if line.lower().startswith(("fatal:", "error:")):
            text = line
            break
    return text[:_MAX_DETAIL]


class GitRunner:
    """Runs git for discovery with a private home folder under ``root``."""

    def __init__(
        self,
        root: Path,
        *,
        timeout: float,
        ca_bundle: Path | None = None,
    ) -> None:
        self.root = root
        self.timeout = timeout
        self.ca_bundle = ca_bundle
        self.home = root / "home"
        self.askpass = root / "askpass.sh"

    def prepare(self) -> None:
        """Create the home folder and the askpass script (idempotent)."""
        self.home.mkdir(parents=True, exist_ok=True)
        if not self.askpass.exists():
            self.askpass.write_text(_ASKPASS, encoding="utf-8")
            self.askpass.chmod(stat.S_IRWXU)

    def _env(self, creds: BasicCredentials | None) -> dict[str, str]:
        env = {name: os.environ[name] for name in _PASSTHROUGH if name in os.environ}
        env.update(
            PATH=os.environ.get("PATH", os.defpath),
            HOME=str(self.home),
            XDG_CONFIG_HOME=str(self.home / ".config"),
            GIT_CONFIG_GLOBAL=os.devnull,
            GIT_CONFIG_NOSYSTEM="1",
            GIT_TERMINAL_PROMPT="0",
            GIT_NO_LAZY_FETCH="1",
            GIT_SSH_COMMAND="ssh -o BatchMode=yes",
            GIT_HTTP_LOW_SPEED_LIMIT="1024",
            GIT_HTTP_LOW_SPEED_TIME="30",
            LANG="C",
            LC_ALL="C",
        )
        if creds is not None:
            env["GIT_ASKPASS"] = str(self.askpass)
            env[_USERNAME_ENV] = creds.username
            env[_PASSWORD_ENV] = creds.password.get_secret_value()
        return env

    def _config_args(self, insecure_skip_tls_verify: bool) -> list[str]:
        args = [
            "-c", "credential.helper=",
            "-c", "protocol.allow=never",
            "-c", "protocol.https.allow=always",
            "-c", "protocol.http.allow=always",
            "-c", "protocol.ssh.allow=always",
        ]  # fmt: skip
        if insecure_skip_tls_verify:
            args += ["-c", "http.sslVerify=false"]
        elif self.ca_bundle is not None:
            args += ["-c", f"http.sslCAInfo={self.ca_bundle}"]
        return args

    async def run(
        self,
        args: Sequence[str],
        *,
        repo_url: str,
        cwd: Path | None = None,
        creds: BasicCredentials | None = None,
        insecure_skip_tls_verify: bool = False,
    ) -> bytes:
        """Run ``git <args>`` and return stdout; failures raise :class:`RemoteError` subclasses."""
        secret = creds.password.get_secret_value() if creds is not None else ""
        if secret and any(secret in arg for arg in args):
            raise ProtocolError("refusing to run git with a credential in its command line")
        argv = ["git", *self._config_args(insecure_skip_tls_verify), *args]
        process = await asyncio.create_subprocess_exec(
            *argv,
            cwd=cwd or self.home,
            env=self._env(creds),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
        try:
            out, err = await asyncio.wait_for(process.communicate(), self.timeout)
        except TimeoutError:
            await _terminate(process)
            raise UnreachableError(
                f"git {args[0]} of {redact_url(repo_url)} timed out after {self.timeout:g}s"
            ) from None
        except BaseException:
            await asyncio.shield(_terminate(process))
            raise
        if process.returncode != 0:
            stderr = err.decode("utf-8", "replace")
            if secret:
                stderr = stderr.replace(secret, "***")
            raise _classify(args[0], repo_url, stderr, creds)
        return out


def _classify(verb: str, repo_url: str, stderr: str, creds: BasicCredentials | None) -> RemoteError:
    url = redact_url(repo_url)
    host = urlsplit(url).netloc.rpartition("@")[2] if "://" in url else url
    detail = _last_line(stderr)
    if _AUTH.search(stderr):
        who = f"the credentials of user {creds.username!r}" if creds else "anonymous access"
        return AuthenticationError(
            f"git repository {url} refused {who} ({detail})", host=host, status=401
        )
    if _NOT_FOUND.search(stderr):
        return RepositoryNotFoundError(
            f"git repository {url} not found ({detail})", host=host, status=404
        )
    if _UNREACHABLE.search(stderr):
        return UnreachableError(f"git repository {url} is unreachable ({detail})", host=host)
    return ProtocolError(f"git {verb} of {url} failed ({detail})", host=host)


def _kill(process: asyncio.subprocess.Process, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)


async def _terminate(process: asyncio.subprocess.Process) -> None:
    if process.returncode is not None:
        return
    _kill(process, signal.SIGTERM)
    try:
        await asyncio.wait_for(process.wait(), _KILL_GRACE)
    except TimeoutError:
        _kill(process, signal.SIGKILL)
        await process.wait()
