"""tidy.parse_response: the reference samples value by value, DST days, every malformed field."""

from __future__ import annotations

import copy
import datetime as dt
import json
import locale

import numpy as np
import pandas as pd
import pytest

from engagement_kit.config.query import EngagementQuery
from engagement_kit.errors import ResponseFormatError
from engagement_kit.tidy import (
    HOUR_KEYS,
    format_api_date,
    merge_engagements,
    parse_api_date,
    parse_response,
)

DAYS = pd.to_datetime(["2025-12-01", "2025-12-02", "2025-12-03", "2025-12-04", "2025-12-05"])


def _payload(days: list[dt.date], hourly: bool, value=lambda d, h, m: 0) -> dict:
    def points(m: int) -> list[dict]:
        out = []
        for d in days:
            p = {"date": format_api_date(d)}
            if hourly:
                p.update({k: value(d, h, m) for h, k in enumerate(HOUR_KEYS)})
            else:
                p["users"] = value(d, None, m)
            out.append(p)
        return out

    return {
        "summary": {
            "uniqueUsers": 3,
            "newUsers": 2,
            "returningUsers": 1,
            "avgUniqueUsersPerDay": 1.5,
            "avgNewUsersPerDay": 1,
            "avgReturningUsersPerDay": 0.5,
        },
        "uniqueUsersTrend": {"dataPoints": points(0)},
        "newUsersTrend": {"dataPoints": points(1)},
        "returningUsersTrend": {"dataPoints": points(2)},
        "filters": {
            "start": format_api_date(days[0]),
            "end": format_api_date(days[-1]),
            "conversationType": "all",
            "conversationStatus": "all",
            "aggregationType": "hourly" if hourly else "daily",
            "dataPointsCount": len(days),
        },
    }


def test_daily_reference_sample_value_by_value(fixture_payload):
    q = EngagementQuery(stream_id="st-1", start="2025-12-01", end="2025-12-05", tz="Asia/Kolkata")
    e = parse_response(fixture_payload("daily"), query=q)
    assert e.stream_id == "st-1" and e.tz == "Asia/Kolkata" and e.aggregation == "daily"
    assert e.summary.to_dict() == {
        "unique_users": 2,
        "new_users": 2,
        "returning_users": 0,
        "avg_unique_users_per_day": 0.4,
        "avg_new_users_per_day": 0.4,
        "avg_returning_users_per_day": 0,
    }
    assert str(e.summary.dtype) == "Float64"
    t = e.trend
    assert list(t.columns) == ["stream_id", "metric", "date", "hour", "start", "users"]
    assert str(t["metric"].dtype) == "category"
    assert list(t["metric"].cat.categories) == ["unique", "new", "returning"]
    assert str(t["date"].dtype) == "datetime64[ns]"
    assert str(t["hour"].dtype) == "Int8" and t["hour"].isna().all()
    assert str(t["start"].dtype) == "datetime64[ns, Asia/Kolkata]"
    assert t["users"].dtype == np.int64
    assert len(t) == 15
    assert list(t["metric"]) == ["unique"] * 5 + ["new"] * 5 + ["returning"] * 5
    assert (t["date"].to_numpy() == np.tile(DAYS.to_numpy(), 3)).all()
    assert t["users"].tolist() == [0, 0, 1, 1, 0] + [0, 0, 1, 1, 0] + [0, 0, 0, 0, 0]
    assert t["start"].iloc[0] == pd.Timestamp("2025-12-01 00:00", tz="Asia/Kolkata")
    assert t["start"].iloc[0].utcoffset() == dt.timedelta(hours=5, minutes=30)
    assert e.filters == {
        "start": "Dec 01 2025",
        "end": "Dec 05 2025",
        "conversationType": "all",
        "conversationStatus": "all",
        "aggregationType": "daily",
        "dataPointsCount": 5,
    }
    w = e.wide()
    assert list(w.columns) == ["date", "hour", "start", "unique", "new", "returning"]
    assert w["unique"].tolist() == [0, 0, 1, 1, 0]
    assert w["new"].tolist() == [0, 0, 1, 1, 0]
    assert w["returning"].tolist() == [0] * 5
    assert e.days == 5 and e.start == dt.date(2025, 12, 1) and e.end == dt.date(2025, 12, 5)


def test_hourly_reference_sample_value_by_value(fixture_payload):
    e = parse_response(fixture_payload("hourly"), stream_id="st-9", tz="UTC")
    assert e.aggregation == "hourly" and e.stream_id == "st-9"
    t = e.trend
    assert len(t) == 3 * 5 * 24
    assert t["hour"].tolist() == list(range(24)) * 15
    nonzero = t[t["users"] != 0]
    assert [
        (m, d.strftime("%Y-%m-%d"), h, u)
        for m, d, h, u in nonzero[["metric", "date", "hour", "users"]].itertuples(index=False)
    ] == [
        ("unique", "2025-12-03", 17, 1),
        ("unique", "2025-12-04", 14, 1),
        ("new", "2025-12-03", 17, 1),
        ("new", "2025-12-04", 14, 1),
    ]
    assert t["users"].sum() == 4
    row = t[(t["metric"] == "unique") & (t["hour"] == 17)].iloc[2]
    assert row["start"] == pd.Timestamp("2025-12-03 17:00", tz="UTC")
    assert e.summary["avg_unique_users_per_day"] == 0.4
    w = e.wide()
    assert len(w) == 120 and w["unique"].sum() == 2 and w["returning"].sum() == 0


