"""Commit discovery for git subscriptions: NewestFromBranch, SemVer, Lexical and NewestTag.

:class:`GitDiscoverer` answers a :class:`~shunter.api.v1alpha1.warehouse.GitSubscription` with a
:class:`~shunter.api.v1alpha1.warehouse.GitDiscoveryResult` (commits best first), following
Kargo:

1. ``git ls-remote`` (shared by concurrent callers, reused for ``max_age`` seconds) gives the
   branch tip (``HEAD`` when no branch is named) or the tags that pass the filters. They are
   reported as ``observedRefs``; when they equal the previous result's, its commits are reused
   without fetching anything.
2. Otherwise the repository's bare mirror (a :class:`shunter.git.MirrorStore`'s, one per
   repository URL and blobless setting, shared by every Warehouse and, in the operator, by the
   promotions' git steps) is brought up to date with ``git fetch`` - only the branch, or only
   the tags - and read locally. A fetch is skipped when the mirror already holds the branch
   tip ``ls-remote`` reported (e.g. fetched by a promotion).
3. **NewestFromBranch**: first-parent history of the branch, newest first, read in growing
   batches, stopping at ``since``; commits must pass ``expressionFilter`` and the path filters
   (paths changed relative to the first parent). **SemVer** / **Lexical** / **NewestTag**: the
   tags (allow/ignore regexes; SemVer: strictSemvers and semverConstraint), ordered by version,
   by name, or by creation date (newest first), then ``expressionFilter``, then the path filters
   on the tagged commit.
4. At most ``discoveryLimit`` commits; subjects are cut to 80 bytes.

Path filters: ``includePaths``/``excludePaths`` entries are plain paths (the path or anything
below it), ``glob:`` patterns (with ``**``) or ``regex:``/``regexp:`` expressions; a commit
qualifies if any path it changed is included (or no includes are given) and not excluded.

:func:`ref_selected` and :func:`paths_selected` answer, without any git command, whether a
subscription would consider a pushed ref and the paths a push changed (a webhook receiver skips
Warehouses that would ignore the push): NewestFromBranch takes its branch (``main`` or
``master`` when none is named, as Kargo assumes), the tag strategies take tags that pass the
filters (and, for SemVer, the constraint).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from shunter.api.v1alpha1.warehouse import (
    CommitSelectionStrategy,
    DiscoveredCommit,
    DiscoveredRef,
    GitDiscoveryRefs,
    GitDiscoveryResult,
    GitSubscription,
)
from shunter.expressions import ExpressionError, compile_expression, sandbox
from shunter.expressions.gotime import GoTime
from shunter.git import (
    GitAuthenticationError,
    GitCommandError,
    GitError,
    GitRepositoryNotFoundError,
    GitTimeoutError,
    GitUnreachableError,
    Mirror,
    MirrorStore,
    RepoCredentials,
    redact_url,
    repo_url_problem,
)
from shunter.git.mirror import is_damage
from shunter.git.runner import run_git, tls_config
from shunter.registries.auth import BasicCredentials
from shunter.registries.cache import SingleFlightCache
from shunter.registries.errors import (
    AuthenticationError,
    InvalidSubscriptionError,
    ProtocolError,
    RemoteError,
    RepositoryNotFoundError,
    UnreachableError,
)
from shunter.registries.metadata import parse_rfc3339
from shunter.registries.oci import identity_of
from shunter.registries.patterns import (
    BadPatternError,
    PathMatcher,
    TagFilter,
    parse_path_selectors,
)
from shunter.registries.semver import (
    Constraint,
    parse_tag,
    sort_descending,
    subscription_constraint,
)
from shunter.registries.settings import DiscoverySettings

__all__ = [
    "CommitInfo",
    "GitDiscoverer",
    "TagInfo",
    "paths_selected",
    "ref_selected",
    "shorten_subject",
]

_HEADS = "refs/heads/"
_TAGS = "refs/tags/"
_SUBJECT_BYTES = 80
_MAX_BATCH = 1000
_PATHS_WINDOW = 100
_LOG_FORMAT = "%x1e%H%x1f%cI%x1f%an <%ae>%x1f%cn <%ce>%x1f%s"
_TAG_FORMAT = (
    "%(refname:strip=2)%1f"
    "%(if)%(*objectname)%(then)"
    "%(*objectname)%1f%(*contents:subject)%1f%(*authorname) %(*authoremail)%1f"
    "%(*committername) %(*committeremail)%1f%(creatordate:iso-strict)%1f"
    "%(taggername) %(taggeremail)%1f%(contents:subject)"
    "%(else)"
    "%(objectname)%1f%(contents:subject)%1f%(authorname) %(authoremail)%1f"
    "%(committername) %(committeremail)%1f%(creatordate:iso-strict)%1f%1f"
    "%(end)%1e"
)
_GO_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_GO_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})


def shorten_subject(subject: str, limit: int = _SUBJECT_BYTES) -> str:
    """Kargo's subject cut: at most ``limit`` bytes, ending in ``...`` when cut."""
    data = subject.encode("utf-8")
    if len(data) <= limit:
        return subject
    return data[: limit - 3].decode("utf-8", "ignore") + "..."


