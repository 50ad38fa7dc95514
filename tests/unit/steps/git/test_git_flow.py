"""Whole git-clone / git-commit / git-push flows: concurrency and credential hygiene."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from shunter.api.v1alpha1.promotion import PromotionStepStatus
from shunter.credentials.types import Credentials
from shunter.promotion.step import StepError, StepResult
from shunter.steps.git_clone import GitCloneStep
from shunter.steps.git_commit import GitCommitStep
from shunter.steps.git_push import Backoff, GitPushStep
from shunter_devenv.gitserver import GitRequestKind

PROMOTIONS = 20
#: Racing promotions cost O(n^2) fetch/rebase/push rounds; fewer keep the test quick.
RACERS = 10


async def _promotion(kit: Any, name: str, index: int, push: GitPushStep, attempts: int) -> Any:
    """One Promotion: clone main into its own work dir, change its own file, commit, push."""
    url = kit.server.url(name)
    ctx = kit.alice_ctx(url, f"promotion-{index}", promotion=f"promo-{index}")
    await kit.run(
        GitCloneStep(), ctx, {"repoURL": url, "checkout": [{"branch": "main", "path": "./src"}]}
    )
    (ctx.work_dir / "src" / "apps" / f"app-{index}.yaml").write_text(f"tag: {index}\n")
    await kit.run(GitCommitStep(), ctx, {"path": "./src", "message": f"promote app-{index}"})
    return await kit.run(push, ctx, {"path": "./src", "maxAttempts": attempts})


def _assert_all_landed(kit: Any, name: str, results: list[Any]) -> None:
    count = len(results)
    assert all(r.status is PromotionStepStatus.SUCCEEDED for r in results)
    log = kit.server.log(name)
    subjects = [subject for _, subject in log]
    assert len(log) == count + 1
    assert sorted(subjects[:-1]) == sorted(f"promote app-{i}" for i in range(count))
    tree = kit.server_git(name, "ls-tree", "--name-only", "main", "apps/").splitlines()
    assert len(tree) == count + 1  # every app file plus .keep
    assert {r.output["commit"] for r in results} <= {sha for sha, _ in log}


class TestConcurrentPromotions:
    async def test_twenty_promotions_to_one_branch(self, kit: Any, name: str) -> None:
        kit.server.create_repo(name, {"apps/.keep": ""})
        results = await asyncio.gather(
            *(_promotion(kit, name, i, GitPushStep(), 10) for i in range(PROMOTIONS))
        )
        _assert_all_landed(kit, name, results)

    async def test_racing_unserialised_promotions_retry_and_rebase(
        self, kit: Any, name: str
    ) -> None:
        """No in-process lock: the pushes race like separate controllers; rebase + retry wins."""
        kit.server.create_repo(name, {"apps/.keep": ""})
        backoff = Backoff(initial=0.02, factor=1.5, cap=0.2, jitter=1.0)
        results = await asyncio.gather(
            *(
                _promotion(kit, name, i, GitPushStep(serialize=False, backoff=backoff), 30)
                for i in range(RACERS)
            )
        )
        _assert_all_landed(kit, name, results)
        pushes = kit.server.request_count(GitRequestKind.RECEIVE_PACK, repo=name, status=200)
        assert pushes >= RACERS


class TestCredentialHygiene:
    async def test_passwords_never_leak(
        self,
        kit: Any,
        name: str,
        tmp_path: Path,
        caplog: pytest.LogCaptureFixture,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        right = kit.alice.password.get_secret_value()
        wrong_password = "Wr0ng-Secret-Guess-42"
        wrong = Credentials(username="alice", password=SecretStr(wrong_password))
        # Record the argv of every git process the steps start, through a wrapper on PATH.
        real_git = shutil.which("git")
        assert real_git is not None
        argv_log = tmp_path / "argv.log"
        wrapper = tmp_path / "bin" / "git"
        wrapper.parent.mkdir()
        wrapper.write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> {argv_log}\nexec {real_git} "$@"\n')
        wrapper.chmod(0o755)
        monkeypatch.setenv("PATH", f"{wrapper.parent}{os.pathsep}{os.environ['PATH']}")
        caplog.set_level(logging.DEBUG)

        url = kit.server.create_repo(name, {"a.txt": "1"}, branch="master")
        clone = {"repoURL": url, "checkout": [{"branch": "master", "path": "./src"}]}
        errors: list[BaseException] = []
        results: list[StepResult] = []
        with pytest.raises(StepError) as caught:
            await kit.run(GitCloneStep(), kit.ctx("bad", {url: wrong}), clone)
        errors.append(caught.value)

        ctx = kit.ctx("good", {url: kit.alice})
        results.append(await kit.run(GitCloneStep(), ctx, clone))
        (ctx.work_dir / "src" / "a.txt").write_text("2")
        results.append(await kit.run(GitCommitStep(), ctx, {"path": "src", "message": "m"}))
        with pytest.raises(StepError) as caught:
            await kit.run(GitPushStep(), kit.ctx("good", {url: wrong}), {"path": "src"})
        errors.append(caught.value)
        results.append(await kit.run(GitPushStep(), ctx, {"path": "src"}))
        assert kit.server.log(name, "master")[0][1] == "m"

        texts = [caplog.text, argv_log.read_text()]
        for error in errors:
            chain: BaseException | None = error
            while chain is not None:
                texts += [str(chain), repr(chain), str(getattr(chain, "stderr", ""))]
                chain = chain.__cause__ or chain.__context__
        texts += [repr(result) for result in results]
        texts += [
            path.read_bytes().decode("utf-8", "replace")
            for path in kit.tmp_path.rglob("*")
            if path.is_file() and path != argv_log
        ]
        assert "Authentication failed" in str(errors[0])
        assert "clone" in texts[1]  # the wrapper saw the git processes
        for secret in (right, wrong_password):
            for text in texts:
                assert secret not in text
