"""The toolkit against every reading of what the API reference leaves open.

The demo platform has a switch for each unknown of ``NOTES.md`` (longest range per request,
one channel or a list, new/returning overlap per bucket, a filter ignored). Each test here runs
the client, the metrics and the weekly-report loader against each switch and compares the numbers
with the independent, loop-by-loop recomputation of ``test_demo_platform.expected_answer``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
import pytest

from engagement_kit import metrics
from engagement_kit.config.weeks import week_bounds
from engagement_kit.demo import DemoPlatform, demo_client
from engagement_kit.errors import ResponseFormatError
from engagement_kit.report import load_weekly
from engagement_kit.store import ResponseStore
from tests.builders import quick_demo_client
from tests.demo.test_platform import IT, NOW_LATE, Api, api_date, expected_answer

SWITCHES: dict[str, dict[str, Any]] = {
    "default": {},
    "unlimited-range": {"max_days": None},
    "92-days": {"max_days": 92},
    "31-days": {"max_days": 31},
    "one-channel": {"channels": "single"},
    "overlap": {"overlap": True},
}
TZ = "Europe/Berlin"
FILTERS = {"conversation_type": "interactive", "channels": "rtm"}
RAW_FILTERS = {"ctype": "interactive", "status": "all", "channels": {"rtm"}}


def _client(tmp_path, **switch: Any):
    return quick_demo_client(
        NOW_LATE,
        platform=DemoPlatform(lambda: NOW_LATE, rate_limit=False, **switch),
        store=ResponseStore(tmp_path / "store.sqlite3"),
    )


def _expected(start: dt.date, end: dt.date, *, hourly: bool, overlap: bool, **filters: Any):
    want = expected_answer(
        IT,
        NOW_LATE,
        start=start,
        end=end,
        tz=TZ,
        hourly=hourly,
        overlap=overlap,
        **{**RAW_FILTERS, **filters},
    )
    values = {}
    for name, key in (
        ("unique", "uniqueUsersTrend"),
        ("new", "newUsersTrend"),
        ("returning", "returningUsersTrend"),
    ):
        values[name] = [v for p in want[key]["dataPoints"] for k, v in p.items() if k != "date"]
    return want["summary"], values


def _assert_trend(data, values: dict[str, list[int]]) -> None:
    wide = data.wide()
    for name, want in values.items():
        assert wide[name].tolist() == want, name


@pytest.mark.parametrize("switch", list(SWITCHES))
def test_platform_switches_answer_the_recomputation(switch):
    options = SWITCHES[switch]
    api = Api(NOW_LATE, rate_limit=False, **options)
    overlap = options.get("overlap", False)
    for aggregation, end in (("daily", "2025-11-20"), ("hourly", "2025-11-04")):
        got = api.ok(
            IT,
            start_date="2025-11-01",
            end_date=end,
            aggregation_type=aggregation,
            timeZoneOffset=TZ,
            conversationType="Interactive",
            channels="rtm",
        )
        want = expected_answer(
            IT,
            NOW_LATE,
            start=dt.date(2025, 11, 1),
            end=dt.date.fromisoformat(end),
            tz=TZ,
            hourly=aggregation == "hourly",
            overlap=overlap,
            **RAW_FILTERS,
        )
        for key in ("summary", "uniqueUsersTrend", "newUsersTrend", "returningUsersTrend"):
            assert got[key] == want[key], key


def test_overlap_switch_counts_a_user_new_and_returning_the_same_day():
    plain = Api(NOW_LATE, rate_limit=False)
    both = Api(NOW_LATE, rate_limit=False, overlap=True)
    params = dict(start_date="2025-11-01", end_date="2025-11-30", aggregation_type="daily")
    a, b = plain.ok(IT, **params), both.ok(IT, **params)
    pairs = zip(
        a["returningUsersTrend"]["dataPoints"], b["returningUsersTrend"]["dataPoints"], strict=True
    )
    assert all(p["users"] <= q["users"] for p, q in pairs)
    over = [
        (u["users"], n["users"], r["users"])
        for u, n, r in zip(
            b["uniqueUsersTrend"]["dataPoints"],
            b["newUsersTrend"]["dataPoints"],
            b["returningUsersTrend"]["dataPoints"],
            strict=True,
        )
    ]
    assert any(u < n + r for u, n, r in over)  # the identity no longer holds
    assert all(max(n, r) <= u <= n + r for u, n, r in over)  # these still do
    assert a["uniqueUsersTrend"] == b["uniqueUsersTrend"]
    assert a["newUsersTrend"] == b["newUsersTrend"]


@pytest.mark.parametrize(
    ("options", "params", "needle"),
    [
        ({"max_days": 92}, ("2025-01-01", "2025-04-03"), "2025-01-01 to 2025-04-03 spans 93 days"),
        ({"max_days": 31}, ("2025-01-01", "2025-02-01"), "2025-01-01 to 2025-02-01 spans 32"),
    ],
)
def test_range_limit_switch_refuses_longer_ranges_naming_the_range(options, params, needle):
    api = Api(NOW_LATE, rate_limit=False, **options)
    ok_end = dt.date.fromisoformat(params[0]) + dt.timedelta(days=options["max_days"] - 1)
    assert api.post(IT, start_date=params[0], end_date=ok_end.isoformat()).status_code == 200
    response = api.post(IT, start_date=params[0], end_date=params[1])
    assert response.status_code == 400
    message = response.json()["errors"][0]["msg"]
    assert needle in message and f"at most {options['max_days']} days" in message


def test_unlimited_switch_answers_a_year():
    api = Api(NOW_LATE, rate_limit=False, max_days=None)
    got = api.ok(IT, start_date="2025-01-01", end_date="2025-12-31", aggregation_type="daily")
    assert got["filters"]["dataPointsCount"] == 365


def test_one_channel_switch_refuses_a_list():
    api = Api(NOW_LATE, rate_limit=False, channels="single")
    assert api.post(IT, start_date="2025-11-01", end_date="2025-11-02", channels="rtm").is_success
    response = api.post(IT, start_date="2025-11-01", end_date="2025-11-02", channels="rtm,slack")
    assert response.status_code == 400
    assert "give one channel" in response.json()["errors"][0]["msg"]


@pytest.mark.parametrize("ignored", ["conversationType", "conversationStatus", "channels"])
def test_ignore_filter_switch_counts_everything_and_echoes_all(ignored):
    api = Api(NOW_LATE, rate_limit=False, ignore_filter=ignored)
    params = dict(
        start_date="2025-11-01",
        end_date="2025-11-07",
        aggregation_type="daily",
        conversationType="Interactive",
        conversationStatus="Closed",
        channels="rtm",
    )
    got = api.ok(IT, **params)
    applied = {"ctype": "interactive", "status": "closed", "channels": {"rtm"}}
    applied[{"conversationType": "ctype", "conversationStatus": "status"}.get(ignored, ignored)] = (
        None if ignored == "channels" else "all"
    )
    assert got["filters"][ignored] == "all"
    want = expected_answer(
        IT,
        NOW_LATE,
        start=dt.date(2025, 11, 1),
        end=dt.date(2025, 11, 7),
        tz="UTC",
        hourly=False,
        **applied,
    )
    assert got["summary"] == want["summary"]


def test_bad_switch_values_are_refused():
    for bad in ({"max_days": 0}, {"channels": "many"}, {"ignore_filter": "zone"}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            DemoPlatform(**bad)


# -- the toolkit against each switch ---------------------------------------------------------


@pytest.mark.parametrize("switch", list(SWITCHES))
def test_client_and_metrics_equal_the_recomputation(switch, tmp_path):
    options = SWITCHES[switch]
    overlap = options.get("overlap", False)
    start, end = dt.date(2025, 10, 1), dt.date(2025, 12, 31)  # 92 days
    with _client(tmp_path, **options) as client:
        daily = client.fetch(IT, start, end, tz=TZ, **FILTERS)
        hourly = client.fetch(
            IT, "2025-11-24", "2025-11-30", aggregation="hourly", tz=TZ, **FILTERS
        )
    summary, values = _expected(start, end, hourly=False, overlap=overlap)
    _assert_trend(daily, values)
    assert daily.summary["new_users"] == summary["newUsers"]
    for ours, theirs in (("unique_users", "uniqueUsers"), ("returning_users", "returningUsers")):
        if options.get("max_days") == 31:  # split into months: <NA>, and the reason
            assert pd.isna(daily.summary[ours])
            assert "at most 31 days per request" in daily.summary_notes[ours]
        else:  # one request: the platform's own, exact
            assert daily.summary[ours] == summary[theirs]
    h_summary, h_values = _expected(
        dt.date(2025, 11, 24), dt.date(2025, 11, 30), hourly=True, overlap=overlap
    )
    _assert_trend(hourly, h_values)
    assert hourly.summary["unique_users"] == h_summary["uniqueUsers"]
    assert hourly.summary["returning_users"] == h_summary["returningUsers"]

    # the metrics on top
    totals = metrics.daily_totals(daily)
    assert totals["unique"].tolist() == values["unique"]
    kpis = metrics.kpis(hourly)["value"]
    assert kpis["unique_users"] == h_summary["uniqueUsers"]
    assert kpis["new_users"] == h_summary["newUsers"]
    assert kpis["returning_share"] == pytest.approx(
        h_summary["returningUsers"] / h_summary["uniqueUsers"]
    )
    peak = metrics.peak_hours(hourly)
    assert int(peak.to_numpy().sum()) == sum(h_values["unique"])
    for data in (daily, hourly):
        checks = metrics.check_data(data)
        assert not (checks["level"] == "warning").any(), checks.to_dict("records")


@pytest.mark.parametrize("switch", list(SWITCHES))
def test_weekly_report_loader_equals_the_recomputation(switch, tmp_path):
    options = SWITCHES[switch]
    overlap = options.get("overlap", False)
    with _client(tmp_path, **options) as client:
        report = load_weekly(IT, "2025-W48", tz=TZ, weeks_of_history=3, client=client, **FILTERS)
    monday, sunday = week_bounds("2025-W48")
    summary, values = _expected(monday, sunday, hourly=False, overlap=overlap)
    assert report.current.summary["unique_users"] == summary["uniqueUsers"]
    assert report.current.summary["returning_users"] == summary["returningUsers"]
    _assert_trend(report.current, values)
    _, h_values = _expected(monday, sunday, hourly=True, overlap=overlap)
    _assert_trend(report.hourly, h_values)
    for row in report.history.itertuples():
        week_summary, _ = _expected(row.start.date(), row.end.date(), hourly=False, overlap=overlap)
        assert row.unique_users == week_summary["uniqueUsers"], row.week
        assert row.new_users == week_summary["newUsers"], row.week
    assert report.kpis.loc["unique_users", "value"] == summary["uniqueUsers"]
    assert report.history["week"].tolist() == ["2025-W46", "2025-W47", "2025-W48"]
    assert api_date(monday) == "Nov 24 2025"


# -- a filter the platform ignored -------------------------------------------------------------

_RAW_NAME = {"conversationType": "ctype", "conversationStatus": "status", "channels": "channels"}


@pytest.mark.parametrize("ignored", ["conversationType", "conversationStatus", "channels"])
def test_an_ignored_filter_is_an_error_naming_it_and_nothing_is_stored(ignored, tmp_path):
    asked = {"conversation_type": "interactive", "conversation_status": "closed", "channels": "rtm"}
    with _client(tmp_path, ignore_filter=ignored) as client:
        with pytest.raises(ResponseFormatError, match=f"did not apply the filter {ignored}") as e:
            client.fetch(IT, "2025-11-01", "2025-11-07", tz=TZ, **asked)
        assert e.value.field == f"filters.{ignored}"
        assert "on_filter_mismatch='warn'" in str(e.value)
        assert client.store.entries() == []
        with pytest.raises(ResponseFormatError, match=ignored):
            load_weekly(IT, "2025-W48", tz=TZ, weeks_of_history=1, client=client, **asked)
        # a filter left at "all" is applied either way: nothing to disagree about
        client.fetch(IT, "2025-11-01", "2025-11-07", tz=TZ)


@pytest.mark.parametrize("ignored", ["conversationType", "channels"])
def test_warn_mode_keeps_the_answer_of_what_was_applied(ignored, demo_at):
    from engagement_kit.client.filter_echo import FilterEchoWarning

    platform = DemoPlatform(lambda: NOW_LATE, rate_limit=False, ignore_filter=ignored)
    client = demo_at(NOW_LATE, platform=platform, on_filter_mismatch="warn")
    with client, pytest.warns(FilterEchoWarning, match=ignored):
        data = client.fetch(IT, "2025-11-01", "2025-11-07", tz=TZ, **FILTERS)
    applied = {**RAW_FILTERS, _RAW_NAME[ignored]: None if ignored == "channels" else "all"}
    summary, values = _expected(
        dt.date(2025, 11, 1), dt.date(2025, 11, 7), hourly=False, overlap=False, **applied
    )
    _assert_trend(data, values)
    assert data.summary["unique_users"] == summary["uniqueUsers"]


def test_filter_mismatches_compare_only_what_is_echoed():
    from engagement_kit.client.filter_echo import filter_mismatches
    from engagement_kit.config.query import EngagementQuery

    q = EngagementQuery(
        stream_id="st-1",
        start="2025-12-01",
        end="2025-12-05",
        conversation_type="non_interactive",
        channels="RTM",
        tz="Asia/Kolkata",
    )
    assert filter_mismatches({}, q) == []
    agree = {
        "conversationType": "non interactive",
        "conversationStatus": "all",
        "aggregationType": "Daily",
        "channels": "rtm",
        "timeZoneOffset": "Asia/Kolkata",
    }
    assert filter_mismatches(agree, q) == []
    cases = {
        "aggregationType": "hourly",
        "conversationType": "all",
        "conversationStatus": "active",
        "channels": "all",
        "timeZoneOffset": "UTC",
    }
    for key, value in cases.items():
        found = filter_mismatches({**agree, key: value}, q)
        assert [m.key for m in found] == [key]
        assert found[0].applied == value
    assert filter_mismatches({**agree, "timeZoneOffset": "+05:30"}, q) == []  # not a zone name
    every = q.replace(channels=None)
    assert filter_mismatches({"channels": "all"}, every) == []
    assert [m.key for m in filter_mismatches({"channels": "rtm"}, every)] == ["channels"]


def test_on_filter_mismatch_is_validated():
    from engagement_kit.errors import ConfigError

    with pytest.raises(ConfigError, match="on_filter_mismatch"):
        demo_client(store=False, on_filter_mismatch="ignore")


# -- the demo keeps its own store --------------------------------------------------------------


def test_demo_client_never_writes_the_real_store(tmp_path, monkeypatch):
    from engagement_kit.demo import demo_store_path
    from engagement_kit.store import default_store_path

    monkeypatch.setenv("ENGAGEMENT_KIT_STORE", str(tmp_path / "real" / "responses.sqlite3"))
    real = default_store_path()
    # beside the real one, named with the version of the demo's answers (an older toolkit's
    # stored demo answers, e.g. sessions without today's outcomes, are never served)
    assert demo_store_path() == tmp_path / "real" / "demo-responses.v2.sqlite3"
    platform = DemoPlatform(lambda: NOW_LATE, rate_limit=False)
    with demo_client(platform=platform, clock=lambda: NOW_LATE) as client:
        assert client.store.path == demo_store_path() != real
        client.fetch(IT, "2025-11-01", "2025-11-07")
        assert len(client.store.entries()) == 1
    assert demo_store_path().exists()
    assert not real.exists()
