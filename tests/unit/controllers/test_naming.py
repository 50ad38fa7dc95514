"""Promotion names and ULIDs."""

from __future__ import annotations

import re

from shunter.controllers.naming import new_ulid, promotion_name, shorten_label_value


def test_ulids_sort_in_creation_order() -> None:
    ids = [new_ulid() for _ in range(500)]
    assert ids == sorted(ids)
    assert len(set(ids)) == 500
    assert all(re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{26}", i) for i in ids)


def test_ulid_encodes_the_time() -> None:
    assert new_ulid(0).startswith("0000000000")
    assert new_ulid(1 << 40) > new_ulid(1)


def test_promotion_name_shape() -> None:
    name = promotion_name(
        "preprod", "47b33c0c92b54439e5eb7fb80ecc83f8626fe390", "01JD6X5M7M8Q3KZ8M5B0V9Y6QK"
    )
    assert name == "preprod.01jd6x5m7m8q3kz8m5b0v9y6qk.47b33c0"


def test_promotion_name_fits_253() -> None:
    name = promotion_name("s" * 300, "abcdef0123456789")
    assert len(name) == 253
    assert name.endswith(".abcdef0")


def test_shorten_label_value() -> None:
    assert shorten_label_value("prod") == "prod"
    long = "x" * 80
    short = shorten_label_value(long)
    assert len(short) == 63
    assert short.startswith("x" * 54 + "-")
