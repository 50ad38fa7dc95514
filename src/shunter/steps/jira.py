"""The ``jira`` step: record a release on a Jira issue through Jira's REST API v2.

Kargo offers ``jira`` only on its commercial platform, so this config is shunter's own design
(documented in ``docs/steps/jira.md``), shaped like Kargo's other steps: camelCase keys, values
that may hold ``${{ }}`` expressions (evaluated before validation), outputs under the alias.

Config: ``baseURL`` (``https://``; plain ``http://`` only to a loopback host), ``credentials``
(``secretName`` of a Secret in the project namespace holding ``username`` + ``apiToken`` for
Jira Cloud Basic auth or ``token`` for a Jira Data Center personal access token (Bearer); or
the same keys inline, e.g. from ``${{ secret('jira').apiToken }}``), ``insecureSkipTLSVerify``,
``timeout`` (per request, Go duration, default 30s), exactly one of ``createIssue {projectKey,
issueType, summary, description?, labels?, fields?}`` and ``issueKey``, then ``updateFields``
(free-form ``fields`` for ``PUT /rest/api/2/issue/{key}``), ``transition {name | id}`` and
``comment``; with ``issueKey`` at least one of those three is required.

Order of work: create (or find) the issue, update its fields, transition it, comment on it.
Outputs: ``issueKey``, ``issueURL`` (``<baseURL>/browse/<key>``), ``commentID`` (or null),
``transitioned`` (bool).

Idempotence: a created issue carries the label ``kargo-promotion-<hash>`` (16 hex digits of a
SHA-256 of project, Promotion name and step alias); before creating, the step searches for
that label and reuses the issue it finds, so a retried step never opens a second issue. A
transition whose name is not offered is skipped when the issue already has a status of that
name. The comment is posted last, so a retry repeats it only if its own POST failed after Jira
stored it. Jira Cloud's search is eventually consistent: a retry within seconds of a lost
create answer might not see the new issue yet.

Errors: 4xx answers (except 429) are terminal and quote Jira's ``errorMessages`` / ``errors``;
429, 5xx, timeouts and connection errors are retryable; an unknown transition is a terminal
**Failed** listing the transitions on offer. Redirects are not followed (credentials stay with
the configured host). Tokens never appear in messages, outputs or logs.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import ipaddress
import json
import logging
import re
import urllib.parse
from collections.abc import Mapping
from datetime import timedelta
from typing import Any, ClassVar, Protocol, runtime_checkable

import httpx
from pydantic import Field, SecretStr, field_validator, model_validator

from shunter._internal.durations import parse_go_duration
from shunter._internal.redaction import redact
from shunter.api.v1alpha1.promotion import PromotionStepStatus
from shunter.kube.client import KubeError, NotFoundError
from shunter.promotion.effects import Effects
from shunter.promotion.registry import register
from shunter.promotion.step import (
    StepConfig,
    StepContext,
    StepError,
    StepResult,
    TerminalStepError,
)
from shunter.providers.safehttp import environment_proxy, safe_async_client
from shunter.steps_support.effects import shown_url, would
from shunter.steps_support.responses import read_capped_body, status_error

__all__ = [
    "DEFAULT_TIMEOUT",
    "JiraConfig",
    "JiraCreateIssue",
    "JiraCredentials",
    "JiraStep",
    "JiraTransitionRef",
    "SecretReader",
    "idempotence_label",
]

_log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = timedelta(seconds=30)
_API = "/rest/api/2"
_MAX_BODY_BYTES = 1 << 20
_K8S_NAME = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"
_PROJECT_KEY = r"^[A-Za-z][A-Za-z0-9_]*$"
_ISSUE_KEY = r"^[A-Za-z][A-Za-z0-9_]*-[0-9]+$"
_RESERVED_FIELDS = ("project", "issuetype", "summary", "description", "labels")
_LABEL_PREFIX = "kargo-promotion-"


# -- config ----------------------------------------------------------------------------------


class JiraCredentials(StepConfig):
    """Where the step's Jira credentials come from (exactly one form)."""

    secret_name: str | None = Field(
        default=None,
        pattern=_K8S_NAME,
        max_length=253,
        description="Secret in the project namespace with username + apiToken, or token.",
    )
    username: str | None = Field(default=None, description="Jira Cloud account (Basic auth).")
    api_token: SecretStr | None = Field(
        default=None, description="Jira Cloud API token, e.g. ${{ secret('jira').apiToken }}."
    )
    token: SecretStr | None = Field(
        default=None, description="Jira Data Center personal access token (Bearer)."
    )

    @model_validator(mode="after")
    def _one_form(self) -> JiraCredentials:
        basic = self.username is not None or self.api_token is not None
        if self.secret_name is not None:
            if basic or self.token is not None:
                raise ValueError(
                    "'secretName' cannot be combined with 'username', 'apiToken' or 'token'"
                )
            return self
        if self.token is not None:
            if basic:
                raise ValueError("'token' (Bearer) cannot be combined with 'username'/'apiToken'")
            if not self.token.get_secret_value():
                raise ValueError("'token' must not be empty")
            return self
        if not self.username or self.api_token is None or not self.api_token.get_secret_value():
            raise ValueError("set 'secretName', or both 'username' and 'apiToken', or 'token'")
        return self


