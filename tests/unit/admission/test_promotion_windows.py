"""Promotion windows at admission: a new Promotion is refused (403, naming the window and when
it opens) while its Stage's windows are closed, computed from the operator's cache as the Stage
controller computes them; malformed ``promotionWindows`` values of ProjectConfig and
ClusterConfig are refused with their field path."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from kubernetes_asyncio.client import Configuration

from shunter.admission.context import AdmissionContext
from shunter.admission.identity import Authorizer, ControlPlane
from shunter.admission.lookups import CacheLookups
from shunter.admission.projects import validate_cluster_config, validate_project_config
from shunter.admission.promotions import check_promotion_window
from shunter.admission.review import AdmissionError, AdmissionRequest, UserInfo
from shunter.admission.windows import window_errors
from shunter.cache import CLUSTER_CONFIGS, PROJECT_CONFIGS, PROJECTS, STAGES, KargoCache
from shunter.kube.client import KubeClient

NOON = datetime(2026, 6, 3, 12, tzinfo=UTC)  # a Wednesday
FREEZE = {
    "name": "release-freeze",
    "kind": "Deny",
    "stageSelector": {"name": "prod"},
    "dtstart": "20260601T000000Z",
    "dtend": "20260605T000000Z",
}
HOURS = {
    "name": "business-hours",
    "kind": "Allow",
    "rrule": "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR",
    "dtstart": "TZID=Europe/Berlin:20260105T090000",
    "dtend": "TZID=Europe/Berlin:20260105T170000",
}
STAGE = {
    "apiVersion": "kargo.akuity.io/v1alpha1",
    "kind": "Stage",
    "metadata": {"name": "prod", "namespace": "shop", "labels": {"tier": "production"}},
    "spec": {
        "requestedFreight": [{"origin": {"kind": "Warehouse", "name": "w"}, "sources": {}}],
        "promotionTemplate": {"spec": {"steps": [{"uses": "compose-output"}]}},
    },
}


def _request(kind: str, obj: dict[str, Any], operation: str = "CREATE") -> AdmissionRequest:
    meta = obj.get("metadata") or {}
    return AdmissionRequest(
        uid="u1",
        kind=kind,
        resource=f"{kind.lower()}s",
        sub_resource="",
        operation=operation,
        namespace=str(meta.get("namespace") or ""),
        name=str(meta.get("name") or ""),
        user=UserInfo(username="alice"),
        object=obj,
        old_object={},
    )


@pytest.fixture
async def admission() -> AsyncIterator[tuple[KargoCache, AdmissionContext]]:
    """The handlers' context over a real cache; the client is never called by these checks."""
    kube = KubeClient.from_configuration(Configuration())
    cache = KargoCache()
    cache.apply(STAGES, STAGE)
    cache.apply(PROJECTS, {"metadata": {"name": "shop", "labels": {"compliance": "pci"}}})
    ctx = AdmissionContext(CacheLookups(cache, kube), ControlPlane(frozenset()), Authorizer(kube))
    try:
        yield cache, ctx
    finally:
        await kube.aclose()


def _windows(cache: KargoCache, project: list[Any], cluster: list[Any] | None = None) -> None:
    cache.apply(
        PROJECT_CONFIGS,
        {
            "metadata": {"name": "shop", "namespace": "shop"},
            "spec": {"promotionWindows": project},
        },
    )
    if cluster is not None:
        cache.apply(
            CLUSTER_CONFIGS,
            {"metadata": {"name": "cluster"}, "spec": {"promotionWindows": cluster}},
        )


def _promotion(name: str = "prod.01jzzz.abc1234") -> AdmissionRequest:
    body = {
        "metadata": {"name": name, "namespace": "shop"},
        "spec": {"stage": "prod", "freight": "abc1234"},
    }
    return _request("Promotion", body)


async def _refusal(ctx: AdmissionContext, cache: KargoCache, now: datetime) -> str | None:
    stage = cache.stage("shop", "prod")
    assert stage is not None
    try:
        await check_promotion_window(_promotion(), ctx, stage, now)
    except AdmissionError as exc:
        refusal = exc
    else:
        return None
    assert (refusal.code, refusal.reason) == (403, "Forbidden")
    return refusal.message


