"""Exact numbers whenever the platform allows: whole range first, calendar chunks when refused,
the learned limit remembered per host in the store."""

from __future__ import annotations

import datetime as dt

import httpx
import pandas as pd
import pytest

from engagement_kit.client import EngagementClient
from engagement_kit.client.auth import Credentials
from engagement_kit.client.ranges import calendar_chunks, is_range_refusal, limit_from_message
from engagement_kit.config.query import EngagementQuery
from engagement_kit.demo import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_HOST, DemoPlatform
from engagement_kit.errors import ApiError
from engagement_kit.store import ResponseStore
from tests.demo.test_platform import IT, NOW_LATE


class Counting:
    """A demo platform that records every request's (start, end, status)."""

    def __init__(self, **options) -> None:
        self.platform = DemoPlatform(lambda: NOW_LATE, rate_limit=False, **options)
        self.seen: list[tuple[str, str, int]] = []
        self.aggregations: list[str] = []
        self.sent: list[dict[str, str]] = []  # every request's query parameters

    def handle(self, request: httpx.Request) -> httpx.Response:
        response = self.platform.handle(request)
        p = request.url.params
        self.sent.append(dict(p))
        self.seen.append((p["start_date"], p["end_date"], response.status_code))
        self.aggregations.append(p["aggregation_type"])
        return response


def client(platform: Counting, store, **kwargs) -> EngagementClient:
    return EngagementClient(
        DEMO_HOST,
        credentials=Credentials(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET),
        store=store,
        transport=httpx.MockTransport(platform.handle),
        clock=lambda: NOW_LATE,
        requests_per_minute=None,
        requests_per_hour=None,
        **kwargs,
    )


def q(start: str, end: str, aggregation: str = "daily") -> EngagementQuery:
    return EngagementQuery(stream_id="st-1", start=start, end=end, aggregation=aggregation)


def spans(parts) -> list[tuple[str, str]]:
    return [(p.start.isoformat(), p.end.isoformat()) for p in parts]


def test_calendar_chunks_are_months_weeks_or_days_clipped_to_the_range():
    assert spans(calendar_chunks(q("2025-10-15", "2026-01-10"), "month")) == [
        ("2025-10-15", "2025-10-31"),
        ("2025-11-01", "2025-11-30"),
        ("2025-12-01", "2025-12-31"),
        ("2026-01-01", "2026-01-10"),
    ]
    assert spans(calendar_chunks(q("2024-02-01", "2024-03-01"), "month")) == [
        ("2024-02-01", "2024-02-29"),  # leap year
        ("2024-03-01", "2024-03-01"),
    ]
    assert spans(calendar_chunks(q("2025-12-03", "2025-12-16", "hourly"), "week")) == [
        ("2025-12-03", "2025-12-07"),  # Wednesday to Sunday
        ("2025-12-08", "2025-12-14"),
        ("2025-12-15", "2025-12-16"),
    ]
    assert len(calendar_chunks(q("2025-12-01", "2025-12-03"), "day")) == 3
    with pytest.raises(ValueError, match="unit"):
        calendar_chunks(q("2025-12-01", "2025-12-03"), "year")


@pytest.mark.parametrize(
    ("message", "limit", "refusal"),
    [
        ("The range 2025-01-01 to 2025-04-03 spans 93 days; at most 92 days are allowed", 92, True),
        ("Date range exceeds the maximum of 31 days", 31, True),
        ("Maximum 90 days allowed", 90, True),
        ("Invalid start_date", None, False),
        ("Invalid timeZoneOffset 'Mars/Base'", None, False),
        ("date range too long", None, True),
    ],
)
def test_messages_of_a_range_refusal(message, limit, refusal):
    assert limit_from_message(message) == limit
    assert is_range_refusal(message) is refusal


@pytest.mark.parametrize("max_days", [None, 92])
def test_a_90_day_range_is_one_request_when_the_platform_allows_it(max_days, tmp_path):
    platform = Counting(max_days=max_days)
    with client(platform, ResponseStore(tmp_path / "s.sqlite3")) as c:
        data = c.fetch(IT, "2025-10-01", "2025-12-29")
    assert platform.seen == [("2025-10-01", "2025-12-29", 200)]
    assert pd.notna(data.summary["unique_users"]) and data.summary_notes == {}


