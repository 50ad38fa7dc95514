"""The git-clone step against a real git smart-HTTP server with Basic auth.

``kit`` (see conftest.py) holds the server, alice's credentials, and makes step contexts.
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from shunter.api.v1alpha1.promotion import PromotionStepStatus
from shunter.promotion.registry import DEFAULT_REGISTRY
from shunter.promotion.step import GitAuthor, StepError, TerminalStepError
from shunter.steps.git_clone import GitCloneConfig, GitCloneStep
from shunter_devenv.gitserver import TreeEntry


def test_registered() -> None:
    assert DEFAULT_REGISTRY.get("git-clone") is GitCloneStep
    assert GitCloneStep.config_model is GitCloneConfig


class TestConfig:
    def test_keys_and_defaults(self) -> None:
        config = GitCloneConfig.model_validate(
            {
                "repoURL": "https://example.com/r.git",
                "insecureSkipTLSVerify": True,
                "author": {"name": "A", "email": "a@example.com", "signingKey": ""},
                "checkout": [{"branch": "main", "path": "./src", "as": "src", "sparse": ["x"]}],
            }
        )
        assert config.insecure_skip_tls_verify
        assert not config.blobless
        assert not config.recurse_submodules
        assert config.checkout[0].as_ == "src"
        assert config.checkout[0].key == "src"
        assert not config.checkout[0].create

    @pytest.mark.parametrize(
        ("raw", "named"),
        [
            ({"repoURL": "u", "checkout": [{"path": "a"}], "bogus": 1}, "bogus"),
            ({"checkout": [{"path": "a"}]}, "repoURL"),
            ({"repoURL": "u"}, "checkout"),
            ({"repoURL": "u", "checkout": [{"branch": "main"}]}, "path"),
            ({"repoURL": "u", "checkout": [{"path": "a", "brnch": "x"}]}, "brnch"),
            ({"repoURL": "u", "checkout": []}, "checkout"),
            ({"repoURL": "u", "checkout": [{"path": "a"}], "author": {"name": "x"}}, "email"),
        ],
    )
    def test_errors_name_the_key(self, raw: dict[str, Any], named: str) -> None:
        with pytest.raises(ValidationError) as caught:
            GitCloneConfig.model_validate(raw)
        assert named in str(caught.value)

    @pytest.mark.parametrize(
        ("checkout", "message"),
        [
            ({"path": "a", "branch": "main", "tag": "v1"}, "mutually exclusive"),
            ({"path": "a", "branch": "-evil"}, "invalid branch name"),
            ({"path": "a", "tag": "a..b"}, "invalid"),
            ({"path": "a", "commit": "HEAD~1"}, "invalid commit id"),
        ],
    )
    def test_refs_are_checked(self, checkout: dict[str, Any], message: str) -> None:
        with pytest.raises(ValidationError, match=message):
            GitCloneConfig.model_validate({"repoURL": "u", "checkout": [checkout]})

    def test_empty_strings_mean_absent(self) -> None:
        config = GitCloneConfig.model_validate(
            {
                "repoURL": "https://example.com/r.git",
                "checkout": [{"path": "a", "branch": "", "commit": "", "tag": "x"}],
            }
        )
        assert config.checkout[0].branch is None
        assert config.checkout[0].tag == "x"

    def test_duplicate_aliases(self) -> None:
        with pytest.raises(ValidationError, match="duplicate checkout alias"):
            GitCloneConfig.model_validate(
                {
                    "repoURL": "git@example.com:r.git",
                    "checkout": [{"path": "a", "as": "x"}, {"path": "b", "as": "x"}],
                }
            )


class TestRun:
    async def test_clone_master_into_src(self, kit: Any, name: str) -> None:
        url = kit.server.create_repo(name, {"values.yaml": "tag: 1\n"}, branch="master")
        ctx = kit.alice_ctx(url)
        result = await kit.run(
            GitCloneStep(),
            ctx,
            {"repoURL": url, "checkout": [{"branch": "master", "path": "./src"}]},
        )
        assert result.status is PromotionStepStatus.SUCCEEDED
        assert result.output == {"commits": {"./src": kit.server.head(name, "master")}}
        assert (ctx.work_dir / "src" / "values.yaml").read_text() == "tag: 1\n"

    async def test_commit_tag_default_and_branch_in_four_paths(self, kit: Any, name: str) -> None:
        server = kit.server
        url = server.create_repo(name, {"a.txt": "1"})
        first = server.head(name)
        server.create_tag(name, "v1.0.0", "main")
        second = server.commit_files(name, {"a.txt": "2"})
        server.commit_files(name, {"stage.txt": "s"}, branch="stage/prod", base="main")
        ctx = kit.alice_ctx(url)
        result = await kit.run(
            GitCloneStep(),
            ctx,
            {
                "repoURL": url,
                "checkout": [
                    {"commit": first, "path": "./pinned"},
                    {"tag": "v1.0.0", "path": "./tagged", "as": "release"},
                    {"path": "./default"},
                    {"branch": "stage/prod", "path": "./out", "as": "out"},
                ],
            },
        )
        commits = result.output["commits"]
        assert commits == {
            "./pinned": first,
            "release": first,
            "./default": second,
            "out": server.head(name, "stage/prod"),
        }
        assert (ctx.work_dir / "tagged" / "a.txt").read_text() == "1"
        assert (ctx.work_dir / "default" / "a.txt").read_text() == "2"
        assert (ctx.work_dir / "out" / "stage.txt").read_text() == "s"

    async def test_missing_branch_then_create(self, kit: Any, name: str) -> None:
        url = kit.server.create_repo(name, {"a.txt": "1"})
        ctx = kit.alice_ctx(url)
        checkout = {"branch": "env/x", "path": "o"}
        with pytest.raises(StepError, match="create: true") as caught:
            await kit.run(GitCloneStep(), ctx, {"repoURL": url, "checkout": [checkout]})
        assert not isinstance(caught.value, TerminalStepError)
        assert list(ctx.work_dir.iterdir()) == []  # nothing left behind: a retry starts clean
        result = await kit.run(
            GitCloneStep(), ctx, {"repoURL": url, "checkout": [{**checkout, "create": True}]}
        )
        assert result.output["commits"]["o"] == kit.server.head(name, "env/x")
        assert kit.server.log(name, "env/x")[0][1] == "Initial commit"
        assert [p.name for p in (ctx.work_dir / "o").iterdir()] == [".git"]

    async def test_author_precedence(self, kit: Any, name: str) -> None:
        url = kit.server.create_repo(name, {"a.txt": "1"})
        checkout = [{"branch": "main", "path": "src"}]
        default_ctx = kit.alice_ctx(url, "d", git_author=GitAuthor("Ops Bot", "ops@example.com"))
        await kit.run(GitCloneStep(), default_ctx, {"repoURL": url, "checkout": checkout})
        step_ctx = kit.alice_ctx(url, "s", git_author=GitAuthor("Ops Bot", "ops@example.com"))
        author = {"name": "Step Author", "email": "step@example.com"}
        await kit.run(
            GitCloneStep(), step_ctx, {"repoURL": url, "checkout": checkout, "author": author}
        )
        for ctx, expected in ((default_ctx, "Ops Bot"), (step_ctx, "Step Author")):
            # The identity lives in the working tree's own configuration, nowhere else.
            assert kit.git(ctx.work_dir / "src", "config", "user.name") == expected
            assert not list(ctx.work_dir.glob(".repo-*"))

    async def test_signing_key_is_refused(self, kit: Any, name: str) -> None:
        url = kit.server.create_repo(name, {"a.txt": "1"})
        author = {"name": "A", "email": "a@example.com", "signingKey": "-----BEGIN PGP"}
        with pytest.raises(TerminalStepError, match="signingKey"):
            await kit.run(
                GitCloneStep(),
                kit.alice_ctx(url),
                {"repoURL": url, "checkout": [{"path": "src"}], "author": author},
            )

    async def test_no_credentials(self, kit: Any, name: str) -> None:
        url = kit.server.create_repo(name, {"a.txt": "1"})
        with pytest.raises(StepError, match="could not read Username"):
            await kit.run(GitCloneStep(), kit.ctx(), {"repoURL": url, "checkout": [{"path": "s"}]})

    async def test_blobless_sparse_checkout(self, kit: Any, name: str) -> None:
        url = kit.server.create_repo(name, {"env/prod/v.yaml": "p", "env/dev/v.yaml": "d"})
        ctx = kit.alice_ctx(url)
        await kit.run(
            GitCloneStep(),
            ctx,
            {
                "repoURL": url,
                "blobless": True,
                "checkout": [{"path": "src", "sparse": ["env/prod"]}],
            },
        )
        assert (ctx.work_dir / "src" / "env" / "prod" / "v.yaml").exists()
        assert not (ctx.work_dir / "src" / "env" / "dev").exists()


class TestPathSafety:
    @pytest.mark.parametrize("path", ["../x", "/abs/path", "src/../../x", "."])
    async def test_refused_before_cloning(self, kit: Any, name: str, path: str) -> None:
        url = kit.server.create_repo(name, {"a.txt": "1"})
        with pytest.raises(TerminalStepError):
            await kit.run(
                GitCloneStep(),
                kit.alice_ctx(url),
                {"repoURL": url, "checkout": [{"path": "ok"}, {"path": path}]},
            )
        assert kit.server.request_count(repo=name) == 0

    async def test_symlink_out_of_the_work_dir(self, kit: Any, name: str) -> None:
        url = kit.server.create_repo(name, {"a.txt": "1"})
        outside = kit.tmp_path / "outside"
        outside.mkdir()
        ctx = kit.alice_ctx(url)
        (ctx.work_dir / "link").symlink_to(outside)
        with pytest.raises(TerminalStepError, match="outside"):
            await kit.run(GitCloneStep(), ctx, {"repoURL": url, "checkout": [{"path": "link/src"}]})
        assert list(outside.iterdir()) == []

    @pytest.mark.parametrize("link", ["{outside}", "../../outside", "../.."])
    async def test_a_checkout_through_a_link_of_an_earlier_checkout(
        self, kit: Any, name: str, link: str
    ) -> None:
        """Issue 12, finding 3: the first checkout plants ``evil -> /outside``; the second one,
        at ``src/evil/pwned``, must not become a working tree outside the work directory."""
        outside = kit.tmp_path / "outside"
        outside.mkdir(exist_ok=True)
        url = kit.server.create_repo(name, {"a.txt": "1"})
        kit.server.commit_entries(name, {"evil": TreeEntry.symlink(link.format(outside=outside))})
        kit.server.commit_files(name, {"b.txt": "2"}, branch="other")
        ctx = kit.alice_ctx(url)
        checkout = [
            {"path": "src", "branch": "main"},
            {"path": "src/evil/pwned", "branch": "other"},
        ]
        with pytest.raises(TerminalStepError, match="outside the working directory"):
            await kit.run(GitCloneStep(), ctx, {"repoURL": url, "checkout": checkout})
        assert list(outside.iterdir()) == []
        assert not (kit.tmp_path / "pwned").exists()

    def test_password_in_url_is_refused(self, kit: Any, config_error: Any) -> None:
        url = kit.server.url("team/x").replace("http://", "http://alice:url-embedded-pw@")
        message = config_error(GitCloneStep, {"repoURL": url, "checkout": [{"path": "s"}]})
        assert "repoURL" in message
        assert "embeds a password" in message
        assert "url-embedded-pw" not in message


class TestURLPolicy:
    @pytest.mark.parametrize(
        "repo",
        ["file://{source}", "{source}", "ext::git %G{source}", "git://127.0.0.1:1/x.git"],
    )
    def test_local_and_other_transports_are_refused_with_the_field_named(
        self, kit: Any, config_error: Any, repo: str
    ) -> None:
        source = kit.tmp_path / "local.git"
        message = config_error(
            GitCloneStep,
            {"repoURL": repo.format(source=source), "checkout": [{"path": "s"}]},
        )
        assert message.startswith("config.repoURL")
        assert "only https://, http://, ssh:// and scp-style" in message

    @pytest.mark.parametrize("spelling", ["{local}", "file://{local}"])
    async def test_a_submodule_on_a_local_path_is_not_fetched(
        self, kit: Any, name: str, spelling: str
    ) -> None:
        local = kit.tmp_path / f"{name}-local"
        kit.git(kit.tmp_path, "init", "--quiet", str(local))
        (local / "secret.txt").write_text("operator's disk\n")
        kit.git(local, "add", "secret.txt")
        kit.git(local, "-c", "user.name=x", "-c", "user.email=x@x", "commit", "-qm", "local")
        pinned = kit.git(local, "rev-parse", "HEAD")
        url = kit.server.create_repo(name, {"a.txt": "1"})
        gitmodules = f'[submodule "inner"]\n\tpath = inner\n\turl = {spelling}\n'
        kit.server.commit_entries(
            name,
            {
                ".gitmodules": TreeEntry.file(gitmodules.format(local=local)),
                "inner": TreeEntry.gitlink(pinned),
            },
        )
        ctx = kit.alice_ctx(url)
        with pytest.raises(StepError, match="transport 'file' not allowed"):
            await kit.run(
                GitCloneStep(),
                ctx,
                {"repoURL": url, "recurseSubmodules": True, "checkout": [{"path": "src"}]},
            )
        assert not list(ctx.work_dir.rglob("secret.txt"))
