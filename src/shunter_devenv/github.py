"""A TEST DOUBLE of GitHub's REST API for pull requests (github.com cannot be reached here).

:class:`GitHubDouble` serves, on 127.0.0.1:<random port> (optionally HTTPS), only the part of
GitHub's documented REST contract that the ``git-open-pr``, ``git-wait-for-pr`` and
``git-merge-pr`` steps use, with GitHub's paths, JSON shapes and status codes:

* ``GET /repos/{o}/{r}/pulls?head=<owner>:<branch>&base=<branch>&state=open|closed|all``;
* ``POST /repos/{o}/{r}/pulls`` ``{title, head, base, body?}`` (201; 422 "Validation Failed"
  for a missing field, an unknown branch, "No commits between ..." or "A pull request already
  exists for <owner>:<head>.");
* ``GET`` / ``PATCH /repos/{o}/{r}/pulls/{n}`` (PATCH ``{state: closed|open, title, body}``);
* ``PUT /repos/{o}/{r}/pulls/{n}/merge`` ``{merge_method?, sha?, commit_title?}`` (200 ``{sha,
  merged, message}``; 405 "Pull Request is not mergeable"; 409 when ``sha`` is not the head);
* ``POST /repos/{o}/{r}/issues/{n}/labels`` ``{labels: [...]}`` (200, the PR's labels);
* ``GET /repos/{o}/{r}/commits/{ref}`` (``{sha, commit: {message}}``; repositories backed by git
  only).

Authentication: ``Authorization: Bearer <token>`` or ``token <token>`` for a token of the
``tokens`` map (token -> login); anything else is GitHub's 401 ``{"message": "Bad
credentials"}``. Unknown repositories are 404 ``{"message": "Not Found"}``.

Git backing: a repository added with ``add_repo(..., git_repo=name)`` refers to a bare
repository of a real :class:`shunter_devenv.gitserver.GitServer`. Then branches must exist, the
head's sha is the branch's real tip, ``mergeable`` is computed with ``git merge-tree`` (a
conflict is ``mergeable: false``, ``mergeable_state: dirty``), and a merge really happens in the
bare repository with plumbing: ``merge-tree --write-tree`` gives the merged tree,
``commit-tree`` makes the merge commit (two parents for ``merge``, one for ``squash``) and
``update-ref`` moves the base branch (compare-and-swap on its old tip). ``rebase`` merges are
answered 422 by the double. Without git backing, branches are not checked, PRs are mergeable
unless :meth:`GitHubDouble.set_mergeable` says otherwise, and merge shas are made up.

Every request is recorded (method, path, query, body, login, status; never the token). It is
not GitHub: no pagination, reviews, checks, branch protection, forks or drafts.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import ssl
import subprocess
import threading
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from shunter_devenv.gitserver import GitServer
from shunter_devenv.localhttp import LocalHTTPServer, QuietHandler

__all__ = ["GitHubDouble", "GitHubRequest"]

_MAX_BODY = 1 << 20
_DOCS = "https://docs.github.com/rest"
_REPO_PATH = re.compile(r"/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)(?P<rest>/.*)?")
_PULL = re.compile(r"/pulls/(?P<n>[0-9]+)(?P<merge>/merge)?")
_LABELS = re.compile(r"/issues/(?P<n>[0-9]+)/labels")
_COMMIT = re.compile(r"/commits/(?P<ref>.+)")
_AUTHOR = {
    "GIT_AUTHOR_NAME": "GitHub Double",
    "GIT_AUTHOR_EMAIL": "noreply@github-double.invalid",
    "GIT_COMMITTER_NAME": "GitHub Double",
    "GIT_COMMITTER_EMAIL": "noreply@github-double.invalid",
}


@dataclass(frozen=True)
class GitHubRequest:
    """One request the double answered (the token is never recorded)."""

    method: str
    path: str
    query: Mapping[str, list[str]]
    body: Any
    #: The authenticated login, or None.
    login: str | None
    status: int


class _ReplyError(Exception):
    def __init__(self, status: int, body: Any) -> None:
        super().__init__(status)
        self.status = status
        self.body = body


def _fail(status: int, message: str, errors: list[dict[str, Any]] | None = None) -> _ReplyError:
    body: dict[str, Any] = {"message": message, "documentation_url": _DOCS, "status": str(status)}
    if errors:
        body["errors"] = errors
    return _ReplyError(status, body)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class _Pull:
    number: int
    title: str
    body: str | None
    head: str
    base: str
    user: str
    created_at: str
    state: str = "open"
    labels: list[str] = field(default_factory=list)
    merged: bool = False
    merged_at: str | None = None
    merge_commit_sha: str | None = None
    closed_at: str | None = None
    #: Test override of ``mergeable`` (unset: computed).
    mergeable_override: tuple[bool | None] | None = None


@dataclass
class _Repo:
    owner: str
    name: str
    git_dir: Path | None
    pulls: dict[int, _Pull] = field(default_factory=dict)
    next_number: int = 1


class GitHubDouble:
    """A TEST DOUBLE of GitHub's pull-request REST API (see the module docstring)."""

    def __init__(
        self,
        *,
        tokens: Mapping[str, str],
        git_server: GitServer | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        """``tokens``: token -> login; ``git_server`` backs repositories added with git."""
        self._tokens = dict(tokens)
        self._git_server = git_server
        self._lock = threading.RLock()
        self._repos: dict[str, _Repo] = {}
        self._requests: list[GitHubRequest] = []
        self._http = LocalHTTPServer(_Handler, self, ssl_context=ssl_context, name="github-double")

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
        """The API base URL, ``http(s)://127.0.0.1:<port>`` (no trailing slash)."""
        return self._http.base_url

    # -- arranging and asserting -------------------------------------------------------------

    def add_repo(self, full_name: str, *, git_repo: str | None = None) -> None:
        """Serve repository ``owner/name``, backed by GitServer repository ``git_repo``."""
        owner, _, name = full_name.partition("/")
        if not owner or not name or "/" in name:
            raise ValueError(f"{full_name!r} is not owner/name")
        git_dir = None
        if git_repo is not None:
            if self._git_server is None:
                raise ValueError("git_repo needs a GitHubDouble created with a git_server")
            git_dir = self._git_server.repo_path(git_repo)
        with self._lock:
            self._repos[full_name.lower()] = _Repo(owner, name, git_dir)

    def pulls(self, full_name: str) -> list[dict[str, Any]]:
        """The repository's pull requests as the API shows them, by number."""
        with self._lock:
            repo = self._repos[full_name.lower()]
            return [self._json(repo, p) for p in repo.pulls.values()]

    def pull(self, full_name: str, number: int) -> dict[str, Any]:
        with self._lock:
            repo = self._repos[full_name.lower()]
            return self._json(repo, repo.pulls[number])

    def set_mergeable(self, full_name: str, number: int, value: bool | None) -> None:
        """Force ``mergeable`` (None: GitHub still computing) for an open PR."""
        with self._lock:
            self._repos[full_name.lower()].pulls[number].mergeable_override = (value,)

    def clear_mergeable(self, full_name: str, number: int) -> None:
        """Undo :meth:`set_mergeable`: compute ``mergeable`` again."""
        with self._lock:
            self._repos[full_name.lower()].pulls[number].mergeable_override = None

    def merge(self, full_name: str, number: int, method: str = "merge") -> str:
        """Merge a PR as a reviewer would in the web UI; return the merge commit sha."""
        with self._lock:
            repo = self._repos[full_name.lower()]
            return self._merge(repo, repo.pulls[number], method, None, None)

    def close(self, full_name: str, number: int) -> None:
        """Close a PR without merging it."""
        with self._lock:
            pull = self._repos[full_name.lower()].pulls[number]
            pull.state, pull.closed_at = "closed", _now()

    @property
    def requests(self) -> list[GitHubRequest]:
        with self._lock:
            return list(self._requests)

    def requests_to(self, method: str, path: str) -> list[GitHubRequest]:
        """Recorded requests with this method whose path fully matches the regex ``path``."""
        pattern = re.compile(path)
        return [r for r in self.requests if r.method == method and pattern.fullmatch(r.path)]

    # -- git ---------------------------------------------------------------------------------

    @staticmethod
    def _git(git_dir: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(git_dir.parent),
            "LANG": "C",
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            **_AUTHOR,
        }
        argv = ["git", "--git-dir", str(git_dir), *args]
        return subprocess.run(argv, env=env, capture_output=True, check=False)

    def _tip(self, repo: _Repo, branch: str) -> str | None:
        if repo.git_dir is None:
            return hashlib.sha1(f"{repo.owner}/{repo.name}@{branch}".encode()).hexdigest()  # noqa: S324
        done = self._git(repo.git_dir, "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}")
        return done.stdout.decode().strip() if done.returncode == 0 else None

    def _merged_tree(self, repo: _Repo, pull: _Pull) -> str | None:
        """The tree of base merged with head (None on a conflict)."""
        assert repo.git_dir is not None  # noqa: S101 - callers check
        done = self._git(
            repo.git_dir, "merge-tree", "--write-tree", f"refs/heads/{pull.base}",
            f"refs/heads/{pull.head}",
        )  # fmt: skip
        if done.returncode != 0:
            return None
        return done.stdout.decode().splitlines()[0].strip()

    def _mergeable(self, repo: _Repo, pull: _Pull) -> bool | None:
        if pull.state != "open":
            return None
        if pull.mergeable_override is not None:
            return pull.mergeable_override[0]
        if repo.git_dir is None:
            return True
        return self._merged_tree(repo, pull) is not None

    def _merge(
        self, repo: _Repo, pull: _Pull, method: str, sha: str | None, title: str | None
    ) -> str:
        if pull.state != "open" or self._mergeable(repo, pull) is not True:
            raise _fail(405, "Pull Request is not mergeable")
        if method not in ("merge", "squash", "rebase"):
            raise _fail(422, "Validation Failed", [{"field": "merge_method", "code": "invalid"}])
        head = self._tip(repo, pull.head)
        if sha is not None and sha != head:
            raise _fail(409, "Head branch was modified. Review and try the merge again.")
        if repo.git_dir is None:
            merged_sha = hashlib.sha1(  # noqa: S324 - a made-up sha, not security
                f"{repo.owner}/{repo.name}#{pull.number}".encode()
            ).hexdigest()
        else:
            if method == "rebase":
                raise _fail(422, "rebase merges are not implemented by this test double")
            base = self._tip(repo, pull.base)
            tree = self._merged_tree(repo, pull)
            if tree is None or base is None or head is None:
                raise _fail(405, "Pull Request is not mergeable")
            if method == "merge":
                message = f"Merge pull request #{pull.number} from {repo.owner}/{pull.head}"
                message += f"\n\n{title or pull.title}"
                parents = ["-p", base, "-p", head]
            else:
                message = f"{title or pull.title} (#{pull.number})"
                parents = ["-p", base]
            made = self._git(repo.git_dir, "commit-tree", tree, *parents, "-m", message)
            if made.returncode != 0:
                raise _fail(500, "git commit-tree failed")
            merged_sha = made.stdout.decode().strip()
            moved = self._git(
                repo.git_dir, "update-ref", f"refs/heads/{pull.base}", merged_sha, base
            )
            if moved.returncode != 0:
                raise _fail(409, "Base branch was modified. Review and try the merge again.")
        pull.state, pull.merged = "closed", True
        pull.merged_at = pull.closed_at = _now()
        pull.merge_commit_sha = merged_sha
        return merged_sha

    # -- JSON --------------------------------------------------------------------------------

    def _json(self, repo: _Repo, pull: _Pull) -> dict[str, Any]:
        full = f"{repo.owner}/{repo.name}"
        mergeable = self._mergeable(repo, pull)
        state = "unknown" if mergeable is None else "clean" if mergeable else "dirty"
        return {
            "id": 1000 + pull.number,
            "number": pull.number,
            "url": f"{self.base_url}/repos/{full}/pulls/{pull.number}",
            "html_url": f"{self.base_url}/{full}/pull/{pull.number}",
            "state": pull.state,
            "title": pull.title,
            "body": pull.body,
            "user": {"login": pull.user},
            "labels": [{"name": name} for name in pull.labels],
            "head": {
                "ref": pull.head,
                "sha": self._tip(repo, pull.head),
                "label": f"{repo.owner}:{pull.head}",
            },
            "base": {
                "ref": pull.base,
                "sha": self._tip(repo, pull.base),
                "label": f"{repo.owner}:{pull.base}",
            },
            "draft": False,
            "merged": pull.merged,
            "merged_at": pull.merged_at,
            "closed_at": pull.closed_at,
            "created_at": pull.created_at,
            "merge_commit_sha": pull.merge_commit_sha,
            "mergeable": mergeable,
            "mergeable_state": state,
        }

    # -- request handling (called from the server's threads) ---------------------------------

    def _login(self, header: str | None) -> str | None:
        scheme, _, value = (header or "").partition(" ")
        if scheme.lower() not in ("bearer", "token"):
            return None
        for token, login in self._tokens.items():
            if hmac.compare_digest(token, value.strip()):
                return login
        return None

    def handle(
        self, method: str, target: str, body: Any, authorization: str | None
    ) -> tuple[int, Any]:
        """Answer one request: ``(status, JSON body or None)``."""
        parts = urllib.parse.urlsplit(target)
        path = urllib.parse.unquote(parts.path)
        query = urllib.parse.parse_qs(parts.query, keep_blank_values=True)
        with self._lock:
            login = self._login(authorization)
            try:
                if login is None:
                    raise _fail(401, "Bad credentials")
                status, payload = self._route(method, path, query, body, login)
            except _ReplyError as reply:
                status, payload = reply.status, reply.body
            self._requests.append(GitHubRequest(method, path, query, body, login, status))
        return status, payload

    def _route(
        self, method: str, path: str, query: Mapping[str, list[str]], body: Any, login: str
    ) -> tuple[int, Any]:
        match = _REPO_PATH.fullmatch(path)
        repo = None
        if match is not None:
            repo = self._repos.get(f"{match['owner']}/{match['repo']}".lower())
        if match is None or repo is None:
            raise _fail(404, "Not Found")
        rest = match["rest"] or ""
        if rest == "/pulls":
            if method == "GET":
                return 200, self._list(repo, query)
            if method == "POST":
                return 201, self._create(repo, _object(body), login)
        elif (pulled := _PULL.fullmatch(rest)) is not None:
            pull = repo.pulls.get(int(pulled["n"]))
            if pull is None:
                raise _fail(404, "Not Found")
            if pulled["merge"] and method == "PUT":
                data = _object(body)
                sha = self._merge(
                    repo,
                    pull,
                    str(data.get("merge_method") or "merge"),
                    data.get("sha"),
                    data.get("commit_title"),
                )
                return 200, {
                    "sha": sha,
                    "merged": True,
                    "message": "Pull Request successfully merged",
                }
            if not pulled["merge"] and method == "GET":
                return 200, self._json(repo, pull)
            if not pulled["merge"] and method == "PATCH":
                self._patch(pull, _object(body))
                return 200, self._json(repo, pull)
        elif (labelled := _LABELS.fullmatch(rest)) is not None and method == "POST":
            pull = repo.pulls.get(int(labelled["n"]))
            if pull is None:
                raise _fail(404, "Not Found")
            labels = _object(body).get("labels")
            if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
                raise _fail(422, "Invalid request.", [{"field": "labels", "code": "invalid"}])
            pull.labels = list(dict.fromkeys([*pull.labels, *labels]))
            return 200, [{"name": name} for name in pull.labels]
        elif (commit := _COMMIT.fullmatch(rest)) is not None and method == "GET":
            return 200, self._commit(repo, commit["ref"])
        else:
            raise _fail(404, "Not Found")
        raise _fail(404, "Not Found")

    def _list(self, repo: _Repo, query: Mapping[str, list[str]]) -> list[dict[str, Any]]:
        state = (query.get("state") or ["open"])[0]
        head = (query.get("head") or [""])[0]
        base = (query.get("base") or [""])[0]
        found = []
        for pull in repo.pulls.values():
            if state not in ("all", pull.state):
                continue
            if head:
                owner, sep, ref = head.rpartition(":")
                if (sep and owner.lower() != repo.owner.lower()) or ref != pull.head:
                    continue
            if base and base != pull.base:
                continue
            found.append(self._json(repo, pull))
        return found

    def _create(self, repo: _Repo, data: Mapping[str, Any], login: str) -> dict[str, Any]:
        missing = [k for k in ("title", "head", "base") if not isinstance(data.get(k), str)]
        if missing:
            errors = [
                {"resource": "PullRequest", "field": k, "code": "missing_field"} for k in missing
            ]
            raise _fail(422, "Validation Failed", errors)
        head, base = str(data["head"]), str(data["base"])
        if ":" in head:
            owner, _, head = head.partition(":")
            if owner.lower() != repo.owner.lower():
                raise _fail(422, "Validation Failed", [{"field": "head", "code": "invalid"}])
        for key, branch in (("base", base), ("head", head)):
            if self._tip(repo, branch) is None:
                raise _fail(
                    422,
                    "Validation Failed",
                    [{"resource": "PullRequest", "field": key, "code": "invalid"}],
                )
        for pull in repo.pulls.values():
            if pull.state == "open" and pull.head == head and pull.base == base:
                message = f"A pull request already exists for {repo.owner}:{head}."
                raise _fail(
                    422,
                    "Validation Failed",
                    [{"resource": "PullRequest", "code": "custom", "message": message}],
                )
        if repo.git_dir is not None:
            ahead = self._git(
                repo.git_dir, "rev-list", "--count", f"refs/heads/{base}..refs/heads/{head}"
            )
            if ahead.returncode == 0 and ahead.stdout.strip() == b"0":
                message = f"No commits between {base} and {head}"
                raise _fail(
                    422,
                    "Validation Failed",
                    [{"resource": "PullRequest", "code": "custom", "message": message}],
                )
        body = data.get("body")
        pull = _Pull(
            number=repo.next_number,
            title=str(data["title"]),
            body=body if isinstance(body, str) else None,
            head=head,
            base=base,
            user=login,
            created_at=_now(),
        )
        repo.pulls[pull.number] = pull
        repo.next_number += 1
        return self._json(repo, pull)

    @staticmethod
    def _patch(pull: _Pull, data: Mapping[str, Any]) -> None:
        state = data.get("state")
        if state is not None:
            if state not in ("open", "closed"):
                raise _fail(422, "Validation Failed", [{"field": "state", "code": "invalid"}])
            if not pull.merged:
                pull.state = str(state)
                pull.closed_at = _now() if state == "closed" else None
        if isinstance(data.get("title"), str):
            pull.title = str(data["title"])
        if "body" in data:
            pull.body = data["body"] if isinstance(data["body"], str) else None

    def _commit(self, repo: _Repo, ref: str) -> dict[str, Any]:
        if repo.git_dir is None:
            raise _fail(422, f"No commit found for SHA: {ref}")
        done = self._git(repo.git_dir, "log", "-1", "--format=%H%x00%B", ref, "--")
        if done.returncode != 0:
            raise _fail(422, f"No commit found for SHA: {ref}")
        sha, _, message = done.stdout.decode("utf-8", "replace").partition("\x00")
        return {"sha": sha.strip(), "commit": {"message": message.strip()}}


def _object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise _fail(400, "Problems parsing JSON")
    return body


class _Handler(QuietHandler):
    server_version = "github-double/1"

    def _serve(self) -> None:
        app = self.app
        assert isinstance(app, GitHubDouble)  # noqa: S101 - narrows the type for mypy
        length_text = self.headers.get("Content-Length", "0").strip() or "0"
        if not length_text.isdigit() or int(length_text) > _MAX_BODY:
            self._send(413, {"message": "Request body too large"})
            self.close_connection = True
            return
        raw = self.rfile.read(int(length_text)) if int(length_text) else b""
        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                self._send(400, {"message": "Problems parsing JSON"})
                return
        status, payload = app.handle(self.command, self.path, body, self.headers["Authorization"])
        self._send(status, payload)

    def _send(self, status: int, payload: Any) -> None:
        data = b"" if payload is None else json.dumps(payload).encode()
        self.send_response(status)
        if data:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = _serve  # noqa: N815
