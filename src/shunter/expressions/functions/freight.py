"""Kargo's freight functions: ``warehouse()``, ``commitFrom()``, ``imageFrom()``, ``chartFrom()``.

Owns the records these functions return (Go field names for member access, Kargo's JSON names
when rendered): `FREIGHT_ORIGIN` ``{Kind, Name}``, `GIT_COMMIT` ``{RepoURL, ID, Branch, Tag,
Message, Author, Committer, SubscriptionName}``, `IMAGE` ``{RepoURL, Tag, Digest, Annotations,
SubscriptionName}``, `CHART` ``{RepoURL, Name, Version, SubscriptionName}``, and Kargo's lookup
rules (``pkg/controller/freight/finder.go``):

* With an explicit origin (``warehouse('w')``), the artifact comes from the FreightReference of
  that origin, or nil.
* Without one, the requested origins (the Stage's ``requestedFreight``) are examined: each must
  be a Warehouse the reader can return (else an error); the origins whose Warehouse subscribes
  to the repository are candidates. More than one is an error asking to disambiguate; none
  means nil - except ``chartFrom``, which then reports the chart as not found.
* Git URLs are compared normalized (case, credentials, ``.git``, trailing ``/``, scp-style);
  image and chart URLs and chart names must match exactly.

If the caller gives no freight requests (``freight_requests=None``), the candidates are the
FreightReferences that contain the artifact (ambiguity is still an error). Annotations read as a
`StrMap`, so a missing annotation is ``""`` as in Go.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from shunter.expressions.errors import FunctionError
from shunter.expressions.functions.data import DataReader, ResourceRef
from shunter.expressions.registry import ExprFunction
from shunter.expressions.values import Record, RecordField, RecordType, StrMap, type_name

__all__ = [
    "CHART",
    "FREIGHT_ORIGIN",
    "GIT_COMMIT",
    "IMAGE",
    "freight_functions",
    "normalize_git_url",
]

FREIGHT_ORIGIN = RecordType(
    "FreightOrigin",
    [RecordField("Kind", "kind", omit_empty=False), RecordField("Name", "name", omit_empty=False)],
)
GIT_COMMIT = RecordType(
    "GitCommit",
    [
        RecordField("RepoURL", "repoURL"),
        RecordField("ID", "id"),
        RecordField("Branch", "branch"),
        RecordField("Tag", "tag"),
        RecordField("Message", "message"),
        RecordField("Author", "author"),
        RecordField("Committer", "committer"),
        RecordField("SubscriptionName", "subscriptionName"),
    ],
)
IMAGE = RecordType(
    "Image",
    [
        RecordField("RepoURL", "repoURL"),
        RecordField("Tag", "tag"),
        RecordField("Digest", "digest"),
        RecordField("Annotations", "annotations"),
        RecordField("SubscriptionName", "subscriptionName"),
    ],
)
CHART = RecordType(
    "Chart",
    [
        RecordField("RepoURL", "repoURL"),
        RecordField("Name", "name"),
        RecordField("Version", "version"),
        RecordField("SubscriptionName", "subscriptionName"),
    ],
)

_SCP = re.compile(r"^((?:[\w-]+@)?[\w-]+(?:\.[\w-]+)*)(?::(.*))?$")


def _sanitize(url: str) -> str:
    return "".join(c for c in url if c.isprintable()).strip(string.whitespace)


def normalize_git_url(url: str) -> str:
    """Kargo's ``urls.NormalizeGit``: a canonical form for comparing Git repository URLs."""
    original = url
    url = _sanitize(url.lower())
    if url.startswith(("http://", "https://", "ssh://")):
        try:
            parts = urlsplit(url)
        except ValueError:
            return original
        if parts.query:
            return original
        netloc = parts.netloc
        if parts.scheme != "ssh" and "@" in netloc:
            netloc = netloc.rsplit("@", 1)[1]
        path = parts.path
        path = path.removesuffix("/")
        path = path.removesuffix(".git")
        return urlunsplit((parts.scheme, netloc, path, "", parts.fragment))
    match = _SCP.match(url)
    if match is None:
        return original
    user_host, path = match.group(1), match.group(2) or ""
    path = path.removesuffix("/").removesuffix(".git")
    if not path:
        return f"ssh://{user_host}"
    return f"ssh://{user_host}/{path}"


