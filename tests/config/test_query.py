"""EngagementQuery: validation, normalisation and the platform's parameter spellings."""

from __future__ import annotations

import datetime as dt

import pytest

from engagement_kit.config.query import EngagementQuery, parse_date
from engagement_kit.errors import InvalidQueryError

BASE = {"stream_id": "st-abc_1", "start": "2025-12-01", "end": "2025-12-05"}


def q(**kw) -> EngagementQuery:
    return EngagementQuery(**{**BASE, **kw})


def test_defaults_and_params():
    query = q()
    assert query.start == dt.date(2025, 12, 1) and query.days == 5
    assert query.to_params() == {
        "aggregation_type": "daily",
        "start_date": "2025-12-01",
        "end_date": "2025-12-05",
        "conversationType": "All",
        "conversationStatus": "All",
        "timeZoneOffset": "UTC",
    }


@pytest.mark.parametrize(
    ("given", "ours", "platform"),
    [
        ("Non Interactive", "non_interactive", "Non Interactive"),
        ("non interactive", "non_interactive", "Non Interactive"),
        ("NON_INTERACTIVE", "non_interactive", "Non Interactive"),
        ("non-interactive", "non_interactive", "Non Interactive"),
        ("Interactive", "interactive", "Interactive"),
        ("ALL", "all", "All"),
    ],
)
def test_conversation_type_spellings(given, ours, platform):
    query = q(conversation_type=given)
    assert query.conversation_type == ours
    assert query.to_params()["conversationType"] == platform


def test_other_enums_accept_platform_spellings():
    query = q(aggregation="Hourly", conversation_status="Closed")
    assert query.aggregation == "hourly" and query.conversation_status == "closed"
    assert query.to_params()["aggregation_type"] == "hourly"
    assert query.to_params()["conversationStatus"] == "Closed"


@pytest.mark.parametrize(
    ("channels", "expected"),
    [
        (None, ()),
        ("all", ()),
        ("rtm", ("rtm",)),
        ("MSTeams, rtm", ("msteams", "rtm")),
        (["rtm", "whatsapp", "rtm"], ("rtm", "whatsapp")),
        ((), ()),
    ],
)
def test_channels(channels, expected):
    query = q(channels=channels)
    assert query.channels == expected
    assert query.to_params().get("channels") == (",".join(expected) or None)


def test_dates_as_date_objects_and_single_day():
    query = q(start=dt.date(2025, 1, 1), end=dt.date(2025, 1, 1))
    assert query.days == 1


@pytest.mark.parametrize(
    ("kw", "field", "fragment"),
    [
        ({"stream_id": "../etc"}, "stream_id", "letters, digits"),
        ({"stream_id": "a/b"}, "stream_id", "letters, digits"),
        ({"stream_id": "%2e%2e"}, "stream_id", "letters, digits"),
        ({"stream_id": "a\x00b"}, "stream_id", "letters, digits"),
        ({"stream_id": "x" * 500}, "stream_id", "at most 128"),
        ({"stream_id": ""}, "stream_id", "stream id"),
        ({"stream_id": 7}, "stream_id", "stream id"),
        ({"start": "2025-13-01"}, "start", "YYYY-MM-DD"),
        ({"start": "01/12/2025"}, "start", "YYYY-MM-DD"),
        ({"start": dt.datetime(2025, 12, 1, 10)}, "start", "datetime"),
        ({"end": "2025-11-30"}, "start", "after end"),
        ({"end": "2045-11-30"}, "end", "at most"),
        ({"aggregation": "weekly"}, "aggregation", "'daily', 'hourly'"),
        ({"conversation_type": "chat"}, "conversation_type", "'non_interactive'"),
        ({"conversation_status": "open"}, "conversation_status", "'active', 'closed'"),
        ({"conversation_status": None}, "conversation_status", "'all'"),
        ({"tz": "Mars/Olympus"}, "tz", "IANA"),
        ({"tz": "+05:30"}, "tz", "IANA"),
        ({"tz": "../../etc/passwd"}, "tz", "IANA"),
        ({"tz": ""}, "tz", "IANA"),
        ({"channels": "rtm;drop"}, "channels", "channel"),
        ({"channels": ["all", "rtm"]}, "channels", "'all' cannot"),
        ({"channels": [3]}, "channels", "channel"),
        ({"colour": "red"}, "colour", "unknown parameter"),
    ],
)
def test_invalid_queries_name_the_field(kw, field, fragment):
    with pytest.raises(InvalidQueryError) as info:
        q(**kw)
    assert info.value.field == field
    assert fragment in str(info.value)
    assert isinstance(info.value, ValueError)


