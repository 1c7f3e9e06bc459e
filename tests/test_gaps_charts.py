"""Tests that close the gaps mutation testing found in the charts (see benchmarks/MUTATION.md):
every chart's encodings name fields its data has, and every axis, legend and tooltip has a
title, so no chart shows an empty tooltip, a blank axis or a nameless series."""

from __future__ import annotations

import datetime as dt
import functools

import altair as alt
import pandas as pd
import pytest
from builders import trend_frame

from engagement_kit import charts
from engagement_kit import metrics as m
from engagement_kit.config.query import EngagementQuery
from engagement_kit.demo import DemoPlatform, demo_client
from engagement_kit.metrics import cohorts
from engagement_kit.tidy import Engagement

NOW = dt.datetime(2025, 4, 20, 12, tzinfo=dt.UTC).timestamp()


@pytest.fixture(autouse=True)
def _restore_theme():
    before = alt.theme.active
    yield
    alt.theme.enable(before)


def engagement(trend: pd.DataFrame, tz: str = "UTC") -> Engagement:
    hourly = trend["hour"].notna().any()
    query = EngagementQuery(
        stream_id="st-1",
        start=trend["date"].min().date(),
        end=trend["date"].max().date(),
        aggregation="hourly" if hourly else "daily",
        tz=tz,
    )
    summary = pd.Series(
        [1, 1, 0, 0.5, 0.5, 0], index=list(m.SUMMARY_FIELDS.values()), dtype="Float64"
    )
    return Engagement(
        summary=summary,
        trend=trend,
        filters={},
        query=query,
        stream_id="st-1",
        tz=tz,
        aggregation="hourly" if hourly else "daily",
    )


@functools.cache
def sessions() -> pd.DataFrame:
    platform = DemoPlatform(lambda: NOW, rate_limit=False)
    with demo_client(
        store=False,
        platform=platform,
        clock=lambda: NOW,
        requests_per_minute=None,
        requests_per_hour=None,
    ) as client:
        return client.fetch_sessions(
            "st-demo-hr-us", "2025-02-03", "2025-03-30", tz="UTC", cache=False, progress=False
        )


def daily_spike() -> pd.DataFrame:
    days = [d.date().isoformat() for d in pd.date_range("2025-11-01", periods=14)]
    return trend_frame({d: (100 if i != 10 else 300, 10, 90) for i, d in enumerate(days)})


def hourly_week() -> pd.DataFrame:
    data = {}
    for day in pd.date_range("2025-12-01", periods=7):
        for hour in range(24):
            n = 5 + (20 if 9 <= hour <= 17 else 0) + (day.weekday() < 5) * 3
            data[(day.date().isoformat(), hour)] = (n, 1, n - 1)
    return trend_frame(data, hourly=True)


