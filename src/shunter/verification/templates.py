"""Argo Rollouts analysis specs: parsing metrics and arguments, merging templates, ``{{args.x}}``.

Owns the typed view of what shunter evaluates and the pure operations Kargo and Rollouts apply
to (Cluster)AnalysisTemplate specs before and during a run:

* :func:`merge_template_specs` - Kargo's merge of the templates a Stage references, in order:
  metrics concatenated (a metric name used twice is an error), ``dryRun`` and
  ``measurementRetention`` concatenated (duplicate metric names are errors), arguments merged
  by name (two different ``value``s for one name are an error; a value fills a valueless one).
  Nested ``spec.templates`` references are not expanded (Kargo does not either).
* :func:`merge_args` - the Stage's (already evaluated) arguments over the merged template
  arguments: only names the templates declare are taken, and afterwards every argument needs a
  ``value`` or a ``valueFrom``.
* :func:`substitute_args` - Rollouts' ``{{ args.<name> }}`` substitution over a whole metric
  (values JSON-escaped; any other ``{{ ... }}`` tag is an error).
* :func:`parse_metric` / :func:`validate_metrics` - the typed :class:`Metric` and Rollouts'
  validation rules (limits, count vs. interval, exactly one provider).

Arguments may take ``valueFrom.secretKeyRef`` (read from the AnalysisRun's namespace when a
measurement runs). ``valueFrom.fieldRef`` is only meaningful for runs Rollouts creates from a
Rollout; in a Kargo-created run it resolves to nothing, and the run ends in ``Error``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from shunter.expressions import FunctionError
from shunter.expressions.gotime import parse_duration

__all__ = [
    "DEFAULT_CONSECUTIVE_ERROR_LIMIT",
    "DEFAULT_WEB_TIMEOUT_SECONDS",
    "PROVIDER_KEYS",
    "Argument",
    "Metric",
    "SecretKeyRef",
    "TemplateError",
    "WebHeader",
    "WebMetric",
    "merge_args",
    "merge_template_specs",
    "parse_arguments",
    "parse_duration_seconds",
    "parse_metric",
    "substitute_args",
    "validate_metrics",
]

DEFAULT_CONSECUTIVE_ERROR_LIMIT = 4
DEFAULT_WEB_TIMEOUT_SECONDS = 10
#: Provider keys of Rollouts' ``MetricProvider`` (``plugin`` holds one key per plugin).
PROVIDER_KEYS = (
    "prometheus",
    "kayenta",
    "web",
    "datadog",
    "wavefront",
    "newRelic",
    "job",
    "cloudWatch",
    "graphite",
    "influxdb",
    "skywalking",
    "plugin",
)


class TemplateError(ValueError):
    """An analysis spec cannot be merged, substituted or parsed (the message says why)."""


# -- arguments ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SecretKeyRef:
    """``valueFrom.secretKeyRef``: a key of a Secret in the AnalysisRun's namespace."""

    name: str
    key: str


@dataclass(frozen=True, slots=True)
class Argument:
    """One analysis argument: a literal ``value`` or a ``valueFrom`` reference."""

    name: str
    value: str | None = None
    secret_key_ref: SecretKeyRef | None = None
    field_path: str | None = None
    """``valueFrom.fieldRef.fieldPath`` (kept so the error can name it; never resolved)."""


def _require_str(raw: Mapping[str, Any], key: str, where: str, *, required: bool) -> str | None:
    value = raw.get(key)
    if value is None:
        if required:
            raise TemplateError(f"{where}.{key} is required")
        return None
    if not isinstance(value, str):
        raise TemplateError(f"{where}.{key} must be a string, not {type(value).__name__}")
    return value