@dataclass(frozen=True)
class CommitInfo:
    """A commit as ``git log`` describes it (plus the paths it changed, when asked for)."""

    id: str
    date: dt.datetime
    author: str
    committer: str
    subject: str
    paths: tuple[str, ...] = ()


@dataclass(frozen=True)
class TagInfo:
    """A tag and the commit it names."""

    tag: str
    commit_id: str
    subject: str
    author: str
    committer: str
    creator_date: dt.datetime
    tagger: str = ""
    annotation: str = ""


def _parse_date(text: str) -> dt.datetime:
    parsed = parse_rfc3339(text)
    if parsed is None:
        raise ProtocolError(f"git printed an unexpected date {text!r}")
    return parsed


def _parse_log(output: str, with_paths: bool) -> list[CommitInfo]:
    commits: list[CommitInfo] = []
    for record in output.split("\x1e"):
        if not record.strip("\n\0"):
            continue
        header, _, rest = record.partition("\0") if with_paths else (record, "", "")
        fields = header.strip("\n").split("\x1f")
        if len(fields) != 5:
            raise ProtocolError("git log printed an unexpected record")
        tokens = [t for t in rest.lstrip("\n").split("\0") if t]
        paths = tuple(tokens[1::2])
        commits.append(
            CommitInfo(fields[0], _parse_date(fields[1]), fields[2], fields[3], fields[4], paths)
        )
    return commits


def _parse_tags(output: str) -> list[TagInfo]:
    tags: list[TagInfo] = []
    for raw in output.split("\x1e"):
        record = raw.strip("\n")
        if not record:
            continue
        fields = record.split("\x1f")
        if len(fields) != 8:
            raise ProtocolError("git for-each-ref printed an unexpected record")
        name, commit_id, subject, author, committer, created, tagger, annotation = fields
        tags.append(
            TagInfo(
                name,
                commit_id,
                subject,
                author,
                committer,
                _parse_date(created),
                tagger.strip(),
                annotation,
            )
        )
    return tags


def _truthy(value: Any) -> bool:
    """expr result to bool the way Kargo does (bool, else Go's strconv.ParseBool of %v)."""
    if isinstance(value, bool):
        return value
    text = str(value)
    if text in _GO_TRUE:
        return True
    if text in _GO_FALSE:
        return False
    raise InvalidSubscriptionError(f"expressionFilter returned {text!r}, not a boolean")