def _origin_of(value: Mapping[str, Any] | None) -> tuple[str, str]:
    origin = value or {}
    return (str(origin.get("kind") or "Warehouse"), str(origin.get("name") or ""))


def _make_commit(data: Mapping[str, Any]) -> Record:
    return GIT_COMMIT(
        RepoURL=data.get("repoURL", ""),
        ID=data.get("id", ""),
        Branch=data.get("branch", ""),
        Tag=data.get("tag", ""),
        Message=data.get("message", ""),
        Author=data.get("author", ""),
        Committer=data.get("committer", ""),
        SubscriptionName=data.get("subscriptionName", ""),
    )


def _make_image(data: Mapping[str, Any]) -> Record:
    annotations = data.get("annotations") or {}
    return IMAGE(
        RepoURL=data.get("repoURL", ""),
        Tag=data.get("tag", ""),
        Digest=data.get("digest", ""),
        Annotations=StrMap({str(k): str(v) for k, v in annotations.items()}),
        SubscriptionName=data.get("subscriptionName", ""),
    )


def _make_chart(data: Mapping[str, Any]) -> Record:
    return CHART(
        RepoURL=data.get("repoURL", ""),
        Name=data.get("name", ""),
        Version=data.get("version", ""),
        SubscriptionName=data.get("subscriptionName", ""),
    )


class _Finder:
    def __init__(
        self,
        freight: Sequence[Mapping[str, Any]],
        freight_requests: Sequence[Mapping[str, Any]] | None,
        reader: DataReader | None,
    ) -> None:
        self.freight = freight
        self.requests = freight_requests
        self.reader = reader

    def subscriptions(self, warehouse: str) -> list[Mapping[str, Any]]:
        if self.reader is None:
            raise FunctionError(
                f"cannot look up Warehouse {warehouse!r}: no data reader was provided"
            )
        obj = self.reader.get(ResourceRef("Warehouse", warehouse))
        if obj is None:
            raise FunctionError(f"Warehouse {warehouse!r} not found")
        spec = obj.get("spec") or {}
        return [s for s in spec.get("subscriptions") or [] if isinstance(s, Mapping)]

    def find(
        self,
        *,
        section: str,
        what: str,
        origin: tuple[str, str] | None,
        subscribes: Callable[[Mapping[str, Any]], bool],
        matches: Callable[[Mapping[str, Any]], bool],
        not_found_error: str | None = None,
    ) -> Mapping[str, Any] | None:
        if origin is None:
            candidates: list[tuple[str, str]] = []
            if self.requests is None:
                for ref in self.freight:
                    if any(matches(item) for item in ref.get(section) or []):
                        candidates.append(_origin_of(ref.get("origin")))
            else:
                for request in self.requests:
                    kind, name = _origin_of(request.get("origin"))
                    if any(subscribes(sub) for sub in self.subscriptions(name)):
                        candidates.append((kind, name))
            unique = list(dict.fromkeys(candidates))
            if len(unique) > 1:
                raise FunctionError(
                    f"multiple requested Freight could potentially provide {what}; "
                    "please provide a Freight origin (warehouse('name')) to disambiguate"
                )
            if not unique:
                if not_found_error is not None:
                    raise FunctionError(not_found_error)
                return None
            origin = unique[0]
        for ref in self.freight:
            if _origin_of(ref.get("origin")) != origin:
                continue
            for item in ref.get(section) or []:
                if isinstance(item, Mapping) and matches(item):
                    return item
        return None


def _repo_arg(fn: str, value: Any) -> str:
    if not isinstance(value, str):
        raise FunctionError(f"{fn}(): first argument must be string, got {type_name(value)}")
    return value


