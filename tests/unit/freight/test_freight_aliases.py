"""Generated Freight aliases: word lists and uniqueness through the injected check."""

from __future__ import annotations

import random
import re

import pytest

from shunter.freight import AliasExhaustedError, generate_alias, random_alias
from shunter.freight.aliases import ADJECTIVES, ALIAS_PATTERN, ANIMALS

LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


def test_word_lists() -> None:
    for words in (ADJECTIVES, ANIMALS):
        assert len(words) >= 300
        assert len(set(words)) == len(words)
        assert all(re.fullmatch(r"[a-z]{2,12}", w) for w in words)
    assert not set(ADJECTIVES) & set(ANIMALS)


def test_random_alias_shape() -> None:
    rng = random.Random(7)
    for _ in range(200):
        alias = random_alias(rng)
        adjective, animal = alias.split("-")
        assert adjective in ADJECTIVES
        assert animal in ANIMALS
        assert ALIAS_PATTERN.match(alias)
        assert LABEL_VALUE.match(alias)
        assert len(alias) <= 63


async def test_generate_alias_skips_taken_ones() -> None:
    taken = {random_alias(random.Random(3)) for _ in range(1)}
    asked: list[str] = []

    async def is_taken(alias: str) -> bool:
        asked.append(alias)
        return alias in taken

    alias = await generate_alias(is_taken, rng=random.Random(3))
    assert alias not in taken
    assert asked[0] in taken  # the first draw collided and was retried
    assert asked[-1] == alias


async def test_generate_alias_unique_in_a_namespace() -> None:
    used: set[str] = set()

    async def is_taken(alias: str) -> bool:
        return alias in used

    rng = random.Random(11)
    for _ in range(2000):
        used.add(await generate_alias(is_taken, rng=rng))
    assert len(used) == 2000


async def test_generate_alias_falls_back_to_a_suffix() -> None:
    async def plain_taken(alias: str) -> bool:
        return alias.count("-") == 1

    alias = await generate_alias(plain_taken, rng=random.Random(5), max_attempts=10)
    assert re.fullmatch(r"[a-z]+-[a-z]+-[0-9]+", alias)
    assert ALIAS_PATTERN.match(alias)


async def test_generate_alias_gives_up() -> None:
    async def always_taken(alias: str) -> bool:
        return True

    with pytest.raises(AliasExhaustedError, match="after 20 attempts"):
        await generate_alias(
            always_taken, rng=random.Random(1), max_attempts=10, max_suffixed_attempts=10
        )
