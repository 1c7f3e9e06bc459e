"""The demo platform answers like the real one: numbers, shape, and edges.

The numbers are checked against a plain recomputation from the session log written here
independently (Python loops over sessions with zoneinfo), for random streams, ranges, zones,
aggregations and filters.
"""

from __future__ import annotations

import bisect
import datetime as dt
import json
import zoneinfo
from collections import defaultdict
from typing import Any

import httpx
import jwt
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engagement_kit.config.query import EngagementQuery
from engagement_kit.demo import (
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_HOST,
    DEMO_STREAMS,
    RATE_LIMIT_MESSAGE,
    DemoPlatform,
    clear_cache,
    get_stream,
    session_log,
)
from engagement_kit.tidy import parse_response

UTC = dt.UTC
NOW_MID = dt.datetime(2025, 12, 10, 15, 30, tzinfo=UTC).timestamp()
NOW_LATE = dt.datetime(2026, 7, 2, 12, 0, tzinfo=UTC).timestamp()
LAST_DAY = dt.date(2026, 6, 30)
ZONES = (
    "UTC",
    "America/New_York",
    "Asia/Kolkata",
    "Europe/Berlin",
    "Australia/Lord_Howe",
    "Pacific/Kiritimati",
)
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
HOURS = [f"{h} - {(h + 1) % 24}" for h in range(24)]
RETAIL, HR, IT = "st-demo-retail-in", "st-demo-hr-us", "st-demo-it-de"


def token(
    *, secret: str = DEMO_CLIENT_SECRET, app_id: str | None = DEMO_CLIENT_ID, **claims: Any
) -> str:
    payload = {"sub": "tester", **claims}
    if app_id is not None:
        payload["appId"] = app_id
    return jwt.encode(payload, secret, algorithm="HS256")


class Api:
    """A platform on a settable clock and an httpx client wired to it in-process."""

    def __init__(self, now: float = NOW_LATE, **options: Any) -> None:
        self.now = now
        self.platform = DemoPlatform(lambda: self.now, **options)
        self.http = httpx.Client(
            transport=httpx.MockTransport(self.platform.handle), base_url=DEMO_HOST
        )

    def post(
        self, stream: str = IT, *, auth: str | None = "default", **params: Any
    ) -> httpx.Response:
        headers = {} if auth is None else {"auth": token() if auth == "default" else auth}
        params = {k: v for k, v in params.items() if v is not None}
        return self.http.post(
            f"/api/public/bot/{stream}/v2/userEngagementTrend", params=params, headers=headers
        )

    def ok(self, stream: str = IT, **params: Any) -> dict[str, Any]:
        response = self.post(stream, **params)
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture(scope="module")
def api() -> Api:
    return Api(NOW_LATE, rate_limit=False)


# -- the independent recomputation --------------------------------------------------------

_LOGS: dict[tuple[str, float], tuple[list[tuple], list[int], dict[int, int]]] = {}


def log_rows(stream_id: str, now: float) -> tuple[list[tuple], list[int], dict[int, int]]:
    """(sessions as tuples sorted by time, their instants, each user's first-ever instant)."""
    key = (stream_id, now)
    if key not in _LOGS:
        log = session_log(stream_id, dt.date(2026, 7, 3), now=now)
        seconds = (log["instant"] - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)
        rows = list(
            zip(
                log["user_id"].tolist(),
                seconds.tolist(),
                log["channel"].tolist(),
                log["conversation_type"].tolist(),
                log["status"].tolist(),
                strict=True,
            )
        )
        first = seconds.groupby(log["user_id"]).min().to_dict()
        _LOGS[key] = (rows, [r[1] for r in rows], first)
    return _LOGS[key]


def api_date(day: dt.date) -> str:
    return f"{MONTHS[day.month - 1]} {day.day:02d} {day.year}"


