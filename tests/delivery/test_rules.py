"""Tests that close the gaps mutation testing found in engagement_kit.delivery.rules, ranges and the
cohort charts and tables (see benchmarks/MUTATION.md)."""

from __future__ import annotations

import pytest

from engagement_kit.client.ranges import limit_from_message
from engagement_kit.delivery.rules import AlertRule, parse_rules, rule_fires
from engagement_kit.errors import ConfigError
from engagement_kit.formatting import kpi_text, signed_percent


# -- alert rules -------------------------------------------------------------------------------
def test_a_bad_rule_is_named_by_its_place_and_name():
    rules = [{"name": "ok", "rule": "anomaly"}, {"name": "bad", "rule": "rises"}]
    with pytest.raises(ConfigError) as err:
        parse_rules(rules, where="streams.toml: stream #1")
    assert str(err.value).startswith("streams.toml: stream #1: alert #2 (bad): field rule: ")
    with pytest.raises(ConfigError, match=r"^f: alert #1: expected an \[\[alert\]\] table"):
        parse_rules(["x"], where="f")


def test_an_unknown_field_lists_the_fields_there_are():
    with pytest.raises(ConfigError) as err:
        parse_rules([{"name": "a", "rule": "anomaly", "colour": "red"}], where="f")
    message = str(err.value)
    assert message.startswith("f: alert #1 (a): field colour: unknown field; the fields are ")
    assert "name, kpi, rule, value, cooldown_weeks, deliver" in message


def test_an_anomaly_alert_names_each_day_high_or_low():
    sidecar = {
        "anomalies": [
            {"date": "2025-11-18", "metric": "new", "direction": "up"},
            {"date": "2025-11-19", "metric": "new", "direction": "down"},
        ]
    }
    alert = rule_fires(AlertRule(name="Odd", rule="anomaly"), sidecar)
    assert alert["message"] == "Odd: 2 unusual day(s): 2025-11-18 new high, 2025-11-19 new low"
    assert alert["days"] == ["2025-11-18", "2025-11-19"]


def test_an_alert_carries_the_change_it_fired_on():
    sidecar = {
        "kpis": {"new_users": 70},
        "previous_kpis": {"new_users": 100},
        "change": {"new_users": {"change": -30, "pct_change": -0.3}},
    }
    rule = AlertRule(name="Drop", kpi="new_users", rule="change_below", value="-20%")
    alert = rule_fires(rule, sidecar)
    assert (alert["value"], alert["previous"], alert["change"], alert["pct_change"]) == (
        70,
        100,
        -30,
        -0.3,
    )
    assert alert["threshold"] == "-20%" and alert["rule"] == "change_below"


def test_missing_numbers_read_n_a():
    assert signed_percent(None) == "n/a" and kpi_text("new_users", None) == "n/a"
    assert signed_percent(-0.123) == "−12.3 %" and signed_percent(0.05) == "+5.0 %"


# -- the platform's range limit, read from its message -----------------------------------------
@pytest.mark.parametrize(
    ("message", "days"),
    [
        ("date range can be at most 90 days", 90),
        ("maximum of 1 day", 1),
        ("the range may be up to 0 days", None),
        ("bad date", None),
    ],
)
def test_range_limit_from_the_message(message, days):
    assert limit_from_message(message) == days


# -- the first-seen table's backfill refuses days that have not ended ---------------------------
def test_backfill_refuses_an_unfinished_day_naming_until_and_since():
    import datetime as dt

    from engagement_kit.demo import DemoPlatform, demo_client
    from engagement_kit.errors import InvalidQueryError
    from engagement_kit.metrics.first_seen import backfill

    now = dt.datetime(2025, 4, 20, 12, tzinfo=dt.UTC).timestamp()
    platform = DemoPlatform(lambda: now, rate_limit=False)
    with demo_client(store=False, platform=platform, clock=lambda: now) as client:
        with pytest.raises(InvalidQueryError) as err:
            backfill(client, "st-demo-hr-us", "2025-04-01", "2025-04-20", progress=False)
        assert err.value.field == "until"
        assert "2025-04-20 has not ended yet in UTC; the last complete day is 2025-04-19" in str(
            err.value
        )
        with pytest.raises(InvalidQueryError) as err:
            backfill(client, "st-demo-hr-us", "2025-04-10", "2025-04-01", progress=False)
        assert err.value.field == "since"
