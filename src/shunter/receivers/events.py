"""What a provider's handler gets (:class:`Inbound`) and what it decides (an :data:`Outcome`).

Handlers are plain functions: they authenticate the request, read its payload and answer with
what should happen - refresh Warehouses subscribed to some repositories, refresh Promotions
waiting on a pull request, run a generic receiver's actions, or just reply. They never touch the
cluster; :mod:`shunter.receivers.refresh` carries the outcome out. A request that must be
refused raises :class:`Rejected` with the HTTP status and a message that never contains a
secret.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, TypeVar

from multidict import MultiMapping
from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError

__all__ = [
    "INVALID_BODY",
    "Inbound",
    "Outcome",
    "PayloadModel",
    "RefreshPromotions",
    "RefreshWarehouses",
    "Rejected",
    "Reply",
    "RunActions",
    "Text",
    "parse_payload",
]

INVALID_BODY = "invalid request body"
M = TypeVar("M", bound="PayloadModel")


class Rejected(Exception):  # noqa: N818 - an HTTP answer, not a failure of ours
    """The request is refused with ``status`` (4xx) and ``message``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Inbound:
    """One request, its body already read (at most the size limit)."""

    #: Case-insensitive.
    headers: MultiMapping[str]
    query: MultiMapping[str]
    body: bytes

    def header(self, name: str) -> str:
        """The first value of a header, ``""`` when absent."""
        return self.headers.get(name, "")


@dataclass(frozen=True)
class Reply:
    """Answer ``status`` with ``body`` as JSON (``{}`` when ``None``, as Kargo does)."""

    status: int = 200
    body: Any = None


@dataclass(frozen=True)
class RefreshWarehouses:
    """Refresh the Warehouses subscribed to any of ``repo_urls`` (normalised) - only those with
    a subscription that would consider one of ``qualifiers`` (tags, refs or versions; none: all
    of them) and, for git, whose path filters pass ``changed_files`` (none: no filtering)."""

    repo_urls: tuple[str, ...]
    qualifiers: tuple[str, ...] = ()
    changed_files: tuple[str, ...] = ()


@dataclass(frozen=True)
class RefreshPromotions:
    """Refresh the running Promotions that wait on the pull request at ``pr_url``."""

    pr_url: str


@dataclass(frozen=True)
class RunActions:
    """Run a generic receiver's actions against the request (see ``receivers.generic``)."""

    body: Any = None
    headers: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    query: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


Outcome = Reply | RefreshWarehouses | RefreshPromotions | RunActions


def _null_is_empty(value: Any) -> Any:
    return "" if value is None else value


#: A string field of a payload; JSON ``null`` reads as ``""`` (Go's zero value).
Text = Annotated[str, BeforeValidator(_null_is_empty)]


class PayloadModel(BaseModel):
    """A provider payload: only the fields shunter reads; others are ignored, missing ones take
    their defaults (as Go's JSON decoding does); a field of the wrong type is a bad request."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


def parse_payload(body: bytes, model: type[M]) -> M:
    """The body as ``model``; anything but a JSON object of the right shape is a 400."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise Rejected(400, INVALID_BODY) from None
    if not isinstance(data, dict):
        raise Rejected(400, INVALID_BODY)
    try:
        return model.model_validate(data)
    except ValidationError:
        raise Rejected(400, INVALID_BODY) from None
