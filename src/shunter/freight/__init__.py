"""Freight identity: IDs (Kargo's algorithm), URL normalisations and generated aliases.

* :func:`freight_id` / :func:`freight_id_of`: the SHA-1 name of a piece of Freight.
* :func:`normalize_git_url`, :func:`normalize_image_url`, :func:`normalize_chart_url`: Kargo's
  normalisations, also used to match artifacts to subscriptions.
* :func:`subscribed_urls`: a Warehouse's subscriptions' normalised URLs (``subscribedURLs``).
* :func:`generate_alias`: ``<adjective>-<animal>``, unique through an injected check.

The names are loaded from their modules on first use, so that importing
:mod:`shunter.freight.urls` alone costs only that module (the expression evaluator's worker
processes offer the normalisations without loading pydantic or the word lists).
"""

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shunter.freight.aliases import (
        AliasExhaustedError,
        IsTaken,
        generate_alias,
        random_alias,
    )
    from shunter.freight.ids import (
        Artifact,
        chart_hash_part,
        commit_hash_part,
        freight_hash_input,
        freight_id,
        freight_id_of,
        generic_hash_part,
        image_hash_part,
    )
    from shunter.freight.subscriptions import subscribed_urls
    from shunter.freight.urls import (
        ImageReference,
        normalize_chart_url,
        normalize_git_url,
        normalize_image_url,
        parse_image_reference,
        sanitize_url,
    )

#: Where the names live, lightest first: a name is looked up module by module.
_MODULES = ("urls", "subscriptions", "ids", "aliases")

__all__ = [
    "AliasExhaustedError",
    "Artifact",
    "ImageReference",
    "IsTaken",
    "chart_hash_part",
    "commit_hash_part",
    "freight_hash_input",
    "freight_id",
    "freight_id_of",
    "generate_alias",
    "generic_hash_part",
    "image_hash_part",
    "normalize_chart_url",
    "normalize_git_url",
    "normalize_image_url",
    "parse_image_reference",
    "random_alias",
    "sanitize_url",
    "subscribed_urls",
]


def __getattr__(name: str) -> object:
    if name in __all__:
        for module in _MODULES:
            found = importlib.import_module(f"shunter.freight.{module}")
            if name in found.__all__:
                value = getattr(found, name)
                globals()[name] = value
                return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
