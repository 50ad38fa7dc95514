"""Operator settings from SHUNTER_* variables: defaults, durations, and errors that name the
variable."""

from __future__ import annotations

import pytest

from shunter.config import OperatorConfig, SettingError


def test_defaults_are_kargos() -> None:
    config = OperatorConfig.from_env({})
    assert config.metrics_address == ":9090"
    assert (config.gc_max_retained_promotions, config.gc_max_retained_freight) == (20, 20)
    assert config.gc_min_promotion_deletion_age_seconds == 336 * 3600
    assert config.gc_min_freight_deletion_age_seconds == 336 * 3600
    assert config.shard_name == ""
    assert config.is_default
    assert not config.install_rollouts_crds
    assert config.lease_name == "shunter-controller"


def test_durations_and_shards() -> None:
    config = OperatorConfig.from_env(
        {
            "SHUNTER_GC_MIN_PROMOTION_DELETION_AGE": "1h30m",
            "SHUNTER_GC_INTERVAL": "90",
            "SHUNTER_SHARD_NAME": "east",
            "SHUNTER_LEADER_ELECTION": "true",
            "SHUNTER_OPERATOR_NAMESPACE": "shunter",
        }
    )
    assert config.gc_min_promotion_deletion_age_seconds == 5400
    assert config.gc_interval_seconds == 90
    assert not config.is_default
    assert config.lease_name == "shunter-controller-east"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"SHUNTER_WORKERS": "many"},
            "SHUNTER_WORKERS='many' is not valid: expected a whole number",
        ),
        ({"SHUNTER_WORKERS": "0"}, "SHUNTER_WORKERS='0' is not valid: must be at least 1"),
        ({"SHUNTER_LOG_FORMAT": "xml"}, "SHUNTER_LOG_FORMAT='xml' is not valid: expected one of"),
        ({"SHUNTER_GC_INTERVAL": "soon"}, "SHUNTER_GC_INTERVAL='soon' is not valid: expected"),
        ({"SHUNTER_METRICS_ADDRESS": "9090"}, "SHUNTER_METRICS_ADDRESS='9090' is not valid"),
        ({"SHUNTER_LEADER_ELECTION": "maybe"}, "SHUNTER_LEADER_ELECTION='maybe' is not valid"),
        ({"SHUNTER_LEADER_ELECTION": "true"}, "SHUNTER_LEADER_ELECTION needs"),
        (
            {
                "SHUNTER_LEADER_ELECTION": "true",
                "SHUNTER_OPERATOR_NAMESPACE": "s",
                "SHUNTER_LEASE_DURATION": "5",
            },
            "SHUNTER_LEASE_DURATION must be longer than SHUNTER_LEASE_RENEW_DEADLINE",
        ),
        ({"SHUNTER_PROJECT_CLUSTER_ROLE": "r"}, "SHUNTER_PROJECT_CLUSTER_ROLE needs"),
    ],
)
def test_a_bad_value_names_its_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingError) as caught:
        OperatorConfig.from_env(env)
    assert str(caught.value).startswith(message)
