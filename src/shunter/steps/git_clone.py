"""The ``git-clone`` step: check branches, tags or commits of a repository out.

The operator keeps one bare mirror per repository URL in its work directory
(``<work dir>/mirrors``, shared with Warehouse discovery): the step brings the refs it needs
up to date in the mirror (one fetch, shared with concurrent promotions of the same repository;
the remote's tags come along, as in a clone) and checks each ``checkout[]`` entry out as a
linked working tree at its ``path`` (a branch; a tag or commit, detached; or the default
branch), so a repository is never cloned twice. A missing branch with ``create: true`` is
created on the remote as an empty orphan branch. Output: ``commits`` maps each checkout's
``as`` (or ``path``) to the sha checked out there. Credentials come from the project's git
credentials; commit identity from ``author`` or the operator's configured git user.

Each checkout path is resolved right before its working tree is added
(:meth:`StepContext.real_path`): a repository that commits ``evil -> /outside`` cannot have a
later checkout at ``src/evil/x`` written outside the work directory. ``repoURL`` must be a
remote URL (see :func:`shunter.git.check_repo_url`).
"""

from __future__ import annotations

import asyncio
import functools
import shutil
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, ClassVar

from pydantic import Field, StringConstraints, field_validator, model_validator

from shunter.api.v1alpha1.promotion import PromotionStepStatus
from shunter.git import (
    Checkout,
    GitError,
    RemoteRefNotFoundError,
    WorkTree,
    check_commit_id,
    check_out,
    check_ref_name,
    check_repo_url,
    redact_url,
)
from shunter.promotion.effects import Effects
from shunter.promotion.registry import register
from shunter.promotion.step import StepConfig, StepContext, StepResult, TerminalStepError
from shunter.steps_support.git_common import (
    GitAuthorConfig,
    empty_to_none,
    git_step_error,
    identity,
    repo_credentials,
)

__all__ = ["GitCheckoutConfig", "GitCloneConfig", "GitCloneStep"]

NonEmpty = Annotated[str, StringConstraints(min_length=1)]


class GitCheckoutConfig(StepConfig):
    """One ``checkout[]`` entry."""

    branch: str | None = None
    commit: str | None = None
    tag: str | None = None
    path: NonEmpty
    create: bool = False
    as_: str | None = Field(default=None, alias="as")
    sparse: Annotated[list[NonEmpty], Field(min_length=1)] | None = None

    _empty = field_validator("branch", "commit", "tag", "as_", mode="before")(empty_to_none)

    @field_validator("branch", "tag")
    @classmethod
    def _ref_name(cls, value: str | None) -> str | None:
        return None if value is None else check_ref_name(value)

    @field_validator("commit")
    @classmethod
    def _commit_id(cls, value: str | None) -> str | None:
        return None if value is None else check_commit_id(value)

    @model_validator(mode="after")
    def _one_ref(self) -> GitCheckoutConfig:
        given = [key for key in ("branch", "commit", "tag") if getattr(self, key)]
        if len(given) > 1:
            raise ValueError(f"checkout: {' and '.join(given)} are mutually exclusive")
        return self

    @property
    def key(self) -> str:
        """The key of this checkout in the ``commits`` output."""
        return self.as_ or self.path


class GitCloneConfig(StepConfig):
    """Config of ``git-clone``."""

    repo_url: NonEmpty = Field(alias="repoURL")
    insecure_skip_tls_verify: bool = Field(default=False, alias="insecureSkipTLSVerify")
    blobless: bool = False
    recurse_submodules: bool = False
    author: GitAuthorConfig | None = None
    checkout: Annotated[list[GitCheckoutConfig], Field(min_length=1)]

    _url = field_validator("repo_url")(check_repo_url)

    @model_validator(mode="after")
    def _unique_aliases(self) -> GitCloneConfig:
        seen: set[str] = set()
        for index, entry in enumerate(self.checkout):
            if entry.as_ is not None:
                if entry.as_ in seen:
                    raise ValueError(f"duplicate checkout alias {entry.as_!r} at checkout[{index}]")
                seen.add(entry.as_)
        return self


@register
class GitCloneStep:
    """Runner of ``git-clone``."""

    name: ClassVar[str] = "git-clone"
    config_model: ClassVar[type[StepConfig]] = GitCloneConfig
    default_timeout: ClassVar[timedelta | None] = None
    default_error_threshold: ClassVar[int] = 1
    external_effects: ClassVar[Effects] = Effects.NONE

    async def run(self, ctx: StepContext, config: Any) -> StepResult:
        """Bring the mirror up to date, then add one working tree per checkout."""
        if not isinstance(config, GitCloneConfig):
            raise TerminalStepError("git-clone: unexpected config type")
        url = config.repo_url
        shown = redact_url(url)
        checkouts = [
            Checkout(
                path=target,
                branch=entry.branch,
                commit=entry.commit,
                tag=entry.tag,
                create=entry.create,
                sparse=tuple(entry.sparse or ()),
                # Where the path leads now: an earlier checkout may have planted a link on it.
                resolve=functools.partial(ctx.real_path, entry.path, create_parents=True),
            )
            for entry, target in zip(config.checkout, self._targets(ctx, config), strict=True)
        ]
        author = identity(ctx, config.author)
        credentials = await repo_credentials(ctx, url)
        mirror = ctx.capabilities.git_mirrors.mirror(url, blobless=config.blobless)
        try:
            trees = await check_out(
                mirror,
                url,
                checkouts,
                author=author,
                credentials=credentials,
                insecure_skip_tls_verify=config.insecure_skip_tls_verify,
            )
        except RemoteRefNotFoundError as exc:
            raise git_step_error(f"error checking out {shown}", exc) from exc
        except GitError as exc:
            raise git_step_error(f"error cloning {shown}", exc) from exc
        try:
            commits = await self._commits(config, trees)
        except BaseException as exc:
            for tree in trees:
                await asyncio.to_thread(shutil.rmtree, tree.path, True)
            ctx.capabilities.git_mirrors.prune_soon()
            if isinstance(exc, GitError):
                raise git_step_error(f"error checking out {shown}", exc) from exc
            raise
        return StepResult(status=PromotionStepStatus.SUCCEEDED, output={"commits": commits})

    @staticmethod
    async def _commits(config: GitCloneConfig, trees: list[WorkTree]) -> dict[str, str]:
        """Submodules (if asked for), then each checkout's sha by its output key."""
        commits: dict[str, str] = {}
        for entry, tree in zip(config.checkout, trees, strict=True):
            if config.recurse_submodules:
                await tree.update_submodules()
            commits[entry.key] = await tree.head()
        return commits

    @staticmethod
    def _targets(ctx: StepContext, config: GitCloneConfig) -> list[Path]:
        """Every checkout path, checked inside the work directory, before anything is fetched.

        This is only the early check: each path is resolved again right before its checkout.
        """
        targets = [ctx.path(entry.path) for entry in config.checkout]
        if len(set(targets)) != len(targets):
            raise TerminalStepError("checkout paths must be distinct")
        return targets