async def test_a_promotion_is_refused_while_a_deny_window_is_active(
    admission: tuple[KargoCache, AdmissionContext],
) -> None:
    cache, ctx = admission
    assert await _refusal(ctx, cache, NOON) is None, "no window: admitted"
    _windows(cache, [FREEZE])
    assert await _refusal(ctx, cache, NOON) == (
        'promotions.kargo.akuity.io "prod.01jzzz.abc1234" is forbidden: promotion of Stage '
        '"prod" is not permitted at this time: Deny promotion window "release-freeze" '
        "(ProjectConfig) is active; it opens at 2026-06-05T00:00:00Z"
    )
    assert await _refusal(ctx, cache, datetime(2026, 6, 5, tzinfo=UTC)) is None, "ended"


async def test_allow_windows_and_cluster_windows_gate_admission_too(
    admission: tuple[KargoCache, AdmissionContext],
) -> None:
    cache, ctx = admission
    _windows(cache, [HOURS])
    assert await _refusal(ctx, cache, NOON) is None  # 14:00 in Berlin, a Wednesday
    evening = datetime(2026, 6, 3, 18, tzinfo=UTC)  # 20:00 in Berlin
    assert await _refusal(ctx, cache, evening) == (
        'promotions.kargo.akuity.io "prod.01jzzz.abc1234" is forbidden: promotion of Stage '
        '"prod" is not permitted at this time: outside the Allow promotion window '
        '"business-hours" (ProjectConfig); it opens at 2026-06-04T07:00:00Z'
    )
    pci = {
        "name": "pci-freeze",
        "kind": "Deny",
        "projectSelector": {"matchLabels": {"compliance": "pci"}},
        "stageSelector": {"matchLabels": {"tier": "production"}},
    }
    other = {**pci, "name": "other", "projectSelector": {"name": "glob:other-*"}}
    _windows(cache, [], [other])
    assert await _refusal(ctx, cache, NOON) is None, "a window of other projects"
    _windows(cache, [], [other, pci])
    message = await _refusal(ctx, cache, NOON)
    assert message is not None
    assert message.endswith('Deny promotion window "pci-freeze" (ClusterConfig) is active')


async def test_an_unreadable_window_refuses_rather_than_lets_through(
    admission: tuple[KargoCache, AdmissionContext],
) -> None:
    """A window that cannot be read (stored before the webhook checked windows, say) closes
    the Stage, as its status says: the Promotion is refused, not let through."""
    cache, ctx = admission
    _windows(cache, [{**FREEZE, "dtstart": "TZID=Nowhere/Atlantis:20260601T000000"}])
    message = await _refusal(ctx, cache, NOON)
    assert message is not None
    assert 'promotion window "release-freeze" (ProjectConfig) is invalid: dtstart:' in message


GOOD = [FREEZE, HOURS, {"name": "forever", "kind": "Deny"}]


def test_well_formed_windows_pass() -> None:
    assert window_errors(GOOD, cluster=False) == []
    assert window_errors([{**FREEZE, "projectSelector": {"name": "shop"}}], cluster=True) == []


