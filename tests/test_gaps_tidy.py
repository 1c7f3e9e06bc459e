"""Tests that close the gaps mutation testing found in engagement_kit.tidy (see benchmarks/MUTATION.md)."""

from __future__ import annotations

import copy
import datetime as dt

import pytest

from engagement_kit.config.query import EngagementQuery
from engagement_kit.errors import ResponseFormatError
from engagement_kit.tidy import format_api_date, merge_engagements, parse_response

LIMIT = 2**62  # counts at or above this are refused


# -- Engagement.start / .end ---------------------------------------------------------------
def test_start_and_end_come_from_the_data_without_a_query(fixture_payload):
    data = parse_response(fixture_payload("daily"))
    assert data.query is None
    assert data.start == data.dates[0].date() and data.end == data.dates[-1].date()
    assert data.start < data.end
    assert f"{data.start} to {data.end}" in repr(data)


def test_start_and_end_are_none_for_an_answer_without_data_points(fixture_payload):
    payload = fixture_payload("daily")
    for key in ("uniqueUsersTrend", "newUsersTrend", "returningUsersTrend"):
        payload[key]["dataPoints"] = []
    data = parse_response(payload)
    assert data.start is None and data.end is None
    assert "None to None" in repr(data)


def test_the_querys_dates_win_over_the_datas(fixture_payload):
    bare = parse_response(fixture_payload("daily"))
    # a query wider than what the platform sent back: the query says what was asked for
    query = EngagementQuery(
        stream_id="st-1",
        start=bare.start - dt.timedelta(days=3),
        end=bare.end + dt.timedelta(days=2),
    )
    data = parse_response(fixture_payload("daily"), query=query)
    assert (data.start, data.end) == (query.start, query.end)
    assert (data.start, data.end) != (bare.start, bare.end)
    assert data.days == bare.days  # the data itself is unchanged


# -- the "implausibly large count" guard -------------------------------------------------------
@pytest.mark.parametrize("key", ["uniqueUsers", "newUsers", "returningUsers"])
def test_a_summary_count_at_the_limit_is_refused_and_just_below_is_kept(fixture_payload, key):
    payload = fixture_payload("daily")
    payload["summary"][key] = LIMIT - 1
    assert parse_response(copy.deepcopy(payload)).summary.iloc[0] >= 0
    payload["summary"][key] = LIMIT
    with pytest.raises(ResponseFormatError, match="implausibly large count") as info:
        parse_response(payload)
    assert info.value.field == f"summary.{key}"


def test_a_summary_average_at_the_limit_is_refused(fixture_payload):
    payload = fixture_payload("daily")
    payload["summary"]["avgNewUsersPerDay"] = LIMIT
    with pytest.raises(ResponseFormatError, match="expected a number >= 0") as info:
        parse_response(payload)
    assert info.value.field == "summary.avgNewUsersPerDay"
    payload["summary"]["avgNewUsersPerDay"] = LIMIT - 1
    assert parse_response(payload).summary["avg_new_users_per_day"] == float(LIMIT - 1)


@pytest.mark.parametrize("kind", ["daily", "hourly"])
def test_a_trend_count_at_the_limit_is_refused_naming_the_point(fixture_payload, kind):
    payload = fixture_payload(kind)
    point = payload["newUsersTrend"]["dataPoints"][1]
    key = "users" if kind == "daily" else "5 - 6"
    point[key] = LIMIT - 1
    data = parse_response(copy.deepcopy(payload))
    assert data.trend["users"].max() == LIMIT - 1
    point[key] = LIMIT
    with pytest.raises(ResponseFormatError, match=f"implausibly large count {LIMIT}") as info:
        parse_response(payload)
    assert info.value.field == f'newUsersTrend.dataPoints[1]["{key}"]'


