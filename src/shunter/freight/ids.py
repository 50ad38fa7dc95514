"""Freight IDs: the name of a piece of Freight, derived from its origin and artifacts.

The algorithm is Kargo's, so that the same artifacts give the same Freight name in both
operators:

1. One "hash part" per artifact:

   * commit: ``normGit(repoURL) + ":" + id``, or ``normGit(repoURL) + ":" + tag + ":" + id``
     when the commit has a tag;
   * image: ``repoURL + ":" + tag + "@" + digest`` (repoURL as given, not normalised);
   * chart: ``path.Join(normChart(repoURL), name) + ":" + version`` (Go's ``path.Join``, which
     also turns ``https://`` into ``https:/``);
   * generic artifact: ``artifactType + ":" + subscriptionName + ":" + version``;
   * commits, images and charts with a subscription name get ``":" + subscriptionName``.

2. The parts sorted (byte order) and joined with ``|``, prefixed with ``<kind>/<name>:``.
3. The lower-case hex SHA-1 of that string.

Artifacts may be given as API models (:class:`~shunter.api.v1alpha1.common.GitCommit`,
:class:`~shunter.api.v1alpha1.common.Image`, :class:`~shunter.api.v1alpha1.common.Chart`,
:class:`~shunter.api.v1alpha1.common.ArtifactReference`) or as plain dicts in the wire format
(camelCase keys: ``repoURL``, ``subscriptionName``, ``artifactType``...); missing fields count as
empty strings, exactly like Go's zero values.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel

from shunter.freight._gourl import go_path_join
from shunter.freight.urls import normalize_chart_url, normalize_git_url

__all__ = [
    "Artifact",
    "chart_hash_part",
    "commit_hash_part",
    "freight_hash_input",
    "freight_id",
    "freight_id_of",
    "generic_hash_part",
    "image_hash_part",
]

#: An artifact: an API model or its wire-format dict.
Artifact = BaseModel | Mapping[str, Any]


def _field(artifact: Artifact, wire_name: str) -> str:
    """A field by its wire (camelCase) name; ``""`` when absent or null."""
    if isinstance(artifact, BaseModel):
        data = artifact.model_dump(by_alias=True)
        value = data.get(wire_name)
    else:
        value = artifact.get(wire_name)
    return "" if value is None else str(value)


def _with_subscription(base: str, artifact: Artifact) -> str:
    name = _field(artifact, "subscriptionName")
    return f"{base}:{name}" if name else base


def commit_hash_part(commit: Artifact) -> str:
    """The hash part of a git commit."""
    repo = normalize_git_url(_field(commit, "repoURL"))
    tag = _field(commit, "tag")
    commit_id = _field(commit, "id")
    base = f"{repo}:{tag}:{commit_id}" if tag else f"{repo}:{commit_id}"
    return _with_subscription(base, commit)


def image_hash_part(image: Artifact) -> str:
    """The hash part of an image (repoURL verbatim; tag and digest both included)."""
    base = f"{_field(image, 'repoURL')}:{_field(image, 'tag')}@{_field(image, 'digest')}"
    return _with_subscription(base, image)


def chart_hash_part(chart: Artifact) -> str:
    """The hash part of a Helm chart."""
    location = go_path_join(normalize_chart_url(_field(chart, "repoURL")), _field(chart, "name"))
    return _with_subscription(f"{location}:{_field(chart, 'version')}", chart)


def generic_hash_part(artifact: Artifact) -> str:
    """The hash part of a generic artifact."""
    return (
        f"{_field(artifact, 'artifactType')}:{_field(artifact, 'subscriptionName')}:"
        f"{_field(artifact, 'version')}"
    )


def freight_hash_input(  # noqa: PLR0917 - mirrors freight_id
    origin_kind: str,
    origin_name: str,
    commits: Iterable[Artifact] = (),
    images: Iterable[Artifact] = (),
    charts: Iterable[Artifact] = (),
    artifacts: Iterable[Artifact] = (),
) -> str:
    """The exact string whose SHA-1 is the Freight ID (useful to explain an ID)."""
    parts = [commit_hash_part(c) for c in commits]
    parts += [image_hash_part(i) for i in images]
    parts += [chart_hash_part(c) for c in charts]
    parts += [generic_hash_part(a) for a in artifacts]
    # Go sorts strings by bytes; for valid UTF-8 that is the code point order Python uses.
    parts.sort(key=lambda part: part.encode("utf-8", "surrogatepass"))
    return f"{origin_kind}/{origin_name}:{'|'.join(parts)}"


def freight_id(  # noqa: PLR0917 - the positional form callers use
    origin_kind: str,
    origin_name: str,
    commits: Iterable[Artifact] = (),
    images: Iterable[Artifact] = (),
    charts: Iterable[Artifact] = (),
    artifacts: Iterable[Artifact] = (),
) -> str:
    """The Freight ID (40 lower-case hex characters) of these artifacts from this origin.

    Args:
        origin_kind: ``"Warehouse"`` (the only origin kind).
        origin_name: the Warehouse's name.
        commits, images, charts, artifacts: API models or wire-format dicts.
    """
    text = freight_hash_input(origin_kind, origin_name, commits, images, charts, artifacts)
    return hashlib.sha1(text.encode("utf-8", "surrogatepass"), usedforsecurity=False).hexdigest()


def freight_id_of(freight: Artifact) -> str:
    """The Freight ID of a Freight object (model or wire dict with ``origin`` and artifacts)."""
    if isinstance(freight, BaseModel):
        data: Mapping[str, Any] = freight.model_dump(by_alias=True)
    else:
        data = freight
    origin = data.get("origin") or {}
    kind, name = str(origin.get("kind") or ""), str(origin.get("name") or "")
    return freight_id(
        kind,
        name,
        data.get("commits") or (),
        data.get("images") or (),
        data.get("charts") or (),
        data.get("artifacts") or (),
    )
