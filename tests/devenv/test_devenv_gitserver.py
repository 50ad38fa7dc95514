"""The git smart-HTTP server: real git clients clone, push and pull through it with Basic auth."""

from __future__ import annotations

import os
import ssl
import subprocess
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from shunter_devenv.gitserver import (
    TEST_AUTHOR_EMAIL,
    GitRequestKind,
    GitServer,
    GitServerError,
)

EnvFactory = Callable[[Path], dict[str, str]]
AskpassFactory = Callable[[Path, str, str], dict[str, str]]
GitRunner = Callable[..., subprocess.CompletedProcess[str]]


def test_clone_push_pull_with_a_credential_store(
    git_server: GitServer,
    repo_name: str,
    tmp_path: Path,
    run_git: GitRunner,
) -> None:
    url = git_server.create_repo(
        repo_name, {"README.md": "hello\n", "env/dev/values.yaml": "a: 1\n"}
    )
    assert url == f"{git_server.base_url}/{repo_name}.git"
    env = git_server.client_env(tmp_path / "home", "alice")

    first, second = tmp_path / "first", tmp_path / "second"
    run_git("clone", url, str(first), env=env)
    run_git("clone", url, str(second), env=env)
    assert (first / "env/dev/values.yaml").read_text() == "a: 1\n"

    (first / "env/dev/values.yaml").write_text("a: 2\n")
    run_git("commit", "-qam", "Bump a", env=env, cwd=first)
    run_git("push", "origin", "main", env=env, cwd=first)

    assert git_server.log(repo_name, "main")[0][1] == "Bump a"
    assert git_server.read_file(repo_name, "main", "env/dev/values.yaml") == b"a: 2\n"

    run_git("pull", "--ff-only", env=env, cwd=second)
    assert (second / "env/dev/values.yaml").read_text() == "a: 2\n"

    pushes = git_server.request_count(GitRequestKind.RECEIVE_PACK, repo=repo_name, status=200)
    assert pushes == 1
    users = {r.user for r in git_server.requests if r.repo == repo_name and r.status == 200}
    assert users == {"alice"}
    # The credentials never end up in the clone's configuration.
    assert git_server.users["alice"] not in (first / ".git/config").read_text()


def test_clone_and_push_with_git_askpass(
    git_server: GitServer,
    repo_name: str,
    tmp_path: Path,
    run_git: GitRunner,
    make_askpass_env: AskpassFactory,
) -> None:
    url = git_server.create_repo(repo_name, {"a.txt": "1"})
    # A password with a colon and spaces: Basic auth splits on the first colon only.
    env = make_askpass_env(tmp_path / "home", "bob", git_server.users["bob"])
    work = tmp_path / "work"
    run_git("clone", url, str(work), env=env)
    (work / "b.txt").write_text("2")
    run_git("add", "b.txt", env=env, cwd=work)
    run_git("commit", "-qm", "Add b", env=env, cwd=work)
    run_git("push", "origin", "HEAD:refs/heads/feature", env=env, cwd=work)
    assert git_server.read_file(repo_name, "feature", "b.txt") == b"2"
    assert sorted(git_server.branches(repo_name)) == ["feature", "main"]


def test_anonymous_requests_get_a_basic_challenge(
    git_server: GitServer,
    repo_name: str,
    tmp_path: Path,
    run_git: GitRunner,
    make_bare_env: EnvFactory,
) -> None:
    url = git_server.create_repo(repo_name, {"a.txt": "1"})
    response = httpx.get(f"{url}/info/refs", params={"service": "git-upload-pack"})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith('Basic realm="shunter-test-git"')

    result = run_git(
        "clone", url, str(tmp_path / "clone"), env=make_bare_env(tmp_path), check=False
    )
    assert result.returncode != 0
    assert not (tmp_path / "clone" / "a.txt").exists()
    assert git_server.request_count(repo=repo_name, status=200) == 0
    assert git_server.request_count(repo=repo_name, status=401) >= 2


def test_wrong_password_is_refused(
    git_server: GitServer,
    repo_name: str,
    tmp_path: Path,
    run_git: GitRunner,
    make_askpass_env: AskpassFactory,
) -> None:
    url = git_server.create_repo(repo_name, {"a.txt": "1"})
    env = make_askpass_env(tmp_path / "home", "alice", "not-the-password")
    result = run_git("ls-remote", url, env=env, check=False)
    assert result.returncode != 0
    assert "Authentication failed" in result.stderr
    assert "not-the-password" not in result.stderr
    unknown_user = httpx.get(f"{url}/info/refs?service=git-upload-pack", auth=("mallory", "x"))
    assert unknown_user.status_code == 401
    assert git_server.request_count(repo=repo_name, status=200) == 0