def parse_arguments(raw: Any, where: str = "args") -> list[Argument]:
    """Typed arguments from a spec's ``args`` list."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise TemplateError(f"{where} must be a list")
    out: list[Argument] = []
    for i, item in enumerate(raw):
        at = f"{where}[{i}]"
        if not isinstance(item, Mapping):
            raise TemplateError(f"{at} must be an object")
        name = _require_str(item, "name", at, required=True)
        assert name is not None  # noqa: S101 - required=True
        value = _require_str(item, "value", at, required=False)
        secret: SecretKeyRef | None = None
        field_path: str | None = None
        value_from = item.get("valueFrom")
        if value_from is not None:
            if not isinstance(value_from, Mapping):
                raise TemplateError(f"{at}.valueFrom must be an object")
            ref = value_from.get("secretKeyRef")
            if ref is not None:
                if not isinstance(ref, Mapping):
                    raise TemplateError(f"{at}.valueFrom.secretKeyRef must be an object")
                where_ref = f"{at}.valueFrom.secretKeyRef"
                secret_name = _require_str(ref, "name", where_ref, required=True) or ""
                key = _require_str(ref, "key", where_ref, required=True) or ""
                secret = SecretKeyRef(secret_name, key)
            field_ref = value_from.get("fieldRef")
            if isinstance(field_ref, Mapping):
                field_path = str(field_ref.get("fieldPath") or "")
        out.append(Argument(name, value, secret, field_path))
    return out


# -- metrics ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WebHeader:
    key: str
    value: str


@dataclass(frozen=True, slots=True)
class WebMetric:
    """``provider.web``: one HTTP request per measurement."""

    url: str
    method: str = "GET"
    headers: tuple[WebHeader, ...] = ()
    body: str = ""
    json_body: Any = None
    """The ``jsonBody`` value (any JSON); None when absent."""
    timeout_seconds: int = DEFAULT_WEB_TIMEOUT_SECONDS
    json_path: str = "{$}"
    insecure: bool = False
    oauth2: bool = False
    """Whether ``authentication.oauth2`` is configured (shunter does not support it)."""


@dataclass(frozen=True, slots=True)
class Metric:
    """One metric of an analysis, with Rollouts' defaults applied."""

    name: str
    provider: str
    """The provider key (``web``, ``prometheus``, ``plugin/<name>``...); ``""`` when none."""
    providers: tuple[str, ...] = ()
    """Every provider key set (Rollouts requires exactly one)."""
    interval: float | None = None
    """Seconds between measurements; None when unset."""
    initial_delay: float | None = None
    count: int | None = None
    """The ``count`` field; None (or 0) when unset."""
    success_condition: str = ""
    failure_condition: str = ""
    failure_limit: int = 0
    inconclusive_limit: int = 0
    consecutive_error_limit: int = DEFAULT_CONSECUTIVE_ERROR_LIMIT
    consecutive_success_limit: int = 0
    web: WebMetric | None = None

    def effective_count(self) -> int | None:
        """Rollouts' effective count: 1 with neither count nor interval; None (run until
        stopped) with only an interval; otherwise ``count``."""
        if not self.count:
            return 1 if self.interval is None else None
        return self.count


def parse_duration_seconds(text: str, where: str) -> float:
    """A Go duration string (``30s``, ``1m30s``, ``500ms``) as seconds."""
    try:
        return parse_duration(text) / 1e9
    except FunctionError as exc:
        raise TemplateError(f"{where}: {exc}") from None


def _int_or_string(raw: Mapping[str, Any], key: str, where: str) -> int | None:
    """An ``IntOrString`` field: an integer, or a string holding one (after substitution)."""
    value = raw.get(key)
    if value is None:
        return None
    if isinstance(value, bool):
        raise TemplateError(f"{where}.{key} must be an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            raise TemplateError(f"{where}.{key} must be an integer, not {value!r}") from None
    raise TemplateError(f"{where}.{key} must be an integer")


def _duration_field(raw: Mapping[str, Any], key: str, where: str) -> float | None:
    text = _require_str(raw, key, where, required=False)
    if not text:
        return None
    return parse_duration_seconds(text, f"{where}.{key}")


def _provider_keys(provider: Mapping[str, Any]) -> list[str]:
    keys: list[str] = []
    for key in PROVIDER_KEYS:
        value = provider.get(key)
        if value is None:
            continue
        if key == "plugin":
            if isinstance(value, Mapping):
                keys.extend(f"plugin/{name}" for name in value)
            continue
        keys.append(key)
    keys.extend(k for k in provider if k not in PROVIDER_KEYS)
    return keys


def _parse_web(raw: Any, where: str) -> WebMetric:
    if not isinstance(raw, Mapping):
        raise TemplateError(f"{where} must be an object")
    url = _require_str(raw, "url", where, required=True)
    assert url is not None  # noqa: S101 - required=True
    headers: list[WebHeader] = []
    for i, header in enumerate(raw.get("headers") or []):
        if not isinstance(header, Mapping):
            raise TemplateError(f"{where}.headers[{i}] must be an object")
        key = _require_str(header, "key", f"{where}.headers[{i}]", required=True)
        value = _require_str(header, "value", f"{where}.headers[{i}]", required=False)
        headers.append(WebHeader(key or "", value or ""))
    timeout = raw.get("timeoutSeconds")
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, int)):
        raise TemplateError(f"{where}.timeoutSeconds must be an integer")
    auth = raw.get("authentication")
    oauth2 = isinstance(auth, Mapping) and bool((auth.get("oauth2") or {}).get("tokenUrl"))
    return WebMetric(
        url=url,
        method=_require_str(raw, "method", where, required=False) or "GET",
        headers=tuple(headers),
        body=_require_str(raw, "body", where, required=False) or "",
        json_body=raw.get("jsonBody"),
        timeout_seconds=timeout if timeout and timeout > 0 else DEFAULT_WEB_TIMEOUT_SECONDS,
        json_path=_require_str(raw, "jsonPath", where, required=False) or "{$}",
        insecure=bool(raw.get("insecure")),
        oauth2=oauth2,
    )


