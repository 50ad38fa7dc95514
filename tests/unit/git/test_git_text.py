"""Pure functions of the git wrapper: scrubbing, URL normalisation, ref-name validation."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from shunter.git import (
    InvalidRefError,
    RepoCredentials,
    check_commit_id,
    check_ref_name,
    check_repo_url,
    normalize_git_url,
    redact_url,
    repo_url_problem,
    scrub,
)


class TestScrub:
    def test_replaces_every_spelling_of_the_password(self) -> None:
        creds = RepoCredentials("bob", SecretStr("p@ss w/rd+x"))
        text = "raw p@ss w/rd+x, url p%40ss%20w%2Frd%2Bx, form p%40ss+w%2Frd%2Bx"
        out = scrub(text, creds.secrets())
        assert "p@ss" not in out
        assert "p%40ss" not in out
        assert out.count("***") == 3

    def test_drops_url_userinfo_without_knowing_the_secret(self) -> None:
        out = scrub("fatal: unable to access 'https://user:hunter22@git.example.com/r.git/'")
        assert "hunter22" not in out
        assert "https://git.example.com/r.git/" in out

    def test_a_token_given_as_user_name_is_dropped_too(self) -> None:
        assert scrub("see http://ghp_T0KEN@host/x") == "see http://host/x"

    def test_ssh_keeps_its_user_but_not_a_password(self) -> None:
        assert scrub("ssh://git@host/x") == "ssh://git@host/x"
        assert scrub("ssh://git:pw@host/x") == "ssh://git:***@host/x"

    def test_keeps_short_secrets(self) -> None:
        assert scrub("a cab", ["ab"]) == "a cab"

    def test_repr_hides_the_password(self) -> None:
        creds = RepoCredentials("bob", SecretStr("top-secret-value"))
        assert "top-secret-value" not in repr(creds)
        assert "top-secret-value" not in str(creds)


@pytest.mark.parametrize(
    ("url", "normalised"),
    [
        ("https://GitHub.com/Org/Repo.git/", "https://github.com/org/repo"),
        ("https://github.com/org/repo", "https://github.com/org/repo"),
        ("https://user:pw@github.com/org/repo.git", "https://github.com/org/repo"),
        ("http://127.0.0.1:8080/team/app.git", "http://127.0.0.1:8080/team/app"),
        ("https://github.com/org/repo?x=1", "https://github.com/org/repo?x=1"),
        ("ssh://git@github.com/org/repo.git", "ssh://git@github.com/org/repo"),
        ("git@github.com:org/repo.git", "ssh://git@github.com/org/repo"),
        ("  https://github.com/org/repo\n", "https://github.com/org/repo"),
    ],
)
def test_normalize_git_url(url: str, normalised: str) -> None:
    assert normalize_git_url(url) == normalised


def test_redact_url_drops_http_userinfo() -> None:
    assert redact_url("https://u:pw@h/x.git") == "https://h/x.git"
    assert redact_url("https://TOKEN@h/x.git") == "https://h/x.git"
    assert redact_url("https://h/x.git") == "https://h/x.git"


@pytest.mark.parametrize(
    "url",
    [
        "https://github.com/org/repo.git",
        "http://127.0.0.1:8080/org/repo.git",
        "HTTPS://GitHub.com/org/repo",
        "ssh://git@github.com/org/repo.git",
        "ssh://git@[::1]:2222/org/repo.git",
        "git@github.com:org/repo.git",
        "github.com:org/repo.git",
        "user@[::1]:org/repo",
        "https://user@host/repo",
    ],
)
def test_allowed_repo_urls(url: str) -> None:
    assert repo_url_problem(url) is None
    assert check_repo_url(url) == url


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("file:///etc/repo.git", "file:// transport"),
        ("FILE:///etc/repo.git", "file:// transport"),
        ("/srv/git/repo.git", "is a local path"),
        ("./repo", "is a local path"),
        ("../repo.git", "is a local path"),
        ("repo", "is a local path"),
        ("~/repo", "is a local path"),
        ("ext::sh -c touch% /tmp/pwned", "transport::address"),
        ("fd::3", "transport::address"),
        ("git://example.com/repo.git", "git:// transport"),
        ("ftp://example.com/repo.git", "ftp:// transport"),
        ("https://user:secret@example.com/repo.git", "embeds a password"),
        ("https:///repo.git", "names no host"),
        ("-uhttps://x", "is not a repository URL"),
        ("", "is not a repository URL"),
        (" https://example.com/r", "is not a repository URL"),
        ("https://example.com/r\n", "is not a repository URL"),
    ],
)
def test_refused_repo_urls(url: str, reason: str) -> None:
    problem = repo_url_problem(url.replace("\\n", "\n"))
    assert problem is not None
    assert reason in problem
    assert "secret" not in problem
    with pytest.raises(ValueError, match=r"repository URL|transport|password|host"):
        check_repo_url(url.replace("\\n", "\n"))


@pytest.mark.parametrize("name", ["main", "stage/prod", "kargo/promotion/p-1", "v1.2.3", "a_b"])
def test_valid_ref_names(name: str) -> None:
    assert check_ref_name(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "",
        "-x",
        "--upload-pack=evil",
        "a..b",
        "a b",
        "a~1",
        "a^",
        "a:b",
        "a?",
        "a*",
        "a[",
        "a\\b",
        "a@{1}",
        "@",
        "/a",
        "a/",
        "a.",
        "a//b",
        ".a",
        "a/.b",
        "a.lock",
        "a\nb",
    ],
)
def test_invalid_ref_names(name: str) -> None:
    with pytest.raises(InvalidRefError):
        check_ref_name(name)


def test_commit_ids() -> None:
    assert check_commit_id("ABCDEF12") == "abcdef12"
    for bad in ("abc", "-abcdef", "HEAD", "xyz12345", "a" * 65):
        with pytest.raises(InvalidRefError):
            check_commit_id(bad)
