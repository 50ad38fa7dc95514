"""The git process runner: private environment, credentials only in the child's environment,
argv guard, timeouts and cancellation that kill the whole process group, scrubbed logs."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from pathlib import Path

import pytest
from pydantic import SecretStr

from shunter.git import (
    GitAuthenticationError,
    GitCommandError,
    GitError,
    GitRepositoryNotFoundError,
    GitTimeoutError,
    GitUnreachableError,
    RepoCredentials,
)
from shunter.git.runner import PASSWORD_ENV, USERNAME_ENV, build_env, run_git
from shunter_devenv.gitserver import GitServer
from shunter_devenv.waiting import WaitTimeoutError, wait_for, wait_for_async


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def _wait_gone(pid: int, deadline: float = 10.0) -> bool:
    try:
        return wait_for(lambda: _gone(pid), timeout=deadline, interval=0.02, what="exit")
    except WaitTimeoutError:
        return False


class TestEnvironment:
    def test_built_from_scratch(self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
        monkeypatch.setenv("GIT_DIR", "/somewhere/else")
        monkeypatch.setenv("SOME_TOKEN", "leak-me")
        monkeypatch.setenv("https_proxy", "http://proxy.invalid:3128")
        env = build_env(tmp_path)
        assert "GIT_DIR" not in env
        assert "SOME_TOKEN" not in env
        assert env["https_proxy"] == "http://proxy.invalid:3128"
        assert env["HOME"] == str(tmp_path)
        assert env["GIT_CONFIG_GLOBAL"] == str(tmp_path / ".gitconfig")
        assert env["GIT_CONFIG_NOSYSTEM"] == "1"
        assert env["GIT_TERMINAL_PROMPT"] == "0"
        assert env["LC_ALL"] == "C"

    def test_no_home_means_no_global_config(self) -> None:
        env = build_env(None)
        assert env["HOME"] == os.devnull
        assert env["GIT_CONFIG_GLOBAL"] == os.devnull

    def test_credentials_only_in_environment_variables(self, tmp_path: Path) -> None:
        creds = RepoCredentials("alice", SecretStr("the-password-value"))
        env = build_env(tmp_path, credentials=creds)
        assert env[USERNAME_ENV] == "alice"
        assert env[PASSWORD_ENV] == "the-password-value"
        other = {k: v for k, v in env.items() if k not in (USERNAME_ENV, PASSWORD_ENV)}
        assert not any("the-password-value" in value for value in other.values())
        assert env["GIT_CONFIG_KEY_0"] == "credential.helper"
        assert env["GIT_CONFIG_VALUE_0"] == ""  # resets helpers from any config file
        assert PASSWORD_ENV in env["GIT_CONFIG_VALUE_1"]
        assert USERNAME_ENV not in build_env(tmp_path)
        assert PASSWORD_ENV not in build_env(tmp_path)

    async def test_user_config_does_not_leak(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        user_home = tmp_path / "user"
        (user_home / ".config" / "git").mkdir(parents=True)
        (user_home / ".gitconfig").write_text("[alias]\n\tleaked = version\n")
        (user_home / ".config" / "git" / "config").write_text("[alias]\n\tleaked2 = version\n")
        monkeypatch.setenv("HOME", str(user_home))
        monkeypatch.setenv("XDG_CONFIG_HOME", str(user_home / ".config"))
        private = tmp_path / "private"
        private.mkdir()
        for home in (None, private):
            for alias in ("leaked", "leaked2"):
                result = await run_git([alias], cwd=tmp_path, home=home, time_limit=10, check=False)
                assert result.returncode != 0


class TestRunner:
    async def test_refuses_a_secret_in_argv(self, tmp_path: Path) -> None:
        creds = RepoCredentials("alice", SecretStr("argv-secret-1"))
        with pytest.raises(GitError, match="credential in its command line") as caught:
            await run_git(
                ["ls-remote", "https://alice:argv-secret-1@h/x"],
                cwd=tmp_path,
                home=None,
                time_limit=10,
                credentials=creds,
            )
        assert "argv-secret-1" not in str(caught.value)

    async def test_timeout_kills_the_process_group(self, tmp_path: Path) -> None:
        pid_file = tmp_path / "pid"
        alias = f"alias.hang=!echo $$ > {pid_file}; exec sleep 60"
        started = time.monotonic()
        with pytest.raises(GitTimeoutError, match=r"timed out after 0\.5s"):
            await run_git(["-c", alias, "hang"], cwd=tmp_path, home=None, time_limit=0.5)
        assert time.monotonic() - started < 8
        assert _wait_gone(int(pid_file.read_text()))

    async def test_cancellation_kills_the_process_group(self, tmp_path: Path) -> None:
        pid_file = tmp_path / "pid"
        alias = f"alias.hang=!echo $$ > {pid_file}; exec sleep 60"
        task = asyncio.create_task(
            run_git(["-c", alias, "hang"], cwd=tmp_path, home=None, time_limit=60)
        )
        await wait_for_async(
            lambda: pid_file.exists() and pid_file.read_text().strip(),
            within=10,
            interval=0.02,
            what="the hanging git to start",
        )
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert _wait_gone(int(pid_file.read_text()))

    def test_cancellation_while_starting_never_hangs(self, tmp_path: Path) -> None:
        """Cancelled while asyncio still connects the child's pipes (here: the loop stopped
        right after the start and a shutdown cancels everything, as at operator exit or test
        teardown), the command ends instead of waiting forever for the child."""

        async def start() -> None:
            asyncio.get_running_loop().create_task(
                run_git(["version"], cwd=tmp_path, home=None, time_limit=10)
            )

        for _ in range(3):
            loop = asyncio.new_event_loop()
            try:
                loop.run_until_complete(start())
                tasks = asyncio.all_tasks(loop)
                for task in tasks:
                    task.cancel()
                _, pending = loop.run_until_complete(asyncio.wait(tasks, timeout=10))
                assert not pending
            finally:
                loop.close()

    async def test_logs_are_debug_and_scrubbed(
        self, caplog: pytest.LogCaptureFixture, tmp_path: Path
    ) -> None:
        caplog.set_level(logging.DEBUG, logger="shunter.git")
        await run_git(
            ["ls-remote", "--exit-code", "https://user:inline-pw-9@127.0.0.1:9/x.git"],
            cwd=tmp_path,
            home=None,
            time_limit=10,
            check=False,
        )
        assert "git ls-remote" in caplog.text
        assert "inline-pw-9" not in caplog.text


class TestCredentialHelper:
    async def test_special_characters_and_wrong_password(
        self, git_server: GitServer, repo_name: str, bob: RepoCredentials, tmp_path: Path
    ) -> None:
        url = git_server.create_repo(repo_name, {"a": "1"})
        ok = await run_git(
            ["ls-remote", url], cwd=tmp_path, home=tmp_path, time_limit=30, credentials=bob
        )
        assert "refs/heads/main" in ok.stdout
        wrong = RepoCredentials("bob", SecretStr("not-bobs-password"))
        with pytest.raises(GitAuthenticationError) as caught:
            await run_git(
                ["ls-remote", url], cwd=tmp_path, home=tmp_path, time_limit=30, credentials=wrong
            )
        assert "not-bobs-password" not in str(caught.value)
        assert "Authentication failed" in str(caught.value)

    async def test_anonymous_never_prompts(
        self, git_server: GitServer, repo_name: str, tmp_path: Path
    ) -> None:
        url = git_server.create_repo(repo_name, {"a": "1"})
        started = time.monotonic()
        with pytest.raises(GitAuthenticationError):
            await run_git(["ls-remote", url], cwd=tmp_path, home=tmp_path, time_limit=30)
        assert time.monotonic() - started < 10


class TestArgvGuard:
    async def test_a_short_password_elsewhere_in_argv_is_no_credential(
        self, tmp_path: Path
    ) -> None:
        """``pw`` inside a folder or repository name is a coincidence, not a leak: git runs."""
        home = tmp_path / "pw-home"
        home.mkdir()
        mirror = home / "pw.git"
        await run_git(
            ["init", "--quiet", "--bare", str(mirror)], cwd=home, home=home, time_limit=10
        )
        creds = RepoCredentials("u", SecretStr("pw"))
        with GitServer(users={"u": "pw"}) as server:
            url = server.create_repo("team/pwa", {"a": "1"})
            result = await run_git(
                ["ls-remote", url],
                cwd=home,
                home=home,
                git_dir=mirror,
                time_limit=30,
                credentials=creds,
            )
        assert "refs/heads/main" in result.stdout

    async def test_a_short_password_in_a_url_is_refused(self, tmp_path: Path) -> None:
        creds = RepoCredentials("alice", SecretStr("pw"))
        with pytest.raises(GitError, match="credential in its command line"):
            await run_git(
                ["ls-remote", "https://alice:pw@127.0.0.1:9/x.git"],
                cwd=tmp_path,
                home=None,
                time_limit=10,
                credentials=creds,
            )


class TestPolicy:
    @pytest.mark.parametrize("scheme", ["file", "ext"])
    async def test_only_http_https_and_ssh_transports(self, scheme: str, tmp_path: Path) -> None:
        source = tmp_path / "source.git"
        await run_git(
            ["init", "--quiet", "--bare", str(source)], cwd=tmp_path, home=None, time_limit=10
        )
        url = f"file://{source}" if scheme == "file" else f"ext::git %G{source}"
        with pytest.raises(GitCommandError, match=f"transport '{scheme}' not allowed"):
            await run_git(["ls-remote", url], cwd=tmp_path, home=None, time_limit=10)

    def test_callers_config_cannot_loosen_the_transport_policy(self, tmp_path: Path) -> None:
        env = build_env(tmp_path, config={"protocol.file.allow": "always"})
        count = int(env["GIT_CONFIG_COUNT"])
        keys = [env[f"GIT_CONFIG_KEY_{i}"] for i in range(count)]
        values = [env[f"GIT_CONFIG_VALUE_{i}"] for i in range(count)]
        assert keys[-4:] == [
            "protocol.allow",
            "protocol.https.allow",
            "protocol.http.allow",
            "protocol.ssh.allow",
        ]
        assert values[-4] == "never"
        assert env["GIT_SSH_COMMAND"] == "ssh -o BatchMode=yes"


class TestErrorMapping:
    async def test_missing_repository(
        self, git_server: GitServer, bob: RepoCredentials, tmp_path: Path
    ) -> None:
        url = git_server.url("team/does-not-exist")
        with pytest.raises(GitRepositoryNotFoundError) as caught:
            await run_git(
                ["ls-remote", url], cwd=tmp_path, home=tmp_path, time_limit=30, credentials=bob
            )
        assert caught.value.reason.startswith("fatal:")

    async def test_unreachable_server(self, tmp_path: Path) -> None:
        with GitServer(users={"u": "p-Secret-1"}) as server:
            url = server.create_repo("team/gone", {"a": "1"})
        with pytest.raises(GitUnreachableError, match="ls-remote failed"):
            await run_git(["ls-remote", url], cwd=tmp_path, home=tmp_path, time_limit=30)
