"""Tests that close the gaps mutation testing found in engagement_kit.config.query (see benchmarks/MUTATION.md)."""

from __future__ import annotations

import datetime as dt

import pytest

from engagement_kit.config.query import EngagementQuery, parse_date
from engagement_kit.errors import InvalidQueryError


def q(**kw) -> EngagementQuery:
    fields = {"stream_id": "st-1", "start": "2025-12-01", "end": "2025-12-05", **kw}
    return EngagementQuery(**fields)


# -- split ---------------------------------------------------------------------------------
def test_a_single_day_splits_into_itself():
    one = q(start="2025-12-01", end="2025-12-01")
    assert one.split(1) == [one] and one.split(31) == [one]


def test_split_into_single_days_is_allowed():
    parts = q().split(1)
    assert [p.start for p in parts] == [dt.date(2025, 12, d) for d in range(1, 6)]
    assert all(p.start == p.end for p in parts)


@pytest.mark.parametrize("max_days", [0, -3])
def test_split_below_one_day_is_refused_naming_the_setting(max_days):
    with pytest.raises(InvalidQueryError) as info:
        q().split(max_days)
    assert str(info.value) == "max_days_per_request must be at least 1"
    assert info.value.field == "max_days"


# -- key and describe ----------------------------------------------------------------------
def test_key_is_the_stream_and_the_sorted_parameters():
    assert q(channels="rtm,msteams").key() == (
        "st-1?aggregation_type=daily&channels=msteams,rtm&conversationStatus=All"
        "&conversationType=All&end_date=2025-12-05&start_date=2025-12-01&timeZoneOffset=UTC"
    )


def test_describe_without_filters_has_no_separator():
    assert q().describe() == "stream st-1, 2025-12-01 to 2025-12-05 (daily, UTC)"


def test_describe_lists_every_filter():
    text = q(
        conversation_type="non_interactive",
        conversation_status="closed",
        channels=["rtm", "msteams"],
        aggregation="hourly",
    ).describe()
    assert text == (
        "stream st-1, 2025-12-01 to 2025-12-05 "
        "(hourly, UTC; non-interactive; closed; channels msteams, rtm)"
    )


# -- parse_date and the error messages -----------------------------------------------------
@pytest.mark.parametrize("value", [20251201, None, 1.5, b"2025-12-01"])
def test_parse_date_refuses_non_strings_clearly(value):
    with pytest.raises(InvalidQueryError) as info:
        parse_date(value)
    assert info.value.field == "date"
    assert str(info.value).startswith(f"date: {value!r} is not a date")


def test_a_datetime_is_refused_with_the_reason():
    with pytest.raises(InvalidQueryError) as info:
        parse_date(dt.datetime(2025, 12, 1, 10), field="start")
    assert info.value.field == "start"
    assert "(the platform works in whole days of the query's time zone)" in str(info.value)


def test_missing_parameter_names_the_field():
    with pytest.raises(InvalidQueryError) as info:
        EngagementQuery(stream_id="a", start="2025-01-01")
    assert info.value.field == "end"


def test_an_unknown_parameter_lists_the_real_ones():
    with pytest.raises(InvalidQueryError) as info:
        q(timezone="UTC")
    assert info.value.field == "timezone"
    assert str(info.value) == (
        "timezone: unknown parameter; the parameters are stream_id, start, end, aggregation, "
        "conversation_type, conversation_status, channels, tz"
    )
