"""Tests that close the gaps mutation testing found in engagement_kit.metrics (see benchmarks/MUTATION.md)."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pandas as pd
import pytest
from builders import trend_frame

from engagement_kit import metrics as m
from engagement_kit.errors import InvalidQueryError, ResponseFormatError
from engagement_kit.metrics.retention import _ratio
from engagement_kit.tidy import SUMMARY_FIELDS, Engagement


def weeks_frame(values: list[float], *, days: list[int] | None = None) -> pd.DataFrame:
    first = dt.date(2025, 9, 1)  # a Monday, ISO 2025-W36
    starts = [first + dt.timedelta(weeks=i) for i in range(len(values))]
    frame = pd.DataFrame(
        {
            "week": [f"2025-W{s.isocalendar().week:02d}" for s in starts],
            "start": starts,
            "end": [s + dt.timedelta(days=6) for s in starts],
            "unique_users": pd.array(values, dtype="Float64"),
            "days": days or [7] * len(values),
        }
    )
    return frame


# -- trend direction over exactly two weeks ----------------------------------------------------
@pytest.mark.parametrize(
    ("values", "expected", "rise"),
    [
        ([100.0, 110.0], "up", 10 / 105),  # two points: the line is the change itself
        ([110.0, 100.0], "down", -10 / 105),
        ([100.0, 102.0], "flat", 2 / 101),  # under 5 % of the mean
        ([0.0, 0.0], "flat", 0.0),
    ],
)
def test_two_complete_weeks_are_enough_for_a_direction(values, expected, rise):
    weeks = weeks_frame(values)
    assert m.trend_direction(weeks) == expected  # default n_weeks=4, only 2 exist
    assert m.trend_direction(weeks, n_weeks=2) == expected
    row = m.weekly_trends(weeks, metrics=["unique_users"], n_weeks=2).iloc[0]
    assert row["weeks"] == 2 and row["relative_change"] == pytest.approx(rise)
    assert (row["first_week"], row["last_week"]) == ("2025-W36", "2025-W37")


def test_n_weeks_two_uses_only_the_last_two_weeks():
    weeks = weeks_frame([500.0, 100.0, 110.0])
    assert m.trend_direction(weeks, n_weeks=2) == "up"
    assert m.trend_direction(weeks, n_weeks=3) == "down"


def test_one_complete_week_plus_a_partial_one_is_unknown():
    weeks = weeks_frame([100.0, 10.0], days=[7, 3])
    assert m.trend_direction(weeks) == "unknown"
    row = m.weekly_trends(weeks, metrics=["unique_users"]).iloc[0]
    assert row["weeks"] == 1 and pd.isna(row["relative_change"])


def test_trend_threshold_zero_is_allowed_and_negative_refused():
    weeks = weeks_frame([100.0, 100.5])
    assert m.trend_direction(weeks, threshold=0) == "up"  # any rise counts at 0
    assert m.trend_direction(weeks_frame([100.0, 100.0]), threshold=0) == "flat"
    with pytest.raises(InvalidQueryError, match="threshold"):
        m.trend_direction(weeks, threshold=-0.01)
    with pytest.raises(InvalidQueryError, match="n_weeks"):
        m.weekly_trends(weeks, metrics=["unique_users"], n_weeks=1)


# -- anomaly threshold and spread between 0 and 1 ---------------------------------------------
def flat_then(last: int, n: int = 20) -> pd.DataFrame:
    days = pd.date_range("2025-11-01", periods=n + 1).strftime("%Y-%m-%d")
    values = [50] * n + [last]
    return trend_frame({d: (v, v, 0) for d, v in zip(days, values, strict=True)})


def test_an_anomaly_threshold_below_one_is_accepted_and_used():
    data = flat_then(51)  # flat history: spread = min_scale = 1, so the score is exactly 1
    found = m.anomalies(data, threshold=0.5)
    assert found["date"].tolist() == [pd.Timestamp("2025-11-21")]
    assert found["score"].tolist() == [1.0] and found["direction"].tolist() == ["up"]
    assert found["low"].tolist() == [49.5] and found["high"].tolist() == [50.5]
    # the threshold is strict: a score equal to it is not an anomaly
    assert m.anomalies(data, threshold=1.0).empty


def test_a_spread_floor_below_one_is_accepted_and_used():
    found = m.anomalies(flat_then(49), min_scale=0.25, threshold=3.5)
    assert found["score"].tolist() == [-4.0] and found["direction"].tolist() == ["down"]


@pytest.mark.parametrize("kwargs", [{"threshold": 0}, {"threshold": -1}, {"min_scale": 0}])
def test_a_threshold_or_spread_floor_of_zero_is_refused(kwargs):
    with pytest.raises(InvalidQueryError, match="greater than 0"):
        m.anomalies(flat_then(51), **kwargs)


# -- inputs and the fields errors name -----------------------------------------------------------
def daily(cells: dict) -> pd.DataFrame:
    return trend_frame(cells)


def engagement_of(trend: pd.DataFrame, unique=10.0, new=4.0, returning=6.0, query=None):
    days = trend["date"].nunique()
    summary = pd.Series(
        [unique, new, returning, unique / days, new / days, returning / days],
        index=list(SUMMARY_FIELDS.values()),
        dtype="Float64",
    )
    return Engagement(summary=summary, trend=trend, filters={}, query=query, stream_id="st-1")


def test_an_object_with_only_a_summary_is_not_taken_for_an_engagement():
    with pytest.raises(InvalidQueryError) as info:
        m.daily_totals(SimpleNamespace(summary=pd.Series(dtype="Float64")))
    assert info.value.field == "data"
    with pytest.raises(InvalidQueryError) as info:
        m.daily_totals(pd.DataFrame({"x": [1]}))
    assert info.value.field == "data" and "got columns ['x']" in str(info.value)


def test_a_wide_frame_without_an_hour_column_is_daily():
    wide = pd.DataFrame(
        {"date": ["2025-12-01", "2025-12-02"], "unique": [3, 4], "new": [1, 1], "returning": [2, 3]}
    )
    out = m.retention_proxies(wide, window=2, min_periods=1)
    assert out["unique"].tolist() == [3, 4]
    assert out["returning_share"].tolist() == [2 / 3, 3 / 4]
    with pytest.raises(InvalidQueryError) as info:
        m.top_hours(wide)
    assert info.value.field == "aggregation"
    assert str(info.value) == "top_hours needs hourly data; fetch with aggregation='hourly'"


def test_a_long_frame_missing_a_metric_or_a_bucket_counts_it_as_zero():
    trend = daily({"2025-12-01": (3, 1, 2), "2025-12-02": (5, 2, 3)})
    only_unique = trend[trend["metric"] == "unique"]
    got = m.daily_totals(only_unique)
    assert got["new"].tolist() == [0, 0] and got["returning"].tolist() == [0, 0]
    gap = trend[~((trend["metric"] == "new") & (trend["date"] == "2025-12-02"))]
    assert m.daily_totals(gap)["new"].tolist() == [1, 0]


def test_errors_name_their_field():
    trend = daily({"2025-12-01": (3, 1, 2)})
    cases = [
        (lambda: m.retention_proxies(trend, window=3, min_periods=4), "min_periods"),
        (lambda: m.stickiness(trend), "data"),
        (lambda: m.trend_direction(weeks_frame([1.0, 2.0]), n_weeks=1), "n_weeks"),
        (lambda: m.check_data(trend), "data"),
    ]
    for call, field in cases:
        with pytest.raises(InvalidQueryError) as info:
            call()
        assert info.value.field == field
    with pytest.raises(InvalidQueryError) as info:
        m.check_data(trend)
    assert str(info.value) == "data: check_data needs an Engagement"
    with pytest.raises(InvalidQueryError) as info:
        m.week_over_week(weeks_frame([1.0]))
    assert str(info.value).startswith("weeks: missing column(s) new_users,")
    assert info.value.field == "weeks"
    with pytest.raises(InvalidQueryError) as info:
        m.anomalies(trend, window=3, min_periods=4)
    assert str(info.value) == "window/min_periods: need window >= 1 and 1 <= min_periods <= window"


def test_a_missing_numerator_gives_na_not_an_error():
    assert _ratio(pd.NA, 5) is pd.NA and _ratio(5, pd.NA) is pd.NA
    assert _ratio(None, 5) is pd.NA and _ratio(1, 0) is pd.NA
    assert _ratio(1, 4) == 0.25


# -- shapes and dtypes of the results ----------------------------------------------------------
def test_kpis_without_a_previous_period_have_one_row_per_kpi():
    out = m.kpis(engagement_of(daily({"2025-12-01": (3, 1, 2), "2025-12-02": (5, 2, 3)})))
    assert out.index.tolist() == list(m.KPI_NAMES)
    assert out["previous"].isna().all() and out["change"].isna().all()
    assert out.loc["unique_users", "value"] == 10.0


def test_weekly_stickiness_keeps_the_week_bounds():
    weeks = weeks_frame([14.0])
    cells = {d.date().isoformat(): (2, 0, 2) for d in pd.date_range("2025-09-01", periods=7)}
    got = m.weekly_stickiness(trend_frame(cells), weeks)
    assert list(got.columns) == [
        "week",
        "start",
        "end",
        "mean_daily_unique",
        "unique_users",
        "stickiness",
    ]
    assert got["end"].tolist() == [dt.date(2025, 9, 7)]
    assert got["stickiness"].tolist() == [2 / 14]


def test_peak_hours_fill_hours_without_rows_with_zero():
    wide = pd.DataFrame(
        {"date": ["2025-12-01"], "hour": [17], "unique": [6], "new": [1], "returning": [5]}
    )
    matrix = m.peak_hours(wide)
    assert matrix.loc["Monday", 17] == 6.0 and matrix.loc["Monday", 3] == 0.0
    assert matrix.loc["Tuesday"].isna().all()


def test_hour_tables_are_nullable_floats_and_keep_their_columns():
    hourly = trend_frame({("2025-12-01", 17): (6, 1, 5)}, hourly=True)
    top = m.top_hours(hourly, k=2)
    assert str(top["users"].dtype) == "Float64" and str(top["share"].dtype) == "Float64"
    assert list(top.columns) == ["rank", "hour", "label", "users", "share"]
    empty = m.top_hours(hourly.iloc[0:0])
    assert empty.empty and list(empty.columns) == ["rank", "hour", "label", "users", "share"]
    profile = m.hour_profile(hourly)
    assert str(profile["users"].dtype) == "Float64" and str(profile["share"].dtype) == "Float64"


def test_coverage_without_users_keeps_the_target():
    hourly = trend_frame({("2025-12-01", 17): (0, 0, 0)}, hourly=True)
    window = m.coverage_window(hourly, share=0.8)
    assert window.target == 0.8 and window.hours == 0 and not window.found


def test_anomaly_columns_are_nullable_floats_and_low_is_clipped_at_zero():
    days = pd.date_range("2025-11-01", periods=21).strftime("%Y-%m-%d")
    values = [0] * 20 + [9]
    data = trend_frame({d: (v, v, 0) for d, v in zip(days, values, strict=True)})
    out = m.anomalies(data, all_days=True)
    for col in ("value", "expected", "low", "high", "score"):
        assert str(out[col].dtype) == "Float64", col
    last = out.iloc[-1]
    assert last["low"] == 0.0 and last["high"] == 3.5 and last["is_anomaly"]


# -- check_data -----------------------------------------------------------------------------------
def test_a_trend_giving_a_day_twice_is_refused_naming_the_day():
    trend = daily({"2025-12-01": (3, 1, 2), "2025-12-02": (5, 2, 3)})
    twice = pd.concat([trend, trend[trend["date"] == "2025-12-02"]], ignore_index=True)
    twice = twice.sort_values(["metric", "date"], kind="stable").reset_index(drop=True)
    with pytest.raises(ResponseFormatError, match="two rows for unique users on 2025-12-02"):
        m.check_data(engagement_of(twice, new=5.0))


def test_check_data_lists_three_missing_days_and_counts_the_rest():
    cells = {d: (1, 1, 0) for d in ("2025-12-01", "2025-12-07")}
    found = m.check_data(engagement_of(daily(cells), new=2.0))
    message = found.set_index("check").loc["dates_contiguous", "message"]
    assert message == (
        "5 day(s) are missing between 2025-12-01 and 2025-12-07: "
        "2025-12-02, 2025-12-03, 2025-12-04 and 2 more."
    )