def parse_metric(raw: Any, where: str = "metric") -> Metric:
    """A typed :class:`Metric` from one (argument-substituted) metric object."""
    if not isinstance(raw, Mapping):
        raise TemplateError(f"{where} must be an object")
    name = _require_str(raw, "name", where, required=True)
    assert name is not None  # noqa: S101 - required=True
    where = f"metric[{name}]"
    provider = raw.get("provider")
    if provider is None:
        provider = {}
    if not isinstance(provider, Mapping):
        raise TemplateError(f"{where}.provider must be an object")
    keys = _provider_keys(provider)
    web = _parse_web(provider["web"], f"{where}.provider.web") if "web" in keys else None
    consecutive_errors = _int_or_string(raw, "consecutiveErrorLimit", where)
    return Metric(
        name=name,
        provider=keys[0] if len(keys) == 1 else "",
        providers=tuple(keys),
        interval=_duration_field(raw, "interval", where),
        initial_delay=_duration_field(raw, "initialDelay", where),
        count=_int_or_string(raw, "count", where),
        success_condition=_require_str(raw, "successCondition", where, required=False) or "",
        failure_condition=_require_str(raw, "failureCondition", where, required=False) or "",
        failure_limit=_int_or_string(raw, "failureLimit", where) or 0,
        inconclusive_limit=_int_or_string(raw, "inconclusiveLimit", where) or 0,
        consecutive_error_limit=(
            DEFAULT_CONSECUTIVE_ERROR_LIMIT if consecutive_errors is None else consecutive_errors
        ),
        consecutive_success_limit=_int_or_string(raw, "consecutiveSuccessLimit", where) or 0,
        web=web,
    )


def _validate_metric(metric: Metric) -> None:
    count = metric.count or 0
    failure = metric.failure_limit
    success = metric.consecutive_success_limit
    if success < 0:
        raise TemplateError("consecutiveSuccessLimit must be >= 0")
    if failure < -1:
        raise TemplateError("failureLimit must be >= 0, or -1 to be disabled")
    if success == 0 and failure == -1:
        raise TemplateError("failureLimit and consecutiveSuccessLimit cannot both be disabled")
    if metric.inconclusive_limit < 0:
        raise TemplateError("inconclusiveLimit must be >= 0")
    if metric.consecutive_error_limit < 0:
        raise TemplateError("consecutiveErrorLimit must be >= 0")
    if count > 0:
        if failure >= 0 and count < failure + success:
            raise TemplateError(
                f"count ({count}) must be >= failureLimit + consecutiveSuccessLimit "
                f"({failure} + {success}) if both >= 0"
            )
        if failure < 0 and count < success:
            raise TemplateError("count must be >= consecutiveSuccessLimit")
        if count < metric.inconclusive_limit:
            raise TemplateError("count must be >= inconclusiveLimit")
    if count > 1 and metric.interval is None:
        raise TemplateError("interval must be specified when count > 1")
    if not metric.providers:
        raise TemplateError("no provider specified")
    if len(metric.providers) > 1:
        raise TemplateError("multiple providers specified")


def validate_metrics(metrics: Sequence[Metric]) -> None:
    """Rollouts' checks of a run's metrics (raises :class:`TemplateError`, naming the index)."""
    if not metrics:
        raise TemplateError("no metrics specified")
    seen: set[str] = set()
    for i, metric in enumerate(metrics):
        if metric.name in seen:
            raise TemplateError(f"metrics[{i}]: duplicate name '{metric.name}'")
        seen.add(metric.name)
        try:
            _validate_metric(metric)
        except TemplateError as exc:
            raise TemplateError(f"metrics[{i}]: {exc}") from None


# -- merging ------------------------------------------------------------------------------


