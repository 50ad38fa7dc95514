"""A small GitHub REST client for the pull-request steps, and the config keys they share.

Owns: resolving the provider (``provider`` or inferred from the host; only ``github`` is
implemented), splitting a repository URL into host / owner / name, choosing the API base URL
(``https://api.github.com`` for github.com, ``https://<host>/api/v3`` for GitHub Enterprise
Server), looking up the token (the ``password`` of the project's git credentials for the
repository URL) and sending requests with error classification.

``SHUNTER_GITHUB_API_URL``: when set, the API base URL to use instead of the one derived from
the host (for GitHub Enterprise installations with an unusual API address, and for tests that
point the steps at :class:`shunter_devenv.github.GitHubDouble`). It is read at each run. It
must be ``https://``; plain ``http://`` is accepted for loopback hosts only.

Errors: 4xx answers (except 429) are terminal and quote GitHub's ``message`` / ``errors``;
429, 5xx, timeouts and connection errors are retryable. Redirects are not followed. The token
never appears in messages.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import os
import urllib.parse
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import httpx
from pydantic import Field, field_validator

from shunter._internal.durations import parse_go_duration
from shunter._internal.redaction import redact
from shunter.credentials.types import CredentialType
from shunter.git import normalize_git_url
from shunter.promotion.step import StepConfig, StepContext, StepError, TerminalStepError
from shunter.providers.safehttp import environment_proxy, safe_async_client
from shunter.steps_support.git_common import GitProvider, empty_to_none, infer_provider
from shunter.steps_support.responses import read_capped_body, status_error

__all__ = [
    "API_URL_ENV",
    "GitHubClient",
    "GitHubRepo",
    "PullRequestConfig",
    "check_duration",
    "github_repo",
    "open_github",
    "poll_interval",
    "pr_output",
]

_log = logging.getLogger(__name__)

#: Environment variable overriding the API base URL (tests, unusual GHE set-ups).
API_URL_ENV = "SHUNTER_GITHUB_API_URL"
_TIMEOUT = 30.0
_MAX_BODY_BYTES = 4 << 20


class PullRequestConfig(StepConfig):
    """Keys every pull-request step has."""

    repo_url: str = Field(alias="repoURL", min_length=1, description="The repository's URL.")
    provider: GitProvider | None = Field(
        default=None, description="Git provider; inferred from the host when absent."
    )
    insecure_skip_tls_verify: bool = Field(default=False, alias="insecureSkipTLSVerify")

    _empty = field_validator("provider", mode="before")(empty_to_none)


def poll_interval(value: str | None, default: timedelta, floor: timedelta) -> timedelta:
    """A ``pollInterval`` (Go duration) with its default and floor applied."""
    if value is None:
        return default
    return max(parse_go_duration(value), floor)


def check_duration(value: str | None) -> str | None:
    """Validator body for ``pollInterval``."""
    if value is not None:
        try:
            parsed = parse_go_duration(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a duration such as 30s or 1m30s") from None
        if parsed <= timedelta(0):
            raise ValueError("must be positive")
    return value


class GitHubRepo:
    """Where a repository's API lives."""

    __slots__ = ("api_url", "host", "name", "owner")

    def __init__(self, host: str, owner: str, name: str, api_url: str) -> None:
        self.host = host
        self.owner = owner
        self.name = name
        self.api_url = api_url

    @property
    def path(self) -> str:
        """``/repos/<owner>/<name>``."""
        return f"/repos/{urllib.parse.quote(self.owner)}/{urllib.parse.quote(self.name)}"


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _api_override() -> str | None:
    raw = os.environ.get(API_URL_ENV, "").strip()
    if not raw:
        return None
    parts = urllib.parse.urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TerminalStepError(f"{API_URL_ENV} must be an http(s) URL with a host")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise TerminalStepError(f"{API_URL_ENV} must use https (http only for loopback hosts)")
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))


def github_repo(repo_url: str, provider: GitProvider | None) -> GitHubRepo:
    """The repository's API location; a terminal error for any provider but GitHub."""
    normalized = normalize_git_url(repo_url)
    parts = urllib.parse.urlsplit(normalized)
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https", "ssh") or not host:
        raise TerminalStepError(f"repoURL {repo_url!r} is not an http(s) or ssh git URL")
    name = provider or infer_provider(host)
    if name is None:
        raise TerminalStepError(
            f"cannot infer the git provider from host {host!r}; set 'provider' (only 'github' "
            "is supported)"
        )
    if name != "github":
        raise TerminalStepError(
            f"git provider {name!r} is not supported by shunter's pull-request steps "
            "(only 'github')"
        )
    segments = [s for s in parts.path.split("/") if s]
    if len(segments) < 2:
        raise TerminalStepError(f"repoURL {repo_url!r} does not name <owner>/<repository>")
    owner, repo = segments[-2], segments[-1]
    api = _api_override()
    if api is None:
        if host in ("github.com", "www.github.com"):
            api = "https://api.github.com"
        elif host.endswith(".ghe.com"):
            api = f"https://api.{host}"
        else:
            api = f"https://{host}/api/v3"
    return GitHubRepo(host, owner, repo, api)