def expected_answer(
    stream_id: str,
    now: float,
    *,
    start: dt.date,
    end: dt.date,
    tz: str,
    hourly: bool,
    ctype: str,
    status: str,
    channels: set[str] | None,
    overlap: bool = False,
) -> dict[str, Any]:
    """Counts by plain loops: buckets of sets of users, zoneinfo for local time.

    ``overlap``: returning = users with a session in the bucket later than their first-ever one
    (so a user may be new and returning in one bucket); else users first seen before the bucket.
    """
    rows, instants, first = log_rows(stream_id, now)
    zone = zoneinfo.ZoneInfo(tz)
    days = [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]

    def midnight(day: dt.date) -> float:
        return dt.datetime(day.year, day.month, day.day, tzinfo=zone).timestamp()

    lo = bisect.bisect_left(instants, midnight(start) - 2 * 86400)
    hi = bisect.bisect_right(instants, midnight(end) + 3 * 86400)
    in_bucket: dict[tuple, set[int]] = defaultdict(set)
    days_of: dict[int, set[dt.date]] = defaultdict(set)
    came_back: dict[tuple, set[int]] = defaultdict(set)  # bucket -> users with a later session
    for user, ts, channel, conversation_type, session_status in rows[lo:hi]:
        local = dt.datetime.fromtimestamp(ts, zone)
        if not start <= local.date() <= end:
            continue
        if ctype != "all" and conversation_type != ctype.replace(" ", "_"):
            continue
        if status != "all" and session_status != status:
            continue
        if channels is not None and channel not in channels:
            continue
        in_bucket[(local.date(), local.hour if hourly else 0)].add(user)
        days_of[user].add(local.date())
        if ts > first[user]:
            came_back[(local.date(), local.hour if hourly else 0)].add(user)

    def first_local(user: int) -> dt.datetime:
        return dt.datetime.fromtimestamp(first[user], zone)

    def counts(day: dt.date, hour: int) -> tuple[int, int, int]:
        users = in_bucket.get((day, hour), set())
        bucket_start = dt.datetime(day.year, day.month, day.day, hour, tzinfo=zone).timestamp()
        new = sum(
            1
            for u in users
            if first_local(u).date() == day and (not hourly or first_local(u).hour == hour)
        )
        returning = sum(1 for u in users if first[u] < bucket_start)
        if overlap:
            returning = len(came_back.get((day, hour), set()))
        return len(users), new, returning

    trends: list[list[dict[str, Any]]] = [[], [], []]
    for day in days:
        per_hour = [counts(day, h) for h in (range(24) if hourly else [0])]
        for m in range(3):
            point: dict[str, Any] = {"date": api_date(day)}
            if hourly:
                point.update({HOURS[h]: per_hour[h][m] for h in range(24)})
            else:
                point["users"] = per_hour[0][m]
            trends[m].append(point)

    unique = len(days_of)
    new = sum(1 for u, ds in days_of.items() if first_local(u).date() in ds)
    returning = sum(1 for u, ds in days_of.items() if max(ds) > first_local(u).date())
    if overlap:
        returning = len(set().union(*came_back.values()))
    n = len(days)
    return {
        "summary": {
            "uniqueUsers": unique,
            "newUsers": new,
            "returningUsers": returning,
            "avgUniqueUsersPerDay": unique / n,
            "avgNewUsersPerDay": new / n,
            "avgReturningUsersPerDay": returning / n,
        },
        "uniqueUsersTrend": {"dataPoints": trends[0]},
        "newUsersTrend": {"dataPoints": trends[1]},
        "returningUsersTrend": {"dataPoints": trends[2]},
    }


@st.composite
def requests(draw: st.DrawFn) -> dict[str, Any]:
    stream = draw(st.sampled_from(DEMO_STREAMS))
    now = draw(st.sampled_from([NOW_MID, NOW_LATE]))
    near_now = dt.datetime.fromtimestamp(now, UTC).date()
    start = draw(
        st.one_of(
            st.dates(dt.date(2025, 1, 1), LAST_DAY),
            st.dates(near_now - dt.timedelta(days=12), min(near_now, LAST_DAY)),
        )
    )
    end = min(LAST_DAY, start + dt.timedelta(days=draw(st.integers(0, 34))))
    channel_lists = st.lists(
        st.sampled_from([*stream.channel_names, "telegram"]), min_size=1, max_size=3, unique=True
    )
    return {
        "stream": stream,
        "now": now,
        "start": start,
        "end": end,
        "tz": draw(st.sampled_from(ZONES)),
        "aggregation": draw(st.sampled_from([None, "daily", "hourly", "Daily", "HOURLY"])),
        "ctype": draw(
            st.sampled_from([None, "All", "Interactive", "Non Interactive", "non interactive"])
        ),
        "status": draw(st.sampled_from([None, "All", "Active", "Closed", "closed"])),
        "channels": draw(st.one_of(st.none(), st.just("All"), channel_lists.map(",".join))),
    }


