"""The only module that starts git processes: environment, credentials, timeouts, scrubbing.

Every git command runs through :func:`run_git`:

* ``asyncio.create_subprocess_exec`` with an argv list (never a shell), in its own process
  group so that a timeout or a cancellation kills git *and* its helpers (``git-remote-http``).
* A minimal environment built from scratch: ``HOME``/``XDG_CONFIG_HOME``/``GIT_CONFIG_GLOBAL``
  point into the repository's private home folder (or at ``/dev/null``), so the operator user's
  git configuration never leaks in; ``GIT_CONFIG_NOSYSTEM=1``; ``GIT_TERMINAL_PROMPT=0``; the C
  locale (stable messages to parse); git's HTTP stall detector; proxies passed through.
* Credentials never go into argv or URLs. They travel in two environment variables of the child
  (:data:`USERNAME_ENV`, :data:`PASSWORD_ENV`), read by an inline credential helper that is
  itself configured through ``GIT_CONFIG_COUNT``/``GIT_CONFIG_KEY_n``/``GIT_CONFIG_VALUE_n``
  (command-scope config, which also resets any helper from config files). Only commands that
  talk to the remote get them. As a last guard, :func:`run_git` refuses an argv that contains
  a secret.
* Every log line and error message is scrubbed (:func:`shunter.git.credentials.scrub`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import signal
import time
from collections.abc import Container, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from shunter.git.credentials import MIN_SCRUB_LENGTH, RepoCredentials, scrub
from shunter.git.errors import GitAuthenticationError, GitCommandError, GitError, GitTimeoutError

__all__ = [
    "PASSWORD_ENV",
    "USERNAME_ENV",
    "GitResult",
    "build_env",
    "command_error",
    "run_git",
]

_log = logging.getLogger("shunter.git")

USERNAME_ENV = "SHUNTER_GIT_USERNAME"
PASSWORD_ENV = "SHUNTER_GIT_PASSWORD"  # noqa: S105 - a variable name, not a password

#: An inline credential helper (run by git through ``sh``): answers ``get`` from the environment.
CREDENTIAL_HELPER = (
    '!f() { test "$1" = get || exit 0; '
    f'printf "username=%s\\npassword=%s\\n" "${USERNAME_ENV}" "${PASSWORD_ENV}"; }}; f'
)

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
    r"|HTTP Basic: Access denied|returned error: 40[13]|Invalid username or password",
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
    if entries:
        env["GIT_CONFIG_COUNT"] = str(len(entries))
        for index, (key, value) in enumerate(entries):
            env[f"GIT_CONFIG_KEY_{index}"] = key
            env[f"GIT_CONFIG_VALUE_{index}"] = value
    return env


def _secrets(credentials: RepoCredentials | None) -> tuple[str, ...]:
    return () if credentials is None else credentials.secrets()


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


def command_error(result: GitResult) -> GitCommandError:
    """The exception describing a failed command (authentication failures get their own type)."""
    detail = result.stderr.strip()
    if len(detail) > _MAX_MESSAGE_STDERR:
        detail = "..." + detail[-_MAX_MESSAGE_STDERR:]
    verb = result.argv[0] if result.argv else ""
    message = f"git {verb} failed (exit {result.returncode})" + (f": {detail}" if detail else "")
    error = GitAuthenticationError if _AUTH_FAILURE.search(result.stderr) else GitCommandError
    return error(message, argv=result.argv, returncode=result.returncode, stderr=result.stderr)


async def run_git(
    args: Sequence[str],
    *,
    cwd: Path,
    home: Path | None,
    time_limit: float,
    credentials: RepoCredentials | None = None,
    config: Mapping[str, str] | None = None,
    env: Mapping[str, str] | None = None,
    stdin: bytes | None = None,
    check: bool = True,
    accept: Container[int] = (0,),
) -> GitResult:
    """Run ``git *args`` and return its output.

    Raises:
        GitError: ``args`` contain a secret of ``credentials`` (refused before starting).
        GitTimeoutError: the command ran longer than ``time_limit`` seconds (it was killed).
        GitAuthenticationError: with ``check``, the remote refused or asked for credentials.
        GitCommandError: with ``check``, the exit status is not in ``accept``.
    """
    secrets = _secrets(credentials)
    for secret in secrets:
        if len(secret) >= MIN_SCRUB_LENGTH and any(secret in arg for arg in args):
            raise GitError("refusing to run git with a credential in its command line")
    shown = tuple(scrub(arg, secrets) for arg in args)
    verb = shown[0] if shown else ""
    child_env = build_env(home, credentials=credentials, config=config, extra=env)
    started = time.monotonic()
    process = await asyncio.create_subprocess_exec(
        "git",
        *args,
        cwd=cwd,
        env=child_env,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
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