def test_twenty_concurrent_pushes_to_twenty_branches_all_land(
    git_server: GitServer, repo_name: str, tmp_path: Path, run_git: GitRunner
) -> None:
    url = git_server.create_repo(repo_name, {"base.txt": "base\n"})
    env = git_server.client_env(tmp_path / "home", "alice")
    count = 20
    for i in range(count):
        run_git("clone", "--quiet", url, str(tmp_path / f"w{i}"), env=env)
        work = tmp_path / f"w{i}"
        (work / f"file-{i}.txt").write_text(f"{i}\n")
        run_git("add", ".", env=env, cwd=work)
        run_git("commit", "-qm", f"Change {i}", env=env, cwd=work)
    git_server.reset_requests()
    start = threading.Barrier(count)

    def push(i: int) -> int:
        start.wait(timeout=30)
        work = tmp_path / f"w{i}"
        return run_git(
            "push", "origin", f"HEAD:refs/heads/b{i}", env=env, cwd=work, check=False
        ).returncode

    with ThreadPoolExecutor(max_workers=count) as pool:
        codes = list(pool.map(push, range(count)))

    assert codes == [0] * count
    assert len(git_server.branches(repo_name)) == count + 1
    for i in range(count):
        assert git_server.log(repo_name, f"b{i}")[0][1] == f"Change {i}"
        assert git_server.read_file(repo_name, f"b{i}", f"file-{i}.txt") == f"{i}\n".encode()
    assert (
        git_server.request_count(GitRequestKind.RECEIVE_PACK, repo=repo_name, status=200) == count
    )


def test_large_pushes_are_chunked_and_big_negotiations_gzipped(
    git_server: GitServer, repo_name: str, tmp_path: Path, run_git: GitRunner
) -> None:
    url = git_server.create_repo(repo_name, {"a.txt": "1"})
    env = git_server.client_env(tmp_path / "home", "alice")
    work = tmp_path / "work"
    run_git("clone", "--quiet", url, str(work), env=env)
    big = os.urandom(3 * 1024 * 1024)  # more than git's 1 MiB http.postBuffer
    (work / "big.bin").write_bytes(big)
    run_git("add", "big.bin", env=env, cwd=work)
    run_git("commit", "-qm", "Big", env=env, cwd=work)
    run_git("push", "origin", "main", env=env, cwd=work)
    assert git_server.read_file(repo_name, "main", "big.bin") == big
    pushes = [r for r in git_server.requests if r.repo == repo_name and r.kind == "receive-pack"]
    # git first probes with a tiny body, then streams the pack with chunked transfer-encoding.
    assert [(r.status, r.chunked) for r in pushes][-1] == (200, True)

    # A fetch that wants many refs sends a request body over 1 KiB: git gzips it.
    for i in range(30):
        git_server.commit_files(repo_name, {f"f{i}": str(i)}, branch=f"b{i:02d}", base="main")
    run_git("clone", "--quiet", "--mirror", url, str(tmp_path / "mirror"), env=env)
    encodings = {r.content_encoding for r in git_server.requests if r.repo == repo_name}
    assert "gzip" in encodings
    assert len(run_git("branch", "--list", env=env, cwd=tmp_path / "mirror").stdout.split()) > 30


def test_fetches_are_counted_per_kind(
    git_server: GitServer, repo_name: str, tmp_path: Path, run_git: GitRunner
) -> None:
    url = git_server.create_repo(repo_name, {"a.txt": "1"})
    env = git_server.client_env(tmp_path / "home", "alice")
    for _ in range(3):
        run_git("ls-remote", url, env=env)
    advertised = git_server.request_count(
        GitRequestKind.ADVERTISE_UPLOAD_PACK, method="GET", repo=repo_name, status=200
    )
    assert advertised == 3
    counts = git_server.request_counts()
    assert counts[("GET", "info-refs-upload-pack")] >= 3


