"""What a ``git-push`` would change, without pushing: the unified diff between the branch as
it is on the remote now and the commit that would be pushed.

The branch is fetched into the repository's mirror (a read; the remote does not change);
when the push would first rebase the local commits onto it (Kargo's default), the rebase is
done in the preview's own working tree, so the commit compared is the one that would land.
A branch that does not exist yet is compared with the remote's copy of the branch the working
tree was checked out from (a pull-request branch shows what the pull request would change),
else with nothing.
"""

from __future__ import annotations

from shunter.git import GitError, MergeConflictError, Mirror, WorkTree
from shunter.promotion.effects import EffectNote, RepositoryChange
from shunter.promotion.step import TerminalStepError
from shunter.steps_support.git_common import git_step_error

__all__ = ["preview_push"]


async def _remote_tip(tree: WorkTree, mirror: Mirror, branch: str) -> str | None:
    return await mirror.refresh_branch(
        tree.url,
        branch,
        credentials=tree.credentials,
        insecure_skip_tls_verify=tree.insecure_skip_tls_verify,
    )


async def preview_push(
    tree: WorkTree,
    mirror: Mirror,
    *,
    shown: str,
    target: str | None,
    tag: str | None,
    force: bool,
    integrate: bool,
    current: str | None,
) -> tuple[str, EffectNote]:
    """The commit that would be pushed and what pushing it would change."""
    try:
        if tag is not None:
            head = await tree.head()
            return head, EffectNote(f"would push tag {tag} (commit {head[:7]}) to {shown}")
        branch = target or ""
        base = await _remote_tip(tree, mirror, branch)
        compared = branch
        if base is not None and integrate and not await tree.contains(base):
            await tree.rebase(base)
        elif base is None and current and current != branch:
            base = await _remote_tip(tree, mirror, current)
            compared = current
        head = await tree.head()
        diff = "" if base == head else await tree.diff(base, head)
    except MergeConflictError as exc:
        raise TerminalStepError(
            f"the push would fail: the local commits conflict with branch {target} of "
            f"{shown}: {exc}"
        ) from exc
    except GitError as exc:
        raise git_step_error(f"error previewing the push to {shown}", exc) from exc
    if base == head:
        summary = f"nothing to push: branch {branch} of {shown} is already at {head[:7]}"
    else:
        summary = f"would push commit {head[:7]} to branch {branch} of {shown}"
        if force:
            summary += " (forced)"
        if compared != branch:
            summary += f", a new branch (compared with {compared})"
        elif base is None:
            summary += ", a new branch"
    change = RepositoryChange(
        repository=shown, branch=branch, base=base or "", head=head, diff=diff
    )
    return head, EffectNote(summary, change)
