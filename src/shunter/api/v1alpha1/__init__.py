"""``kargo.akuity.io/v1alpha1``: every kind shunter serves, as pydantic models.

Import kinds from here: ``from shunter.api.v1alpha1 import Stage, Warehouse``. The names (those
of :mod:`shunter.api.v1alpha1.kinds`) are loaded on first use, so that the light submodules
``labels``, ``annotations`` and ``group`` can be imported without pydantic (the command line
prints tables with them in a fraction of the time the models take to load).
"""

# No ``from __future__ import annotations`` here: it would bind the name ``annotations``
# and hide the submodule of that name.
import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shunter.api.v1alpha1.kinds import *  # noqa: F403


def __getattr__(name: str) -> object:
    kinds = importlib.import_module("shunter.api.v1alpha1.kinds")
    if name in kinds.__all__:
        value = getattr(kinds, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