def _detail(data: Any) -> str:
    """GitHub's ``message`` and ``errors[].message`` / ``code`` for error messages."""
    if not isinstance(data, dict):
        return ""
    parts: list[str] = []
    if isinstance(data.get("message"), str) and data["message"]:
        parts.append(data["message"])
    for error in data.get("errors") or []:
        if isinstance(error, dict):
            text = error.get("message") or " ".join(
                str(error[k]) for k in ("resource", "field", "code") if error.get(k)
            )
            if text:
                parts.append(str(text))
        elif isinstance(error, str):
            parts.append(error)
    return "; ".join(parts)


class GitHubClient:
    """A few GitHub REST calls on one AsyncClient (use as an async context manager)."""

    def __init__(self, repo: GitHubRepo, token: str | None, *, verify: bool) -> None:
        self.repo = repo
        self._token = token or None
        self._client = safe_async_client(
            verify=verify, proxy=environment_proxy(httpx.URL(repo.api_url)), timeout=_TIMEOUT
        )

    def __repr__(self) -> str:
        return f"GitHubClient(api_url={self.repo.api_url!r}, token=<redacted>)"

    async def __aenter__(self) -> GitHubClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self._client.aclose()

    def _redact(self, text: str) -> str:
        return redact(text, [self._token] if self._token else [])

    async def call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        accept: frozenset[int] = frozenset(),
    ) -> tuple[int, Any]:
        """Send one request to ``path`` below ``/repos/<owner>/<name>``.

        Returns ``(status, parsed JSON or None)`` for 2xx or a status in ``accept``; raises
        :class:`StepError` / :class:`TerminalStepError` otherwise.
        """
        full = self.repo.path + path
        what = f"{method} {full}"
        headers = {
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
            "User-Agent": "shunter-git-pr-steps",
        }
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        content = None
        if body is not None:
            content = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        try:
            async with asyncio.timeout(_TIMEOUT):
                request = self._client.build_request(
                    method,
                    self.repo.api_url + full,
                    params=params,
                    headers=headers,
                    content=content,
                )
                response = await self._client.send(request, stream=True, follow_redirects=False)
                try:
                    raw = await read_capped_body(response, _MAX_BODY_BYTES, "GitHub's response")
                finally:
                    await response.aclose()
        except (TimeoutError, httpx.TimeoutException):
            raise StepError(f"GitHub did not answer {what} within {_TIMEOUT:g}s") from None
        except httpx.HTTPError as exc:
            raise StepError(self._redact(f"error sending {what} to GitHub: {exc}")) from None
        status = response.status_code
        _log.debug("github %s -> %d", what, status)
        try:
            data = json.loads(raw) if raw else None
        except (ValueError, UnicodeDecodeError):
            data = None
        if 200 <= status < 300 or status in accept:
            return status, data
        raise self.error(status, what, data)

    def error(self, status: int, what: str, data: Any) -> StepError:
        """The step error for GitHub answering ``status`` (with JSON ``data``) to ``what``."""
        message = f"GitHub answered {status} to {what}"
        detail = _detail(data)
        if detail:
            message += f": {detail}"
        if status == 401:
            message += " (check the token in the project's git credentials for the repository)"
        return status_error(status, self._redact(message))


async def open_github(ctx: StepContext, config: PullRequestConfig) -> GitHubClient:
    """A client for the config's repository, authenticated with the project's git token."""
    repo = github_repo(config.repo_url, config.provider)
    found = await ctx.capabilities.credentials.get(ctx.project, CredentialType.GIT, config.repo_url)
    token = found.password.get_secret_value() if found is not None else None
    return GitHubClient(repo, token, verify=not config.insecure_skip_tls_verify)


def pr_output(data: Any) -> dict[str, Any]:
    """``{id, url, open, merged}`` of a GitHub pull-request object."""
    if not isinstance(data, dict) or not isinstance(data.get("number"), int):
        raise StepError("GitHub's answer is not a pull request (no 'number')")
    return {
        "id": data["number"],
        "url": str(data.get("html_url") or ""),
        "open": data.get("state") == "open",
        "merged": bool(data.get("merged")),
    }
