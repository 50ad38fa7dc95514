"""Human-friendly Freight aliases: ``<adjective>-<animal>``, unique within a namespace.

Kargo gives every new piece of Freight without an alias a generated one (``jolly-otter``) and
keeps aliases unique per namespace. :func:`generate_alias` draws random pairs from shunter's own
word lists (:mod:`shunter.freight._words`, ~400 adjectives x ~330 animals, about 130 000 pairs)
and asks an injected ``is_taken`` callback (typically: "does a Freight in this namespace carry
this alias label?") until it finds a free one. When a namespace is so full that
``max_attempts`` random draws all collide, a numeric suffix is added (``jolly-otter-4821``).

The check and the later create are not atomic: two creators may pick the same free alias at the
same moment. Callers that create Freight concurrently must handle the conflict (e.g. retry with a
new alias); the API server's uniqueness check is the final word.
"""

from __future__ import annotations

import random
import re
from collections.abc import Awaitable, Callable

from shunter.freight._words import ADJECTIVES, ANIMALS

__all__ = [
    "ADJECTIVES",
    "ALIAS_PATTERN",
    "ANIMALS",
    "AliasExhaustedError",
    "IsTaken",
    "generate_alias",
    "random_alias",
]

#: What a generated alias looks like (also a valid Kubernetes label value).
ALIAS_PATTERN = re.compile(r"^[a-z]+-[a-z]+(-[0-9]+)?$")

#: ``async def is_taken(alias) -> bool``.
IsTaken = Callable[[str], Awaitable[bool]]

_SUFFIX_MAX = 99_999


class AliasExhaustedError(RuntimeError):
    """No free alias was found within the allowed number of attempts."""


def random_alias(rng: random.Random | None = None) -> str:
    """One random ``<adjective>-<animal>`` (not checked for uniqueness)."""
    chooser = rng or random.SystemRandom()
    return f"{chooser.choice(ADJECTIVES)}-{chooser.choice(ANIMALS)}"


async def generate_alias(
    is_taken: IsTaken,
    *,
    rng: random.Random | None = None,
    max_attempts: int = 200,
    max_suffixed_attempts: int = 200,
) -> str:
    """A random alias for which ``await is_taken(alias)`` is false.

    Args:
        is_taken: reports whether an alias is already used in the namespace.
        rng: source of randomness (a seeded ``random.Random`` in tests); default
            :class:`random.SystemRandom`.
        max_attempts: random ``adjective-animal`` draws before suffixes are used.
        max_suffixed_attempts: draws of ``adjective-animal-<n>`` after that.

    Raises:
        AliasExhaustedError: every attempt collided.
    """
    chooser = rng or random.SystemRandom()
    for _ in range(max_attempts):
        alias = random_alias(chooser)
        if not await is_taken(alias):
            return alias
    for _ in range(max_suffixed_attempts):
        alias = f"{random_alias(chooser)}-{chooser.randint(1, _SUFFIX_MAX)}"
        if not await is_taken(alias):
            return alias
    raise AliasExhaustedError(
        f"no free Freight alias after {max_attempts + max_suffixed_attempts} attempts"
    )
