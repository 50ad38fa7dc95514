"""A real git smart-HTTP server for tests and the demo: ``git http-backend`` behind Basic auth.

``GitServer`` runs a threaded standard-library HTTP server on 127.0.0.1:<random port> (optionally
HTTPS with a throw-away CA) and runs ``git http-backend`` as a CGI program for every request.
Anonymous requests get 401 with a ``WWW-Authenticate: Basic`` challenge unless the server is made
with ``allow_anonymous=True``. Request bodies are streamed to the CGI (chunked transfer-encoding
from git clients is decoded here; gzip content-encoding is left to ``http-backend``), and responses
are streamed back. Every request is recorded (method, repo, kind, status, user) so tests can
count fetches and pushes.

Repository helpers (``create_repo``, ``commit_files``, ``log``, ``read_file``...) work on the bare
repositories directly with the real git binary; they never go through HTTP and are not counted.
Credentials never go into URLs: ``client_env`` gives a git client a credential store in a private
HOME instead.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hmac
import io
import logging
import os
import re
import shutil
import subprocess
import tempfile
import threading
import urllib.parse
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from types import TracebackType
from typing import IO, Self, cast

from shunter_devenv.localhttp import (
    LocalHTTPServer,
    QuietHandler,
    RequestBodyError,
    discard_request_body,
    has_request_body,
    iter_request_body,
    write_chunk,
    write_last_chunk,
)
from shunter_devenv.selfsigned import TLSFiles, server_ssl_context, write_server_tls

__all__ = [
    "DEFAULT_USERS",
    "TEST_AUTHOR_EMAIL",
    "TEST_AUTHOR_NAME",
    "GitRequest",
    "GitRequestKind",
    "GitServer",
    "GitServerError",
    "TreeEntry",
]

_log = logging.getLogger(__name__)

DEFAULT_USERS: Mapping[str, str] = {"shunter": "shunter-test-password"}
TEST_AUTHOR_NAME = "Shunter Test"
TEST_AUTHOR_EMAIL = "test@shunter.invalid"

_CHUNK = 64 * 1024
_MAX_CGI_HEADER_LINE = 8 * 1024
_MAX_STDERR = 64 * 1024
_REPO_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*(/[A-Za-z0-9_][A-Za-z0-9._-]*)*")


class GitServerError(RuntimeError):
    """A git command run by the server's helpers failed."""


class GitRequestKind(StrEnum):
    """What a smart-HTTP request was for."""

    ADVERTISE_UPLOAD_PACK = "info-refs-upload-pack"  # GET info/refs?service=git-upload-pack
    ADVERTISE_RECEIVE_PACK = "info-refs-receive-pack"  # GET info/refs?service=git-receive-pack
    UPLOAD_PACK = "upload-pack"  # POST git-upload-pack (ls-refs and fetch)
    RECEIVE_PACK = "receive-pack"  # POST git-receive-pack (a push)
    OTHER = "other"  # dumb-protocol files and anything else


@dataclass(frozen=True)
class TreeEntry:
    """One entry of a tree for :meth:`GitServer.commit_entries`: a mode and a blob or an id."""

    mode: str
    content: bytes = b""
    oid: str | None = None

    @classmethod
    def file(cls, content: str | bytes, *, executable: bool = False) -> TreeEntry:
        data = content.encode() if isinstance(content, str) else content
        return cls("100755" if executable else "100644", data)

    @classmethod
    def symlink(cls, target: str) -> TreeEntry:
        """A symbolic link to ``target`` (any path, inside the repository or not)."""
        return cls("120000", target.encode())

    @classmethod
    def gitlink(cls, commit: str) -> TreeEntry:
        """A submodule entry pinned at ``commit`` (pair it with a ``.gitmodules`` file)."""
        return cls("160000", oid=commit)


@dataclass
class GitRequest:
    """One request the server answered (``response_bytes`` grows while the body is sent)."""

    method: str
    repo: str
    kind: GitRequestKind
    status: int
    user: str | None
    chunked: bool = False  # the request body came with chunked transfer-encoding
    content_encoding: str | None = None  # e.g. "gzip" for compressed fetch negotiations
    response_bytes: int = 0  # body bytes sent so far (a clone's pack makes this large)


