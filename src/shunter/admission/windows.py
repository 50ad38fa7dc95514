"""Admission of ``spec.promotionWindows[]`` of ProjectConfig and ClusterConfig: every
malformed value is refused with its field path (``spec.promotionWindows[2].rrule: ...``).

``rrule``, ``dtstart`` and ``dtend`` are read by the parser the Stage controller evaluates
windows with (:func:`shunter.windows.parse_occurrences`), so a window admission accepts is one
the controller can read. Also checked: ``name`` present and unique, ``kind`` ``Allow`` or
``Deny``, ``projectSelector`` only on the ClusterConfig, and the selectors' name patterns
(:mod:`shunter.admission.selectors`). The CRD schema refuses most of the shapes first; these
checks hold whatever reaches the webhook.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from shunter.admission.review import FieldError
from shunter.admission.selectors import name_pattern_error
from shunter.api.v1alpha1.project import PromotionWindowKind
from shunter.windows import WindowError, parse_occurrences

__all__ = ["window_errors"]

_KINDS = tuple(kind.value for kind in PromotionWindowKind)


def _text(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def _one(at: str, window: dict[str, Any], *, cluster: bool) -> list[FieldError]:
    errors: list[FieldError] = []
    kind = window.get("kind")
    if kind not in _KINDS:
        supported = ", ".join(f'"{k}"' for k in _KINDS)
        errors.append(
            FieldError(f"{at}.kind", f'Unsupported value: "{kind}": supported values: {supported}')
        )
    if not cluster and window.get("projectSelector") is not None:
        errors.append(
            FieldError(
                f"{at}.projectSelector",
                "Forbidden: projectSelector is only allowed on ClusterConfig promotion windows",
            )
        )
    for key in ("stageSelector", "projectSelector"):
        selector = window.get(key)
        if isinstance(selector, dict) and selector.get("name"):
            error = name_pattern_error(f"{at}.{key}.name", str(selector["name"]))
            if error is not None:
                errors.append(error)
    try:
        parse_occurrences(
            _text(window.get("rrule")), _text(window.get("dtstart")), _text(window.get("dtend"))
        )
    except WindowError as exc:
        errors.append(FieldError(f"{at}.{exc.field}", exc.detail, _text(window.get(exc.field))))
    return errors


def window_errors(
    windows: Sequence[Any], *, cluster: bool, path: str = "spec.promotionWindows"
) -> list[FieldError]:
    """Every malformed value of a ``promotionWindows`` list (``cluster``: the ClusterConfig's,
    where ``projectSelector`` is allowed)."""
    errors: list[FieldError] = []
    seen: dict[str, int] = {}
    for i, window in enumerate(windows):
        at = f"{path}[{i}]"
        if not isinstance(window, dict):
            errors.append(FieldError(at, "must be an object"))
            continue
        name = _text(window.get("name"))
        if name is None:
            errors.append(FieldError(f"{at}.name", "Required value"))
        elif name in seen:
            errors.append(
                FieldError(f"{at}.name", f"Duplicate value: also at {path}[{seen[name]}]", name)
            )
        else:
            seen[name] = i
        errors += _one(at, window, cluster=cluster)
    return errors