def weeks() -> pd.DataFrame:
    labels = [f"2025-W{n:02d}" for n in range(40, 48)]
    starts = pd.date_range("2025-09-29", periods=8, freq="7D")
    values = [100 + 10 * i for i in range(8)]
    return pd.DataFrame(
        {
            "week": labels,
            "start": starts,
            "end": starts + pd.Timedelta(days=6),
            "days": [7] * 8,
            "unique_users": pd.array(values, dtype="Int64"),
            "new_users": pd.array([v // 2 for v in values], dtype="Int64"),
            "returning_users": pd.array([v - v // 2 for v in values], dtype="Int64"),
            "avg_unique_users_per_day": pd.array([v / 7 for v in values], dtype="Float64"),
            "avg_new_users_per_day": pd.array([v / 14 for v in values], dtype="Float64"),
            "avg_returning_users_per_day": pd.array([v / 14 for v in values], dtype="Float64"),
        }
    )


def channel_frame() -> pd.DataFrame:
    rows = []
    for channel in ("rtm", "slack"):
        for day in pd.date_range("2025-12-01", periods=3):
            for metric, users in (("unique", 10), ("new", 3), ("returning", 7)):
                rows.append({"channel": channel, "date": day, "metric": metric, "users": users})
    frame = pd.DataFrame(rows)
    frame["channel"] = pd.Categorical(frame["channel"], categories=["rtm", "slack"])
    frame.attrs["summaries"] = {}
    return frame


def _triangle() -> pd.DataFrame:
    return cohorts.cohort_retention(sessions(), "week", horizon=4)


BUILDERS = {
    "trend": lambda: charts.trend_chart(engagement(daily_spike())),
    "composition": lambda: charts.new_vs_returning_chart(engagement(daily_spike())),
    "heatmap": lambda: charts.peak_hours_heatmap(engagement(hourly_week())),
    "profile": lambda: charts.hour_profile_chart(engagement(hourly_week())),
    "weekly": lambda: charts.weekly_history_chart(weeks()),
    "anomaly": lambda: charts.anomaly_chart(daily_spike(), min_periods=5),
    "channels": lambda: charts.channel_mix_chart(channel_frame()),
    "cohort_heatmap": lambda: charts.cohort_heatmap(_triangle()),
    "curves": lambda: charts.retention_curves(_triangle()),
    "lifecycle": lambda: charts.lifecycle_chart(cohorts.lifecycle(sessions(), "week")),
    "stickiness": lambda: charts.stickiness_chart(cohorts.stickiness_histogram(sessions())),
}


@pytest.fixture
def specs():
    """Each chart's spec, built inside the test that reads it (so mutation testing knows which
    test reaches which chart builder); the session log behind the cohort charts is cached."""

    class Specs(dict):
        def __missing__(self, name):
            self[name] = BUILDERS[name]().to_dict()
            return self[name]

    return Specs()


def _units(spec: dict, data: str | None = None, extra: frozenset = frozenset()):
    """(unit spec, its dataset name, fields its transforms add), through layers and concats."""
    data = (spec.get("data") or {}).get("name", data)
    added = set(extra)
    for t in spec.get("transform", []):
        for key in ("as", "calculate"):
            if key == "as":
                value = t.get("as")
                added.update(value if isinstance(value, list) else [value] if value else [])
        for agg in t.get("aggregate", []) + t.get("window", []) + t.get("joinaggregate", []):
            added.add(agg.get("as"))
        added.update(t.get("groupby", []))
    for key in ("layer", "vconcat", "hconcat", "concat"):
        for part in spec.get(key, []):
            yield from _units(part, data, frozenset(added))
    if "mark" in spec:
        yield spec, data, added


def _channels(encoding: dict):
    for channel, value in encoding.items():
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, dict):
                yield channel, item


NAMES = [
    "trend",
    "composition",
    "heatmap",
    "profile",
    "weekly",
    "anomaly",
    "channels",
    "cohort_heatmap",
    "curves",
    "lifecycle",
    "stickiness",
]


@pytest.mark.parametrize("name", NAMES)
def test_each_charts_encoded_fields_are_in_its_data(specs, name):
    spec = specs[name]
    checked = 0
    for unit, data, added in _units(spec):
        rows = spec["datasets"][data] if data else []
        if not rows:
            continue
        columns = set(rows[0]) | added
        for channel, item in _channels(unit.get("encoding", {})):
            if "field" in item:
                assert item["field"] in columns, f"{name}: {channel} field {item['field']!r}"
                checked += 1
    assert checked, f"{name}: no encoded field checked"


AXIS_TITLES = {  # what the reader sees on each axis (None: the labels speak for themselves)
    "trend": ("Day (UTC)", "Users"),
    "composition": ("Day (UTC)", "Users"),
    "weekly": ("ISO week", "Unique users"),
    "anomaly": ("Day", "Unique users"),
    "channels": ("Day", "Unique users"),
    "cohort_heatmap": ("Weeks since first seen", None),
    "curves": ("Weeks since first seen", "Retained"),
    "lifecycle": ("Week starting", "Users (dormant below zero)"),
    "stickiness": ("Days active in the week", "Share of the week's users"),
    "profile": (None, "Mean unique users per day"),
}


@pytest.mark.parametrize("name", sorted(AXIS_TITLES))
def test_each_charts_axes_say_what_they_show(specs, name):
    found = {"x": set(), "y": set()}
    for unit, _, _ in _units(specs[name]):
        for channel in found:
            item = unit.get("encoding", {}).get(channel)
            if isinstance(item, dict) and "field" in item and item.get("title") is not None:
                found[channel].add(item["title"])
    want_x, want_y = AXIS_TITLES[name]
    assert found["x"] == ({want_x} if want_x else set())
    assert found["y"] == ({want_y} if want_y else set())


@pytest.mark.parametrize("name", NAMES)
def test_each_charts_tooltips_show_fields_the_point_has(specs, name):
    # an encoded tooltip field missing from the data would show an empty line
    shown = 0
    for unit, data, added in _units(specs[name]):
        rows = specs[name]["datasets"][data] if data else []
        for channel, item in _channels(unit.get("encoding", {})):
            if channel == "tooltip" and rows:
                assert item["field"] in set(rows[0]) | added
                # a title in words, not a raw column name like "day_type" (Vega-Lite shows the
                # field's name when there is no title; a plain word such as "users" reads fine)
                title = item.get("title") or item["field"]
                assert title and "_" not in title, f"{name}: tooltip {item['field']} untitled"
                shown += 1
    assert shown, f"{name}: no tooltip"


def test_stickiness_chart_says_over_how_many_weeks_and_histogram_dtypes():
    histogram = cohorts.stickiness_histogram(sessions())
    assert histogram["active_days"].dtype == "int64"
    weeks = histogram["week"].nunique()
    assert weeks > 1
    spec = charts.stickiness_chart(histogram).to_dict()
    assert spec["title"]["subtitle"] == (
        f"Over {weeks} complete week(s); a user counts once per week"
    )


def test_a_title_given_to_the_anomaly_chart_is_used():
    spec = charts.anomaly_chart(daily_spike(), min_periods=5, title="Spikes").to_dict()
    title = spec["title"]
    assert (title if isinstance(title, str) else title["text"]) == "Spikes"