def _origin_arg(fn: str, value: Any, position: str) -> tuple[str, str]:
    if not isinstance(value, Record) or value.record_type is not FREIGHT_ORIGIN:
        raise FunctionError(
            f"{fn}(): {position} argument must be FreightOrigin, got {type_name(value)}"
        )
    return (str(value["Kind"]), str(value["Name"]))


def freight_functions(
    freight: Sequence[Mapping[str, Any]],
    freight_requests: Sequence[Mapping[str, Any]] | None = None,
    reader: DataReader | None = None,
) -> dict[str, ExprFunction]:
    """warehouse, commitFrom, imageFrom, chartFrom over FreightReferences (wire dicts)."""
    finder = _Finder(freight, freight_requests, reader)

    def warehouse(name: Any) -> Record:
        if not isinstance(name, str):
            raise FunctionError(f"warehouse(): argument must be string, got {type_name(name)}")
        if not name:
            raise FunctionError("warehouse(): name must not be empty")
        return FREIGHT_ORIGIN(Kind="Warehouse", Name=name)

    def commit_from(repo_url: Any, origin: Any = None) -> Record | None:
        url = normalize_git_url(_repo_arg("commitFrom", repo_url))
        wanted = None if origin is None else _origin_arg("commitFrom", origin, "second")

        def subscribes(sub: Mapping[str, Any]) -> bool:
            git = sub.get("git")
            return (
                isinstance(git, Mapping) and normalize_git_url(str(git.get("repoURL", ""))) == url
            )

        found = finder.find(
            section="commits",
            what=f"a commit from repo {url}",
            origin=wanted,
            subscribes=subscribes,
            matches=lambda item: normalize_git_url(str(item.get("repoURL", ""))) == url,
        )
        return None if found is None else _make_commit(found)

    def image_from(repo_url: Any, origin: Any = None) -> Record | None:
        url = _repo_arg("imageFrom", repo_url)
        wanted = None if origin is None else _origin_arg("imageFrom", origin, "second")

        def subscribes(sub: Mapping[str, Any]) -> bool:
            image = sub.get("image")
            return isinstance(image, Mapping) and image.get("repoURL") == url

        found = finder.find(
            section="images",
            what=f"a container image from repository {url}",
            origin=wanted,
            subscribes=subscribes,
            matches=lambda item: item.get("repoURL") == url,
        )
        return None if found is None else _make_image(found)

    def chart_from(repo_url: Any, second: Any = None, third: Any = None) -> Record | None:
        url = _repo_arg("chartFrom", repo_url)
        name = ""
        wanted: tuple[str, str] | None = None
        if isinstance(second, str):
            name = second
        elif second is not None:
            wanted = _origin_arg("chartFrom", second, "second")
        if third is not None:
            if not isinstance(second, str):
                raise FunctionError(
                    "chartFrom(): when using three arguments, the second must be a chart name"
                )
            wanted = _origin_arg("chartFrom", third, "third")

        def subscribes(sub: Mapping[str, Any]) -> bool:
            chart = sub.get("chart")
            return (
                isinstance(chart, Mapping)
                and chart.get("repoURL") == url
                and (chart.get("name") or "") == name
            )

        label = f"chart {name!r} from repo {url}" if name else f"chart from repo {url}"
        found = finder.find(
            section="charts",
            what=f"a {label}",
            origin=wanted,
            subscribes=subscribes,
            matches=lambda item: item.get("repoURL") == url and (item.get("name") or "") == name,
            not_found_error=f"{label} not found in referenced Freight",
        )
        return None if found is None else _make_chart(found)

    return {
        "warehouse": ExprFunction("warehouse", warehouse, 1, 1),
        "commitFrom": ExprFunction("commitFrom", commit_from, 1, 2),
        "imageFrom": ExprFunction("imageFrom", image_from, 1, 2),
        "chartFrom": ExprFunction("chartFrom", chart_from, 1, 3),
    }
