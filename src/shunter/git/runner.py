"""The only module that starts git processes, for promotions and for discovery alike.

Every git command of the operator runs through :func:`run_git` (the mirrors and the
promotions' working trees through :mod:`shunter.git.repo`, commit discovery through
:mod:`shunter.registries.git`); other programs (helm, kubectl, kustomize) have their own runner
in :mod:`shunter._internal.programs`.

* ``asyncio.create_subprocess_exec`` with an argv list (never a shell), in its own process
  group so that a timeout or a cancellation kills git *and* its helpers (``git-remote-http``).
* A minimal environment built from scratch: ``HOME``/``XDG_CONFIG_HOME``/``GIT_CONFIG_GLOBAL``
  point into the caller's private home folder (or at ``/dev/null``), so the operator user's
  git configuration never leaks in; ``GIT_CONFIG_NOSYSTEM=1``; ``GIT_TERMINAL_PROMPT=0`` and
  ssh in batch mode (nothing ever prompts); the C locale (stable messages to parse); git's HTTP
  stall detector; proxies passed through.
* One URL-scheme policy: only the ``https``, ``http`` and ``ssh`` transports (``protocol.allow``);
  ``file``, ``ext`` and the others are refused by git itself, for clones, fetches and submodules.
* One credential mechanism: credentials never go into argv or URLs. They travel in two
  environment variables of the child (:data:`USERNAME_ENV`, :data:`PASSWORD_ENV`), read by an
  inline credential helper that is itself configured through
  ``GIT_CONFIG_COUNT``/``GIT_CONFIG_KEY_n``/``GIT_CONFIG_VALUE_n`` (command-scope config, which
  also resets any helper from config files). Callers give them only to commands that talk to
  the remote. As a guard, :func:`run_git` refuses an argument holding a URL with a password in
  its userinfo.
* One redaction: every log line, argv copy and error message is scrubbed
  (:func:`shunter.git.credentials.scrub`).
* One error mapping (:func:`command_error`): a failed command becomes a
  :class:`~shunter.git.errors.GitCommandError` whose class says why (authentication, repository
  not found, remote unreachable, timeout); promotions use them as they are and discovery
  translates them into :mod:`shunter.registries.errors`.

The runner keeps no state: callers pass the folder to run in (``cwd``, or ``git_dir`` for a bare
repository), the home folder, credentials, command-scope config and the time limit, so one bare
repository can serve several callers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import signal
import time
from collections.abc import Awaitable, Container, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from shunter import metrics
from shunter.git.credentials import RepoCredentials, scrub, url_passwords
from shunter.git.errors import (
    GitAuthenticationError,
    GitCommandError,
    GitError,
    GitRepositoryNotFoundError,
    GitTimeoutError,
    GitUnreachableError,
)

__all__ = [
    "ALLOWED_PROTOCOLS",
    "MIN_ARGV_SECRET_LENGTH",
    "PASSWORD_ENV",
    "USERNAME_ENV",
    "GitResult",
    "build_env",
    "command_error",
    "run_git",
    "tls_config",
]

_log = logging.getLogger("shunter.git")

USERNAME_ENV = "SHUNTER_GIT_USERNAME"
PASSWORD_ENV = "SHUNTER_GIT_PASSWORD"  # noqa: S105 - a variable name, not a password

#: An inline credential helper (run by git through ``sh``): answers ``get`` from the environment.
CREDENTIAL_HELPER = (
    '!f() { test "$1" = get || exit 0; '
    f'printf "username=%s\\npassword=%s\\n" "${USERNAME_ENV}" "${PASSWORD_ENV}"; }}; f'
)

#: A password at least this long is refused anywhere in argv (shorter ones only inside URLs).
MIN_ARGV_SECRET_LENGTH = 12

#: The only transports git may use (``protocol.<name>.allow=always``; every other one: never).
ALLOWED_PROTOCOLS = ("https", "http", "ssh")

_PASSTHROUGH_ENV = (
    "TMPDIR",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "all_proxy",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "ALL_PROXY",
)
#: git aborts an HTTP transfer slower than this many bytes/s for ``_LOW_SPEED_TIME`` seconds.
_LOW_SPEED_LIMIT = "1024"
_LOW_SPEED_TIME = "30"
#: Grace between SIGTERM and SIGKILL when a command is stopped.
_KILL_GRACE = 5.0
_MAX_MESSAGE_STDERR = 2000

_AUTH_FAILURE = re.compile(
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


@dataclass(frozen=True)
class GitResult:
    """What a git command produced. ``argv`` and ``stderr`` are scrubbed; ``stdout`` is raw."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    seconds: float