_APIS = {now: Api(now, rate_limit=False) for now in (NOW_MID, NOW_LATE)}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(requests())
def test_answers_equal_a_plain_recomputation_from_the_log(req):
    stream, now = req["stream"], req["now"]
    tz = req["tz"]
    response = _APIS[now].post(
        stream.id,
        start_date=req["start"].isoformat(),
        end_date=req["end"].isoformat(),
        timeZoneOffset=tz,
        aggregation_type=req["aggregation"],
        conversationType=req["ctype"],
        conversationStatus=req["status"],
        channels=req["channels"],
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    got = response.json()

    hourly = (req["aggregation"] or "hourly").lower() == "hourly"
    ctype = (req["ctype"] or "all").lower()
    status = (req["status"] or "all").lower()
    channels = None if req["channels"] in (None, "All") else set(req["channels"].split(","))
    want = expected_answer(
        stream.id,
        now,
        start=req["start"],
        end=req["end"],
        tz=tz,
        hourly=hourly,
        ctype=ctype,
        status=status,
        channels=channels,
    )
    for key in ("uniqueUsersTrend", "newUsersTrend", "returningUsersTrend", "summary"):
        assert got[key] == want[key], key
    filters = {
        "start": api_date(req["start"]),
        "end": api_date(req["end"]),
        "conversationType": ctype,
        "conversationStatus": status,
        "aggregationType": "hourly" if hourly else "daily",
        "dataPointsCount": (req["end"] - req["start"]).days + 1,
    }
    if req["channels"] is not None:
        filters["channels"] = req["channels"].lower()
    assert got["filters"] == filters

    # and the toolkit's own parser reads it
    query = EngagementQuery(
        stream_id=stream.id,
        start=req["start"],
        end=req["end"],
        aggregation="hourly" if hourly else "daily",
        tz=tz,
    )
    parsed = parse_response(response.content, query=query)
    assert int(parsed.wide()["unique"].sum()) == sum(
        v for p in got["uniqueUsersTrend"]["dataPoints"] for k, v in p.items() if k != "date"
    )


# -- invariants -----------------------------------------------------------------------------


def _values(points: list[dict[str, Any]]) -> list[int]:
    return [v for p in points for k, v in p.items() if k != "date"]


@pytest.mark.parametrize("stream", [RETAIL, HR, IT])
@pytest.mark.parametrize(
    "filters",
    [{}, {"conversationType": "Interactive", "channels": "rtm,whatsapp,msteams"}],
)
def test_invariants(api, stream, filters):
    for aggregation in ("daily", "hourly"):
        answer = api.ok(
            stream,
            start_date="2025-10-01",
            end_date="2025-11-14",
            aggregation_type=aggregation,
            timeZoneOffset="Europe/Berlin",
            **filters,
        )
        unique, new, returning = (
            _values(answer[k]["dataPoints"])
            for k in ("uniqueUsersTrend", "newUsersTrend", "returningUsersTrend")
        )
        assert all(u == n + r for u, n, r in zip(unique, new, returning, strict=True))
        assert min(unique + new + returning) >= 0
        assert answer["filters"]["dataPointsCount"] == 45
        assert len(answer["newUsersTrend"]["dataPoints"]) == 45
        summary = answer["summary"]
        if aggregation == "daily":
            assert sum(new) == summary["newUsers"]
            assert summary["uniqueUsers"] >= max(unique)
        assert summary["uniqueUsers"] <= summary["newUsers"] + summary["returningUsers"]
        assert summary["avgNewUsersPerDay"] == pytest.approx(summary["newUsers"] / 45)


def test_new_plus_returning_can_exceed_unique(api):
    """A user new on one day and back on a later one counts in both."""
    summary = api.ok(RETAIL, start_date="2025-11-01", end_date="2025-11-30")["summary"]
    assert summary["newUsers"] + summary["returningUsers"] > summary["uniqueUsers"]


def test_averages_are_ints_when_whole():
    api = Api(NOW_LATE, rate_limit=False)
    summary = api.ok(IT, start_date="2025-06-01", end_date="2025-06-01")["summary"]
    for key in ("avgUniqueUsersPerDay", "avgNewUsersPerDay", "avgReturningUsersPerDay"):
        assert type(summary[key]) is int  # one day: count / 1
    nothing = api.ok(IT, start_date="2024-06-01", end_date="2024-06-05")
    assert nothing["summary"]["avgUniqueUsersPerDay"] == 0
    assert (
        b'"avgUniqueUsersPerDay":0,'
        in api.post(IT, start_date="2024-06-01", end_date="2024-06-05").content
    )
    week = api.ok(RETAIL, start_date="2025-12-01", end_date="2025-12-07")["summary"]
    fractional = [v for k, v in week.items() if k.startswith("avg") and v * 7 % 7]
    assert all(type(v) is float for v in fractional)


# -- determinism ----------------------------------------------------------------------------


def test_same_query_same_bytes(api):
    params = dict(start_date="2025-07-01", end_date="2025-07-31", timeZoneOffset="Asia/Kolkata")
    assert api.post(RETAIL, **params).content == api.post(RETAIL, **params).content
    assert api.post(RETAIL, **params).content == Api(NOW_LATE).post(RETAIL, **params).content


def test_later_days_never_change_earlier_answers():
    params = dict(start_date="2025-03-01", end_date="2025-03-10", timeZoneOffset="UTC")
    clear_cache()
    fresh = Api(NOW_LATE).post(HR, **params).content
    clear_cache()
    api = Api(NOW_LATE)
    api.post(HR, start_date="2026-05-01", end_date="2026-05-31")  # generates far ahead first
    assert api.post(HR, **params).content == fresh
    # and a later "now" does not change the past either
    assert Api(NOW_LATE + 86400 * 100).post(HR, **params).content == fresh


# -- shape ----------------------------------------------------------------------------------


def _shape(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    if isinstance(value, list):
        shapes = [_shape(v) for v in value]
        assert all(s == shapes[0] for s in shapes)
        return shapes[:1]
    return "number" if type(value) in (int, float) else type(value).__name__


@pytest.mark.parametrize("kind", ["daily", "hourly"])
def test_shape_matches_the_reference_samples(api, fixture_payload, kind):
    reference = fixture_payload(kind)
    raw = api.post(
        RETAIL,
        start_date="2025-12-01",
        end_date="2025-12-05",
        aggregation_type=None if kind == "hourly" else "daily",
        timeZoneOffset="Asia/Kolkata",
    )
    ours = raw.json()
    assert _shape(ours) == _shape(reference)
    assert json.dumps(ours, separators=(",", ":")).encode() == raw.content  # compact
    assert list(ours) == list(reference)
    assert list(ours["filters"]) == list(reference["filters"])
    assert ours["filters"] | {"start": "Dec 01 2025"} == reference["filters"] | {
        "conversationType": "all"
    }
    assert [p["date"] for p in ours["uniqueUsersTrend"]["dataPoints"]] == [
        p["date"] for p in reference["uniqueUsersTrend"]["dataPoints"]
    ]
    counts = [*ours["summary"].values()][:3] + [ours["filters"]["dataPointsCount"]]
    counts += _values(ours["uniqueUsersTrend"]["dataPoints"])
    assert all(type(c) is int for c in counts)


def test_channels_echoed_only_when_asked(api):
    plain = api.ok(IT, start_date="2025-05-05", end_date="2025-05-06")
    assert "channels" not in plain["filters"]
    some = api.ok(IT, start_date="2025-05-05", end_date="2025-05-06", channels="Slack, RTM")
    assert some["filters"]["channels"] == "slack,rtm"
    every = api.ok(IT, start_date="2025-05-05", end_date="2025-05-06", channels="All")
    assert every["filters"]["channels"] == "all"
    assert every["summary"] == plain["summary"]
    none = api.ok(IT, start_date="2025-05-05", end_date="2025-05-06", channels="whatsapp")
    assert none["summary"]["uniqueUsers"] == 0


def test_defaults_are_hourly_all_utc(api):
    answer = api.ok(IT, start_date="2025-05-05", end_date="2025-05-05")
    assert answer["filters"]["aggregationType"] == "hourly"
    assert set(answer["uniqueUsersTrend"]["dataPoints"][0]) == {"date", *HOURS}
    explicit = api.ok(
        IT,
        start_date="2025-05-05",
        end_date="2025-05-05",
        aggregation_type="hourly",
        conversationType="All",
        conversationStatus="All",
        timeZoneOffset="UTC",
    )
    assert explicit == answer


# -- time: now, the log start, daylight saving ------------------------------------------------


def test_future_days_are_empty_and_today_partial():
    api = Api(NOW_MID)  # 2025-12-10 15:30 UTC = 21:00 in Kolkata
    points = api.ok(
        RETAIL,
        start_date="2025-12-07",
        end_date="2025-12-13",
        aggregation_type="daily",
        timeZoneOffset="Asia/Kolkata",
    )["uniqueUsersTrend"]["dataPoints"]
    users = [p["users"] for p in points]
    assert all(u > 200 for u in users[:3])
    assert 0 < users[3] < max(users[:3])  # today, until 21:00
    assert users[4:] == [0, 0, 0]
    hourly = api.ok(
        RETAIL, start_date="2025-12-10", end_date="2025-12-10", timeZoneOffset="Asia/Kolkata"
    )["uniqueUsersTrend"]["dataPoints"][0]
    assert hourly["20 - 21"] > 0
    assert hourly["21 - 22"] == hourly["22 - 23"] == hourly["23 - 0"] == 0


def test_active_conversations_only_near_now():
    api = Api(NOW_MID)
    points = api.ok(
        RETAIL,
        start_date="2025-12-01",
        end_date="2025-12-10",
        aggregation_type="daily",
        conversationStatus="Active",
        timeZoneOffset="UTC",
    )["uniqueUsersTrend"]["dataPoints"]
    users = [p["users"] for p in points]
    assert users[:8] == [0] * 8
    assert users[9] > 0
    closed = api.ok(
        RETAIL,
        start_date="2025-12-10",
        end_date="2025-12-10",
        aggregation_type="daily",
        conversationStatus="Closed",
        timeZoneOffset="UTC",
    )["summary"]["uniqueUsers"]
    assert users[9] < closed / 3


def test_nothing_before_the_log_starts(api):
    answer = api.ok(
        RETAIL, start_date="2024-12-30", end_date="2025-01-01", aggregation_type="daily"
    )
    users = [p["users"] for p in answer["uniqueUsersTrend"]["dataPoints"]]
    # the log starts at midnight in Kolkata = 18:30 UTC on Dec 31
    assert users[0] == 0 and 0 < users[1] < users[2]


def test_spring_forward_hour_is_zero():
    api = Api(NOW_LATE, rate_limit=False)
    for stream in (RETAIL, HR, IT):
        answer = api.ok(
            stream,
            start_date="2025-03-09",
            end_date="2025-03-09",
            timeZoneOffset="America/New_York",
        )
        for trend in ("uniqueUsersTrend", "newUsersTrend", "returningUsersTrend"):
            point = answer[trend]["dataPoints"][0]
            assert list(point) == ["date", *HOURS]
            assert point["2 - 3"] == 0
    # the retail stream is busy then (noon in India), so the zero is the missing hour's
    assert answer["filters"]["dataPointsCount"] == 1
    busy = api.ok(
        RETAIL, start_date="2025-03-09", end_date="2025-03-09", timeZoneOffset="America/New_York"
    )["uniqueUsersTrend"]["dataPoints"][0]
    assert busy["1 - 2"] > 0 and busy["3 - 4"] > 0


def test_fall_back_hour_counts_both_real_hours():
    api = Api(NOW_LATE, rate_limit=False)
    point = api.ok(
        RETAIL, start_date="2025-11-02", end_date="2025-11-02", timeZoneOffset="America/New_York"
    )["uniqueUsersTrend"]["dataPoints"][0]
    rows, instants, _ = log_rows(RETAIL, NOW_LATE)
    t1 = dt.datetime(2025, 11, 2, 5, tzinfo=UTC).timestamp()  # 01:00 EDT

    def users_between(a: float, b: float) -> int:
        return len(
            {r[0] for r in rows[bisect.bisect_left(instants, a) : bisect.bisect_left(instants, b)]}
        )

    assert point["1 - 2"] == users_between(t1, t1 + 7200)  # 01:00 EDT and 01:00 EST
    assert point["1 - 2"] > users_between(t1, t1 + 3600)
    daily = api.ok(
        RETAIL,
        start_date="2025-11-02",
        end_date="2025-11-02",
        aggregation_type="daily",
        timeZoneOffset="America/New_York",
    )["uniqueUsersTrend"]["dataPoints"][0]["users"]
    midnight = dt.datetime(2025, 11, 2, 4, tzinfo=UTC).timestamp()
    assert daily == users_between(midnight, midnight + 25 * 3600)


# -- edges ------------------------------------------------------------------------------------

GOOD = {"start_date": "2025-05-01", "end_date": "2025-05-02"}


@pytest.mark.parametrize(
    ("params", "needle"),
    [
        ({"end_date": "2025-05-01"}, "start_date is required"),
        ({"start_date": "2025-05-01"}, "end_date is required"),
        ({**GOOD, "start_date": "2025-02-30"}, "start_date"),
        ({**GOOD, "end_date": "2025/05/02"}, "end_date"),
        ({**GOOD, "start_date": "1899-01-01"}, "1970-01-01"),
        ({"start_date": "2025-05-03", "end_date": "2025-05-01"}, "after end_date"),
        ({**GOOD, "aggregation_type": "weekly"}, "aggregation_type"),
        ({**GOOD, "conversationType": "Bot"}, "Non Interactive"),
        ({**GOOD, "conversationStatus": "Open"}, "Active, Closed"),
        ({**GOOD, "timeZoneOffset": "Mars/Olympus_Mons"}, "IANA"),
        ({**GOOD, "timeZoneOffset": "+05:30"}, "timeZoneOffset"),
        ({**GOOD, "channels": "rtm;drop table"}, "channels"),
        ({**GOOD, "channels": "all,rtm"}, "All cannot be combined"),
        ({"start_date": "2025-01-01", "end_date": "2036-01-01"}, "at most"),
    ],
)
def test_bad_parameters_are_400(api, params, needle):
    response = api.post(IT, **params)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["errors"][0]["code"] == 400
    assert needle in body["errors"][0]["msg"]


def test_max_days_is_settable():
    api = Api(NOW_LATE, max_days=31)
    assert api.post(IT, start_date="2025-01-01", end_date="2025-01-31").status_code == 200
    response = api.post(IT, start_date="2025-01-01", end_date="2025-02-01")
    assert response.status_code == 400
    assert "at most 31 days" in response.json()["errors"][0]["msg"]


@pytest.mark.parametrize(
    ("auth", "headers", "needle"),
    [
        (None, {}, "missing"),
        (None, {"Authorization": f"Bearer {token()}"}, "'auth'"),
        (token(secret="demo-wrong-secret-of-the-right-length-1234"), {}, "signature"),
        (token(app_id="cs-someone-else"), {}, "appId"),
        (token(app_id=None), {}, "appId"),
        (token(exp=int(NOW_LATE) - 1), {}, "expired"),
        (token(nbf=int(NOW_LATE) + 600), {}, "not valid yet"),
        ("not-a-jwt", {}, "not a valid JWT"),
        (jwt.encode({"appId": DEMO_CLIENT_ID}, None, algorithm="none"), {}, "not a valid JWT"),
    ],
)
def test_bad_tokens_are_401(api, auth, headers, needle):
    response = api.http.post(
        f"/api/public/bot/{IT}/v2/userEngagementTrend",
        params=GOOD,
        headers={**headers, **({"auth": auth} if auth else {})},
    )
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/json"
    error = response.json()["errors"][0]
    assert error["code"] == 401
    assert error["msg"].startswith("Unauthorized: ")
    assert needle in error["msg"]
    assert DEMO_CLIENT_SECRET not in response.text
    if auth:
        assert auth not in response.text


def test_exp_is_read_on_the_platform_clock(api):
    assert api.post(IT, auth=token(exp=int(NOW_LATE) + 60), **GOOD).status_code == 200


def test_unknown_stream_and_path_are_404(api):
    response = api.post("st-nope", **GOOD)
    assert response.status_code == 404
    assert response.json()["errors"][0] == {
        "msg": response.json()["errors"][0]["msg"],
        "code": 404,
    }
    assert "st-nope" in response.text
    other = api.http.post("/api/public/bot/st-demo-it-de/v1/nothing", params=GOOD)
    assert other.status_code == 404
    assert other.headers["content-type"] == "application/json"


def test_not_post_is_405(api):
    for method in ("GET", "PUT", "DELETE"):
        response = api.http.request(
            method,
            f"/api/public/bot/{IT}/v2/userEngagementTrend",
            params=GOOD,
            headers={"auth": token()},
        )
        assert response.status_code == 405
        assert response.headers["allow"] == "POST"
        assert response.json()["errors"][0]["code"] == 405


def test_rate_limit_per_minute_then_recovery():
    api = Api(NOW_LATE)
    t0 = api.now
    for i in range(60):
        api.now = t0 + i * 0.9
        assert api.post(IT, **GOOD).status_code == 200
    api.now = t0 + 59.5
    limited = api.post(IT, **GOOD)
    assert limited.status_code == 429
    assert limited.headers["content-type"] == "application/json"
    assert limited.json() == {"errors": [{"msg": RATE_LIMIT_MESSAGE, "code": 429}]}
    assert api.post(HR, **GOOD).status_code == 200  # counted per stream
    api.now = t0 + 60.5  # the first request left the rolling minute
    assert api.post(IT, **GOOD).status_code == 200
    assert api.post(IT, **GOOD).status_code == 429


def test_rate_limit_per_hour_then_recovery():
    """The rolling hour, shown with a small limit (the default is the platform's 1,800)."""
    assert "limits=[60/1.0m, 1800/1.0h]" in repr(DemoPlatform())
    api = Api(NOW_LATE, per_minute=60, per_hour=90)
    t0 = api.now
    for i in range(90):
        api.now = t0 + i * 2  # 30 a minute: under the minute limit
        assert api.post(IT, **GOOD).status_code == 200, i
    api.now = t0 + 3590
    assert api.post(IT, **GOOD).status_code == 429
    api.now = t0 + 3600.5
    assert api.post(IT, **GOOD).status_code == 200
    assert api.post(IT, **GOOD).status_code == 429


def test_rate_limits_are_settable_and_can_be_off():
    api = Api(NOW_LATE, per_minute=3, per_hour=None)
    assert [api.post(IT, **GOOD).status_code for _ in range(4)] == [200, 200, 200, 429]
    off = Api(NOW_LATE, rate_limit=False)
    assert {off.post(IT, **GOOD).status_code for _ in range(80)} == {200}
    assert "off" in repr(off.platform)


def test_enforced_jti():
    api = Api(NOW_LATE, enforce_jti=True)
    once = token(jti="abc-1")
    assert api.post(IT, auth=once, **GOOD).status_code == 200
    replay = api.post(IT, auth=once, **GOOD)
    assert replay.status_code == 401 and "jti" in replay.json()["errors"][0]["msg"]
    assert api.post(IT, auth=token(), **GOOD).status_code == 401
    assert api.post(IT, auth=token(jti="abc-2"), **GOOD).status_code == 200


# -- the toolkit's own client -----------------------------------------------------------------


def test_demo_client_fetches_through_the_platform():
    from engagement_kit.demo import demo_client

    platform = DemoPlatform(lambda: NOW_LATE)
    with demo_client(store=False, platform=platform) as client:
        data = client.fetch(HR, "2025-12-01", "2025-12-07", tz="America/New_York")
    direct = Api(NOW_LATE).ok(
        HR,
        start_date="2025-12-01",
        end_date="2025-12-07",
        aggregation_type="daily",
        timeZoneOffset="America/New_York",
    )
    assert data.wide()["unique"].tolist() == [
        p["users"] for p in direct["uniqueUsersTrend"]["dataPoints"]
    ]
    assert data.summary["new_users"] == direct["summary"]["newUsers"]
    assert get_stream(HR).tz == "America/New_York"


def test_long_hourly_range_agrees_with_daily():
    """23 months of hourly buckets for the largest stream (bucket x user keys past 2**31): each
    day's hourly new users add up to the daily count, and the summary does not depend on the
    aggregation."""
    api = Api(dt.datetime(2026, 11, 26, tzinfo=UTC).timestamp(), rate_limit=False)
    params = dict(start_date="2025-01-01", end_date="2026-11-25", timeZoneOffset="Asia/Kolkata")
    hourly = api.ok(RETAIL, aggregation_type="hourly", **params)
    daily = api.ok(RETAIL, aggregation_type="daily", **params)
    assert hourly["summary"] == daily["summary"]
    per_day = [sum(_values([p])) for p in hourly["newUsersTrend"]["dataPoints"]]
    assert per_day == [p["users"] for p in daily["newUsersTrend"]["dataPoints"]]
    assert daily["summary"]["newUsers"] * 24 * 694 > 2**31