def test_https_clone_with_the_ca_file(
    tls_git_server: GitServer,
    repo_name: str,
    tmp_path: Path,
    run_git: GitRunner,
    make_askpass_env: AskpassFactory,
) -> None:
    url = tls_git_server.create_repo(repo_name, {"a.txt": "tls"})
    assert url.startswith("https://127.0.0.1:")
    ca_file = tls_git_server.ca_file
    assert ca_file is not None
    assert ca_file.read_text().startswith("-----BEGIN CERTIFICATE-----")

    env = make_askpass_env(tmp_path / "home", "alice", tls_git_server.users["alice"])
    untrusted = run_git("clone", url, str(tmp_path / "untrusted"), env=env, check=False)
    assert untrusted.returncode != 0
    assert "certificate" in untrusted.stderr.lower()

    work = tmp_path / "trusted"
    run_git("-c", f"http.sslCAInfo={ca_file}", "clone", url, str(work), env=env)
    assert (work / "a.txt").read_text() == "tls"
    (work / "a.txt").write_text("tls 2")
    run_git("commit", "-qam", "Over TLS", env=env, cwd=work)
    run_git("-c", f"http.sslCAInfo={ca_file}", "push", "origin", "main", env=env, cwd=work)
    assert tls_git_server.read_file(repo_name, "main", "a.txt") == b"tls 2"

    # httpx (the operator's HTTP client) trusts the same CA file.
    response = httpx.get(
        f"{url}/info/refs?service=git-upload-pack",
        auth=("alice", tls_git_server.users["alice"]),
        verify=ssl.create_default_context(cafile=str(ca_file)),
    )
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/x-git-upload-pack-advertisement"


def test_repository_helpers(git_server: GitServer, repo_name: str) -> None:
    git_server.create_repo(repo_name, {"a.txt": "1", "dir/b.bin": b"\x00\x01"}, branch="trunk")
    assert git_server.branches(repo_name) == ["trunk"]
    assert git_server.read_file(repo_name, "trunk", "dir/b.bin") == b"\x00\x01"
    sha = git_server.commit_files(
        repo_name, {"c.txt": "3"}, branch="trunk", message="Add c", delete=["a.txt"]
    )
    assert git_server.head(repo_name, "trunk") == sha
    assert [subject for _, subject in git_server.log(repo_name, "trunk")] == [
        "Add c",
        "Initial commit",
    ]
    with pytest.raises(GitServerError):
        git_server.read_file(repo_name, "trunk", "a.txt")
    tag_sha = git_server.create_tag(repo_name, "v1.0.0", "trunk", message="Release 1.0.0")
    assert tag_sha != sha  # an annotated tag is an object of its own
    assert git_server.create_tag(repo_name, "v1.0.1", "trunk") == sha
    with pytest.raises(GitServerError, match="already exists"):
        git_server.create_bare_repo(repo_name)
    with pytest.raises(ValueError, match="invalid repository name"):
        git_server.url("../escape")
    with pytest.raises(ValueError, match="escapes"):
        git_server.commit_files(repo_name, {"../x": "1"}, branch="trunk")


def test_commits_use_the_fixed_test_author(
    git_server: GitServer, repo_name: str, tmp_path: Path, run_git: GitRunner
) -> None:
    url = git_server.create_repo(repo_name, {"a.txt": "1"})
    env = git_server.client_env(tmp_path / "home", "alice")
    run_git("clone", "--quiet", url, str(tmp_path / "w"), env=env)
    author = run_git("log", "-1", "--format=%ae", env=env, cwd=tmp_path / "w").stdout.strip()
    assert author == TEST_AUTHOR_EMAIL


def test_anonymous_mode_and_lifecycle(
    tmp_path: Path, run_git: GitRunner, make_bare_env: EnvFactory
) -> None:
    server = GitServer(allow_anonymous=True, workdir=tmp_path / "srv")
    with pytest.raises(RuntimeError, match="not running"):
        _ = server.base_url
    with server:
        url = server.create_repo("open", {"a.txt": "1"})
        env = make_bare_env(tmp_path / "home")
        work = tmp_path / "w"
        run_git("clone", "--quiet", url, str(work), env=env)
        (work / "a.txt").write_text("2")
        run_git("commit", "-qam", "Anonymous push", env=env, cwd=work)
        run_git("push", "--quiet", "origin", "main", env=env, cwd=work)
        assert server.log("open")[0][1] == "Anonymous push"
        assert {r.user for r in server.requests} == {None}
    # A given workdir is kept; the server is gone.
    assert (tmp_path / "srv" / "repos" / "open.git").is_dir()
    with pytest.raises(httpx.TransportError):
        httpx.get(url, timeout=2)