def test_a_refused_range_is_split_into_months_and_the_limit_is_remembered(tmp_path):
    store = ResponseStore(tmp_path / "s.sqlite3")
    platform = Counting(max_days=31)
    with client(platform, store) as c:
        data = c.fetch(IT, "2025-10-01", "2025-12-31")
    assert platform.seen == [
        ("2025-10-01", "2025-12-31", 400),
        ("2025-10-01", "2025-10-31", 200),
        ("2025-11-01", "2025-11-30", 200),
        ("2025-12-01", "2025-12-31", 200),
    ]
    assert store.max_days(DEMO_HOST, "daily") == 31  # the number the platform's message named
    assert store.max_days(DEMO_HOST, "hourly") is None
    assert pd.isna(data.summary["unique_users"]) and pd.isna(data.summary["returning_users"])
    note = data.summary_notes["unique_users"]
    assert "at most 31 days per request" in note and "3 parts" in note and "92-day" in note
    # exact where it can be: every day, and the new users of the period
    whole = Counting()
    with client(whole, False) as c:
        exact = c.fetch(IT, "2025-10-01", "2025-12-31")
    pd.testing.assert_frame_equal(data.wide(), exact.wide())
    assert data.summary["new_users"] == exact.summary["new_users"]

    # a later client on the same store splits at once, and reuses the stored months
    platform.seen.clear()
    with client(platform, ResponseStore(tmp_path / "s.sqlite3")) as c:
        c.fetch(IT, "2025-11-01", "2026-01-15")
    assert platform.seen == [
        ("2026-01-01", "2026-01-15", 200),  # November and December came from the store
    ]


def test_hourly_ranges_are_split_into_weeks(tmp_path):
    platform = Counting(max_days=31)
    with client(platform, False) as c:
        data = c.fetch(IT, "2025-11-03", "2025-12-07", aggregation="hourly")  # 5 ISO weeks
    assert platform.seen[0][2] == 400
    assert [s[:2] for s in platform.seen[1:]] == [
        ("2025-11-03", "2025-11-09"),
        ("2025-11-10", "2025-11-16"),
        ("2025-11-17", "2025-11-23"),
        ("2025-11-24", "2025-11-30"),
        ("2025-12-01", "2025-12-07"),
    ]
    assert data.n_buckets == 35 * 24 and "5 parts" in data.summary_notes["unique_users"]


def test_a_limit_shorter_than_a_month_goes_down_to_weeks(tmp_path):
    platform = Counting(max_days=10)
    with client(platform, False) as c:
        data = c.fetch(IT, "2025-11-01", "2025-11-30")
    ok = [s[:2] for s in platform.seen if s[2] == 200]
    assert ok[0] == ("2025-11-01", "2025-11-02") and len(ok) == 5  # weeks of November
    assert data.days == 30


def test_a_400_that_is_not_about_the_range_is_not_split():
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(400, json={"errors": [{"msg": "Invalid channels 'x;y'"}]})

    c = EngagementClient(
        DEMO_HOST,
        credentials=Credentials(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET),
        store=False,
        transport=httpx.MockTransport(handler),
        clock=lambda: NOW_LATE,
    )
    with c, pytest.raises(ApiError, match="Invalid channels") as info:
        c.fetch(IT, "2025-10-01", "2025-12-29")
    assert info.value.status == 400 and len(seen) == 1
    assert "max_days_per_request" in str(info.value)  # the hint for a platform that words it so


# -- the Explorer's "Last 90 days" -------------------------------------------------------------


@pytest.mark.parametrize("max_days", [92, 31])
def test_a_90_day_explorer_view(max_days, tmp_path):
    from engagement_kit.explorer import Explorer

    platform = Counting(max_days=max_days)
    c = client(platform, ResponseStore(tmp_path / "s.sqlite3"))
    explorer = Explorer(c, today=dt.date(2025, 12, 3), background=False)
    explorer.stream.value = "st-demo-it-de"
    explorer.preset.value = "last_90"
    explorer.load_button.click()
    daily = explorer.data["daily"]
    assert (daily.start, daily.end) == (dt.date(2025, 9, 4), dt.date(2025, 12, 2))
    exact = Counting()  # the same range in one request, on a platform without a limit
    with client(exact, False) as whole:
        truth = whole.fetch("st-demo-it-de", daily.start, daily.end, tz=daily.tz).summary
    kpis = explorer.panels["kpis"].value
    main = [
        s
        for s, agg in zip(platform.seen, platform.aggregations, strict=True)
        if s[:2] == ("2025-09-04", "2025-12-02") and agg == "daily"
    ]
    if max_days == 92:
        assert main == [("2025-09-04", "2025-12-02", 200)]  # one request
        assert daily.summary["unique_users"] == truth["unique_users"]
        assert f"{int(truth['unique_users']):,}" in kpis
        assert "not available" not in kpis
    else:
        assert main == [("2025-09-04", "2025-12-02", 400)]
        assert pd.isna(daily.summary["unique_users"])
        assert daily.summary["new_users"] == truth["new_users"]
        assert f"{int(truth['new_users']):,}" in kpis  # new users: exact
        assert "not available (1)" in kpis  # unique users: not a bare dash but the reason
        assert "at most 31 days per request" in kpis and "4 parts" in kpis
    c.close()