def _classify(path_info: str, query: str) -> tuple[str, GitRequestKind]:
    service = urllib.parse.parse_qs(query).get("service", [""])[0]
    suffixes = (
        ("/info/refs", None),
        ("/git-upload-pack", GitRequestKind.UPLOAD_PACK),
        ("/git-receive-pack", GitRequestKind.RECEIVE_PACK),
    )
    for suffix, fixed_kind in suffixes:
        if path_info.endswith(suffix):
            repo = path_info[: -len(suffix)]
            kind = fixed_kind or {
                "git-upload-pack": GitRequestKind.ADVERTISE_UPLOAD_PACK,
                "git-receive-pack": GitRequestKind.ADVERTISE_RECEIVE_PACK,
            }.get(service, GitRequestKind.OTHER)
            break
    else:
        repo, kind = path_info, GitRequestKind.OTHER
        marker = repo.find(".git/")
        if marker >= 0:
            repo = repo[: marker + 4]
    repo = repo.strip("/").removesuffix(".git")
    return repo, kind


class _GitHandler(QuietHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._serve()

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        self._serve()

    def _serve(self) -> None:
        server = self.app
        assert isinstance(server, GitServer)  # noqa: S101 - narrows the type for mypy
        server._serve(self)


class GitServer:
    """A git smart-HTTP(S) server on 127.0.0.1:<random port>; use as a context manager."""

    def __init__(
        self,
        *,
        users: Mapping[str, str] | None = None,
        tls: bool = False,
        allow_anonymous: bool = False,
        workdir: Path | None = None,
        realm: str = "shunter-test-git",
    ) -> None:
        self.users: dict[str, str] = dict(DEFAULT_USERS if users is None else users)
        self.tls = tls
        self.allow_anonymous = allow_anonymous
        self.realm = realm
        self._given_workdir = workdir
        self._workdir: Path | None = None
        self._tls_files: TLSFiles | None = None
        self._http: LocalHTTPServer | None = None
        self._lock = threading.Lock()
        self._requests: list[GitRequest] = []

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> Self:
        if self._http is not None:
            raise RuntimeError("the git server is already running")
        if self._given_workdir is not None:
            self._given_workdir.mkdir(parents=True, exist_ok=True)
            workdir = self._given_workdir
        else:
            workdir = Path(tempfile.mkdtemp(prefix="shunter-git-"))
        self._workdir = workdir
        (workdir / "repos").mkdir(exist_ok=True)
        (workdir / "home").mkdir(exist_ok=True)
        ssl_context = None
        if self.tls:
            self._tls_files = write_server_tls(workdir / "tls", "shunter devenv git server")
            ssl_context = server_ssl_context(self._tls_files)
        http = LocalHTTPServer(_GitHandler, self, ssl_context=ssl_context, name="git-server")
        http.start()
        self._http = http
        return self

    def stop(self) -> None:
        http, self._http = self._http, None
        if http is not None:
            http.stop()
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

    # -- addresses -------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """``http(s)://127.0.0.1:<port>``."""
        if self._http is None:
            raise RuntimeError("the git server is not running")
        return self._http.base_url

    @property
    def ca_file(self) -> Path | None:
        """The PEM CA bundle clients must trust in HTTPS mode (None over plain HTTP)."""
        return None if self._tls_files is None else self._tls_files.ca_file

    @property
    def root(self) -> Path:
        """The directory holding the bare repositories (``GIT_PROJECT_ROOT``)."""
        if self._workdir is None:
            raise RuntimeError("the git server is not running")
        return self._workdir / "repos"

    @property
    def _home(self) -> Path:
        if self._workdir is None:
            raise RuntimeError("the git server is not running")
        return self._workdir / "home"

    @staticmethod
    def _normalise(name: str) -> str:
        name = name.strip("/").removesuffix(".git")
        if not _REPO_NAME.fullmatch(name) or ".." in name:
            raise ValueError(f"invalid repository name {name!r}")
        return name

    def url(self, name: str) -> str:
        """The clone URL of repository ``name`` (no credentials in it)."""
        return f"{self.base_url}/{self._normalise(name)}.git"

    def repo_path(self, name: str) -> Path:
        """The bare repository's directory."""
        return self.root / f"{self._normalise(name)}.git"

    def refs(self, name: str) -> str:
        """``git for-each-ref`` of repository ``name``: every ref and the commit it names."""
        return subprocess.run(
            ["git", "--git-dir", str(self.repo_path(name)), "for-each-ref"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    # -- the CGI bridge --------------------------------------------------------------------

    def _authenticate(self, header: str | None) -> tuple[bool, str | None]:
        """(allowed, user) for an Authorization header."""
        if header and header[:6].lower() == "basic ":
            try:
                decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                return False, None
            user, _, password = decoded.partition(":")
            expected = self.users.get(user)
            if expected is not None and hmac.compare_digest(
                expected.encode("utf-8"), password.encode("utf-8")
            ):
                return True, user
            return False, None
        return self.allow_anonymous, None

    def _record(self, request: GitRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def _cgi_env(
        self, handler: _GitHandler, path_info: str, query: str, user: str | None
    ) -> dict[str, str]:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self._home),
            "LANG": "C",
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_PROJECT_ROOT": str(self.root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "GATEWAY_INTERFACE": "CGI/1.1",
            "SERVER_SOFTWARE": handler.server_version,
            "SERVER_PROTOCOL": handler.request_version,
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": str(self._port()),
            "REQUEST_METHOD": handler.command,
            "PATH_INFO": path_info,
            "QUERY_STRING": query,
            "REMOTE_ADDR": str(handler.client_address[0]),
        }
        if user is not None:
            env["REMOTE_USER"] = user
            env["AUTH_TYPE"] = "Basic"
        headers = handler.headers
        if content_type := headers.get("Content-Type"):
            env["CONTENT_TYPE"] = content_type
        chunked = "chunked" in headers.get("Transfer-Encoding", "").lower()
        if not chunked and (length := headers.get("Content-Length")):
            env["CONTENT_LENGTH"] = length.strip()
        if protocol := headers.get("Git-Protocol"):
            env["GIT_PROTOCOL"] = protocol
            env["HTTP_GIT_PROTOCOL"] = protocol
        if encoding := headers.get("Content-Encoding"):
            env["HTTP_CONTENT_ENCODING"] = encoding
        return env

    def _serve(self, handler: _GitHandler) -> None:
        split = urllib.parse.urlsplit(handler.path)
        path_info = urllib.parse.unquote(split.path)
        repo, kind = _classify(path_info, split.query)
        allowed, user = self._authenticate(handler.headers.get("Authorization"))
        if not allowed:
            self._record(GitRequest(handler.command, repo, kind, 401, None))
            discard_request_body(handler)
            body = b"Authentication required\n"
            handler.send_response(401, "Unauthorized")
            handler.send_header("WWW-Authenticate", f'Basic realm="{self.realm}", charset="UTF-8"')
            handler.send_header("Content-Type", "text/plain; charset=utf-8")
            handler.send_header("Content-Length", str(len(body)))
            if handler.close_connection:
                handler.send_header("Connection", "close")
            handler.end_headers()
            handler.wfile.write(body)
            return
        chunked = "chunked" in handler.headers.get("Transfer-Encoding", "").lower()
        encoding = handler.headers.get("Content-Encoding")

        def record(status: int) -> GitRequest:
            # Recorded before the response goes out, so a client that has its answer can count.
            request = GitRequest(handler.command, repo, kind, status, user, chunked, encoding)
            self._record(request)
            return request

        self._run_backend(handler, self._cgi_env(handler, path_info, split.query, user), record)

    def _run_backend(
        self, handler: _GitHandler, env: dict[str, str], record: Callable[[int], GitRequest]
    ) -> None:
        with_body = has_request_body(handler)
        proc = subprocess.Popen(
            ["git", "http-backend"],
            env=env,
            stdin=subprocess.PIPE if with_body else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=self._home,
        )
        assert proc.stdout is not None  # noqa: S101 - set by stdout=PIPE
        assert proc.stderr is not None  # noqa: S101 - set by stderr=PIPE
        stderr = bytearray()
        threads = [threading.Thread(target=_drain, args=(proc.stderr, stderr), daemon=True)]
        if proc.stdin is not None:
            threads.append(threading.Thread(target=_feed, args=(handler, proc.stdin), daemon=True))
        for thread in threads:
            thread.start()
        try:
            _relay_cgi_response(handler, proc.stdout, record)
        except OSError:
            # The client went away mid-response: stop the backend, drop the connection.
            handler.close_connection = True
            proc.kill()
        finally:
            for thread in threads:
                thread.join(timeout=60)
            proc.stdout.close()
            returncode = proc.wait()
        if returncode != 0:
            _log.debug(
                "git http-backend exited %s: %s", returncode, stderr.decode("utf-8", "replace")
            )

    # -- requests seen ---------------------------------------------------------------------

    @property
    def requests(self) -> list[GitRequest]:
        """A snapshot of every request answered so far, oldest first."""
        with self._lock:
            return list(self._requests)

    def request_count(
        self,
        kind: GitRequestKind | str | None = None,
        *,
        method: str | None = None,
        repo: str | None = None,
        status: int | None = None,
    ) -> int:
        """How many recorded requests match all the given filters (401s included)."""
        wanted_repo = None if repo is None else self._normalise(repo)
        return sum(
            1
            for r in self.requests
            if (kind is None or r.kind == kind)
            and (method is None or r.method == method.upper())
            and (wanted_repo is None or r.repo == wanted_repo)
            and (status is None or r.status == status)
        )

    def response_bytes(
        self, kind: GitRequestKind | str | None = None, *, repo: str | None = None
    ) -> int:
        """Body bytes sent in answer to the requests matching the filters (clones are big)."""
        wanted_repo = None if repo is None else self._normalise(repo)
        return sum(
            r.response_bytes
            for r in self.requests
            if (kind is None or r.kind == kind) and (wanted_repo is None or r.repo == wanted_repo)
        )

    def request_counts(self) -> Counter[tuple[str, str]]:
        """Counts per ``(method, kind)``."""
        return Counter((r.method, r.kind.value) for r in self.requests)

    def reset_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    # -- repository helpers (local, not over HTTP) -----------------------------------------

    def _git_env(self) -> dict[str, str]:
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self._home),
            "LANG": "C",
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_AUTHOR_NAME": TEST_AUTHOR_NAME,
            "GIT_AUTHOR_EMAIL": TEST_AUTHOR_EMAIL,
            "GIT_COMMITTER_NAME": TEST_AUTHOR_NAME,
            "GIT_COMMITTER_EMAIL": TEST_AUTHOR_EMAIL,
        }

    def _git(self, *args: str | Path, cwd: Path | None = None) -> bytes:
        argv = ["git", *(str(a) for a in args)]
        result = subprocess.run(
            argv, env=self._git_env(), cwd=cwd or self._home, capture_output=True, check=False
        )
        if result.returncode != 0:
            raise GitServerError(
                f"{' '.join(argv[:3])} failed ({result.returncode}): "
                f"{result.stderr.decode('utf-8', 'replace').strip()}"
            )
        return result.stdout

    def create_bare_repo(self, name: str, default_branch: str = "main") -> str:
        """Create an empty bare repository that accepts pushes; return its URL."""
        path = self.repo_path(name)
        if path.exists():
            raise GitServerError(f"repository {self._normalise(name)!r} already exists")
        path.parent.mkdir(parents=True, exist_ok=True)
        self._git("init", "--quiet", "--bare", f"--initial-branch={default_branch}", path)
        settings = {
            "http.receivepack": "true",
            "uploadpack.allowFilter": "true",
            "uploadpack.allowReachableSHA1InWant": "true",
            "receive.autogc": "false",
            "gc.auto": "0",
        }
        for key, value in settings.items():
            self._git("--git-dir", path, "config", key, value)
        return self.url(name)

    def create_repo(
        self,
        name: str,
        files: Mapping[str, str | bytes],
        branch: str = "main",
        message: str = "Initial commit",
    ) -> str:
        """Create a bare repository whose ``branch`` holds one commit with ``files``; return URL."""
        url = self.create_bare_repo(name, default_branch=branch)
        self.commit_files(name, files, branch=branch, message=message)
        return url

    def commit_files(
        self,
        name: str,
        files: Mapping[str, str | bytes],
        *,
        branch: str = "main",
        message: str = "Update files",
        delete: Iterable[str] = (),
        base: str | None = None,
    ) -> str:
        """Commit ``files`` (path -> content) to ``branch`` and push it; return the new sha.

        A missing branch starts from ``base`` (a branch name), or from the default branch, or as
        an orphan in an empty repository.
        """
        bare = self.repo_path(name)
        if not bare.is_dir():
            raise GitServerError(f"repository {self._normalise(name)!r} does not exist")
        with tempfile.TemporaryDirectory(prefix="commit-", dir=self._home) as tmp:
            work = Path(tmp) / "work"
            self._git("clone", "--quiet", "--no-checkout", bare, work)
            remote_branches = set(self.branches(name))
            if branch in remote_branches:
                self._git("checkout", "--quiet", "-B", branch, f"origin/{branch}", cwd=work)
            elif base is not None:
                self._git("checkout", "--quiet", "-B", branch, f"origin/{base}", cwd=work)
            elif remote_branches:
                self._git("checkout", "--quiet", "-B", branch, cwd=work)
            else:
                self._git("symbolic-ref", "HEAD", f"refs/heads/{branch}", cwd=work)
            for rel in delete:
                target = _inside(work, rel)
                if target.exists():
                    target.unlink()
            for rel, content in files.items():
                target = _inside(work, rel)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(content.encode() if isinstance(content, str) else content)
            self._git("add", "--all", cwd=work)
            self._git("commit", "--quiet", "--allow-empty", "-m", message, cwd=work)
            self._git("push", "--quiet", "origin", f"HEAD:refs/heads/{branch}", cwd=work)
            return self._git("rev-parse", "HEAD", cwd=work).decode().strip()

    def commit_entries(
        self,
        name: str,
        entries: Mapping[str, TreeEntry],
        *,
        branch: str = "main",
        message: str = "Update entries",
    ) -> str:
        """Commit raw tree entries to ``branch`` (on top of its tip, if any); return the sha.

        Unlike :meth:`commit_files`, nothing is checked out: any entry git can store is
        committed as given, e.g. a symbolic link to ``/etc`` (:meth:`TreeEntry.symlink`) or a
        submodule (:meth:`TreeEntry.gitlink`) - what a hostile repository holds.
        """
        bare = self.repo_path(name)
        if not bare.is_dir():
            raise GitServerError(f"repository {self._normalise(name)!r} does not exist")
        with tempfile.TemporaryDirectory(prefix="index-", dir=self._home) as tmp:
            env = {**self._git_env(), "GIT_INDEX_FILE": str(Path(tmp) / "index")}

            def git(*args: str, data: bytes | None = None) -> str:
                result = subprocess.run(
                    ["git", "--git-dir", str(bare), *args],
                    env=env,
                    input=data,
                    capture_output=True,
                    check=False,
                )
                if result.returncode != 0:
                    raise GitServerError(
                        f"git {args[0]} failed: {result.stderr.decode('utf-8', 'replace')}"
                    )
                return result.stdout.decode().strip()

            parent = branch in self.branches(name)
            if parent:
                git("read-tree", f"refs/heads/{branch}")
            for path, entry in entries.items():
                oid = entry.oid or git("hash-object", "-w", "--stdin", data=entry.content)
                git("update-index", "--add", "--cacheinfo", f"{entry.mode},{oid},{path}")
            tree = git("write-tree")
            args = ["commit-tree", tree, "-m", message]
            if parent:
                args += ["-p", f"refs/heads/{branch}"]
            sha = git(*args)
            git("update-ref", f"refs/heads/{branch}", sha)
            return sha

    def create_tag(self, name: str, tag: str, rev: str = "main", message: str | None = None) -> str:
        """Create tag ``tag`` at ``rev`` (annotated when ``message`` is given); return its sha."""
        bare = self.repo_path(name)
        if message is None:
            self._git("--git-dir", bare, "tag", tag, rev)
        else:
            self._git("--git-dir", bare, "tag", "-a", "-m", message, tag, rev)
        return self._git("--git-dir", bare, "rev-parse", f"refs/tags/{tag}").decode().strip()

    def branches(self, name: str) -> list[str]:
        out = self._git(
            "--git-dir", self.repo_path(name), "for-each-ref", "--format=%(refname:short)",
            "refs/heads/",
        )  # fmt: skip
        return [line for line in out.decode().splitlines() if line]

    def head(self, name: str, branch: str = "main") -> str:
        """The sha ``branch`` points at."""
        out = self._git("--git-dir", self.repo_path(name), "rev-parse", f"refs/heads/{branch}")
        return out.decode().strip()

    def log(self, name: str, branch: str = "main") -> list[tuple[str, str]]:
        """``(sha, subject)`` of every commit on ``branch``, newest first."""
        out = self._git(
            "--git-dir", self.repo_path(name), "log", "--format=%H%x1f%s", f"refs/heads/{branch}",
            "--",
        )  # fmt: skip
        entries = []
        for line in out.decode("utf-8", "replace").splitlines():
            sha, _, subject = line.partition("\x1f")
            entries.append((sha, subject))
        return entries

    def read_file(self, name: str, branch: str, path: str) -> bytes:
        """The content of ``path`` at the tip of ``branch``."""
        return self._git(
            "--git-dir", self.repo_path(name), "cat-file", "blob", f"refs/heads/{branch}:{path}"
        )

    # -- client side -----------------------------------------------------------------------

    def client_env(self, home: Path, username: str | None = None) -> dict[str, str]:
        """Prepare ``home`` for a git client of this server and return its environment.

        Writes a ``.gitconfig`` (credential store, the CA in HTTPS mode, the test identity) and
        a ``.git-credentials`` file (mode 0600) for ``username`` (default: the first user). The
        returned env has HOME, PATH, GIT_CONFIG_NOSYSTEM=1 and GIT_TERMINAL_PROMPT=0.
        """
        user = username if username is not None else next(iter(self.users))
        password = self.users[user]
        home.mkdir(parents=True, exist_ok=True)
        store = home / ".git-credentials"
        store.touch(mode=0o600)
        quote = urllib.parse.quote
        store.write_text(
            f"{self._http_scheme()}://{quote(user, safe='')}:{quote(password, safe='')}"
            f"@127.0.0.1:{self._port()}\n",
            encoding="utf-8",
        )
        lines = [
            "[credential]",
            f"\thelper = store --file='{store}'",
            "[user]",
            f"\tname = {TEST_AUTHOR_NAME}",
            f"\temail = {TEST_AUTHOR_EMAIL}",
            "[init]",
            "\tdefaultBranch = main",
        ]
        if self.ca_file is not None:
            lines += ["[http]", f"\tsslCAInfo = {self.ca_file}"]
        (home / ".gitconfig").write_text("\n".join(lines) + "\n", encoding="utf-8")
        return {
            "HOME": str(home),
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C",
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_TERMINAL_PROMPT": "0",
        }

    def _http_scheme(self) -> str:
        return "https" if self.tls else "http"

    def _port(self) -> int:
        if self._http is None:
            raise RuntimeError("the git server is not running")
        return self._http.port