def build_env(
    home: Path | None,
    *,
    credentials: RepoCredentials | None = None,
    config: Mapping[str, str] | None = None,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The complete environment of a git child process (see the module docstring).

    Args:
        home: the repository's private home folder; ``None`` for a neutral one (no global
            config at all), used before the home folder of a working tree is known.
        credentials: given only to commands that talk to the remote.
        config: command-scope git configuration (``GIT_CONFIG_KEY_n``/``VALUE_n``).
        extra: further variables (e.g. ``GIT_AUTHOR_NAME``); they cannot override the above.
    """
    env = {name: os.environ[name] for name in _PASSTHROUGH_ENV if name in os.environ}
    env.update(extra or {})
    env.update(
        {
            "PATH": os.environ.get("PATH", os.defpath),
            "LANG": "C",
            "LC_ALL": "C",
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_HTTP_LOW_SPEED_LIMIT": _LOW_SPEED_LIMIT,
            "GIT_HTTP_LOW_SPEED_TIME": _LOW_SPEED_TIME,
            "GIT_EDITOR": ":",
            "GIT_SEQUENCE_EDITOR": ":",
            "GIT_MERGE_AUTOEDIT": "no",
            "GIT_SSH_COMMAND": "ssh -o BatchMode=yes",
        }
    )
    if home is None:
        env.update(HOME=os.devnull, XDG_CONFIG_HOME=os.devnull, GIT_CONFIG_GLOBAL=os.devnull)
    else:
        env.update(
            HOME=str(home),
            XDG_CONFIG_HOME=str(home / ".config"),
            GIT_CONFIG_GLOBAL=str(home / ".gitconfig"),
        )
    entries: list[tuple[str, str]] = list((config or {}).items())
    if credentials is not None:
        # The empty value clears helpers configured anywhere else; then ours.
        entries += [("credential.helper", ""), ("credential.helper", CREDENTIAL_HELPER)]
        env[USERNAME_ENV] = credentials.username
        env[PASSWORD_ENV] = credentials.password.get_secret_value()
    # The transport policy comes last, so that no caller's config can loosen it.
    entries += [("protocol.allow", "never")]
    entries += [(f"protocol.{name}.allow", "always") for name in ALLOWED_PROTOCOLS]
    env["GIT_CONFIG_COUNT"] = str(len(entries))
    for index, (key, value) in enumerate(entries):
        env[f"GIT_CONFIG_KEY_{index}"] = key
        env[f"GIT_CONFIG_VALUE_{index}"] = value
    return env


def tls_config(
    *, insecure_skip_tls_verify: bool = False, ca_bundle: Path | None = None
) -> dict[str, str]:
    """Command-scope config for HTTPS: no verification at all, or extra trusted CAs."""
    if insecure_skip_tls_verify:
        return {"http.sslVerify": "false"}
    if ca_bundle is not None:
        return {"http.sslCAInfo": str(ca_bundle)}
    return {}


def _secrets(credentials: RepoCredentials | None) -> tuple[str, ...]:
    return () if credentials is None else credentials.secrets()


def _carries_secret(args: Sequence[str], credentials: RepoCredentials | None) -> bool:
    """Whether ``args`` hold the password of ``credentials``: the guard of :func:`run_git`.

    Credentials never go into argv by construction, so this only catches a caller's mistake:
    a URL whose userinfo password is the password (any length), or the password anywhere in an
    argument when it is long enough (:data:`MIN_ARGV_SECRET_LENGTH`) not to turn up in a path
    or a ref name by chance (a password ``pw`` inside a temporary folder's name is no leak).
    """
    if credentials is None:
        return False
    password = credentials.password.get_secret_value()
    if not password:
        return False
    for arg in args:
        if password in url_passwords(arg):
            return True
        if len(password) >= MIN_ARGV_SECRET_LENGTH and any(
            secret in arg for secret in credentials.secrets()
        ):
            return True
    return False


def _stop(process: asyncio.subprocess.Process, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)


async def _terminate(process: asyncio.subprocess.Process) -> None:
    """Stop the command's whole process group: SIGTERM, then SIGKILL after a grace period."""
    if process.returncode is not None:
        return
    _stop(process, signal.SIGTERM)
    try:
        await asyncio.wait_for(process.wait(), _KILL_GRACE)
    except TimeoutError:
        _stop(process, signal.SIGKILL)
        await process.wait()


async def _start(
    *argv: str, cwd: Path, env: Mapping[str, str], stdin: int
) -> asyncio.subprocess.Process:
    """Start ``argv`` in its own process group with piped output.

    A cancellation while asyncio is still connecting the pipes can leave asyncio waiting
    forever for the child (CPython 3.11 never wakes an exit waiter whose pipes never
    connected), so the start itself is not cancelled: it finishes, then the child is stopped
    and the cancellation goes on.
    """
    starting = asyncio.ensure_future(
        asyncio.create_subprocess_exec(
            *argv,
            cwd=cwd,
            env=dict(env),
            stdin=stdin,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
    )
    try:
        return await asyncio.shield(starting)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            await _terminate(await starting)
        raise


def _error_class(stderr: str) -> type[GitCommandError]:
    if _AUTH_FAILURE.search(stderr):
        return GitAuthenticationError
    if _NOT_FOUND.search(stderr):
        return GitRepositoryNotFoundError
    if _UNREACHABLE.search(stderr):
        return GitUnreachableError
    return GitCommandError


def command_error(result: GitResult) -> GitCommandError:
    """The exception describing a failed command; its class says why (by git's stderr).

    :class:`GitAuthenticationError` (refused or missing credentials),
    :class:`GitRepositoryNotFoundError`, :class:`GitUnreachableError` (DNS, connection, TLS,
    502-504) or, for anything else, :class:`GitCommandError` itself.
    """
    detail = result.stderr.strip()
    if len(detail) > _MAX_MESSAGE_STDERR:
        detail = "..." + detail[-_MAX_MESSAGE_STDERR:]
    verb = result.argv[0] if result.argv else ""
    message = f"git {verb} failed (exit {result.returncode})" + (f": {detail}" if detail else "")
    error = _error_class(result.stderr)
    return error(message, argv=result.argv, returncode=result.returncode, stderr=result.stderr)


async def run_git(
    args: Sequence[str],
    *,
    cwd: Path,
    home: Path | None,
    time_limit: float,
    git_dir: Path | None = None,
    credentials: RepoCredentials | None = None,
    config: Mapping[str, str] | None = None,
    env: Mapping[str, str] | None = None,
    stdin: bytes | None = None,
    check: bool = True,
    accept: Container[int] = (0,),
    remote: str | None = None,
) -> GitResult:
    """Run ``git *args`` (in the repository ``git_dir``, if given) and return its output.

    ``remote`` is the URL the command talks to, if it does: clones, fetches, pushes and
    ls-remotes are then counted in ``shunter_git_requests_total`` by host and outcome.

    ``credentials`` are for commands that talk to the remote; ``config`` is command-scope git
    configuration; ``env`` adds variables to the child's environment (it cannot override the
    runner's own, see :func:`build_env`).

    Raises:
        GitError: an argument carries the password of ``credentials`` (refused before
            starting; see :func:`_carries_secret`).
        GitTimeoutError: the command ran longer than ``time_limit`` seconds (it was killed).
        GitCommandError: with ``check``, the exit status is not in ``accept``; a subclass when
            the cause is known (see :func:`command_error`).
    """
    if remote is not None and args and args[0] in _NETWORK_VERBS:
        return await _counted(
            args[0],
            remote,
            run_git(
                args,
                cwd=cwd,
                home=home,
                time_limit=time_limit,
                git_dir=git_dir,
                credentials=credentials,
                config=config,
                env=env,
                stdin=stdin,
                check=check,
                accept=accept,
            ),
        )
    secrets = _secrets(credentials)
    if _carries_secret(args, credentials):
        raise GitError("refusing to run git with a credential in its command line")
    shown = tuple(scrub(arg, secrets) for arg in args)
    verb = shown[0] if shown else ""
    child_env = build_env(home, credentials=credentials, config=config, extra=env)
    prefix = () if git_dir is None else (f"--git-dir={git_dir}",)
    started = time.monotonic()
    process = await _start(
        "git",
        *prefix,
        *args,
        cwd=cwd,
        env=child_env,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(stdin), time_limit)
    except TimeoutError:
        await _terminate(process)
        elapsed = time.monotonic() - started
        _log.warning("git %s timed out after %.1fs (cwd=%s)", " ".join(shown), elapsed, cwd)
        raise GitTimeoutError(
            f"git {verb} timed out after {time_limit:g}s", argv=shown, returncode=None
        ) from None
    except BaseException:
        # Cancelled (or anything else): never leave git running behind us.
        await asyncio.shield(_terminate(process))
        raise
    elapsed = time.monotonic() - started
    returncode = process.returncode if process.returncode is not None else -1
    stderr = scrub(err.decode("utf-8", "replace"), secrets)
    result = GitResult(shown, returncode, out.decode("utf-8", "replace"), stderr, elapsed)
    _log.debug("git %s (cwd=%s): exit %d in %.3fs", " ".join(shown), cwd, returncode, elapsed)
    if returncode not in accept:
        if stderr.strip():
            _log.debug("git %s stderr: %s", verb, stderr.strip())
        if check:
            raise command_error(result)
    return result


#: git commands that talk to a remote (the ones metrics count).
_NETWORK_VERBS = frozenset({"clone", "fetch", "push", "ls-remote"})
#: The ``outcome`` label of a failure, by its class.
_OUTCOMES: dict[type[GitCommandError], str] = {
    GitTimeoutError: "timeout",
    GitAuthenticationError: "auth_failed",
    GitRepositoryNotFoundError: "not_found",
    GitUnreachableError: "unreachable",
}


async def _counted(verb: str, remote: str, running: Awaitable[GitResult]) -> GitResult:
    """Await ``running`` and count it: success, or the failure's class (timeout, ...)."""
    host = metrics.url_host(remote)
    started = time.monotonic()
    outcome = "error"
    try:
        result = await running
        outcome = "success" if result.returncode == 0 else "failed"
        return result
    except GitCommandError as exc:
        outcome = _OUTCOMES.get(type(exc), "failed")
        raise
    finally:
        metrics.GIT_REQUESTS.labels(host, verb, outcome).inc()
        metrics.GIT_REQUEST_DURATION.labels(host, verb).observe(time.monotonic() - started)
