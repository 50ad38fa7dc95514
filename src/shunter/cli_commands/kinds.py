"""The kinds the command line knows: their plural (the URL name), Kind, singular and spellings."""

from __future__ import annotations

from dataclasses import dataclass

from shunter.cli_commands.errors import CliError

__all__ = ["KINDS", "KIND_CHOICES", "KindInfo", "kind_info", "plural_of"]


@dataclass(frozen=True)
class KindInfo:
    """One kind: ``plural`` is its resource name in URLs."""

    plural: str
    kind: str
    singular: str
    aliases: tuple[str, ...] = ()
    namespaced: bool = True


#: Every kind, by plural, in the order ``--help`` lists them.
KINDS: dict[str, KindInfo] = {
    k.plural: k
    for k in (
        KindInfo("projects", "Project", "project", namespaced=False),
        KindInfo("warehouses", "Warehouse", "warehouse"),
        KindInfo("freights", "Freight", "freight", aliases=("freight",)),
        KindInfo("stages", "Stage", "stage"),
        KindInfo("promotions", "Promotion", "promotion", aliases=("promo", "promos")),
    )
}
_SPELLINGS = {
    spelling: info.plural
    for info in KINDS.values()
    for spelling in (info.plural, info.singular, *info.aliases)
}
#: The kinds as users type them, for ``--help`` and completion.
KIND_CHOICES = ("projects", "warehouses", "freight", "stages", "promotions")


def plural_of(kind: str) -> str:
    """The plural of any accepted spelling; a usage error (exit code 2) for unknown kinds."""
    plural = _SPELLINGS.get(kind.lower())
    if plural is None:
        raise CliError(f"unknown kind {kind!r}; use one of: {', '.join(KIND_CHOICES)}", exit_code=2)
    return plural


def kind_info(plural: str) -> KindInfo:
    """The description of a kind, by plural."""
    return KINDS[plural]
