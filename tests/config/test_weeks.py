"""ISO-week helpers: strict labels, bounds, the last complete week in a zone."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engagement_kit.config.weeks import (
    iso_week_label,
    last_complete_week,
    parse_iso_week,
    today_in,
    week_bounds,
    week_labels,
)
from engagement_kit.errors import InvalidQueryError


@pytest.mark.parametrize(
    ("text", "expected"),
    [("2025-W49", (2025, 49)), ("2026-W01", (2026, 1)), ("2020-W53", (2020, 53))],
)
def test_parse_iso_week(text, expected):
    assert parse_iso_week(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "2025-W53",
        "2025-W00",
        "2025-W7",
        "2025W49",
        "2025-w49",
        " 2025-W49",
        "2025-49",
        "",
        None,
        202549,
    ],
)
def test_parse_iso_week_is_strict(text):
    with pytest.raises(InvalidQueryError, match="YYYY-Www") as info:
        parse_iso_week(text, field="end_week")
    assert info.value.field == "end_week"


def test_week_bounds_monday_to_sunday():
    assert week_bounds("2025-W49") == (dt.date(2025, 12, 1), dt.date(2025, 12, 7))
    assert week_bounds("2025-W01") == (dt.date(2024, 12, 30), dt.date(2025, 1, 5))
    assert week_bounds((2020, 53)) == (dt.date(2020, 12, 28), dt.date(2021, 1, 3))
    with pytest.raises(InvalidQueryError):
        week_bounds((2025, 53))


def test_iso_week_label():
    assert iso_week_label(dt.date(2025, 12, 3)) == "2025-W49"
    assert iso_week_label(dt.date(2027, 1, 1)) == "2026-W53"


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (dt.date(2025, 12, 8), "2025-W49"),  # Monday: the week that ended yesterday
        (dt.date(2025, 12, 10), "2025-W49"),
        (dt.date(2025, 12, 14), "2025-W49"),  # Sunday: this week is not over yet
        (dt.date(2025, 12, 15), "2025-W50"),
        (dt.date(2026, 1, 1), "2025-W52"),
    ],
)
def test_last_complete_week(today, expected):
    assert last_complete_week("UTC", today=today) == expected
    assert week_bounds(expected)[1] < today


def test_today_in_depends_on_the_zone():
    now = dt.datetime(2025, 12, 8, 3, tzinfo=dt.UTC)
    assert today_in("UTC", now=now) == dt.date(2025, 12, 8)
    assert today_in("America/New_York", now=now) == dt.date(2025, 12, 7)
    assert today_in("Asia/Kolkata", now=dt.datetime(2025, 12, 7, 19, tzinfo=dt.UTC)) == dt.date(
        2025, 12, 8
    )
    with pytest.raises(ValueError, match="timezone-aware"):
        today_in("UTC", now=dt.datetime(2025, 12, 8))


def test_week_labels():
    assert week_labels("2025-W02", 3) == ["2024-W52", "2025-W01", "2025-W02"]
    assert week_labels("2021-W01", 2) == ["2020-W53", "2021-W01"]
    for bad in (0, -1, 1.5, True):
        with pytest.raises(InvalidQueryError, match="weeks"):
            week_labels("2025-W02", bad)


@given(st.dates(min_value=dt.date(1990, 1, 1), max_value=dt.date(2090, 12, 31)))
def test_every_day_lies_in_its_weeks_bounds(day):
    label = iso_week_label(day)
    monday, sunday = week_bounds(label)
    assert monday <= day <= sunday
    assert monday.isoweekday() == 1 and (sunday - monday).days == 6
    assert parse_iso_week(label) == (monday.isocalendar()[0], monday.isocalendar()[1])
    last = last_complete_week("UTC", today=day)
    assert week_bounds(last)[1] < day <= week_bounds(last)[1] + dt.timedelta(days=7)