def test_raw_bytes_and_text_parse_the_same(fixture_payload):
    raw = json.dumps(fixture_payload("daily"))
    a, b = parse_response(raw), parse_response(raw.encode())
    pd.testing.assert_frame_equal(a.trend, b.trend)
    pd.testing.assert_series_equal(a.summary, b.summary)


def test_dates_do_not_depend_on_locale(fixture_payload):
    old = locale.setlocale(locale.LC_TIME)
    for name in ("de_DE.UTF-8", "fr_FR.UTF-8", "C"):
        try:
            locale.setlocale(locale.LC_TIME, name)
        except locale.Error:
            continue
        try:
            assert parse_api_date("Dec 01 2025") == dt.date(2025, 12, 1)
            assert format_api_date(dt.date(2025, 3, 9)) == "Mar 09 2025"
        finally:
            locale.setlocale(locale.LC_TIME, old)


@pytest.mark.parametrize(
    "text", ["Dez 01 2025", "Dec 1st 2025", "2025-12-01", "Feb 30 2025", "", 3]
)
def test_bad_dates_are_rejected(text):
    with pytest.raises(ResponseFormatError, match="date"):
        parse_api_date(text)


def test_spring_forward_day_new_york():
    days = [dt.date(2025, 3, 9)]
    e = parse_response(
        _payload(days, hourly=True, value=lambda d, h, m: 0 if h == 2 else 1), tz="America/New_York"
    )
    w = e.wide()
    assert len(w) == 24  # the platform still sends 24 wall-clock buckets
    assert pd.isna(w.loc[2, "start"])  # 02:00 did not exist that day
    assert w.loc[1, "start"] == pd.Timestamp("2025-03-09 06:00", tz="UTC")
    assert w.loc[3, "start"] == pd.Timestamp("2025-03-09 07:00", tz="UTC")
    assert w.loc[3, "start"].utcoffset() == dt.timedelta(hours=-4)


def test_fall_back_day_new_york_takes_first_occurrence():
    e = parse_response(_payload([dt.date(2025, 11, 2)], hourly=True), tz="America/New_York")
    w = e.wide()
    assert w["start"].notna().all()
    assert w.loc[1, "start"] == pd.Timestamp("2025-11-02 05:00", tz="UTC")  # 01:00 EDT
    assert w.loc[2, "start"] == pd.Timestamp("2025-11-02 07:00", tz="UTC")  # 02:00 EST
    assert w["start"].is_monotonic_increasing


def test_half_hour_zone_kolkata_hourly():
    e = parse_response(_payload([dt.date(2025, 6, 1)], hourly=True), tz="Asia/Kolkata")
    assert e.wide().loc[0, "start"] == pd.Timestamp("2025-05-31 18:30", tz="UTC")


def test_daily_start_when_midnight_does_not_exist():
    # Santiago springs forward at 24:00 on 2025-09-06 -> the 7th starts at 01:00
    e = parse_response(_payload([dt.date(2025, 9, 7)], hourly=False), tz="America/Santiago")
    assert e.wide().loc[0, "start"] == pd.Timestamp("2025-09-07 01:00", tz="America/Santiago")


def test_extra_fields_outside_data_points_are_tolerated(fixture_payload):
    p = fixture_payload("daily")
    p["somethingNew"] = {"x": 1}
    p["summary"]["medianUsers"] = 3
    p["uniqueUsersTrend"]["note"] = "x"
    p["filters"]["channels"] = "rtm"
    e = parse_response(p)
    assert e.filters["channels"] == "rtm" and len(e.trend) == 15


@pytest.mark.parametrize(
    ("kind", "trend", "index", "key"),
    [
        ("hourly", "newUsersTrend", 2, "25 - 26"),
        ("hourly", "uniqueUsersTrend", 0, "users"),
        ("daily", "returningUsersTrend", 4, "channel"),
        ("daily", "uniqueUsersTrend", 0, "17 - 18"),
    ],
)
def test_an_unknown_key_in_a_data_point_is_an_error(fixture_payload, kind, trend, index, key):
    p = fixture_payload(kind)
    p[trend]["dataPoints"][index][key] = 5
    with pytest.raises(ResponseFormatError, match="unknown key") as info:
        parse_response(p)
    assert info.value.field == f"{trend}.dataPoints[{index}][{key!r}]"
    assert repr(key) in str(info.value)


