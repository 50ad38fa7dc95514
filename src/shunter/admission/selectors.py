"""The name patterns of ProjectConfig and ClusterConfig selectors at admission
(``promotionPolicies[].stageSelector.name``, ``promotionWindows[].stageSelector.name`` and
``projectSelector.name``): an exact name, ``glob:<pattern>``, or ``regex:``/``regexp:`` and a
Go (RE2) regular expression that compiles, as
:func:`shunter.controllers.policies.stage_name_matches` reads them. A pattern that cannot be
read would match nothing, silently; admission refuses it instead, naming the field.
"""

from __future__ import annotations

from shunter.admission.review import FieldError
from shunter.registries.patterns import BadPatternError, GoRegexp

__all__ = ["name_pattern_error"]

_PATTERN_KINDS = ("glob", "regex", "regexp")


def name_pattern_error(path: str, pattern: str) -> FieldError | None:
    """None when ``pattern`` (at ``path``) can be read; else the error naming the field."""
    prefix, colon, expression = pattern.partition(":")
    if not colon:
        return None
    if prefix not in _PATTERN_KINDS:
        return FieldError(
            path,
            f'invalid pattern identifier "{prefix}": must be "regex", "regexp" or "glob"',
            pattern,
        )
    if prefix != "glob":
        try:
            GoRegexp(expression)
        except BadPatternError as exc:
            return FieldError(path, str(exc), pattern)
    return None
