"""The CLI's kubectl-like tables: ages, columns per kind, alignment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shunter.cli_commands.tables import (
    TablePrinter,
    artifacts_summary,
    human_duration,
    render_table,
    table_rows,
)

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def _ago(**delta: float) -> str:
    return (NOW - timedelta(**delta)).isoformat().replace("+00:00", "Z")


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (-0.5, "0s"),
        (-5, "<invalid>"),
        (45, "45s"),
        (119, "119s"),
        (120, "2m"),
        (192, "3m12s"),
        (600, "10m"),
        (179 * 60, "179m"),
        (3 * 3600, "3h"),
        (3 * 3600 + 5 * 60, "3h5m"),
        (30 * 3600, "30h"),
        (2 * 86400 + 3 * 3600, "2d3h"),
        (3 * 86400, "3d"),
        (40 * 86400, "40d"),
        (3 * 365 * 86400 + 10 * 86400, "3y10d"),
        (9 * 365 * 86400, "9y"),
    ],
)
def test_ages_read_like_kubectl(seconds: float, text: str) -> None:
    assert human_duration(seconds) == text


def test_columns_are_aligned_three_spaces_apart_without_trailing_blanks() -> None:
    text = render_table(["NAME", "PHASE", "AGE"], [["a", "Running", "5s"], ["long-name", "", "1m"]])
    assert text.splitlines() == [
        "NAME        PHASE     AGE",
        "a           Running   5s",
        "long-name             1m",
    ]


def test_no_headers_and_later_rows_keep_the_first_widths() -> None:
    printer = TablePrinter(["NAME", "AGE"], [["abc", "1s"]], no_headers=True)
    assert printer.render([["abc", "1s"]]) == "abc   1s\n"
    assert printer.line(["x", "2s"]) == "x     2s"


def _freight(name: str, **extra: Any) -> dict[str, Any]:
    return {
        "metadata": {
            "name": name,
            "creationTimestamp": _ago(minutes=5),
            "labels": {"kargo.akuity.io/alias": f"alias-{name}"},
        },
        "alias": f"alias-{name}",
        "origin": {"kind": "Warehouse", "name": "images"},
        **extra,
    }


def test_freight_rows_show_alias_origin_and_artifacts() -> None:
    freight = _freight(
        "abc123",
        images=[{"repoURL": "registry.example/app", "tag": "1.2.0", "digest": "sha256:00"}],
        commits=[{"repoURL": "https://git.example/repo.git", "id": "0123456789abcdef"}],
        charts=[{"repoURL": "oci://charts.example/app", "version": "0.3.1"}],
        status={"currentlyIn": {"prod": {}}, "verifiedIn": {"preprod": {}, "prod": {}}},
    )
    headers, rows = table_rows("freights", [freight], now=NOW)
    assert headers == ["NAME", "ALIAS", "ORIGIN", "ARTIFACTS", "AGE"]
    assert rows == [
        [
            "abc123",
            "alias-abc123",
            "Warehouse/images",
            "registry.example/app:1.2.0, https://git.example/repo.git@0123456, "
            "oci://charts.example/app:0.3.1",
            "5m",
        ]
    ]
    headers, rows = table_rows("freights", [freight], wide=True, now=NOW)
    assert headers[4:7] == ["IN STAGES", "VERIFIED IN", "APPROVED FOR"]
    assert rows[0][4:7] == ["prod", "preprod,prod", ""]


def test_artifacts_fall_back_to_digests_tags_and_chart_names() -> None:
    assert (
        artifacts_summary(
            {
                "images": [{"repoURL": "r/app", "digest": "sha256:ff"}],
                "commits": [{"repoURL": "https://g/r.git", "tag": "v1", "id": "abc"}],
                "charts": [{"repoURL": "https://charts.example/", "name": "app", "version": "1"}],
            }
        )
        == "r/app@sha256:ff, https://g/r.git@v1, https://charts.example/app:1"
    )


def test_stage_rows_follow_the_printer_columns() -> None:
    stage = {
        "metadata": {"name": "prod", "creationTimestamp": _ago(hours=2)},
        "spec": {
            "requestedFreight": [
                {
                    "origin": {"kind": "Warehouse", "name": "images"},
                    "sources": {"stages": ["preprod"]},
                }
            ]
        },
        "status": {
            "freightSummary": "abc123",
            "health": {"status": "Healthy"},
            "conditions": [
                {"type": "Ready", "status": "True", "message": "Stage is ready\nreally"},
            ],
            "lastPromotion": {"name": "prod.01abc.abc123", "status": {"phase": "Succeeded"}},
        },
    }
    headers, rows = table_rows("stages", [stage], now=NOW)
    assert headers == ["NAME", "CURRENT FREIGHT", "HEALTH", "READY", "WINDOW", "STATUS", "AGE"]
    assert rows == [["prod", "abc123", "Healthy", "True", "", "Stage is ready really", "120m"]]
    headers, rows = table_rows("stages", [stage], wide=True, now=NOW)
    assert "SOURCES" in headers
    assert rows[0][headers.index("SOURCES")] == "images<-stage/preprod"
    assert rows[0][headers.index("LAST PROMOTION")] == "prod.01abc.abc123 (Succeeded)"


def test_stage_rows_show_the_promotion_windows() -> None:
    def window(**status: object) -> dict[str, object]:
        return {"metadata": {"name": "prod"}, "status": {"promotionWindowStatus": status}}

    def cell(stage: dict[str, object]) -> str:
        headers, rows = table_rows("stages", [stage], now=NOW)
        return rows[0][headers.index("WINDOW")]

    opens = (NOW + timedelta(hours=3, minutes=5)).isoformat().replace("+00:00", "Z")
    assert cell(window(closed=True, reason="freeze", nextOpen=opens)) == "closed (opens in 3h5m)"
    assert cell(window(closed=True, reason="freeze")) == "closed"
    closes = (NOW + timedelta(days=2)).isoformat().replace("+00:00", "Z")
    assert cell(window(closed=False, nextClose=closes)) == "open (closes in 2d)"
    assert cell(window(closed=False)) == "open"


def test_promotion_rows_and_missing_fields() -> None:
    promotion = {
        "metadata": {"name": "prod.01abc.abc123", "creationTimestamp": _ago(seconds=30)},
        "spec": {"stage": "prod", "freight": "abc123", "steps": [{"uses": "a"}, {"uses": "b"}]},
        "status": {"phase": "Running", "currentStep": 1, "message": ""},
    }
    headers, rows = table_rows("promotions", [promotion], now=NOW)
    assert headers == ["NAME", "STAGE", "FREIGHT", "PHASE", "AGE"]
    assert rows == [["prod.01abc.abc123", "prod", "abc123", "Running", "30s"]]
    headers, rows = table_rows("promotions", [promotion], wide=True, now=NOW)
    assert rows[0][headers.index("STEP")] == "2/2"
    fresh = {"metadata": {"name": "p"}, "spec": {"stage": "s"}}
    _, rows = table_rows("promotions", [fresh], now=NOW)
    assert rows == [["p", "s", "", "", "<unknown>"]]


def test_project_and_warehouse_rows() -> None:
    project = {
        "metadata": {"name": "p", "creationTimestamp": _ago(days=3)},
        "status": {"conditions": [{"type": "Ready", "status": "False", "message": "waiting"}]},
    }
    assert table_rows("projects", [project], now=NOW) == (
        ["NAME", "READY", "STATUS", "AGE"],
        [["p", "False", "waiting", "3d"]],
    )
    warehouse = {
        "metadata": {"name": "images", "creationTimestamp": _ago(seconds=5)},
        "spec": {"interval": "5m0s", "subscriptions": []},
        "status": {"lastFreightID": "abc123"},
    }
    assert table_rows("warehouses", [warehouse], now=NOW) == (
        ["NAME", "READY", "LAST FREIGHT", "AGE"],
        [["images", "", "abc123", "5s"]],
    )
