"""engagement_kit.metrics against small frames whose answers were computed by hand."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from engagement_kit import metrics as m
from engagement_kit.config.query import EngagementQuery
from engagement_kit.errors import InvalidQueryError, ResponseFormatError
from engagement_kit.metrics.retention import safe_ratio
from engagement_kit.tidy import SUMMARY_FIELDS, Engagement, format_api_date, parse_response
from tests.builders import trend_frame

NA = pd.NA


# -- builders -----------------------------------------------------------------------------------


def summary(unique, new, returning, days: int) -> pd.Series:
    def avg(v):
        return NA if v is NA else v / days

    return pd.Series(
        [unique, new, returning, avg(unique), avg(new), avg(returning)],
        index=list(m.SUMMARY_FIELDS.values()),
        dtype="Float64",
    )


def engagement(
    trend: pd.DataFrame,
    summ: pd.Series,
    *,
    hourly: bool = False,
    filters: dict | None = None,
    query: EngagementQuery | None = None,
) -> Engagement:
    days = trend["date"].nunique()
    return Engagement(
        summary=summ,
        trend=trend,
        filters={"dataPointsCount": days} if filters is None else filters,
        query=query,
        stream_id="st-1",
        aggregation="hourly" if hourly else "daily",
    )


def daily_engagement(cells: dict, unique, new, returning, **kw) -> Engagement:
    return engagement(trend_frame(cells), summary(unique, new, returning, len(cells)), **kw)


def dates(start: str, n: int) -> list[str]:
    return [d.date().isoformat() for d in pd.date_range(start, periods=n, freq="D")]


# -- input handling ------------------------------------------------------------------------------


def test_engagement_trend_and_wide_inputs_give_the_same_daily_totals():
    eng = daily_engagement(
        {"2025-12-01": (2, 1, 1), "2025-12-02": (0, 0, 0), "2025-12-03": (4, 2, 2)}, 5, 3, 3
    )
    expected = pd.DataFrame(
        {
            "date": pd.to_datetime(["2025-12-01", "2025-12-02", "2025-12-03"]).astype(
                "datetime64[ns]"
            ),
            "unique": [2, 0, 4],
            "new": [1, 0, 2],
            "returning": [1, 0, 2],
        }
    )
    for data in (eng, eng.trend, eng.wide()):
        pd.testing.assert_frame_equal(m.daily_totals(data), expected)


def test_inputs_are_not_mutated():
    eng = daily_engagement({"2025-12-01": (2, 1, 1), "2025-12-02": (3, 3, 0)}, 4, 4, 1)
    trend_before = eng.trend.copy(deep=True)
    wide = eng.wide()
    wide_before = wide.copy(deep=True)
    m.retention_proxies(wide)
    m.anomalies(eng.trend, all_days=True, min_periods=1)
    m.kpis(eng, eng)
    m.check_data(eng)
    pd.testing.assert_frame_equal(eng.trend, trend_before)
    pd.testing.assert_frame_equal(wide, wide_before)


def test_unknown_input_and_metric_are_explained():
    with pytest.raises(InvalidQueryError, match="columns"):
        m.daily_totals(pd.DataFrame({"x": [1]}))
    with pytest.raises(InvalidQueryError, match="Engagement or a pandas DataFrame"):
        m.daily_totals([1, 2])
    hourly = trend_frame({("2025-12-01", 3): (1, 1, 0)}, hourly=True)
    with pytest.raises(InvalidQueryError, match="'users'"):
        m.peak_hours(hourly, metric="users")


def test_hourly_daily_totals_sum_buckets():
    trend = trend_frame(
        {("2025-12-01", 9): (2, 1, 1), ("2025-12-01", 10): (3, 0, 3), ("2025-12-02", 0): (1, 1, 0)},
        hourly=True,
    )
    got = m.daily_totals(trend)
    assert got["unique"].tolist() == [5, 1]  # user-hours
    assert got["new"].tolist() == [1, 1]
    assert got["returning"].tolist() == [4, 0]


# -- KPIs ------------------------------------------------------------------------------------------


def test_kpis_with_previous_period_by_hand():
    # current: 3 days, daily unique 2, 0, 4 -> mean 2; period unique 5 (new 3 + returning 3 > 5)
    current = daily_engagement(
        {"2025-12-08": (2, 1, 1), "2025-12-09": (0, 0, 0), "2025-12-10": (4, 2, 2)}, 5, 3, 3
    )
    # previous: daily unique 1, 1, 2 -> mean 4/3; period unique 4, no returning users
    previous = daily_engagement(
        {"2025-12-05": (1, 1, 0), "2025-12-06": (1, 1, 0), "2025-12-07": (2, 2, 0)}, 4, 4, 0
    )
    k = m.kpis(current, previous)
    assert list(k.index) == list(m.KPI_NAMES)
    assert k.index.name == "kpi"
    assert list(k.columns) == ["value", "previous", "change", "pct_change"]
    assert all(str(t) == "Float64" for t in k.dtypes)

    assert k.loc["unique_users"].tolist() == [5, 4, 1, 0.25]
    assert k.loc["new_users"].tolist() == [3, 4, -1, -0.25]
    row = k.loc["returning_users"]
    assert (row["value"], row["previous"], row["change"]) == (3, 0, 3)
    assert row["pct_change"] is NA  # previous is 0
    assert k.loc["avg_unique_users_per_day", "value"] == pytest.approx(5 / 3)
    assert k.loc["avg_unique_users_per_day", "pct_change"] == pytest.approx(0.25)
    assert k.loc["returning_share", "value"] == pytest.approx(0.6)
    assert k.loc["returning_share", "previous"] == 0
    assert k.loc["returning_share", "pct_change"] is NA
    assert k.loc["stickiness", "value"] == pytest.approx(2 / 5)
    assert k.loc["stickiness", "previous"] == pytest.approx((4 / 3) / 4)
    assert k.loc["stickiness", "change"] == pytest.approx(0.4 - 1 / 3)
    assert k.loc["stickiness", "pct_change"] == pytest.approx((0.4 - 1 / 3) / (1 / 3))


def test_kpis_without_previous_have_only_values():
    eng = daily_engagement({"2025-12-01": (3, 3, 0)}, 3, 3, 0)
    k = m.kpis(eng)
    assert k["previous"].isna().all() and k["change"].isna().all()
    assert k["pct_change"].isna().all()
    assert k.loc["stickiness", "value"] == 1.0  # one day: everyone came on every day


def test_kpis_zero_period_and_missing_summary_give_na_not_errors():
    zero = daily_engagement({"2025-12-01": (0, 0, 0), "2025-12-02": (0, 0, 0)}, 0, 0, 0)
    k = m.kpis(zero, zero)
    assert k.loc["unique_users"].tolist()[:3] == [0, 0, 0]
    assert k.loc["unique_users", "pct_change"] is NA
    assert k.loc["returning_share", "value"] is NA
    assert k.loc["stickiness", "value"] is NA

    # a chunked fetch: unique and returning unknown, new known
    chunked = daily_engagement({"2025-12-01": (2, 2, 0), "2025-12-02": (1, 0, 1)}, NA, 2, NA)
    k = m.kpis(chunked, zero)
    assert k.loc["unique_users", "value"] is NA
    assert k.loc["unique_users", "change"] is NA
    assert k.loc["new_users"].tolist()[:3] == [2, 0, 2]
    assert k.loc["new_users", "pct_change"] is NA
    assert k.loc["returning_share", "value"] is NA
    assert k.loc["stickiness", "value"] is NA


def test_stickiness_is_na_for_hourly_data():
    trend = trend_frame({("2025-12-01", 9): (2, 2, 0)}, hourly=True)
    eng = engagement(trend, summary(2, 2, 0, 1), hourly=True)
    assert m.stickiness(eng) is NA
    assert m.kpis(eng).loc["stickiness", "value"] is NA
    with pytest.raises(InvalidQueryError, match="Engagement"):
        m.stickiness(trend)


def test_kpi_dict_is_json_ready():
    current = daily_engagement({"2025-12-02": (4, 2, 2)}, 4, 2, 2)
    previous = daily_engagement({"2025-12-01": (0, 0, 0)}, 0, 0, 0)
    d = m.kpi_dict(m.kpis(current, previous))
    assert list(d) == list(m.KPI_NAMES)
    assert d["unique_users"] == {
        "label": "Unique users",
        "value": 4.0,
        "previous": 0.0,
        "change": 4.0,
        "pct_change": None,
    }
    assert d["returning_share"]["previous"] is None  # 0 / 0
    json.dumps(d, allow_nan=False)  # raises on NaN


# -- retention proxies ---------------------------------------------------------------------------


def test_retention_proxies_by_hand():
    cells = {
        "2025-12-01": (4, 1, 3),
        "2025-12-02": (0, 0, 0),
        "2025-12-03": (6, 3, 3),
        "2025-12-04": (10, 5, 5),
    }
    eng = daily_engagement(cells, 15, 9, 8)
    r = m.retention_proxies(eng, window=2)
    assert list(r.columns) == [
        "date",
        "unique",
        "new",
        "returning",
        "returning_share",
        "new_share",
        "returning_share_2d",
        "new_share_2d",
    ]
    assert r["returning_share"].tolist() == [0.75, NA, 0.5, 0.5]
    assert r["new_share"].tolist() == [0.25, NA, 0.5, 0.5]
    # rolling ratio of sums: (3+0)/(4+0), (0+3)/(0+6), (3+5)/(6+10)
    assert r["returning_share_2d"].tolist() == [NA, 0.75, 0.5, 0.5]
    assert r["new_share_2d"].tolist() == [NA, 0.25, 0.5, 0.5]

    default = m.retention_proxies(eng)
    assert "returning_share_7d" in default.columns
    assert default["returning_share_7d"].isna().all()  # fewer than 7 days
    partial = m.retention_proxies(eng, min_periods=1)
    assert partial["returning_share_7d"].iloc[-1] == pytest.approx(11 / 20)


def test_retention_proxies_one_day_and_bad_window():
    eng = daily_engagement({"2025-12-01": (5, 5, 0)}, 5, 5, 0)
    r = m.retention_proxies(eng, window=1)
    assert r["returning_share"].tolist() == [0.0]
    assert r["new_share_1d"].tolist() == [1.0]
    with pytest.raises(InvalidQueryError, match="window"):
        m.retention_proxies(eng, window=0)
    with pytest.raises(InvalidQueryError, match="min_periods"):
        m.retention_proxies(eng, window=3, min_periods=4)


def weeks_frame(values: dict[str, list[float]], *, days: list[int] | None = None) -> pd.DataFrame:
    n = len(next(iter(values.values())))
    first = dt.date(2025, 9, 1)  # a Monday, ISO 2025-W36
    starts = [first + dt.timedelta(weeks=i) for i in range(n)]
    frame = pd.DataFrame(
        {
            "week": [f"{s.isocalendar().year}-W{s.isocalendar().week:02d}" for s in starts],
            "start": starts,
            "end": [s + dt.timedelta(days=6) for s in starts],
        }
    )
    for col in m.WEEKLY_METRICS:
        frame[col] = pd.array(values.get(col, [0.0] * n), dtype="Float64")
    frame["days"] = days or [7] * n
    return frame


def test_weekly_stickiness_by_hand():
    weeks = weeks_frame({"unique_users": [10.0, 0.0]})
    cells = {d: (2, 0, 2) for d in dates("2025-09-01", 7)}  # 2 per day in week 1
    cells.update({d: (0, 0, 0) for d in dates("2025-09-08", 7)})
    eng = daily_engagement(cells, 10, 0, 14)
    got = m.weekly_stickiness(eng, weeks)
    assert got["week"].tolist() == ["2025-W36", "2025-W37"]
    assert got["mean_daily_unique"].tolist() == [2.0, 0.0]
    assert got["stickiness"].tolist() == [0.2, NA]  # no users in week 2
    short = m.weekly_stickiness(eng.trend[eng.trend["date"] < "2025-09-10"], weeks)
    assert short["stickiness"].tolist() == [0.2, NA]  # week 2 not covered
    assert short["mean_daily_unique"].tolist() == [2.0, NA]


# -- weekly history ----------------------------------------------------------------------------


def test_week_over_week_by_hand():
    weeks = weeks_frame({"unique_users": [100.0, 120.0, 90.0], "new_users": [0.0, 5.0, 5.0]})
    wow = m.week_over_week(weeks, metrics=["unique_users", "new_users"])
    assert list(wow.columns) == [
        "week",
        "start",
        "end",
        "days",
        "metric",
        "value",
        "previous",
        "change",
        "pct_change",
    ]
    u = wow[wow["metric"] == "unique_users"]
    assert u["week"].tolist() == ["2025-W36", "2025-W37", "2025-W38"]
    assert u["change"].tolist() == [NA, 20.0, -30.0]
    assert u["pct_change"].tolist() == [NA, 0.2, -0.25]
    n = wow[wow["metric"] == "new_users"]
    assert n["change"].tolist() == [NA, 5.0, 0.0]
    assert n["pct_change"].tolist() == [NA, NA, 0.0]  # from 0 -> NA
    assert set(m.week_over_week(weeks)["metric"]) == set(m.WEEKLY_METRICS)


def test_week_over_week_sorts_weeks_and_checks_columns():
    weeks = weeks_frame({"unique_users": [1.0, 2.0]}).iloc[::-1]
    wow = m.week_over_week(weeks, metrics=["unique_users"])
    assert wow["change"].tolist() == [NA, 1.0]
    with pytest.raises(InvalidQueryError, match="fetch_weeks"):
        m.week_over_week(weeks.drop(columns="new_users"))


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([100, 110, 120, 130], "up"),  # slope 10 * 3 / 115 = 0.26
        ([130, 120, 110, 100], "down"),
        ([100, 101, 99, 102], "flat"),  # slope 0.4 * 3 / 100.5 = 0.012
        ([0, 0, 0, 0], "flat"),
        ([200, 100, 100, 102, 104], "flat"),  # only the last 4 count: 1.4 * 3 / 101.5 = 0.041
        ([100], "unknown"),
    ],
)
def test_trend_direction(values, expected):
    weeks = weeks_frame({"unique_users": [float(v) for v in values]})
    assert m.trend_direction(weeks) == expected


def test_trend_direction_threshold_and_partial_week():
    weeks = weeks_frame({"unique_users": [100.0, 101.0, 102.0, 103.0]})
    # fitted rise 3 over a mean of 101.5 = 2.96 %
    assert m.trend_direction(weeks) == "flat"
    assert m.trend_direction(weeks, threshold=0.02) == "up"
    partial = weeks_frame({"unique_users": [100.0, 100.0, 100.0, 100.0, 10.0]}, days=[7] * 4 + [2])
    assert m.trend_direction(partial) == "flat"  # the 2-day week is left out
    trends = m.weekly_trends(partial, metrics=["unique_users", "new_users"])
    assert trends["metric"].tolist() == ["unique_users", "new_users"]
    assert trends["weeks"].tolist() == [4, 4]
    assert trends["last_week"].tolist() == ["2025-W39", "2025-W39"]
    assert trends.loc[0, "relative_change"] == 0.0
    with pytest.raises(InvalidQueryError, match="n_weeks"):
        m.trend_direction(weeks, n_weeks=1)


# -- peak hours ----------------------------------------------------------------------------------


def eight_days() -> pd.DataFrame:
    # 2025-12-01 is a Monday; 8 days: Monday occurs twice, every other weekday once
    days = dates("2025-12-01", 8)
    cells = {
        ("2025-12-01", 9): (2, 2, 0),
        ("2025-12-08", 9): (4, 1, 3),
        ("2025-12-02", 9): (5, 5, 0),
        ("2025-12-07", 23): (6, 0, 6),  # Sunday
        ("2025-12-06", 0): (3, 3, 0),  # Saturday
    }
    return trend_frame(cells, days=days, hourly=True)


def test_peak_hours_matrix_divides_by_weekday_occurrences():
    assert pd.Timestamp("2025-12-01").day_name() == "Monday"
    mat = m.peak_hours(eight_days())
    assert mat.shape == (7, 24)
    assert list(mat.index) == list(m.WEEKDAYS)
    assert mat.index.name == "weekday" and mat.columns.name == "hour"
    assert mat.loc["Monday", 9] == 3.0  # (2 + 4) / 2 Mondays
    assert mat.loc["Tuesday", 9] == 5.0
    assert mat.loc["Sunday", 23] == 6.0
    assert mat.loc["Saturday", 0] == 3.0
    assert mat.to_numpy(dtype=float).sum() == 17.0
    assert m.peak_hours(eight_days(), metric="returning").loc["Monday", 9] == 1.5


def test_peak_hours_short_range_and_daily_data():
    short = trend_frame({("2025-12-03", 12): (4, 4, 0)}, hourly=True)  # a Wednesday only
    mat = m.peak_hours(short)
    assert mat.loc["Wednesday", 12] == 4.0
    assert mat.loc["Monday"].isna().all()
    daily = trend_frame({"2025-12-03": (4, 4, 0)})
    with pytest.raises(InvalidQueryError, match="hourly"):
        m.peak_hours(daily)
    empty = m.peak_hours(short.iloc[0:0])
    assert empty.shape == (7, 24) and empty.isna().all().all()


def test_top_hours_and_hour_profile():
    top = m.top_hours(eight_days(), 3)
    assert top["hour"].tolist() == [9, 23, 0]  # 11, 6, 3 user-hours
    assert top["rank"].tolist() == [1, 2, 3]
    assert top["label"].tolist() == ["09:00–10:00", "23:00–00:00", "00:00–01:00"]
    assert top["users"].tolist() == pytest.approx([11 / 8, 6 / 8, 3 / 8])
    assert top["share"].tolist() == pytest.approx([11 / 20, 6 / 20, 3 / 20])
    tie = m.top_hours(
        trend_frame({("2025-12-01", 5): (1, 1, 0), ("2025-12-01", 2): (1, 1, 0)}, hourly=True), 1
    )
    assert tie["hour"].tolist() == [2]  # ties go to the earlier hour

    prof = m.hour_profile(eight_days())
    assert len(prof) == 48
    assert prof["day_type"].tolist() == ["weekday"] * 24 + ["weekend"] * 24
    weekday = prof[prof["day_type"] == "weekday"].set_index("hour")
    weekend = prof[prof["day_type"] == "weekend"].set_index("hour")
    assert weekday.loc[9, "users"] == pytest.approx(11 / 6)  # 6 weekdays in the range
    assert weekday.loc[9, "share"] == 1.0
    assert weekend.loc[23, "users"] == 3.0  # 6 users over 2 weekend days
    assert weekend.loc[0, "share"] == pytest.approx(3 / 9)
    assert set(weekday["days"]) == {6} and set(weekend["days"]) == {2}


def test_hour_profile_without_weekend_days():
    prof = m.hour_profile(trend_frame({("2025-12-03", 1): (2, 2, 0)}, hourly=True))
    weekend = prof[prof["day_type"] == "weekend"]
    assert weekend["users"].isna().all() and weekend["share"].isna().all()
    assert set(weekend["days"]) == {0}


# -- coverage window -----------------------------------------------------------------------------


def hour_totals_frame(totals: dict[int, int]) -> pd.DataFrame:
    cells = {("2025-12-01", h): (u, u, 0) for h, u in totals.items()}
    return trend_frame(cells, days=["2025-12-01"], hourly=True)


def test_coverage_window_wraps_past_midnight():
    data = hour_totals_frame({22: 30, 23: 30, 0: 20, 1: 10, 12: 10})  # 100 user-hours
    w = m.coverage_window(data)
    assert (w.start_hour, w.end_hour, w.hours) == (22, 1, 3)
    assert w.share == pytest.approx(0.8)
    assert w.label == "22:00–01:00"
    assert w.hour_list == (22, 23, 0)
    assert w.contains(0) and not w.contains(1)
    w90 = m.coverage_window(data, 0.9)
    assert (w90.start_hour, w90.end_hour, w90.hours, w90.label) == (22, 2, 4, "22:00–02:00")
    # all of it: 12:00 through 01:59 (14 hours) beats 22:00 through 12:59 (15 hours)
    w100 = m.coverage_window(data, 1.0)
    assert (w100.start_hour, w100.end_hour, w100.hours) == (12, 2, 14)
    assert w100.share == 1.0


def test_coverage_window_ties_full_day_and_no_users():
    # two equally short runs holding the same users: the earliest start wins
    tie = m.coverage_window(hour_totals_frame({3: 5, 15: 5}), 0.5)
    assert (tie.start_hour, tie.hours, tie.label) == (3, 1, "03:00–04:00")
    # equally short runs: the one holding more wins
    more = m.coverage_window(hour_totals_frame({3: 4, 15: 6}), 0.5)
    assert more.start_hour == 15
    flat = m.coverage_window(hour_totals_frame(dict.fromkeys(range(24), 1)), 1.0)
    assert (flat.start_hour, flat.end_hour, flat.hours, flat.label) == (0, 0, 24, "00:00–24:00")
    none = m.coverage_window(hour_totals_frame({}))
    assert not none.found
    assert (none.start_hour, none.end_hour, none.hours) == (None, None, 0)
    assert math.isnan(none.share) and none.label == "no users in this period"
    assert none.hour_list == ()
    assert none.to_dict()["share"] is None
    json.dumps(none.to_dict(), allow_nan=False)
    with pytest.raises(InvalidQueryError, match="share"):
        m.coverage_window(hour_totals_frame({1: 1}), 0)


# -- anomalies ---------------------------------------------------------------------------------


def series_engagement(values: list[int], start: str = "2025-11-01") -> pd.DataFrame:
    return trend_frame(
        {d: (v, v, 0) for d, v in zip(dates(start, len(values)), values, strict=True)}
    )


def test_anomalies_find_a_planted_spike_with_its_expected_range():
    noise = [0, 2, -1, 1, -2, 3, -3, 1, 0, -1, 2, -2, 1, 0]
    values = [100 + noise[i % 14] for i in range(28)]
    values[20] = 200
    found = m.anomalies(series_engagement(values))
    assert len(found) == 1
    row = found.iloc[0]
    assert row["date"] == pd.Timestamp("2025-11-21")
    assert row["direction"] == "up" and row["value"] == 200.0
    # window = the 14 days before: values[6:20]
    history = np.array(values[6:20], dtype=float)
    median = np.median(history)
    scale = 1.4826 * np.median(np.abs(history - median))
    assert row["expected"] == median
    assert row["score"] == pytest.approx((200 - median) / scale)
    assert row["low"] == pytest.approx(median - 3.5 * scale)
    assert row["high"] == pytest.approx(median + 3.5 * scale)
    assert list(found.columns) == [
        "date",
        "metric",
        "value",
        "expected",
        "low",
        "high",
        "score",
        "direction",
        "is_anomaly",
    ]


def test_anomalies_flat_series_and_zero_mad():
    assert m.anomalies(series_engagement([50] * 30)).empty
    # flat history, one more user: min_scale keeps the score at 1, not infinity
    everything = m.anomalies(series_engagement([50] * 20 + [51]), all_days=True)
    assert everything["score"].iloc[-1] == 1.0
    assert not everything["is_anomaly"].any()
    assert everything["score"].iloc[:7].isna().all()  # fewer than min_periods days before
    assert everything["direction"].isna().all()
    # MAD 0 but not flat: the mean absolute deviation takes over
    values = [10] * 10 + [20] * 4 + [30]
    last = m.anomalies(series_engagement(values), all_days=True).iloc[-1]
    mean_ad = 40 / 14
    assert last["expected"] == 10
    assert last["score"] == pytest.approx(20 / (1.2533 * mean_ad))
    assert last["is_anomaly"] and last["direction"] == "up"


def test_anomalies_drop_window_threshold_and_metric():
    values = [100] * 10 + [40]
    drop = m.anomalies(series_engagement(values), window=5, min_periods=5, min_scale=2.0)
    assert drop["direction"].tolist() == ["down"]
    assert drop["score"].tolist() == [-30.0]
    assert drop["low"].tolist() == [93.0] and drop["high"].tolist() == [107.0]
    assert m.anomalies(series_engagement(values), threshold=100, min_scale=1.0).empty
    by_new = m.anomalies(series_engagement(values), metric="new")
    assert by_new["metric"].tolist() == ["new"]
    assert m.anomalies(series_engagement(values), metric="returning").empty
    with pytest.raises(InvalidQueryError, match="min_periods"):
        m.anomalies(series_engagement(values), window=3, min_periods=5)


def test_anomalies_by_weekday_leave_regular_weekends_alone():
    values = []
    for day in pd.date_range("2025-09-01", periods=42, freq="D"):  # six weeks from a Monday
        values.append(40 if day.day_of_week >= 5 else 100 + day.day_of_week)
    plain = m.anomalies(series_engagement(values, "2025-09-01"))
    assert len(plain) > 0 and set(plain["direction"]) == {"down"}  # weekends look like drops
    seasonal = m.anomalies(
        series_engagement(values, "2025-09-01"), by_weekday=True, window=4, min_periods=3
    )
    assert seasonal.empty


def test_anomalies_on_empty_data():
    empty = m.anomalies(series_engagement([]), all_days=True)
    assert empty.empty and "score" in empty.columns


# -- data checks --------------------------------------------------------------------------------


def test_the_checks_are_a_registry_run_in_order(fixture_payload, monkeypatch):
    from engagement_kit.metrics import checks

    assert list(checks.CHECKS) == [
        "dates_contiguous",
        "data_points_count",
        "hours_per_day",
        "no_negative_counts",
        "new_le_unique",
        "returning_le_unique",
        "unique_le_new_plus_returning",
        "unique_equals_new_plus_returning",
        "new_users_sum",
        "period_unique_bounds",
    ]
    eng = parse_response(fixture_payload("daily"))
    counted = sum(c.counted and c.applies(checks.Answer.of(eng)) for c in checks.CHECKS.values())
    assert m.check_data(eng)["message"].iloc[0].startswith(f"All {counted} data checks passed")

    # a new check is one function: registered, run after the others, its findings named
    monkeypatch.setattr(checks, "CHECKS", dict(checks.CHECKS))

    @checks.data_check("always_warns")
    def _always(answer):
        yield ("warning", f"{len(answer.dates)} days looked at.")

    @checks.data_check("cannot_run")
    def _cannot(answer):
        raise checks.SkipCheck("nothing to compare with")

    found = m.check_data(eng)
    assert found["check"].tolist() == ["always_warns"]
    assert found["message"].iloc[0] == f"{len(checks.Answer.of(eng).dates)} days looked at."
    del checks.CHECKS["always_warns"]
    assert "Skipped: cannot_run (nothing to compare with)." in m.check_data(eng)["message"].iloc[0]


def test_check_data_clean_answer_gives_one_info_row(fixture_payload):
    for kind in ("daily", "hourly"):
        eng = parse_response(fixture_payload(kind))
        checks = m.check_data(eng)
        assert list(checks.columns) == ["level", "check", "message"]
        assert checks["level"].tolist() == ["info"]
        assert checks["check"].tolist() == ["all_passed"]
        assert "passed" in checks["message"].iloc[0]


def test_check_data_summary_new_plus_returning_above_unique_is_fine():
    eng = daily_engagement({"2025-12-01": (1, 1, 0), "2025-12-02": (1, 0, 1)}, 1, 1, 1)
    assert m.check_data(eng)["check"].tolist() == ["all_passed"]


def test_check_data_findings():
    cells = {
        "2025-12-01": (3, 1, 1),  # unique > new + returning
        "2025-12-02": (1, 0, 2),  # returning > unique (new + returning > unique is only info)
        "2025-12-04": (2, 2, 0),  # 2025-12-03 is missing
    }
    eng = daily_engagement(cells, 4, 9, 3, filters={"dataPointsCount": 4})
    checks = m.check_data(eng)
    levels = dict(zip(checks["check"], checks["level"], strict=True))
    by_name = dict(zip(checks["check"], checks["message"], strict=False))
    assert {c for c, level in levels.items() if level == "warning"} == {
        "dates_contiguous",
        "data_points_count",
        "unique_le_new_plus_returning",
        "returning_le_unique",
        "new_users_sum",
    }
    assert levels["unique_equals_new_plus_returning"] == "info"
    assert "2025-12-02" in by_name["unique_equals_new_plus_returning"]
    assert checks["level"].tolist()[-1] == "info"  # warnings first
    assert "2025-12-03" in by_name["dates_contiguous"]
    assert (
        "4 data points" in by_name["data_points_count"] and "3 days" in by_name["data_points_count"]
    )
    assert "in 1 day(s)" in by_name["unique_le_new_plus_returning"]
    assert "2025-12-01" in by_name["unique_le_new_plus_returning"]
    assert "2025-12-02" in by_name["returning_le_unique"]
    assert "3" in by_name["new_users_sum"] and "9" in by_name["new_users_sum"]


def test_check_data_bounds_that_hold_on_any_platform():
    # a user new and back in the same day counts in both: only information
    overlap = daily_engagement({"2025-12-01": (2, 2, 1), "2025-12-02": (1, 0, 1)}, 2, 2, 1)
    checks = m.check_data(overlap)
    assert checks["level"].tolist() == ["info", "info"]
    assert checks["check"].tolist() == ["unique_equals_new_plus_returning", "all_passed"]
    assert "2025-12-01" in checks["message"].iloc[0]
    # new above unique in a bucket; period unique outside [busiest day, sum of days]
    bad = daily_engagement({"2025-12-01": (2, 3, 0), "2025-12-02": (4, 0, 4)}, 7, 3, 4)
    found = m.check_data(bad).set_index("check")
    assert found.loc["new_le_unique", "level"] == "warning"
    assert "2025-12-01" in found.loc["new_le_unique", "message"]
    assert found.loc["period_unique_bounds", "level"] == "warning"
    assert "7 unique users" in found.loc["period_unique_bounds", "message"]
    assert "4" in found.loc["period_unique_bounds", "message"]
    low = daily_engagement({"2025-12-01": (2, 2, 0), "2025-12-02": (4, 0, 4)}, 3, 2, 4)
    assert "period_unique_bounds" in m.check_data(low)["check"].tolist()
    edge = daily_engagement({"2025-12-01": (2, 2, 0), "2025-12-02": (4, 0, 4)}, 6, 2, 4)
    assert m.check_data(edge)["check"].tolist() == ["all_passed"]


def test_check_data_negative_counts_query_range_and_skips():
    trend = trend_frame({"2025-12-01": (1, 1, 0), "2025-12-02": (0, 0, 0)})
    trend.loc[(trend["metric"] == "new") & (trend["date"] == "2025-12-02"), "users"] = -1
    trend.loc[(trend["metric"] == "returning") & (trend["date"] == "2025-12-02"), "users"] = 1
    query = EngagementQuery(stream_id="st-1", start="2025-12-01", end="2025-12-03")
    eng = engagement(trend, summary(1, NA, 1, 2), query=query, filters={})
    checks = m.check_data(eng)
    names = checks["check"].tolist()
    assert "no_negative_counts" in names
    assert "new" in checks.set_index("check").loc["no_negative_counts", "message"]
    msg = checks.set_index("check").loc["data_points_count", "message"]
    assert "2025-12-01 to 2025-12-03 (3 days)" in msg
    assert "new_users_sum" not in names  # summary new unknown: skipped, not a warning

    clean = engagement(trend_frame({"2025-12-01": (1, 1, 0)}), summary(1, NA, 0, 1), filters={})
    info = m.check_data(clean)
    assert info["check"].tolist() == ["all_passed"]
    assert "Skipped" in info["message"].iloc[0] and "new_users_sum" in info["message"].iloc[0]


def test_check_data_hourly_missing_hour():
    trend = trend_frame(
        {("2025-12-01", 5): (1, 1, 0)}, days=["2025-12-01", "2025-12-02"], hourly=True
    )
    trend = trend[~((trend["date"] == "2025-12-02") & (trend["hour"] == 7))].reset_index(drop=True)
    eng = engagement(trend, summary(1, 1, 0, 2), hourly=True)
    checks = m.check_data(eng)
    assert checks["check"].tolist() == ["hours_per_day"]
    assert "2025-12-02" in checks["message"].iloc[0]


# -- a daylight-saving week, through the real parser -----------------------------------------------


def hourly_payload(days: list[dt.date], hours: dict[tuple[int, int], tuple[int, int, int]]) -> dict:
    """An hourly API answer; ``hours[(day_index, hour)] = (unique, new, returning)``."""
    trends = {}
    for i, key in enumerate(("uniqueUsersTrend", "newUsersTrend", "returningUsersTrend")):
        points = []
        for d, day in enumerate(days):
            point = {"date": format_api_date(day)}
            for h in range(24):
                point[f"{h} - {(h + 1) % 24}"] = hours.get((d, h), (0, 0, 0))[i]
            points.append(point)
        trends[key] = {"dataPoints": points}
    new = sum(v[1] for v in hours.values())
    unique = sum(v[0] for v in hours.values())
    return {
        "summary": {
            "uniqueUsers": unique,
            "newUsers": new,
            "returningUsers": unique - new,
            "avgUniqueUsersPerDay": unique / len(days),
            "avgNewUsersPerDay": new / len(days),
            "avgReturningUsersPerDay": (unique - new) / len(days),
        },
        **trends,
        "filters": {
            "start": format_api_date(days[0]),
            "end": format_api_date(days[-1]),
            "conversationType": "all",
            "conversationStatus": "all",
            "aggregationType": "hourly",
            "dataPointsCount": len(days),
        },
    }


@pytest.mark.parametrize(
    ("first", "dst_day", "real_hours"),
    [
        (dt.date(2025, 3, 3), dt.date(2025, 3, 9), 23),  # spring forward: 02:00 does not exist
        (dt.date(2025, 10, 27), dt.date(2025, 11, 2), 25),  # fall back: 01:00 happens twice
    ],
)
def test_daylight_saving_week_in_new_york(first, dst_day, real_hours):
    days = [first + dt.timedelta(days=i) for i in range(7)]  # Monday..Sunday
    query = EngagementQuery(
        stream_id="st-1", start=days[0], end=days[-1], aggregation="hourly", tz="America/New_York"
    )
    midnight = pd.Timestamp(dst_day).tz_localize("America/New_York")
    next_midnight = pd.Timestamp(dst_day + dt.timedelta(days=1)).tz_localize("America/New_York")
    assert next_midnight - midnight == pd.Timedelta(hours=real_hours)
    # every day: 2 users at 01:00 and 4 at 18:00; the DST Sunday also has 6 at 23:00
    hours = {}
    for d in range(7):
        hours[(d, 1)] = (2, 2, 0)
        hours[(d, 18)] = (4, 1, 3)
    hours[(6, 23)] = (6, 0, 6)
    eng = parse_response(hourly_payload(days, hours), query=query)

    assert m.check_data(eng)["check"].tolist() == ["all_passed"]  # 24 buckets a day
    mat = m.peak_hours(eng)
    assert mat.loc["Sunday", 1] == 2.0 and mat.loc["Sunday", 2] == 0.0
    assert mat.loc["Sunday", 23] == 6.0
    assert mat.loc["Wednesday", 18] == 4.0
    assert mat.to_numpy(dtype=float).sum() == 7 * 6 + 6
    totals = m.daily_totals(eng)
    assert len(totals) == 7
    assert totals["unique"].tolist() == [6] * 6 + [12]
    # 48 user-hours: 18:00 holds 28, 01:00 holds 14, 23:00 holds 6
    w = m.coverage_window(eng, 0.8)
    assert (w.start_hour, w.end_hour, w.hours) == (18, 2, 8)
    assert w.share == pytest.approx(1.0)
    assert m.coverage_window(eng, 0.5).label == "18:00–19:00"
    prof = m.hour_profile(eng).set_index(["day_type", "hour"])
    assert prof.loc[("weekend", 23), "users"] == 3.0
    assert prof.loc[("weekday", 18), "users"] == 4.0


# -- Tests that close the gaps mutation testing found in engagement_kit.metrics (see benchmarks/MUTATION.md).


def weeks_frame_2(values: list[float], *, days: list[int] | None = None) -> pd.DataFrame:
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
    weeks = weeks_frame_2(values)
    assert m.trend_direction(weeks) == expected  # default n_weeks=4, only 2 exist
    assert m.trend_direction(weeks, n_weeks=2) == expected
    row = m.weekly_trends(weeks, metrics=["unique_users"], n_weeks=2).iloc[0]
    assert row["weeks"] == 2 and row["relative_change"] == pytest.approx(rise)
    assert (row["first_week"], row["last_week"]) == ("2025-W36", "2025-W37")


def test_n_weeks_two_uses_only_the_last_two_weeks():
    weeks = weeks_frame_2([500.0, 100.0, 110.0])
    assert m.trend_direction(weeks, n_weeks=2) == "up"
    assert m.trend_direction(weeks, n_weeks=3) == "down"


def test_one_complete_week_plus_a_partial_one_is_unknown():
    weeks = weeks_frame_2([100.0, 10.0], days=[7, 3])
    assert m.trend_direction(weeks) == "unknown"
    row = m.weekly_trends(weeks, metrics=["unique_users"]).iloc[0]
    assert row["weeks"] == 1 and pd.isna(row["relative_change"])


def test_trend_threshold_zero_is_allowed_and_negative_refused():
    weeks = weeks_frame_2([100.0, 100.5])
    assert m.trend_direction(weeks, threshold=0) == "up"  # any rise counts at 0
    assert m.trend_direction(weeks_frame_2([100.0, 100.0]), threshold=0) == "flat"
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
        (lambda: m.trend_direction(weeks_frame_2([1.0, 2.0]), n_weeks=1), "n_weeks"),
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
        m.week_over_week(weeks_frame_2([1.0]))
    assert str(info.value).startswith("weeks: missing column(s) new_users,")
    assert info.value.field == "weeks"
    with pytest.raises(InvalidQueryError) as info:
        m.anomalies(trend, window=3, min_periods=4)
    assert str(info.value) == "window/min_periods: need window >= 1 and 1 <= min_periods <= window"


def test_a_missing_numerator_gives_na_not_an_error():
    assert safe_ratio(pd.NA, 5) is pd.NA and safe_ratio(5, pd.NA) is pd.NA
    assert safe_ratio(None, 5) is pd.NA and safe_ratio(1, 0) is pd.NA
    assert safe_ratio(1, 4) == 0.25


# -- shapes and dtypes of the results ----------------------------------------------------------
def test_kpis_without_a_previous_period_have_one_row_per_kpi():
    out = m.kpis(engagement_of(daily({"2025-12-01": (3, 1, 2), "2025-12-02": (5, 2, 3)})))
    assert out.index.tolist() == list(m.KPI_NAMES)
    assert out["previous"].isna().all() and out["change"].isna().all()
    assert out.loc["unique_users", "value"] == 10.0


def test_weekly_stickiness_keeps_the_week_bounds():
    weeks = weeks_frame_2([14.0])
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


def test_new_users_of_filtered_hours_falling_short_is_explained_not_a_warning():
    """streams.example.toml's HR stream (interactive, closed) raised "the trend's new users add
    up to 90 but the summary says 93" on the demo: a user whose first-ever session was not
    interactive is new in the week but in no hour (the platform's definitions). Now it is an
    explained info row; without a filter, a shortfall is still a warning."""
    import datetime as dt

    from engagement_kit.config.weeks import week_bounds
    from engagement_kit.demo import DemoPlatform, demo_client

    now = dt.datetime(2025, 12, 3, 12, tzinfo=dt.UTC).timestamp()
    platform = DemoPlatform(lambda: now, rate_limit=False)
    with demo_client(
        store=False, platform=platform, clock=lambda: now,
        requests_per_minute=None, requests_per_hour=None,
    ) as client:  # fmt: skip
        data = client.fetch(
            "st-demo-hr-us", *week_bounds("2025-W37"), tz="America/New_York",
            aggregation="hourly", conversation_type="interactive", conversation_status="closed",
        )  # fmt: skip
    found = m.check_data(data)
    assert (found["level"] == "info").all(), found.to_dict("records")
    (row,) = found[found["check"] == "new_users_sum"].itertuples()
    assert "the hours' new users add up to 90 and the summary says 93" in row.message
    assert "with the filter interactive and closed" in row.message
    assert "new in the period but in no hour" in row.message
    plain = dataclasses.replace(
        data, query=data.query.replace(conversation_type="all", conversation_status="all")
    )
    assert "new_users_sum" in set(m.check_data(plain).query("level == 'warning'")["check"])