@pytest.mark.parametrize(
    ("window", "expected"),
    [
        (
            {**HOURS, "rrule": "FREQ=SOMETIMES"},
            'spec.promotionWindows[2].rrule: Invalid value: "FREQ=SOMETIMES": FREQ=SOMETIMES is '
            "not supported for promotion windows (use one of HOURLY, DAILY, WEEKLY, MONTHLY, "
            "YEARLY)",
        ),
        (
            {**HOURS, "rrule": "FREQ=DAILY;BYHOUR=25"},
            'spec.promotionWindows[2].rrule: Invalid value: "FREQ=DAILY;BYHOUR=25": '
            "'FREQ=DAILY;BYHOUR=25' is not a valid recurrence rule",
        ),
        (
            {**HOURS, "rrule": "FREQ=MINUTELY"},
            'spec.promotionWindows[2].rrule: Invalid value: "FREQ=MINUTELY": FREQ=MINUTELY',
        ),
        (
            {**FREEZE, "dtstart": "TZID=Mars/Olympus:20260601T000000"},
            'spec.promotionWindows[2].dtstart: Invalid value: "TZID=Mars/Olympus:20260601T000000":'
            " unknown time zone 'Mars/Olympus'",
        ),
        (
            {**FREEZE, "dtend": "20260231T000000Z"},
            'spec.promotionWindows[2].dtend: Invalid value: "20260231T000000Z": '
            "'20260231T000000Z' is not a valid date-time",
        ),
        (
            {**FREEZE, "dtend": "20260501T000000Z"},
            'spec.promotionWindows[2].dtend: Invalid value: "20260501T000000Z": '
            "'20260501T000000Z' is not after dtstart",
        ),
        (
            {**HOURS, "dtstart": None},
            "spec.promotionWindows[2].dtstart: a recurring window (rrule) needs both dtstart "
            "and dtend",
        ),
        (
            {**FREEZE, "kind": "Maybe"},
            'spec.promotionWindows[2].kind: Unsupported value: "Maybe": supported values: '
            '"Allow", "Deny"',
        ),
        (
            {**FREEZE, "projectSelector": {"name": "shop"}},
            "spec.promotionWindows[2].projectSelector: Forbidden: projectSelector is only "
            "allowed on ClusterConfig promotion windows",
        ),
        (
            {**FREEZE, "stageSelector": {"name": "regex:prod("}},
            'spec.promotionWindows[2].stageSelector.name: Invalid value: "regex:prod(": '
            "invalid regular expression 'prod('",
        ),
        (
            {**FREEZE, "stageSelector": {"name": "wild:prod*"}},
            'spec.promotionWindows[2].stageSelector.name: Invalid value: "wild:prod*": invalid '
            'pattern identifier "wild": must be "regex", "regexp" or "glob"',
        ),
        (
            {**FREEZE, "name": "release-freeze"},
            'spec.promotionWindows[2].name: Invalid value: "release-freeze": Duplicate value: '
            "also at spec.promotionWindows[0]",
        ),
    ],
)
def test_malformed_windows_are_refused_naming_the_field(
    window: dict[str, Any], expected: str
) -> None:
    if "Duplicate value" not in expected:
        window = {**window, "name": "third"}
    errors = window_errors([FREEZE, HOURS, window], cluster=False)
    assert len(errors) == 1, errors
    assert str(errors[0]).startswith(expected), str(errors[0])


async def test_the_config_webhooks_refuse_malformed_windows() -> None:
    config = {
        "metadata": {"name": "shop", "namespace": "shop"},
        "spec": {"promotionWindows": [FREEZE, {**HOURS, "rrule": "FREQ=WEEKLY;BYDAY=XX"}]},
    }
    with pytest.raises(AdmissionError) as refused:
        await validate_project_config(_request("ProjectConfig", config), _NO_CONTEXT)
    assert refused.value.code == 422
    assert refused.value.message.startswith(
        'ProjectConfig "shop" is invalid: spec.promotionWindows[1].rrule: Invalid value: '
        '"FREQ=WEEKLY;BYDAY=XX": '
    )
    cluster = {
        "metadata": {"name": "cluster"},
        "spec": {"promotionWindows": [{**FREEZE, "projectSelector": {"name": "regexp:["}}]},
    }
    with pytest.raises(AdmissionError) as refused:
        await validate_cluster_config(_request("ClusterConfig", cluster), _NO_CONTEXT)
    assert "spec.promotionWindows[0].projectSelector.name" in refused.value.message
    cluster["spec"]["promotionWindows"] = [{**FREEZE, "projectSelector": {"name": "shop"}}]
    verdict = await validate_cluster_config(_request("ClusterConfig", cluster), _NO_CONTEXT)
    assert verdict.allowed


_NO_CONTEXT: Any = None  # the config checks refuse before reading anything