@dataclass(frozen=True)
class _Plan:
    """A subscription compiled: strategy, filters, limits."""

    sub: GitSubscription
    tag_filter: TagFilter
    constraint: Constraint | None
    include: tuple[PathMatcher, ...] | None
    exclude: tuple[PathMatcher, ...] | None
    expression: Any

    @property
    def path_filtered(self) -> bool:
        return self.include is not None or self.exclude is not None

    def paths_match(self, paths: Sequence[str]) -> bool:
        for path in paths:
            if self.include is not None and not any(m.matches(path) for m in self.include):
                continue
            if self.exclude is not None and any(m.matches(path) for m in self.exclude):
                continue
            return True
        return False

    def tag_matches(self, tag: str) -> bool:
        if not self.tag_filter.matches(tag):
            return False
        if self.sub.commit_selection_strategy is not CommitSelectionStrategy.SEMVER:
            return True
        version = parse_tag(tag, self.sub.strict_semvers)
        return version is not None and (self.constraint is None or self.constraint.check(version))

    async def accepted(self, envs: Sequence[Mapping[str, Any]]) -> list[bool]:
        """Which of `envs` (one per commit or tag) ``expressionFilter`` accepts; evaluated in
        one job off the event loop (a worker process with a deadline when it could grow)."""
        if self.expression is None or not envs:
            return [True] * len(envs)
        try:
            results = await sandbox.evaluate_many_async(
                self.expression.source, {}, envs, project=f"expressionFilter {self.sub.repo_url}"
            )
        except ExpressionError as error:
            raise InvalidSubscriptionError(f"expressionFilter failed: {error}") from None
        return [_truthy(result) for result in results]


def _compile(sub: GitSubscription) -> _Plan:
    problem = repo_url_problem(sub.repo_url)
    if problem is not None:
        raise InvalidSubscriptionError(f"repoURL: {problem}")
    try:
        tag_filter = TagFilter.build(
            sub.allow_tags_regexes, sub.ignore_tags_regexes, sub.allow_tags, sub.ignore_tags
        )
        include = parse_path_selectors(sub.include_paths)
        exclude = parse_path_selectors(sub.exclude_paths)
    except BadPatternError as error:
        raise InvalidSubscriptionError(str(error)) from None
    constraint = subscription_constraint(sub.semver_constraint, "semverConstraint")
    expression = None
    if sub.expression_filter:
        try:
            expression = compile_expression(sub.expression_filter)
        except ExpressionError as error:
            raise InvalidSubscriptionError(f"invalid expressionFilter: {error}") from None
    return _Plan(sub, tag_filter, constraint, include, exclude, expression)


_DEFAULT_BRANCHES = frozenset({"main", "master"})


def ref_selected(sub: GitSubscription, ref: str) -> bool:
    """Whether a push of ``ref`` (``refs/heads/...`` or ``refs/tags/...``) concerns the
    subscription (Kargo's selectors' ``MatchesRef``).

    Raises:
        InvalidSubscriptionError: bad regex, constraint or expression.
    """
    plan = _compile(sub)
    if sub.commit_selection_strategy is CommitSelectionStrategy.NEWEST_FROM_BRANCH:
        if not ref.startswith(_HEADS):
            return False
        branch = ref.removeprefix(_HEADS)
        return branch == sub.branch if sub.branch else branch in _DEFAULT_BRANCHES
    return ref.startswith(_TAGS) and plan.tag_matches(ref.removeprefix(_TAGS))


def paths_selected(sub: GitSubscription, paths: Sequence[str]) -> bool:
    """Whether any of ``paths`` passes the subscription's include/exclude filters (Kargo's
    ``MatchesPaths``: no filters and at least one path is a match).

    Raises:
        InvalidSubscriptionError: a bad path selector.
    """
    return _compile(sub).paths_match(paths)


def _remote_error(
    error: GitError, verb: str, repo_url: str, creds: BasicCredentials | None, timeout: float
) -> RemoteError:
    """The discovery error for a failed git command, by the runner's error class."""
    url = redact_url(repo_url)
    host = urlsplit(url).netloc.rpartition("@")[2] if "://" in url else url
    if isinstance(error, GitTimeoutError):
        return UnreachableError(f"git {verb} of {url} timed out after {timeout:g}s")
    if not isinstance(error, GitCommandError):
        return ProtocolError(str(error))
    detail = error.reason
    if isinstance(error, GitAuthenticationError):
        who = f"the credentials of user {creds.username!r}" if creds else "anonymous access"
        return AuthenticationError(
            f"git repository {url} refused {who} ({detail})", host=host, status=401
        )
    if isinstance(error, GitRepositoryNotFoundError):
        return RepositoryNotFoundError(
            f"git repository {url} not found ({detail})", host=host, status=404
        )
    if isinstance(error, GitUnreachableError):
        return UnreachableError(f"git repository {url} is unreachable ({detail})", host=host)
    return ProtocolError(f"git {verb} of {url} failed ({detail})", host=host)


