"""Engagement.wide(), .dates and .n_buckets pivot on (metric, date, hour), not on row order.

Property tests: any shuffle of ``trend``'s rows gives the same wide frame, days and bucket
count, and so the same metrics.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engagement_kit import metrics
from engagement_kit.config.query import EngagementQuery
from engagement_kit.errors import ResponseFormatError
from engagement_kit.tidy import HOUR_KEYS, format_api_date, parse_response


def _answer(first: dt.date, values: list[list[int]], hourly: bool) -> dict:
    """A payload whose metric m on day d (hour h) is values[m][d * per_day + h]."""
    per_day = 24 if hourly else 1
    days = len(values[0]) // per_day
    dates = [format_api_date(first + dt.timedelta(days=i)) for i in range(days)]

    def points(m: int) -> list[dict]:
        out = []
        for d, date in enumerate(dates):
            row = values[m][d * per_day : (d + 1) * per_day]
            out.append(
                {"date": date, **dict(zip(HOUR_KEYS, row, strict=True))}
                if hourly
                else {"date": date, "users": row[0]}
            )
        return out

    total = [sum(v) for v in values]
    return {
        "summary": {
            "uniqueUsers": total[0],
            "newUsers": total[1],
            "returningUsers": total[2],
            "avgUniqueUsersPerDay": total[0] / days,
            "avgNewUsersPerDay": total[1] / days,
            "avgReturningUsersPerDay": total[2] / days,
        },
        "uniqueUsersTrend": {"dataPoints": points(0)},
        "newUsersTrend": {"dataPoints": points(1)},
        "returningUsersTrend": {"dataPoints": points(2)},
        "filters": {"aggregationType": "hourly" if hourly else "daily", "dataPointsCount": days},
    }


@st.composite
def engagements(draw):
    hourly = draw(st.booleans())
    days = draw(st.integers(1, 9 if not hourly else 3))
    per_day = 24 if hourly else 1
    # distinct values per metric so a mix-up of metrics always shows
    values = [
        [draw(st.integers(0, 50)) + 1000 * m for _ in range(days * per_day)] for m in range(3)
    ]
    first = draw(st.dates(dt.date(2024, 1, 1), dt.date(2026, 12, 1)))
    zone = draw(st.sampled_from(["UTC", "America/New_York", "Asia/Kolkata"]))
    query = EngagementQuery(
        stream_id="st-1",
        start=first,
        end=first + dt.timedelta(days=days - 1),
        aggregation="hourly" if hourly else "daily",
        tz=zone,
    )
    return parse_response(_answer(first, values, hourly), query=query), values


def _shuffled(e, seed: int):
    order = np.random.default_rng(seed).permutation(len(e.trend))
    return dataclasses.replace(e, trend=e.trend.iloc[order].reset_index(drop=True))


@settings(max_examples=30, deadline=None)
@given(engagements(), st.integers(0, 2**32 - 1))
def test_wide_dates_and_buckets_do_not_depend_on_row_order(case, seed):
    e, values = case
    s = _shuffled(e, seed)
    pd.testing.assert_frame_equal(s.wide(), e.wide())
    assert s.dates.equals(e.dates)
    assert s.n_buckets == e.n_buckets == len(values[0])
    assert s.days == e.days == len(e.dates)
    wide = s.wide()
    for m, name in enumerate(("unique", "new", "returning")):
        assert wide[name].tolist() == values[m]


@settings(max_examples=15, deadline=None)
@given(engagements(), st.integers(0, 2**32 - 1))
def test_metrics_do_not_depend_on_row_order(case, seed):
    e, _ = case
    s = _shuffled(e, seed)
    pd.testing.assert_frame_equal(metrics.daily_totals(s), metrics.daily_totals(e))
    pd.testing.assert_frame_equal(metrics.kpis(s), metrics.kpis(e))
    pd.testing.assert_frame_equal(metrics.check_data(s), metrics.check_data(e))
    if e.aggregation == "hourly":
        pd.testing.assert_frame_equal(metrics.peak_hours(s), metrics.peak_hours(e))


def test_sorting_the_trend_by_date_keeps_the_metrics_apart():
    """The bug the issue names: trend sorted by date used to mix unique, new and returning."""
    first = dt.date(2025, 12, 1)
    vals = [[10, 11, 12], [1, 2, 3], [9, 9, 9]]
    e = parse_response(_answer(first, vals, False), stream_id="st-1")
    by_date = dataclasses.replace(e, trend=e.trend.sort_values("date", kind="stable"))
    wide = by_date.wide()
    assert wide["unique"].tolist() == [10, 11, 12]
    assert wide["new"].tolist() == [1, 2, 3]
    assert wide["returning"].tolist() == [9, 9, 9]
    assert list(by_date.dates.date) == [first + dt.timedelta(days=i) for i in range(3)]


def test_missing_rows_count_zero_and_duplicates_are_refused():
    e = parse_response(_answer(dt.date(2025, 12, 1), [[5, 6], [1, 2], [4, 4]], False))
    t = e.trend
    gap = dataclasses.replace(
        e, trend=t[~((t["metric"] == "new") & (t["date"] == t["date"].max()))]
    )
    assert gap.wide()["new"].tolist() == [1, 0]
    assert gap.n_buckets == 2
    doubled = dataclasses.replace(e, trend=pd.concat([t, t.iloc[[0]]], ignore_index=True))
    with pytest.raises(ResponseFormatError, match="two rows for unique users on 2025-12-01"):
        doubled.wide()
