"""Tests that close the gaps mutation testing found in engagement_kit.metrics (see benchmarks/MUTATION.md)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from builders import trend_frame

from engagement_kit import metrics as m
from engagement_kit.errors import InvalidQueryError


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