def _mutations():
    def delete(path):
        def f(p):
            obj = p
            for k in path[:-1]:
                obj = obj[k]
            del obj[path[-1]]

        return f

    def setv(path, value):
        def f(p):
            obj = p
            for k in path[:-1]:
                obj = obj[k]
            obj[path[-1]] = value

        return f

    dp = ("uniqueUsersTrend", "dataPoints")
    return [
        (delete(("summary",)), "summary"),
        (delete(("summary", "newUsers")), "summary.newUsers"),
        (setv(("summary", "uniqueUsers"), "2"), "summary.uniqueUsers"),
        (setv(("summary", "uniqueUsers"), -1), "summary.uniqueUsers"),
        (setv(("summary", "uniqueUsers"), True), "summary.uniqueUsers"),
        (setv(("summary", "avgNewUsersPerDay"), None), "summary.avgNewUsersPerDay"),
        (setv(("summary", "avgNewUsersPerDay"), -0.5), "summary.avgNewUsersPerDay"),
        (delete(("newUsersTrend",)), "newUsersTrend"),
        (setv(("newUsersTrend",), []), "newUsersTrend"),
        (delete(("returningUsersTrend", "dataPoints")), "returningUsersTrend.dataPoints"),
        (setv((*dp, 2, "users"), -3), 'uniqueUsersTrend.dataPoints[2]["users"]'),
        (setv((*dp, 2, "users"), 1.5), 'uniqueUsersTrend.dataPoints[2]["users"]'),
        (setv((*dp, 2, "users"), "1"), 'uniqueUsersTrend.dataPoints[2]["users"]'),
        (setv((*dp, 2, "users"), 2**70), 'uniqueUsersTrend.dataPoints[2]["users"]'),
        (delete((*dp, 4, "users")), 'uniqueUsersTrend.dataPoints[4]["users"]'),
        (delete((*dp, 1, "date")), "uniqueUsersTrend.dataPoints[1].date"),
        (setv((*dp, 1, "date"), "2025-12-02"), "uniqueUsersTrend.dataPoints[1].date"),
        (setv((*dp, 1), 7), "uniqueUsersTrend.dataPoints[1]"),
        (
            setv(("newUsersTrend", "dataPoints", 3, "date"), "Dec 09 2025"),
            "newUsersTrend.dataPoints",
        ),
        (lambda p: p["returningUsersTrend"]["dataPoints"].pop(), "returningUsersTrend.dataPoints"),
        (delete(("filters",)), "filters"),
        (setv(("filters", "dataPointsCount"), "5"), "filters.dataPointsCount"),
    ]


@pytest.mark.parametrize(("mutate", "field"), _mutations())
def test_malformed_answers_name_the_field(fixture_payload, mutate, field):
    p = copy.deepcopy(fixture_payload("daily"))
    mutate(p)
    with pytest.raises(ResponseFormatError) as info:
        parse_response(p)
    assert info.value.field == field
    assert field in str(info.value)


def test_hourly_point_missing_an_hour_names_it(fixture_payload):
    p = fixture_payload("hourly")
    del p["newUsersTrend"]["dataPoints"][3]["17 - 18"]
    with pytest.raises(ResponseFormatError, match=r'newUsersTrend\.dataPoints\[3\]\["17 - 18"\]'):
        parse_response(p)


@pytest.mark.parametrize("body", [b"", b"<html>502 Bad Gateway</html>", b'{"summary": ', b"[1, 2]"])
def test_non_json_or_non_object_bodies(body):
    with pytest.raises(ResponseFormatError, match="<body>"):
        parse_response(body)


def test_empty_trends_parse_to_empty_frames():
    p = _payload([dt.date(2025, 1, 1)], hourly=False)
    for key in ("uniqueUsersTrend", "newUsersTrend", "returningUsersTrend"):
        p[key]["dataPoints"] = []
    e = parse_response(p)
    assert len(e.trend) == 0 and list(e.trend.columns)[-1] == "users"
    assert len(e.wide()) == 0


def test_merge_keeps_new_users_and_blanks_what_does_not_add_up():
    q = EngagementQuery(stream_id="s", start="2025-01-01", end="2025-01-04", tz="Europe/Berlin")
    value = lambda d, h, m: d.day * (m + 1)
    parts = [
        parse_response(
            _payload([dt.date(2025, 1, 1), dt.date(2025, 1, 2)], False, value),
            query=q.replace(end="2025-01-02"),
        ),
        parse_response(
            _payload([dt.date(2025, 1, 3), dt.date(2025, 1, 4)], False, value),
            query=q.replace(start="2025-01-03"),
        ),
    ]
    m = merge_engagements(parts, q)
    assert m.query == q and m.days == 4
    assert m.summary["new_users"] == 4  # 2 + 2
    assert m.summary["avg_new_users_per_day"] == 1.0
    assert pd.isna(m.summary["unique_users"]) and pd.isna(m.summary["returning_users"])
    assert pd.isna(m.summary["avg_unique_users_per_day"])
    w = m.wide()
    assert w["date"].dt.day.tolist() == [1, 2, 3, 4]
    assert w["unique"].tolist() == [1, 2, 3, 4]
    assert w["new"].tolist() == [2, 4, 6, 8]
    assert w["returning"].tolist() == [3, 6, 9, 12]
    assert m.filters["start"] == "Jan 01 2025" and m.filters["end"] == "Jan 04 2025"
    assert m.filters["dataPointsCount"] == 4


# -- Tests that close the gaps mutation testing found in engagement_kit.tidy (see benchmarks/MUTATION.md).

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
