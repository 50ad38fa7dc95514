"""Kubernetes label selectors (``matchLabels`` / ``matchExpressions``) as selector strings.

Keys and values are validated with Kubernetes' label syntax before they are joined, so a value
can never smuggle extra requirements (``a,b``) into the selector string sent to the API server.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from shunter.argocd.errors import SelectorError

__all__ = ["LabelRequirement", "Operator", "label_selector"]

Operator = Literal["In", "NotIn", "Exists", "DoesNotExist"]

_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


@dataclass(frozen=True)
class LabelRequirement:
    """One ``matchExpressions`` entry."""

    key: str
    operator: Operator
    values: Sequence[str] = field(default_factory=tuple)


def _check_key(key: str) -> None:
    prefix, sep, name = key.rpartition("/")
    if sep and (not prefix or len(prefix) > 253 or not _DNS_SUBDOMAIN.match(prefix)):
        raise SelectorError(f"invalid label key {key!r}: bad prefix")
    if not name or len(name) > 63 or not _NAME.match(name):
        raise SelectorError(
            f"invalid label key {key!r}: names are at most 63 alphanumeric characters, "
            "'-', '_' or '.', starting and ending with an alphanumeric character"
        )


def _check_value(value: str) -> None:
    if value and (len(value) > 63 or not _NAME.match(value)):
        raise SelectorError(
            f"invalid label value {value!r}: at most 63 alphanumeric characters, '-', '_' "
            "or '.', starting and ending with an alphanumeric character"
        )


def label_selector(
    match_labels: Mapping[str, str] | None = None,
    match_expressions: Sequence[LabelRequirement] | None = None,
) -> str:
    """The selector string for the API server's ``labelSelector`` parameter.

    Raises:
        SelectorError: no criterion, an invalid key or value, or values that do not fit the
            operator (``In``/``NotIn`` need some, ``Exists``/``DoesNotExist`` none).
    """
    parts: list[str] = []
    for key, value in sorted((match_labels or {}).items()):
        _check_key(key)
        _check_value(value)
        parts.append(f"{key}={value}")
    for req in match_expressions or ():
        _check_key(req.key)
        values = list(req.values)
        for value in values:
            _check_value(value)
        if req.operator in ("In", "NotIn"):
            if not values:
                raise SelectorError(f"operator {req.operator} on {req.key!r} needs values")
            word = "in" if req.operator == "In" else "notin"
            parts.append(f"{req.key} {word} ({','.join(sorted(set(values)))})")
        elif req.operator in ("Exists", "DoesNotExist"):
            if values:
                raise SelectorError(f"operator {req.operator} on {req.key!r} takes no values")
            parts.append(req.key if req.operator == "Exists" else f"!{req.key}")
        else:
            raise SelectorError(f"invalid operator {req.operator!r}")
    if not parts:
        raise SelectorError("selector must have at least one match criterion")
    return ",".join(parts)
