"""Which sharded objects an operator takes, as Kargo decides it.

Warehouses, Stages and Promotions labelled ``kargo.akuity.io/shard: <name>`` belong to the
operator started with that shard name (``SHUNTER_SHARD_NAME``, Kargo's ``SHARD_NAME``);
unlabelled ones to the default operator: one without a shard name, or one with a shard name
and ``SHUNTER_IS_DEFAULT_CONTROLLER`` (Kargo's ``IS_DEFAULT_CONTROLLER``), which takes both.

:attr:`Shard.selector` is the label selector the informers of the sharded kinds use (none when
an operator takes both labelled and unlabelled objects: Kubernetes cannot say "this value or
absent"); :meth:`Shard.responsible` is the same decision for one object, for what reaches the
cache another way (a GET after a cache miss) and for that selector-less case.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shunter.api.v1alpha1 import labels as lbl

__all__ = ["Shard", "shard_of"]


def shard_of(obj: Mapping[str, Any]) -> str:
    """The ``kargo.akuity.io/shard`` label of a raw object ("" when absent)."""
    labels = (obj.get("metadata") or {}).get("labels") or {}
    value = labels.get(lbl.SHARD) if isinstance(labels, Mapping) else None
    return value if isinstance(value, str) else ""


@dataclass(frozen=True)
class Shard:
    """An operator's share of the sharded kinds."""

    #: The shard's name; "" for the default operator without one.
    name: str = ""
    #: Whether unlabelled objects are taken too (always, without a name).
    default: bool = True

    @classmethod
    def of(cls, name: str, *, is_default_controller: bool) -> Shard:
        """Kargo's rules: no name means the default operator."""
        return cls(name=name, default=not name or is_default_controller)

    @property
    def selector(self) -> str | None:
        """The informers' label selector for the sharded kinds (None: watch everything)."""
        if self.name and self.default:
            return None
        if self.name:
            return f"{lbl.SHARD}={self.name}"
        return f"!{lbl.SHARD}"

    def responsible(self, obj: Mapping[str, Any]) -> bool:
        """Whether this operator reconciles ``obj`` (a raw Warehouse, Stage or Promotion)."""
        label = shard_of(obj)
        return label == self.name if label else self.default

    def __str__(self) -> str:
        if not self.name:
            return "default (unlabelled objects)"
        return f"{self.name}{' and unlabelled objects' if self.default else ''}"
