"""A TEST DOUBLE of Jira's REST API v2 (an external SaaS that cannot run here).

:class:`JiraDouble` serves, on 127.0.0.1:<random port> (optionally HTTPS), only the part of the
Jira REST v2 contract the ``jira`` promotion step uses, with the request and response shapes
and status codes Jira Cloud and Jira Data Center use:

* ``POST /rest/api/2/issue`` (201 ``{id, key, self}``; keys are ``<PROJECT>-<n>``),
  ``GET`` / ``PUT /rest/api/2/issue/{key}`` (PUT takes ``{"fields": {...}}``, answers 204);
* ``GET`` / ``POST /rest/api/2/issue/{key}/comment`` (POST answers 201 with the comment);
* ``GET`` / ``POST /rest/api/2/issue/{key}/transitions`` on a configurable workflow
  (default ``To Do -> In Progress -> Done``; POST answers 204, an unavailable one 400);
* JQL search with ``AND``-joined ``field = value`` clauses on ``project``, ``labels``, ``key``,
  ``status`` and ``issuetype``: ``GET /rest/api/2/search/jql`` on the ``cloud`` flavour
  (``GET /rest/api/2/search`` answers 410 Gone there, as Jira Cloud does since 2025) and
  ``GET /rest/api/2/search`` on the ``datacenter`` flavour (where ``/search/jql`` is a 404);
* ``GET /rest/api/2/myself`` (the authenticated user) and ``GET /status`` (no
  authentication) answering ``{"state": "RUNNING"}``.

Authentication: Basic ``<user>:<api token>`` (Jira Cloud) for the ``users`` map and Bearer
personal access tokens (Jira Data Center) for the ``tokens`` map; anything else is a 401 with
Jira's error body. Errors use Jira's ``{"errorMessages": [...], "errors": {field: message}}``.
Fields that a real screen would not offer (``status``, ``project`` on update, unknown names
other than ``customfield_<n>``) are refused with 400, like Jira does.

Every request is recorded (method, path, query, parsed body, principal, answered status; never
the credentials) for assertions, and :meth:`JiraDouble.inject_fault` makes chosen requests fail
with a status (before or after the change is applied: a lost response). It is not Jira: no
permissions, screens, schemes, pagination or rich text beyond what the step needs.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import re
import ssl
import threading
import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Literal, Self

from shunter_devenv.localhttp import LocalHTTPServer, QuietHandler

__all__ = [
    "DEFAULT_WORKFLOW",
    "JiraDouble",
    "JiraFault",
    "JiraFlavour",
    "JiraTransition",
    "JiraWorkflow",
    "RecordedRequest",
]

JiraFlavour = Literal["cloud", "datacenter"]

_API = "/rest/api/2"
_MAX_BODY = 1 << 20
_EDITABLE = frozenset(
    {
        "summary",
        "description",
        "labels",
        "fixVersions",
        "versions",
        "priority",
        "assignee",
        "environment",
        "components",
        "duedate",
    }
)
_CUSTOM_FIELD = re.compile(r"customfield_[0-9]+")
_ISSUE_PATH = re.compile(_API + r"/issue/(?P<key>[A-Za-z0-9_-]+)(?P<rest>/comment|/transitions)?")


@dataclass(frozen=True)
class JiraTransition:
    """A workflow transition; no ``sources`` means it is available from every other status."""

    id: str
    name: str
    to: str
    sources: tuple[str, ...] = ()

    def available_from(self, status: str) -> bool:
        if self.sources:
            return status in self.sources
        return status != self.to


@dataclass(frozen=True)
class JiraWorkflow:
    """The statuses new issues start in and the transitions between statuses."""

    initial: str
    transitions: tuple[JiraTransition, ...]


DEFAULT_WORKFLOW = JiraWorkflow(
    initial="To Do",
    transitions=(
        JiraTransition("11", "To Do", "To Do", ("In Progress", "Done")),
        JiraTransition("21", "In Progress", "In Progress", ("To Do",)),
        JiraTransition("31", "Done", "Done", ("In Progress",)),
    ),
)


@dataclass(frozen=True)
class RecordedRequest:
    """One request the double answered (credentials are never recorded)."""

    method: str
    path: str
    query: Mapping[str, list[str]]
    body: Any
    #: The authenticated user, or None.
    principal: str | None
    #: ``basic``, ``bearer`` or ``""`` (none or unknown).
    auth_scheme: str
    status: int


@dataclass
class JiraFault:
    """Answer ``status`` to the next ``times`` requests matching ``method`` and ``path`` (a
    regular expression matched against the whole path). With ``apply`` the request is carried
    out first and only its response is replaced (a response lost on the way back)."""

    method: str
    path: str
    status: int
    apply: bool = False
    times: int = 1


class _ReplyError(Exception):
    """Raised inside a handler to answer with a status and a JSON body."""

    def __init__(self, status: int, body: Any = None) -> None:
        super().__init__(status)
        self.status = status
        self.body = body


def _error(
    status: int, messages: Iterable[str] = (), errors: Mapping[str, str] | None = None
) -> _ReplyError:
    return _ReplyError(status, {"errorMessages": list(messages), "errors": dict(errors or {})})


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


# -- JQL (a tiny subset) ---------------------------------------------------------------------

_JQL_TOKEN = re.compile(r'\s*(?:"(?P<quoted>(?:[^"\\]|\\.)*)"|(?P<op>=)|(?P<word>[^\s="]+))')
_JQL_FIELDS = frozenset({"project", "labels", "key", "status", "issuetype"})


def _parse_jql(jql: str) -> list[tuple[str, str]]:
    """``field = value [AND field = value ...]`` -> [(field, value)] (raises a 400 _ReplyError)."""
    tokens: list[tuple[str, str]] = []
    position = 0
    text = jql.strip()
    while position < len(text):
        match = _JQL_TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise _error(400, [f"Error in the JQL Query: cannot parse at character {position}."])
        position = match.end()
        if match.group("quoted") is not None:
            tokens.append(("value", re.sub(r"\\(.)", r"\1", match.group("quoted"))))
        elif match.group("op"):
            tokens.append(("op", "="))
        else:
            tokens.append(("word", match.group("word")))
    clauses: list[tuple[str, str]] = []
    index = 0
    while index < len(tokens):
        if clauses:
            if tokens[index][0] != "word" or tokens[index][1].upper() != "AND":
                raise _error(400, ["Error in the JQL Query: expecting 'AND'."])
            index += 1
        chunk = tokens[index : index + 3]
        if len(chunk) != 3 or chunk[0][0] != "word" or chunk[1][0] != "op":
            raise _error(400, ["Error in the JQL Query: expecting 'field = value'."])
        name = chunk[0][1].lower()
        if name not in _JQL_FIELDS:
            raise _error(
                400, [f"Field '{chunk[0][1]}' does not exist or you do not have permission."]
            )
        clauses.append((name, chunk[2][1]))
        index += 3
    return clauses


def _matches(issue: Mapping[str, Any], clauses: list[tuple[str, str]]) -> bool:
    fields = issue["fields"]
    for name, value in clauses:
        if name == "labels":
            if value not in fields.get("labels", []):
                return False
            continue
        actual = {
            "project": fields["project"]["key"],
            "key": issue["key"],
            "status": fields["status"]["name"],
            "issuetype": fields["issuetype"]["name"],
        }[name]
        if actual.lower() != value.lower():
            return False
    return True


# -- the double ------------------------------------------------------------------------------


class JiraDouble:
    """A TEST DOUBLE of the Jira REST API v2 subset the ``jira`` step uses (see the module)."""

    def __init__(
        self,
        *,
        users: Mapping[str, str] | None = None,
        tokens: Mapping[str, str] | None = None,
        projects: Iterable[str] = ("REL",),
        issue_types: Iterable[str] = ("Task", "Bug", "Story"),
        workflow: JiraWorkflow = DEFAULT_WORKFLOW,
        flavour: JiraFlavour = "cloud",
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        """``users``: Basic-auth user -> API token; ``tokens``: Bearer token -> user."""
        self.flavour = flavour
        self.workflow = workflow
        self._users = dict(users or {})
        self._tokens = dict(tokens or {})
        self._projects = {p.upper(): 0 for p in projects}
        self._issue_types = tuple(issue_types)
        self._lock = threading.Lock()
        self._issues: dict[str, dict[str, Any]] = {}
        self._next_id = 10000
        self._next_comment = 20000
        self._requests: list[RecordedRequest] = []
        self._faults: list[JiraFault] = []
        self._http = LocalHTTPServer(_Handler, self, ssl_context=ssl_context, name="jira-double")

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        self._http.start()

    def stop(self) -> None:
        self._http.stop()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """``http(s)://127.0.0.1:<port>`` (no trailing slash)."""
        return self._http.base_url

    # -- arranging and asserting -------------------------------------------------------------

    def inject_fault(self, fault: JiraFault) -> None:
        """Make matching requests fail (see :class:`JiraFault`)."""
        with self._lock:
            self._faults.append(fault)

    def seed_issue(
        self, project: str, summary: str, *, issue_type: str = "Task", status: str | None = None
    ) -> str:
        """Create an issue directly (not recorded as a request); returns its key."""
        with self._lock:
            issue = self._create(
                {
                    "project": {"key": project},
                    "issuetype": {"name": issue_type},
                    "summary": summary,
                }
            )
            if status is not None:
                issue["fields"]["status"] = {"name": status}
            return str(issue["key"])

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request answered so far, in order."""
        with self._lock:
            return list(self._requests)

    def requests_to(self, method: str, path: str) -> list[RecordedRequest]:
        """Recorded requests with this method whose path fully matches the regex ``path``."""
        pattern = re.compile(path)
        return [r for r in self.requests if r.method == method and pattern.fullmatch(r.path)]

    def issues(self) -> list[dict[str, Any]]:
        """Copies of every issue (``{id, key, fields, comments}``), in creation order."""
        with self._lock:
            return [json.loads(json.dumps(i)) for i in self._issues.values()]

    def issue(self, key: str) -> dict[str, Any]:
        """A copy of one issue (KeyError if unknown)."""
        with self._lock:
            return dict(json.loads(json.dumps(self._issues[key.upper()])))

    def comments(self, key: str) -> list[dict[str, Any]]:
        return list(self.issue(key)["comments"])

    def status(self, key: str) -> str:
        return str(self.issue(key)["fields"]["status"]["name"])

    # -- request handling (called from the server's threads) ---------------------------------

    def _authenticate(self, header: str | None) -> tuple[str | None, str]:
        if not header:
            return None, ""
        scheme, _, value = header.partition(" ")
        scheme = scheme.lower()
        if scheme == "basic":
            try:
                decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                return None, "basic"
            user, sep, secret = decoded.partition(":")
            expected = self._users.get(user)
            if sep and expected is not None and hmac.compare_digest(expected, secret):
                return user, "basic"
            return None, "basic"
        if scheme == "bearer":
            for token, user in self._tokens.items():
                if hmac.compare_digest(token, value.strip()):
                    return user, "bearer"
            return None, "bearer"
        return None, ""

    def _fault_for(self, method: str, path: str) -> JiraFault | None:
        for fault in self._faults:
            if fault.times > 0 and fault.method == method and re.fullmatch(fault.path, path):
                fault.times -= 1
                return fault
        return None

    def handle(
        self,
        method: str,
        target: str,
        body: Any,
        authorization: str | None,
    ) -> tuple[int, Any]:
        """Answer one request: ``(status, JSON body or None)``."""
        parts = urllib.parse.urlsplit(target)
        path = parts.path
        query = urllib.parse.parse_qs(parts.query, keep_blank_values=True)
        with self._lock:
            principal, scheme = self._authenticate(authorization)
            status, payload = self._answer(method, path, query, body, principal)
            self._requests.append(
                RecordedRequest(method, path, query, body, principal, scheme, status)
            )
        return status, payload

    def _answer(
        self,
        method: str,
        path: str,
        query: Mapping[str, list[str]],
        body: Any,
        principal: str | None,
    ) -> tuple[int, Any]:
        if method == "GET" and path == "/status":
            return 200, {"state": "RUNNING"}
        if principal is None:
            return 401, {
                "errorMessages": [
                    "You are not authenticated. Authentication required to perform this operation."
                ],
                "errors": {},
            }
        fault = self._fault_for(method, path)
        if fault is not None and not fault.apply:
            return fault.status, {"errorMessages": [f"injected fault {fault.status}"], "errors": {}}
        try:
            status, payload = self._route(method, path, query, body, principal)
        except _ReplyError as reply:
            status, payload = reply.status, reply.body
        if fault is not None:
            return fault.status, {"errorMessages": [f"injected fault {fault.status}"], "errors": {}}
        return status, payload

    def _route(
        self,
        method: str,
        path: str,
        query: Mapping[str, list[str]],
        body: Any,
        principal: str,
    ) -> tuple[int, Any]:
        if path == f"{_API}/myself" and method == "GET":
            return 200, {"name": principal, "displayName": principal}
        if path == f"{_API}/issue" and method == "POST":
            issue = self._create(self._body_fields(body))
            return 201, {"id": issue["id"], "key": issue["key"], "self": self._self(issue)}
        if path in (f"{_API}/search", f"{_API}/search/jql") and method == "GET":
            return self._search(path, query)
        match = _ISSUE_PATH.fullmatch(path)
        if match is None:
            raise _error(404, ["Not found."])
        issue = self._find(match.group("key"))
        rest = match.group("rest")
        if rest is None:
            if method == "GET":
                return 200, self._bean(issue, None)
            if method == "PUT":
                self._update(issue, self._body_fields(body))
                return 204, None
        elif rest == "/comment":
            if method == "GET":
                comments = issue["comments"]
                return 200, {
                    "startAt": 0,
                    "maxResults": len(comments),
                    "total": len(comments),
                    "comments": comments,
                }
            if method == "POST":
                return 201, self._comment(issue, body, principal)
        else:
            if method == "GET":
                return 200, {"transitions": self._available(issue)}
            if method == "POST":
                self._transition(issue, body)
                return 204, None
        raise _error(405, [f"Method {method} is not allowed here."])

    # -- operations (the lock is held) -------------------------------------------------------

    def _self(self, issue: Mapping[str, Any]) -> str:
        return f"{self.base_url}{_API}/issue/{issue['id']}"

    @staticmethod
    def _body_fields(body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise _error(400, ["Can not deserialize the request body: a JSON object is expected."])
        unknown = sorted(set(body) - {"fields"})
        if unknown:
            raise _error(400, [f"Unsupported request keys for this double: {', '.join(unknown)}"])
        fields = body.get("fields")
        if not isinstance(fields, dict):
            raise _error(400, ["'fields' must be an object."])
        return fields

    def _find(self, key_or_id: str) -> dict[str, Any]:
        wanted = key_or_id.upper()
        issue = self._issues.get(wanted)
        if issue is None:
            issue = next((i for i in self._issues.values() if i["id"] == key_or_id), None)
        if issue is None:
            raise _error(404, ["Issue does not exist or you do not have permission to see it."])
        return issue

    @staticmethod
    def _check_fields(fields: Mapping[str, Any], allowed: Iterable[str]) -> None:
        errors: dict[str, str] = {}
        allowed_set = set(allowed)
        for name, value in fields.items():
            if name not in allowed_set and not _CUSTOM_FIELD.fullmatch(name):
                errors[name] = (
                    f"Field '{name}' cannot be set. "
                    "It is not on the appropriate screen, or unknown."
                )
            elif name == "summary" and (not isinstance(value, str) or not value.strip()):
                errors[name] = "You must specify a summary of the issue."
            elif name == "labels":
                if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                    errors[name] = "Labels must be a list of strings."
                else:
                    bad = next((v for v in value if not v or re.search(r"\s", v)), None)
                    if bad is not None:
                        errors[name] = f"The label '{bad}' contains spaces which is invalid."
        if errors:
            raise _error(400, (), errors)

    def _create(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        errors: dict[str, str] = {}
        project = fields.get("project")
        project_key = project.get("key") if isinstance(project, dict) else None
        if not isinstance(project_key, str) or project_key.upper() not in self._projects:
            errors["project"] = "valid project is required"
        issue_type = fields.get("issuetype")
        type_name = issue_type.get("name") if isinstance(issue_type, dict) else None
        if type_name not in self._issue_types:
            errors["issuetype"] = "valid issue type is required"
        if "summary" not in fields:
            errors["summary"] = "You must specify a summary of the issue."
        if errors:
            raise _error(400, (), errors)
        rest = {k: v for k, v in fields.items() if k not in ("project", "issuetype")}
        self._check_fields(rest, _EDITABLE)
        assert isinstance(project_key, str)  # noqa: S101 - checked above, narrows for mypy
        project_key = project_key.upper()
        self._projects[project_key] += 1
        self._next_id += 1
        key = f"{project_key}-{self._projects[project_key]}"
        issue: dict[str, Any] = {
            "id": str(self._next_id),
            "key": key,
            "fields": {
                "labels": [],
                **json.loads(json.dumps(rest)),
                "project": {"key": project_key},
                "issuetype": {"name": type_name},
                "status": {"name": self.workflow.initial},
                "created": _now(),
            },
            "comments": [],
        }
        self._issues[key] = issue
        return issue

    def _update(self, issue: dict[str, Any], fields: Mapping[str, Any]) -> None:
        self._check_fields(fields, _EDITABLE)
        issue["fields"].update(json.loads(json.dumps(dict(fields))))

    def _comment(self, issue: dict[str, Any], body: Any, principal: str) -> dict[str, Any]:
        text = body.get("body") if isinstance(body, dict) else None
        if not isinstance(text, str) or not text.strip():
            raise _error(400, (), {"comment": "Comment body can not be empty!"})
        self._next_comment += 1
        comment = {
            "id": str(self._next_comment),
            "body": text,
            "author": {"name": principal, "displayName": principal},
            "created": _now(),
        }
        issue["comments"].append(comment)
        return comment

    def _available(self, issue: Mapping[str, Any]) -> list[dict[str, Any]]:
        status = issue["fields"]["status"]["name"]
        return [
            {"id": t.id, "name": t.name, "to": {"name": t.to}}
            for t in self.workflow.transitions
            if t.available_from(status)
        ]

    def _transition(self, issue: dict[str, Any], body: Any) -> None:
        wanted = body.get("transition") if isinstance(body, dict) else None
        wanted_id = wanted.get("id") if isinstance(wanted, dict) else None
        if not isinstance(wanted_id, str):
            raise _error(400, ["Missing 'transition' identifier"])
        status = issue["fields"]["status"]["name"]
        for transition in self.workflow.transitions:
            if transition.id == wanted_id and transition.available_from(status):
                issue["fields"]["status"] = {"name": transition.to}
                return
        raise _error(400, [f"Transition id '{wanted_id}' is not valid for this issue."])

    def _search(self, path: str, query: Mapping[str, list[str]]) -> tuple[int, Any]:
        new_api = path.endswith("/jql")
        if self.flavour == "cloud" and not new_api:
            raise _error(
                410,
                [
                    "The requested API has been removed. Please migrate to the "
                    "/rest/api/2/search/jql API."
                ],
            )
        if self.flavour == "datacenter" and new_api:
            raise _error(404, ["Not found."])
        jql = (query.get("jql") or [""])[0]
        clauses = _parse_jql(jql)
        if new_api and not clauses:
            raise _error(
                400,
                [
                    "Unbounded JQL queries are not allowed here. "
                    "Please add a search restriction to your query."
                ],
            )
        try:
            limit = int((query.get("maxResults") or ["50"])[0])
        except ValueError:
            raise _error(400, ["maxResults must be a number."]) from None
        wanted = [f for f in ",".join(query.get("fields") or []).split(",") if f]
        found = [i for i in self._issues.values() if _matches(i, clauses)]
        beans = [self._bean(i, wanted, ids_only=new_api and not wanted) for i in found[:limit]]
        if new_api:
            return 200, {"issues": beans, "isLast": len(found) <= limit}
        return 200, {"startAt": 0, "maxResults": limit, "total": len(found), "issues": beans}

    def _bean(
        self, issue: Mapping[str, Any], fields: list[str] | None, *, ids_only: bool = False
    ) -> dict[str, Any]:
        if ids_only:
            return {"id": issue["id"]}
        shown = issue["fields"]
        if fields is not None:
            shown = {k: v for k, v in shown.items() if k in fields}
        return {
            "id": issue["id"],
            "key": issue["key"],
            "self": self._self(issue),
            "fields": json.loads(json.dumps(shown)),
        }


class _Handler(QuietHandler):
    server_version = "jira-double/1"

    def _serve(self) -> None:
        app = self.app
        assert isinstance(app, JiraDouble)  # noqa: S101 - narrows the type for mypy
        length_text = self.headers.get("Content-Length", "0").strip() or "0"
        if not length_text.isdigit() or int(length_text) > _MAX_BODY:
            self._send(413, {"errorMessages": ["Request body too large."], "errors": {}})
            self.close_connection = True
            return
        raw = self.rfile.read(int(length_text)) if int(length_text) else b""
        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                self._send(400, {"errorMessages": ["Unexpected character in JSON."], "errors": {}})
                return
        status, payload = app.handle(self.command, self.path, body, self.headers["Authorization"])
        self._send(status, payload)

    def _send(self, status: int, payload: Any) -> None:
        data = b"" if payload is None else json.dumps(payload).encode()
        self.send_response(status)
        if status == 401:
            self.send_header("WWW-Authenticate", 'Basic realm="protected-area"')
        if data:
            self.send_header("Content-Type", "application/json;charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = _serve  # noqa: N815