def _list_field(spec: Mapping[str, Any], key: str, where: str) -> list[Any]:
    value = spec.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise TemplateError(f"{where}.{key} must be a list")
    return list(value)


def _unique_by(items: Iterable[Any], key: str, what: str) -> None:
    seen: set[Any] = set()
    for item in items:
        name = item.get(key) if isinstance(item, Mapping) else None
        if name in seen:
            raise TemplateError(f"duplicate {what} metric name: {name!r}")
        seen.add(name)


def merge_template_specs(specs: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """One spec (``metrics``, ``args``, ``dryRun``, ``measurementRetention``) from several.

    Raw JSON objects go in and come out, so fields shunter does not model survive.
    """
    metrics: list[Any] = []
    dry_run: list[Any] = []
    retention: list[Any] = []
    args: list[dict[str, Any]] = []
    names: set[str] = set()
    for index, spec in enumerate(specs):
        where = f"templates[{index}].spec"
        for metric in _list_field(spec, "metrics", where):
            name = metric.get("name") if isinstance(metric, Mapping) else None
            if name in names:
                raise TemplateError(f"duplicate metric name: {name!r}")
            names.add(str(name))
            metrics.append(metric)
        dry_run.extend(_list_field(spec, "dryRun", where))
        retention.extend(_list_field(spec, "measurementRetention", where))
        for arg in _list_field(spec, "args", where):
            if not isinstance(arg, Mapping):
                raise TemplateError(f"{where}.args entries must be objects")
            _merge_template_arg(args, dict(arg))
    _unique_by(dry_run, "metricName", "dry-run")
    _unique_by(retention, "metricName", "measurement retention")
    merged: dict[str, Any] = {"metrics": metrics}
    if args:
        merged["args"] = args
    if dry_run:
        merged["dryRun"] = dry_run
    if retention:
        merged["measurementRetention"] = retention
    return merged


def _merge_template_arg(args: list[dict[str, Any]], new: dict[str, Any]) -> None:
    for existing in args:
        if existing.get("name") != new.get("name"):
            continue
        old_value, new_value = existing.get("value"), new.get("value")
        if old_value is not None and new_value is not None and old_value != new_value:
            raise TemplateError(
                f"conflicting values for argument {new.get('name')!r}: "
                f"{old_value!r} and {new_value!r}"
            )
        if old_value is None and new_value is not None:
            existing["value"] = new_value
        return
    args.append(new)


def merge_args(
    incoming: Mapping[str, str], template_args: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """The run's ``args``: template arguments with ``incoming`` values over them.

    Names the templates do not declare are ignored. Raises :class:`TemplateError` when an
    argument ends with neither ``value`` nor ``valueFrom``.
    """
    merged = [dict(arg) for arg in template_args]
    for arg in merged:
        name = arg.get("name")
        if isinstance(name, str) and name in incoming:
            arg["value"] = incoming[name]
    for arg in merged:
        if arg.get("value") is None and arg.get("valueFrom") is None:
            raise TemplateError(
                f"unresolved argument {arg.get('name')!r}: neither value nor valueFrom is set"
            )
    return merged


# -- substitution -------------------------------------------------------------------------


def substitute_args(raw_metric: Mapping[str, Any], values: Mapping[str, str]) -> dict[str, Any]:
    """The metric with every ``{{ args.<name> }}`` replaced by the argument's value.

    The substitution runs over the metric's JSON text, values JSON-escaped, so a value may hold
    quotes or newlines. A tag naming anything else, or an unknown argument, is an error, as is
    an unclosed ``{{``.
    """
    text = json.dumps(raw_metric, ensure_ascii=False)
    out: list[str] = []
    pos = 0
    while True:
        start = text.find("{{", pos)
        if start < 0:
            out.append(text[pos:])
            break
        end = text.find("}}", start + 2)
        if end < 0:
            raise TemplateError(f"cannot find the end of the tag starting {text[start:][:40]!r}")
        out.append(text[pos:start])
        tag = text[start + 2 : end]
        cleaned = tag.strip()
        if not cleaned.startswith("args.") or cleaned[len("args.") :] not in values:
            raise TemplateError(f"failed to resolve {{{{{tag}}}}}")
        out.append(json.dumps(values[cleaned[len("args.") :]], ensure_ascii=False)[1:-1])
        pos = end + 2
    try:
        result = json.loads("".join(out))
    except ValueError as exc:
        raise TemplateError(f"the metric is not valid JSON after substitution: {exc}") from None
    if not isinstance(result, dict):
        raise TemplateError("a metric must be an object")
    return result