def _inside(work: Path, rel: str) -> Path:
    target = (work / rel).resolve()
    if not target.is_relative_to(work.resolve()) or ".git" in Path(rel).parts:
        raise ValueError(f"path {rel!r} escapes the work tree")
    return target


def _drain(stream: IO[bytes], into: bytearray) -> None:
    for data in iter(lambda: stream.read(_CHUNK), b""):
        if len(into) < _MAX_STDERR:
            into.extend(data[: _MAX_STDERR - len(into)])
    stream.close()


def _feed(handler: _GitHandler, stdin: IO[bytes]) -> None:
    try:
        for data in iter_request_body(handler):
            stdin.write(data)
    except (OSError, RequestBodyError):
        # The backend stopped reading or the client sent a broken body: the rest of the body
        # is unread, so this connection cannot carry another request.
        handler.close_connection = True
    finally:
        with contextlib.suppress(OSError):
            stdin.close()


def _relay_cgi_response(
    handler: _GitHandler, stdout: IO[bytes], record: Callable[[int], GitRequest]
) -> None:
    """Turn the CGI output (headers, blank line, body) into the HTTP response."""
    status, reason = 200, "OK"
    headers: list[tuple[str, str]] = []
    saw_header = False
    while True:
        line = stdout.readline(_MAX_CGI_HEADER_LINE)
        if not line:
            break
        line = line.rstrip(b"\r\n")
        if not line:
            saw_header = True
            break
        name, _, value = line.decode("latin-1").partition(":")
        value = value.strip()
        if name.lower() == "status":
            code, _, reason = value.partition(" ")
            status = int(code)
        else:
            headers.append((name, value))
    if not saw_header:
        status, reason, headers = 502, "Bad Gateway", [("Content-Length", "0")]
    request = record(status)
    handler.send_response(status, reason or None)
    has_length = any(name.lower() == "content-length" for name, _ in headers)
    for name, value in headers:
        handler.send_header(name, value)
    chunked = False
    if not has_length:
        if handler.request_version >= "HTTP/1.1":
            chunked = True
            handler.send_header("Transfer-Encoding", "chunked")
        else:
            handler.close_connection = True
    if handler.close_connection:
        handler.send_header("Connection", "close")
    handler.end_headers()
    reader = cast(io.BufferedReader, stdout)
    while data := reader.read1(_CHUNK):
        request.response_bytes += len(data)  # counted before the client can have it
        if chunked:
            write_chunk(handler.wfile, data)
        else:
            handler.wfile.write(data)
    if chunked:
        write_last_chunk(handler.wfile)