#: A blobless mirror must never download file contents behind discovery's back.
_NO_LAZY_FETCH = {"GIT_NO_LAZY_FETCH": "1"}


def _credentials(creds: BasicCredentials | None) -> RepoCredentials | None:
    return None if creds is None else RepoCredentials(creds.username, creds.password)


class _Git:
    """Discovery's use of git: ``ls-remote`` through :func:`shunter.git.runner.run_git`, the
    mirrors' commands, one time limit, the discovery TLS settings, no lazy fetches, and errors
    translated into :mod:`shunter.registries.errors`."""

    def __init__(self, store: MirrorStore, *, timeout: float, ca_bundle: Path | None) -> None:
        self.store = store
        self.timeout = timeout
        self.ca_bundle = ca_bundle

    def _config(self, insecure_skip_tls_verify: bool) -> dict[str, str]:
        return tls_config(
            insecure_skip_tls_verify=insecure_skip_tls_verify, ca_bundle=self.ca_bundle
        )

    def _error(
        self, error: GitError, verb: str, repo_url: str, creds: BasicCredentials | None = None
    ) -> RemoteError:
        return _remote_error(error, verb, repo_url, creds, self.timeout)

    async def run(
        self,
        args: Sequence[str],
        *,
        repo_url: str,
        creds: BasicCredentials | None = None,
        insecure_skip_tls_verify: bool = False,
    ) -> str:
        """Run ``git <args>`` outside any repository (``ls-remote``) and return stdout."""
        try:
            result = await run_git(
                args,
                cwd=self.store.root,
                home=None,
                time_limit=self.timeout,
                credentials=_credentials(creds),
                config=self._config(insecure_skip_tls_verify),
                env=_NO_LAZY_FETCH,
                remote=repo_url,
            )
        except GitError as error:
            raise self._error(error, args[0], repo_url, creds) from None
        return result.stdout

    async def read(self, mirror: Mirror, args: Sequence[str], *, repo_url: str) -> str:
        """Run a reading command in the mirror (refs and objects stay put meanwhile)."""
        try:
            await mirror.ensure()
            async with mirror.lock.read():
                result = await mirror.run(*args, time_limit=self.timeout)
        except GitError as error:
            raise self._error(error, args[0], repo_url) from None
        mirror.touch()
        return result.stdout

    async def fetch(
        self,
        mirror: Mirror,
        sub: GitSubscription,
        creds: BasicCredentials | None,
        refspec: str,
        *,
        prune: bool,
        unless: Mapping[str, str] | None = None,
        on_fetch: Callable[[], None] | None = None,
    ) -> bool:
        """Fetch ``refspec`` into the mirror (see :meth:`Mirror.fetch` for ``unless``,
        ``on_fetch`` and the result); a damaged mirror is repaired and tried again."""

        async def once() -> bool:
            return await mirror.fetch(
                sub.repo_url,
                [refspec],
                credentials=_credentials(creds),
                config=self._config(bool(sub.insecure_skip_tls_verify)),
                prune=prune,
                time_limit=self.timeout,
                unless=unless,
                on_fetch=on_fetch,
            )

        generation = mirror.generation
        try:
            return await once()
        except GitError as error:
            if not is_damage(error):
                raise self._error(error, "fetch", sub.repo_url, creds) from None
            await mirror.repair(error, generation)
        try:
            return await once()
        except GitError as error:
            raise self._error(error, "fetch", sub.repo_url, creds) from None