# -- merging chunks ------------------------------------------------------------------------------
def _chunk(fixture_payload, query: EngagementQuery):
    """The daily sample re-dated to ``query``'s days, its filters stripped of dates and count."""
    payload = fixture_payload("daily")
    days = [query.start + dt.timedelta(days=i) for i in range(query.days)]
    for key in ("uniqueUsersTrend", "newUsersTrend", "returningUsersTrend"):
        points = payload[key]["dataPoints"][: len(days)]
        for point, day in zip(points, days, strict=True):
            point["date"] = format_api_date(day)
        payload[key]["dataPoints"] = points
    for key in ("start", "end", "dataPointsCount"):
        payload["filters"].pop(key, None)
    return parse_response(payload, query=query)


def test_merge_fills_what_the_chunks_filters_leave_out(fixture_payload):
    whole = EngagementQuery(stream_id="st-1", start="2025-12-01", end="2025-12-04")
    first, second = whole.split(2)
    merged = merge_engagements(
        [_chunk(fixture_payload, first), _chunk(fixture_payload, second)], whole
    )
    assert merged.filters["start"] == "Dec 01 2025" and merged.filters["end"] == "Dec 04 2025"
    assert merged.filters["dataPointsCount"] == 4  # each chunk's own number of days
    assert str(merged.summary.dtype) == "Float64"
    assert merged.summary.name == "st-1"


def test_merge_of_nothing_says_so():
    with pytest.raises(ValueError, match=r"^merge_engagements needs at least one part$"):
        merge_engagements([], EngagementQuery(stream_id="s", start="2025-12-01", end="2025-12-01"))


# -- repr and error wording ----------------------------------------------------------------------
def test_repr_shows_the_unique_users_with_thousands_separators(fixture_payload):
    payload = fixture_payload("daily")
    payload["summary"]["uniqueUsers"] = 1234567
    assert repr(parse_response(payload)).endswith(": 1,234,567 unique users>")


@pytest.mark.parametrize(
    ("value", "shown"),
    [("5", "'5' (str)"), (None, "None (null)"), (2.5, "2.5 (float)"), (True, "True (bool)")],
)
def test_a_mistyped_count_names_its_json_type(fixture_payload, value, shown):
    payload = fixture_payload("daily")
    payload["summary"]["newUsers"] = value
    with pytest.raises(ResponseFormatError) as info:
        parse_response(payload)
    assert str(info.value) == f"summary.newUsers: expected a whole number, got {shown}"


def test_a_trend_that_is_not_a_list_says_so(fixture_payload):
    payload = fixture_payload("daily")
    payload["newUsersTrend"]["dataPoints"] = {"date": "Dec 01 2025"}
    with pytest.raises(ResponseFormatError) as info:
        parse_response(payload)
    assert str(info.value) == "newUsersTrend.dataPoints: expected a list, got dict"


def test_missing_fields_are_named_in_plain_words(fixture_payload):
    payload = fixture_payload("daily")
    del payload["summary"]["returningUsers"]
    with pytest.raises(ResponseFormatError) as info:
        parse_response(payload)
    assert str(info.value) == "summary.returningUsers: missing from the answer"
    payload = fixture_payload("daily")
    del payload["uniqueUsersTrend"]["dataPoints"][2]["date"]
    with pytest.raises(ResponseFormatError) as info:
        parse_response(payload)
    assert str(info.value) == "uniqueUsersTrend.dataPoints[2].date: missing from the answer"


def test_a_bad_average_shows_the_value(fixture_payload):
    payload = fixture_payload("daily")
    payload["summary"]["avgUniqueUsersPerDay"] = "3.5"
    with pytest.raises(ResponseFormatError) as info:
        parse_response(payload)
    assert (
        str(info.value) == "summary.avgUniqueUsersPerDay: expected a number >= 0, got '3.5' (str)"
    )


def test_a_bare_hourly_answer_is_recognised_by_its_shape(fixture_payload):
    payload = fixture_payload("hourly")
    payload["filters"].pop("aggregationType", None)
    assert parse_response(payload).aggregation == "hourly"


def test_the_stated_aggregation_wins_over_the_shape(fixture_payload):
    payload = fixture_payload("hourly")
    payload["filters"]["aggregationType"] = "Daily"  # says daily, carries hourly points
    with pytest.raises(ResponseFormatError, match=r'\["users"\]: missing from the answer'):
        parse_response(payload)