def test_missing_field():
    with pytest.raises(InvalidQueryError, match="end: this parameter is required"):
        EngagementQuery(stream_id="a", start="2025-01-01")


def test_split_covers_the_range_without_gaps():
    query = q(start="2025-01-01", end="2025-03-16")  # 75 days
    parts = query.split(31)
    assert [(p.start, p.end) for p in parts] == [
        (dt.date(2025, 1, 1), dt.date(2025, 1, 31)),
        (dt.date(2025, 2, 1), dt.date(2025, 3, 3)),
        (dt.date(2025, 3, 4), dt.date(2025, 3, 16)),
    ]
    assert all(p.tz == query.tz and p.stream_id == query.stream_id for p in parts)
    assert q().split(31) == [q()]
    with pytest.raises(InvalidQueryError):
        query.split(0)


def test_key_is_canonical_and_frozen():
    a = q(channels="rtm,msteams", conversation_type="Non Interactive")
    b = q(channels=["msteams", "RTM"], conversation_type="non_interactive")
    assert a == b and a.key() == b.key()
    assert a.key() != q().key()
    with pytest.raises(Exception):  # noqa: B017 - pydantic's frozen error
        a.tz = "UTC"  # type: ignore[misc]


def test_replace_revalidates():
    with pytest.raises(InvalidQueryError):
        q().replace(tz="Nowhere/Land")
    assert q().replace(tz="Asia/Kolkata").tz == "Asia/Kolkata"


def test_describe():
    text = q(conversation_type="interactive", channels="rtm", tz="Europe/Berlin").describe()
    assert text == (
        "stream st-abc_1, 2025-12-01 to 2025-12-05 (daily, Europe/Berlin; interactive; channels rtm)"
    )


# -- Tests that close the gaps mutation testing found in engagement_kit.config.query (see benchmarks/MUTATION.md).


def q_2(**kw) -> EngagementQuery:
    fields = {"stream_id": "st-1", "start": "2025-12-01", "end": "2025-12-05", **kw}
    return EngagementQuery(**fields)


# -- split ---------------------------------------------------------------------------------
def test_a_single_day_splits_into_itself():
    one = q_2(start="2025-12-01", end="2025-12-01")
    assert one.split(1) == [one] and one.split(31) == [one]


def test_split_into_single_days_is_allowed():
    parts = q_2().split(1)
    assert [p.start for p in parts] == [dt.date(2025, 12, d) for d in range(1, 6)]
    assert all(p.start == p.end for p in parts)


@pytest.mark.parametrize("max_days", [0, -3])
def test_split_below_one_day_is_refused_naming_the_setting(max_days):
    with pytest.raises(InvalidQueryError) as info:
        q_2().split(max_days)
    assert str(info.value) == "max_days_per_request must be at least 1"
    assert info.value.field == "max_days"


# -- key and describe ----------------------------------------------------------------------
def test_key_is_the_stream_and_the_sorted_parameters():
    assert q_2(channels="rtm,msteams").key() == (
        "st-1?aggregation_type=daily&channels=msteams,rtm&conversationStatus=All"
        "&conversationType=All&end_date=2025-12-05&start_date=2025-12-01&timeZoneOffset=UTC"
    )


def test_describe_without_filters_has_no_separator():
    assert q_2().describe() == "stream st-1, 2025-12-01 to 2025-12-05 (daily, UTC)"


def test_describe_lists_every_filter():
    text = q_2(
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
        q_2(timezone="UTC")
    assert info.value.field == "timezone"
    assert str(info.value) == (
        "timezone: unknown parameter; the parameters are stream_id, start, end, aggregation, "
        "conversation_type, conversation_status, channels, tz"
    )
