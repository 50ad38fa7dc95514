"""The controller's rules on raw objects: Freight availability, parsed through the API models.

Loading the pydantic models takes longer than a whole ``shunter get``, so only the commands
that apply Kargo's rules import this module, and only when they run: ``promote``, ``approve``
and ``get freight --stage``.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import ValidationError

from shunter.api.v1alpha1.freight import Freight
from shunter.api.v1alpha1.stage import Stage
from shunter.cli_commands.errors import CliError
from shunter.controllers.availability import freight_availability

__all__ = ["freight_availability", "parse_freight", "parse_stage", "requested_origins"]

JSON = dict[str, Any]
_Model = TypeVar("_Model", Stage, Freight)


def _parse(model: type[_Model], raw: JSON) -> _Model:
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        name = raw.get("metadata", {}).get("name")
        raise CliError(f"cannot read {model.__name__} {name!r}: {exc}") from None


def parse_stage(raw: JSON) -> Stage:
    """A Stage model, or a :class:`CliError` naming the Stage that cannot be read."""
    return _parse(Stage, raw)


def parse_freight(raw: JSON) -> Freight:
    """A Freight model, or a :class:`CliError` naming the Freight that cannot be read."""
    return _parse(Freight, raw)


def requested_origins(stage: Stage) -> str:
    """The origins a Stage requests Freight from, for messages."""
    return ", ".join(r.origin.key for r in stage.spec.requested_freight) or "nothing"