class JiraCreateIssue(StepConfig):
    """``createIssue``: the issue to open."""

    project_key: str = Field(pattern=_PROJECT_KEY, description="Project key, e.g. REL.")
    issue_type: str = Field(min_length=1, description="Issue type name, e.g. Task.")
    summary: str = Field(min_length=1, max_length=255)
    description: str | None = Field(default=None, description="Plain text / wiki markup.")
    labels: list[str] | None = Field(
        default=None, description="Extra labels (no spaces); the idempotence label is added."
    )
    fields: dict[str, Any] | None = Field(
        default=None, description="Other fields by id, e.g. customfield_10010, fixVersions."
    )

    @field_validator("labels")
    @classmethod
    def _labels(cls, value: list[str] | None) -> list[str] | None:
        for label in value or []:
            if not label or any(c.isspace() for c in label):
                raise ValueError(f"label {label!r} must be non-empty and contain no spaces")
        return value

    @field_validator("fields")
    @classmethod
    def _fields(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        clash = sorted(set(value or {}) & set(_RESERVED_FIELDS))
        if clash:
            raise ValueError(
                f"{', '.join(clash)} must be set with the createIssue keys, not in 'fields'"
            )
        return value


class JiraTransitionRef(StepConfig):
    """``transition``: by ``name`` (case-insensitive) or by ``id``."""

    name: str | None = Field(
        default=None, min_length=1, description="Transition name (case-insensitive)."
    )
    id: str | None = Field(default=None, pattern=r"^[0-9]+$", description="Transition id.")

    @model_validator(mode="after")
    def _one(self) -> JiraTransitionRef:
        if (self.name is None) == (self.id is None):
            raise ValueError("set exactly one of 'name' and 'id'")
        return self


def _base_url(value: str) -> str:
    parts = urllib.parse.urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http(s) URL with a host")
    if parts.username is not None or parts.password is not None:
        raise ValueError("must not contain credentials; use 'credentials'")
    if parts.query or parts.fragment:
        raise ValueError("must not have a query or a fragment")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise ValueError(
            "plain http would expose the Jira credentials; use https "
            "(http is accepted for loopback hosts only)"
        )
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class JiraConfig(StepConfig):
    """Config of ``jira``."""

    base_url: str = Field(
        alias="baseURL",
        min_length=1,
        description="Jira's address, e.g. https://example.atlassian.net (https only).",
    )
    credentials: JiraCredentials
    insecure_skip_tls_verify: bool = Field(
        default=False, alias="insecureSkipTLSVerify", description="Skip TLS verification."
    )
    timeout: str | None = Field(default=None, description="Per request (Go duration; 30s).")
    create_issue: JiraCreateIssue | None = None
    issue_key: str | None = Field(
        default=None, pattern=_ISSUE_KEY, description="An existing issue, e.g. REL-42."
    )
    update_fields: dict[str, Any] | None = Field(
        default=None, min_length=1, description="Fields to set on the issue (PUT)."
    )
    comment: str | None = Field(default=None, min_length=1, description="Comment to add.")
    transition: JiraTransitionRef | None = None

    _check_base_url = field_validator("base_url")(_base_url)

    @field_validator("timeout")
    @classmethod
    def _timeout(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                parsed = parse_go_duration(value)
            except ValueError:
                raise ValueError(f"{value!r} is not a duration such as 30s or 1m30s") from None
            if parsed <= timedelta(0):
                raise ValueError("must be positive")
        return value

    @model_validator(mode="after")
    def _actions(self) -> JiraConfig:
        if (self.create_issue is None) == (self.issue_key is None):
            raise ValueError("set exactly one of 'createIssue' and 'issueKey'")
        if self.issue_key is not None and not (
            self.update_fields or self.comment or self.transition
        ):
            raise ValueError(
                "with 'issueKey', set at least one of 'updateFields', 'comment' and 'transition'"
            )
        return self


def idempotence_label(project: str, promotion: str, alias: str) -> str:
    """``kargo-promotion-<16 hex>``: the label that marks an issue created by one step run."""
    digest = hashlib.sha256(f"{project}/{promotion}/{alias}".encode()).hexdigest()
    return _LABEL_PREFIX + digest[:16]


# -- credentials -----------------------------------------------------------------------------


@runtime_checkable
class SecretReader(Protocol):
    """What the step needs from ``ctx.capabilities.extras["kube"]`` (a KubeClient has it)."""

    async def get_secret(self, namespace: str, name: str) -> Mapping[str, Any]:
        """The Secret as the API server returns it (``data`` values base64-encoded)."""
        ...


class _Auth:
    """An Authorization header value and the secret strings to keep out of messages."""

    __slots__ = ("header", "secrets", "source")

    def __init__(self, header: str, secrets: tuple[str, ...], source: str) -> None:
        self.header = header
        self.secrets = tuple(s for s in secrets if s)
        self.source = source

    def __repr__(self) -> str:
        return f"_Auth(source={self.source!r}, header=<redacted>)"

    @classmethod
    def basic(cls, username: str, api_token: str, source: str) -> _Auth:
        encoded = base64.b64encode(f"{username}:{api_token}".encode()).decode("ascii")
        return cls(f"Basic {encoded}", (api_token, encoded), source)

    @classmethod
    def bearer(cls, token: str, source: str) -> _Auth:
        return cls(f"Bearer {token}", (token,), source)

    def redact(self, text: str) -> str:
        return redact(text, self.secrets)


def _decode(data: Mapping[str, Any], key: str, where: str) -> str:
    encoded = data.get(key)
    if encoded is None:
        return ""
    try:
        return base64.b64decode(str(encoded), validate=True).decode("utf-8").strip()
    except (binascii.Error, UnicodeDecodeError):
        raise TerminalStepError(f"{where}: key {key!r} is not valid base64 UTF-8") from None


async def _load_auth(ctx: StepContext, creds: JiraCredentials) -> _Auth:
    if creds.secret_name is None:
        if creds.token is not None:
            return _Auth.bearer(creds.token.get_secret_value(), "the step's 'credentials'")
        assert creds.username is not None  # noqa: S101 - guaranteed by JiraCredentials
        assert creds.api_token is not None  # noqa: S101
        return _Auth.basic(
            creds.username, creds.api_token.get_secret_value(), "the step's 'credentials'"
        )
    where = f"Secret {ctx.project}/{creds.secret_name}"
    reader = ctx.capabilities.extras.get("kube")
    if not isinstance(reader, SecretReader):
        raise TerminalStepError(
            f"the jira step needs a Kubernetes client to read {where}, and none is configured"
        )
    try:
        secret = await reader.get_secret(ctx.project, creds.secret_name)
    except NotFoundError:
        raise StepError(f"{where} not found") from None
    except KubeError as exc:
        raise StepError(f"error reading {where}: {exc}") from None
    data = secret.get("data") or {}
    username = _decode(data, "username", where)
    api_token = _decode(data, "apiToken", where)
    token = _decode(data, "token", where)
    if username and api_token and token:
        raise TerminalStepError(
            f"{where} has both 'token' and 'username'/'apiToken'; keep only one form"
        )
    if username and api_token:
        return _Auth.basic(username, api_token, where)
    if token and not (username or api_token):
        return _Auth.bearer(token, where)
    raise TerminalStepError(
        f"{where} must hold 'username' and 'apiToken' (Jira Cloud) or 'token' (Data Center)"
    )


# -- REST client -----------------------------------------------------------------------------


def _error_detail(data: Any, raw: bytes) -> str:
    """Jira's ``errorMessages`` and ``errors`` (or a short plain-text body), for messages."""
    parts: list[str] = []
    if isinstance(data, dict):
        parts += [str(m) for m in data.get("errorMessages") or [] if m]
        errors = data.get("errors")
        if isinstance(errors, dict):
            parts += [f"{k}: {v}" for k, v in sorted(errors.items())]
        if isinstance(data.get("message"), str) and data["message"]:
            parts.append(data["message"])
    elif data is None and raw:
        text = raw.decode("utf-8", "replace").strip()
        if text and not text.startswith("<"):
            parts.append(text[:200])
    return "; ".join(parts)


class _Jira:
    """A few Jira REST calls on one AsyncClient."""

    def __init__(self, base_url: str, auth: _Auth, *, verify: bool, timeout: float) -> None:
        self.base_url = base_url
        self._auth = auth
        self._timeout = timeout
        self._client = safe_async_client(
            verify=verify, proxy=environment_proxy(httpx.URL(base_url)), timeout=timeout
        )

    async def __aenter__(self) -> _Jira:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self._client.aclose()

    async def call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        accept: frozenset[int] = frozenset(),
    ) -> tuple[int, Any]:
        """Send one request; return (status, parsed JSON or None) for 2xx or ``accept``."""
        what = f"{method} {path}"
        headers = {
            "Authorization": self._auth.header,
            "Accept": "application/json",
            "User-Agent": "shunter-jira-step",
        }
        content = None
        if body is not None:
            content = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        try:
            async with asyncio.timeout(self._timeout):
                request = self._client.build_request(
                    method, self.base_url + path, params=params, headers=headers, content=content
                )
                response = await self._client.send(request, stream=True, follow_redirects=False)
                try:
                    raw = await read_capped_body(response, _MAX_BODY_BYTES, "Jira's response")
                finally:
                    await response.aclose()
        except (TimeoutError, httpx.TimeoutException):
            raise StepError(f"Jira did not answer {what} within {self._timeout:g}s") from None
        except httpx.HTTPError as exc:
            message = f"error sending {what} to Jira: {exc}"
            raise StepError(self._auth.redact(message)) from None
        status = response.status_code
        _log.debug("jira %s -> %d", what, status)
        try:
            data = json.loads(raw) if raw else None
        except (ValueError, UnicodeDecodeError):
            data = None
        if 200 <= status < 300 or status in accept:
            return status, data
        raise self._failure(what, response, data, raw)

    def _failure(self, what: str, response: httpx.Response, data: Any, raw: bytes) -> StepError:
        status = response.status_code
        message = f"Jira answered {status} {response.reason_phrase} to {what}".rstrip()
        if 300 <= status < 400:
            location = response.headers.get("location", "")
            shown = urllib.parse.urlsplit(location)._replace(query="", fragment="").geturl()
            message += f" (redirect to {shown!r}); set baseURL to the address of Jira's API"
            return TerminalStepError(self._auth.redact(message))
        detail = _error_detail(data, raw)
        if detail:
            message += f": {detail}"
        if status == 401:
            message += f" (check the credentials in {self._auth.source})"
        elif status == 403:
            message += " (the account lacks a permission)"
        return status_error(status, self._auth.redact(message))


# -- operations ------------------------------------------------------------------------------


def _key_of(data: Any, what: str) -> str:
    key = data.get("key") if isinstance(data, dict) else None
    if not isinstance(key, str) or not re.fullmatch(_ISSUE_KEY, key):
        raise StepError(f"Jira's answer to {what} has no valid issue key")
    return key


async def _find_labelled(jira: _Jira, project_key: str, label: str) -> str | None:
    """The key of an issue of the project with the label (Cloud ``/search/jql``, else the
    Data Center ``/search``)."""
    params = {
        "jql": f'project = "{project_key}" AND labels = "{label}"',
        "fields": "summary",
        "maxResults": "1",
    }
    status, data = await jira.call(
        "GET", f"{_API}/search/jql", params=params, accept=frozenset({404, 405})
    )
    if status in (404, 405):
        _, data = await jira.call("GET", f"{_API}/search", params=params)
    issues = data.get("issues") if isinstance(data, dict) else None
    if not isinstance(issues, list):
        raise StepError("Jira's search answer has no 'issues' list")
    if not issues:
        return None
    return _key_of(issues[0], "the search")


async def _create_issue(jira: _Jira, spec: JiraCreateIssue, label: str) -> tuple[str, bool]:
    """(key, created): the issue an earlier attempt made, or a new one."""
    existing = await _find_labelled(jira, spec.project_key, label)
    if existing is not None:
        return existing, False
    fields: dict[str, Any] = {
        "project": {"key": spec.project_key},
        "issuetype": {"name": spec.issue_type},
        "summary": spec.summary,
    }
    if spec.description is not None:
        fields["description"] = spec.description
    fields["labels"] = list(dict.fromkeys([*(spec.labels or []), label]))
    fields.update(spec.fields or {})
    _, data = await jira.call("POST", f"{_API}/issue", body={"fields": fields})
    return _key_of(data, "the issue creation"), True


async def _transition(jira: _Jira, key: str, ref: JiraTransitionRef) -> bool:
    """Apply the transition; False when skipped because the issue already has that status."""
    _, data = await jira.call("GET", f"{_API}/issue/{key}/transitions")
    offered = data.get("transitions") if isinstance(data, dict) else None
    options = [
        (str(t.get("id", "")), str(t.get("name", ""))) for t in offered or [] if isinstance(t, dict)
    ]
    if ref.id is not None:
        chosen = next((i for i, _ in options if i == ref.id), None)
        wanted = f"id {ref.id}"
    else:
        assert ref.name is not None  # noqa: S101 - guaranteed by JiraTransitionRef
        chosen = next((i for i, n in options if n.casefold() == ref.name.casefold()), None)
        wanted = f"{ref.name!r}"
    if chosen is None:
        if ref.name is not None:
            _, issue = await jira.call("GET", f"{_API}/issue/{key}", params={"fields": "status"})
            status = (((issue or {}).get("fields") or {}).get("status") or {}).get("name")
            if isinstance(status, str) and status.casefold() == ref.name.casefold():
                return False
        listed = ", ".join(f"{n!r} (id {i})" for i, n in options) or "none"
        raise TerminalStepError(
            f"issue {key} has no transition {wanted}; available: {listed}", failed=True
        )
    await jira.call("POST", f"{_API}/issue/{key}/transitions", body={"transition": {"id": chosen}})
    return True


@register
class JiraStep:
    """Runner of ``jira``."""

    name: ClassVar[str] = "jira"
    config_model: ClassVar[type[StepConfig]] = JiraConfig
    default_timeout: ClassVar[timedelta | None] = None
    default_error_threshold: ClassVar[int] = 1
    external_effects: ClassVar[Effects] = Effects.WRITES

    async def preview(self, ctx: StepContext, config: Any) -> StepResult:
        """What it would do in Jira."""
        cfg = JiraConfig.model_validate(config)
        project = cfg.create_issue.project_key if cfg.create_issue else ""
        actions = [
            what
            for what, wanted in (
                (f"create an issue in {project}", cfg.create_issue),
                (f"update fields of {cfg.issue_key}", cfg.update_fields),
                (f"comment on {cfg.issue_key}", cfg.comment),
                (f"transition {cfg.issue_key}", cfg.transition),
            )
            if wanted
        ]
        return would(f"would {', '.join(actions) or 'call'} Jira at {shown_url(cfg.base_url)}")

    async def run(self, ctx: StepContext, config: Any) -> StepResult:
        """Create or find the issue, then update, transition and comment as configured."""
        cfg = JiraConfig.model_validate(config)
        auth = await _load_auth(ctx, cfg.credentials)
        timeout = parse_go_duration(cfg.timeout) if cfg.timeout else DEFAULT_TIMEOUT
        notes: list[str] = []
        async with _Jira(
            cfg.base_url,
            auth,
            verify=not cfg.insecure_skip_tls_verify,
            timeout=timeout.total_seconds(),
        ) as jira:
            if cfg.create_issue is not None:
                label = idempotence_label(ctx.project, ctx.promotion, ctx.alias)
                key, created = await _create_issue(jira, cfg.create_issue, label)
                notes.append(f"created {key}" if created else f"reused {key} (label {label})")
                if created:
                    _log.info("created Jira issue %s for promotion %s", key, ctx.promotion)
            else:
                assert cfg.issue_key is not None  # noqa: S101 - guaranteed by JiraConfig
                key = cfg.issue_key
            if cfg.update_fields:
                await jira.call("PUT", f"{_API}/issue/{key}", body={"fields": cfg.update_fields})
                notes.append("updated fields")
            transitioned = False
            if cfg.transition is not None:
                transitioned = await _transition(jira, key, cfg.transition)
                notes.append("transitioned" if transitioned else "already in the target status")
            comment_id: str | None = None
            if cfg.comment is not None:
                _, data = await jira.call(
                    "POST", f"{_API}/issue/{key}/comment", body={"body": cfg.comment}
                )
                raw_id = data.get("id") if isinstance(data, dict) else None
                comment_id = str(raw_id) if raw_id is not None else None
                notes.append("commented")
        return StepResult(
            status=PromotionStepStatus.SUCCEEDED,
            message=f"Jira issue {key}: {', '.join(notes)}",
            output={
                "issueKey": key,
                "issueURL": f"{cfg.base_url}/browse/{key}",
                "commentID": comment_id,
                "transitioned": transitioned,
            },
        )