class GitDiscoverer:
    """Discovers commits from the repositories' mirrors (see the module docstring).

    Args:
        settings: operator-wide settings (time limit, CA bundle, ``ls-remote`` cache age).
        mirrors: the mirror store to share (the operator's); without one, a store of its own
            in ``settings.git_cache_dir`` (or a temporary folder), removed by :meth:`aclose`.
    """

    def __init__(
        self, settings: DiscoverySettings | None = None, *, mirrors: MirrorStore | None = None
    ) -> None:
        self.settings = settings or DiscoverySettings()
        self._owns_store = mirrors is None
        self.mirrors = mirrors or MirrorStore(self.settings.git_cache_dir)
        self._runner = _Git(
            self.mirrors, timeout=self.settings.git_timeout, ca_bundle=self.settings.ca_bundle
        )
        self.refs: SingleFlightCache[tuple[str, str, bool, str], tuple[tuple[str, str], ...]] = (
            SingleFlightCache(10_000)
        )
        self.fetches = 0

    def _git(self) -> _Git:
        return self._runner

    async def aclose(self) -> None:
        """Remove the mirrors if this object made their store in a temporary folder."""
        if self._owns_store:
            await self.mirrors.aclose()

    # -- remote refs -----------------------------------------------------------------------

    async def _ls_remote(
        self, sub: GitSubscription, creds: BasicCredentials | None, pattern: str, max_age: float
    ) -> tuple[tuple[str, str], ...]:
        """(name, id) pairs from ``git ls-remote``; ``ref: <target>`` names for symrefs."""
        insecure = bool(sub.insecure_skip_tls_verify)
        identity = identity_of(creds)

        async def load() -> tuple[tuple[str, str], ...]:
            args = ["ls-remote", "--symref", sub.repo_url, pattern] if pattern == "HEAD" else [
                "ls-remote", sub.repo_url, pattern,
            ]  # fmt: skip
            out = await self._git().run(
                args, repo_url=sub.repo_url, creds=creds, insecure_skip_tls_verify=insecure
            )
            refs: list[tuple[str, str]] = []
            for line in out.splitlines():
                first, sep, name = line.partition("\t")
                if not sep or name.endswith("^{}"):
                    continue
                refs.append((name, first))
            return tuple(refs)

        key = (sub.repo_url, identity, insecure, pattern)
        age = min(max_age, self.settings.git_refs_max_age)
        return await self.refs.get(key, load, max_age=age)

    # -- mirrors ---------------------------------------------------------------------------

    def _mirror(self, sub: GitSubscription) -> Mirror:
        return self.mirrors.mirror(sub.repo_url, blobless=bool(sub.blobless))

    async def _fetch(
        self,
        sub: GitSubscription,
        creds: BasicCredentials | None,
        mirror: Mirror,
        refspec: str,
        *,
        prune: bool = False,
        unless: Mapping[str, str] | None = None,
    ) -> None:
        await self._git().fetch(
            mirror, sub, creds, refspec, prune=prune, unless=unless, on_fetch=self._count_fetch
        )

    def _count_fetch(self) -> None:
        self.fetches += 1

    async def _local_ref(self, mirror: Mirror, ref: str, repo_url: str) -> str | None:
        """What ``ref`` points at in the mirror (reads refs only: never a lazy fetch)."""
        out = await self._git().read(
            mirror, ["for-each-ref", "--format=%(objectname)", ref], repo_url=repo_url
        )
        return out.strip() or None

    async def _log(
        self,
        mirror: Mirror,
        repo_url: str,
        revs: Sequence[str],
        *,
        with_paths: bool,
        walk: bool,
        skip: int = 0,
        count: int | None = None,
        since: dt.datetime | None = None,
    ) -> list[CommitInfo]:
        args = ["log", "--first-parent", f"--format={_LOG_FORMAT}"]
        if with_paths:
            args += ["--no-renames", "--name-status", "-z", "--diff-merges=first-parent"]
        if not walk:
            args.append("--no-walk=unsorted")
        if count is not None:
            args.append(f"--max-count={count}")
        if skip:
            args.append(f"--skip={skip}")
        if since is not None:
            args.append(f"--since={since.isoformat()}")
        args += [*revs, "--"]
        out = await self._git().read(mirror, args, repo_url=repo_url)
        return _parse_log(out, with_paths)

    # -- strategies ------------------------------------------------------------------------

    async def _branch_commits(
        self, plan: _Plan, mirror: Mirror, head: str
    ) -> list[DiscoveredCommit]:
        sub = plan.sub
        limit = sub.discovery_limit
        selected: list[CommitInfo] = []
        skip, batch = 0, limit
        while len(selected) < limit:
            commits = await self._log(
                mirror,
                sub.repo_url,
                [head],
                with_paths=plan.path_filtered,
                walk=True,
                skip=skip,
                count=batch,
                since=sub.since,
            )
            if not commits:
                break
            accepted = await plan.accepted(
                [
                    {
                        "id": commit.id,
                        "commitDate": GoTime(commit.date),
                        "author": commit.author,
                        "committer": commit.committer,
                        "subject": commit.subject,
                    }
                    for commit in commits
                ]
            )
            for commit, ok in zip(commits, accepted, strict=True):
                if not ok:
                    continue
                if plan.path_filtered and not plan.paths_match(commit.paths):
                    continue
                selected.append(commit)
                if len(selected) >= limit:
                    break
            skip, batch = skip + batch, min(batch * 2, _MAX_BATCH)
        return [
            DiscoveredCommit(
                id=c.id,
                branch=sub.branch or None,
                subject=shorten_subject(c.subject),
                author=c.author,
                committer=c.committer,
                creator_date=c.date,
            )
            for c in selected
        ]

    async def _tag_commits(self, plan: _Plan, mirror: Mirror) -> list[DiscoveredCommit]:
        sub = plan.sub
        out = await self._git().read(
            mirror,
            ["for-each-ref", "--sort=-creatordate", f"--format={_TAG_FORMAT}", "refs/tags"],
            repo_url=sub.repo_url,
        )
        tags = [t for t in _parse_tags(out) if plan.tag_matches(t.tag)]
        accepted = await plan.accepted(
            [
                {
                    "tag": t.tag,
                    "id": t.commit_id,
                    "creatorDate": GoTime(t.creator_date),
                    "author": t.author,
                    "committer": t.committer,
                    "subject": t.subject,
                    "tagger": t.tagger,
                    "annotation": t.annotation,
                }
                for t in tags
            ]
        )
        tags = [t for t, ok in zip(tags, accepted, strict=True) if ok]
        strategy = sub.commit_selection_strategy
        if strategy is CommitSelectionStrategy.SEMVER:
            versioned = [(t, parse_tag(t.tag, sub.strict_semvers)) for t in tags]
            tags = [
                t
                for t, _ in sort_descending(
                    [(t, v) for t, v in versioned if v is not None], lambda item: item[1]
                )
            ]
        elif strategy is CommitSelectionStrategy.LEXICAL:
            tags.sort(key=lambda t: t.tag, reverse=True)
        limit = sub.discovery_limit
        if plan.path_filtered:
            kept: list[TagInfo] = []
            for start in range(0, len(tags), _PATHS_WINDOW):
                window = tags[start : start + _PATHS_WINDOW]
                ids = list(dict.fromkeys(t.commit_id for t in window))
                logged = await self._log(mirror, sub.repo_url, ids, with_paths=True, walk=False)
                paths = {c.id: c.paths for c in logged}
                kept += [t for t in window if plan.paths_match(paths.get(t.commit_id, ()))]
                if len(kept) >= limit:
                    break
            tags = kept
        return [
            DiscoveredCommit(
                id=t.commit_id,
                tag=t.tag,
                subject=shorten_subject(t.subject),
                author=t.author,
                committer=t.committer,
                creator_date=t.creator_date,
            )
            for t in tags[:limit]
        ]

    async def discover(
        self,
        sub: GitSubscription,
        creds: BasicCredentials | None = None,
        *,
        subscription_name: str | None = None,
        previous: GitDiscoveryResult | None = None,
        max_age: float | None = None,
    ) -> GitDiscoveryResult:
        """The commits a git subscription discovers, best first.

        Args:
            previous: the last result of this subscription (same Warehouse generation); its
                commits are reused when the observed refs did not change.
            max_age: accept ``ls-remote`` answers up to this old (seconds); 0 forces a new one.

        Raises:
            InvalidSubscriptionError, RemoteError: see :mod:`shunter.registries.errors`.
        """
        plan = _compile(sub)
        age = self.settings.git_refs_max_age if max_age is None else max_age
        if sub.commit_selection_strategy is CommitSelectionStrategy.NEWEST_FROM_BRANCH:
            observed, head, refspec = await self._branch_head(sub, creds, age)
        else:
            observed = await self._observed_tags(plan, creds, age)
            head = refspec = None
        if (
            previous is not None
            and previous.repo_url == sub.repo_url
            and observed is not None
            and previous.observed_refs is not None
            and previous.observed_refs == observed
        ):
            return GitDiscoveryResult(
                repoURL=sub.repo_url,
                subscription_name=subscription_name,
                commits=previous.commits,
                observed_refs=observed,
            )
        if sub.commit_selection_strategy is CommitSelectionStrategy.NEWEST_FROM_BRANCH:
            if head is None or refspec is None:
                commits: list[DiscoveredCommit] = []  # an empty repository
            else:
                mirror = self._mirror(sub)
                local_ref = refspec.rsplit(":", 1)[1]
                if await self._local_ref(mirror, local_ref, sub.repo_url) != head:
                    # Concurrent discoveries of the branch share one fetch.
                    await self._fetch(sub, creds, mirror, refspec, unless={local_ref: head})
                commits = await self._branch_commits(plan, mirror, head)
        else:
            mirror = self._mirror(sub)
            await self._fetch(sub, creds, mirror, "+refs/tags/*:refs/tags/*", prune=True)
            commits = await self._tag_commits(plan, mirror)
        return GitDiscoveryResult(
            repoURL=sub.repo_url,
            subscription_name=subscription_name,
            commits=commits,
            observed_refs=observed,
        )

    async def _branch_head(
        self, sub: GitSubscription, creds: BasicCredentials | None, max_age: float
    ) -> tuple[GitDiscoveryRefs | None, str | None, str | None]:
        """(observedRefs, tip commit, fetch refspec) of the subscribed branch."""
        pattern = f"{_HEADS}{sub.branch}" if sub.branch else "HEAD"
        refs = await self._ls_remote(sub, creds, pattern, max_age)
        head = next(
            (ref_id for name, ref_id in refs if name == pattern and not ref_id.startswith("ref: ")),
            None,
        )
        if head is None:
            if sub.branch:
                raise RepositoryNotFoundError(
                    f"branch {sub.branch!r} not found in git repository {redact_url(sub.repo_url)}"
                )
            return None, None, None  # an empty repository
        if sub.branch:
            return GitDiscoveryRefs(branch_head=head), head, f"+{pattern}:{pattern}"
        # "ref: refs/heads/main<TAB>HEAD" names the default branch; fetch that branch.
        target = next((i[5:] for n, i in refs if n == "HEAD" and i.startswith("ref: ")), "")
        if target.startswith(_HEADS):
            refspec = f"+{target}:{target}"
        else:
            refspec = "+HEAD:refs/discovery/HEAD"
        return GitDiscoveryRefs(branch_head=head), head, refspec

    async def _observed_tags(
        self, plan: _Plan, creds: BasicCredentials | None, max_age: float
    ) -> GitDiscoveryRefs | None:
        refs = await self._ls_remote(plan.sub, creds, f"{_TAGS}*", max_age)
        tags = sorted(
            (DiscoveredRef(name=name.removeprefix(_TAGS), id=ref_id) for name, ref_id in refs
             if name.startswith(_TAGS) and plan.tag_matches(name.removeprefix(_TAGS))),
            key=lambda ref: ref.name,
        )  # fmt: skip
        if len(tags) > self.settings.max_observed_tags:
            return None
        return GitDiscoveryRefs(tags=tags)
